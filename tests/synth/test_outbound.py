"""The residents abroad in the tiny world: their trips (truth) and the roaming records their
own MNOs write of them, in each raw format (no cell, the visited network as the PLMN)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from rmf_spark.synth.profile import load_profile

PROFILE = load_profile("tiny")
TZ = ZoneInfo(PROFILE.time_zone)
PERIOD = set(PROFILE.days)
HOME_MCC = str(PROFILE.mnos[0].mcc)


def _delta(spark, path):
    return spark.read.format("delta").load(str(path)).toPandas()


@pytest.fixture(scope="module")
def world(spark, tiny_world):
    """Truth tables: trips, persons, and each MNO's domestic devices of travellers with their
    trip (raw_id -> person, destination, days abroad)."""
    trips = _delta(spark, tiny_world / "truth/outbound_trips")
    devices = _delta(spark, tiny_world / "truth/devices")
    travelling = devices[~devices["is_inbound"]].merge(trips, on="person_id")
    manifest = json.loads((tiny_world / "synth_manifest.json").read_text())
    return trips, _delta(spark, tiny_world / "truth/persons"), travelling, manifest


def _days(trip) -> set[dt.date]:
    n = (trip["abroad_to"] - trip["abroad_from"]).days
    return {trip["abroad_from"] + dt.timedelta(days=i) for i in range(n + 1)}


def _mno_a_lines(tiny_world) -> list[tuple[dt.date, list[str]]]:
    """``(local day, fields)`` of the lines in their file's day (what the D-layer keeps of
    them: injected faults that move or break the time are left out)."""
    out = []
    for f in sorted((tiny_world / "raw/mno_a/events").glob("events_*.csv")):
        for line in f.read_bytes().split(b"\n")[1:]:
            fields = line.decode("utf-8", errors="replace").split(";")
            try:
                day = dt.datetime.strptime(fields[2], "%d/%m/%Y %H:%M:%S").date()
            except (IndexError, ValueError):
                continue
            if len(fields) == 9 and day == dt.date.fromisoformat(f.stem[-8:]):
                out.append((day, fields))
    return out


def _mno_b_records(tiny_world) -> list[tuple[dt.date, dict]]:
    """``(local day, record)`` of the JSON records in their file's (UTC) day."""
    out = []
    for f in sorted((tiny_world / "raw/mno_b/events").glob("*.jsonl")):
        for line in f.read_bytes().split(b"\n"):
            try:
                r = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue  # injected faults and the final empty line
            if not isinstance(r.get("ts_ms"), int) or not r.get("imsi"):
                continue
            utc = dt.datetime.fromtimestamp(r["ts_ms"] / 1000, dt.UTC)
            if utc.date() == dt.date.fromisoformat(f.stem[-10:]):
                out.append((utc.astimezone(TZ).date(), r))
    return out


def test_each_traveller_has_one_trip_to_a_configured_destination(world):
    trips, persons, travelling, _ = world
    out = persons[persons["is_outbound"]]
    assert len(trips) == len(out) >= 20 and trips["person_id"].is_unique
    assert set(trips["person_id"]) == set(out["person_id"])
    dest = PROFILE.outbound.destinations
    assert set(trips["destination_plmn"]) == set(dest)  # ~40 trips: every destination drawn
    country = {p: d.country for p, d in dest.items()}
    assert (trips["destination_plmn"].map(country) == trips["destination_country"]).all()
    assert (trips["nights"] == [len(_days(t)) for _, t in trips.iterrows()]).all()
    lo, hi = PROFILE.population.outbound_days
    assert trips["nights"].between(lo, hi).all()
    # truth/persons clips the trip to the simulated days; outbound_trips does not
    last_simulated = PROFILE.days[-1] + dt.timedelta(days=1)
    both = trips.merge(out, on="person_id")
    assert (both["abroad_from_x"] == both["abroad_from_y"]).all()
    assert all(
        min(a, last_simulated) == b
        for a, b in zip(both["abroad_to_x"], both["abroad_to_y"], strict=True)
    )
    assert trips["abroad_from"].isin(PERIOD).all()  # every trip is abroad in the period
    assert {"mno_a", "mno_b"} <= set(travelling["mno_id"])


def test_cdr_mno_writes_cell_less_records_of_the_visited_network(world, tiny_world):
    _, _, travelling, manifest = world
    mine = travelling[travelling["mno_id"] == "mno_a"].set_index("raw_id")
    lines = _mno_a_lines(tiny_world)
    roaming = [(day, f) for day, f in lines if f[3] == ""]
    assert len(roaming) == manifest["counts"]["outbound_records"]["mno_a"] > 50
    seen = set()
    for day, (_, msisdn, _, _, etype, rat, mcc, mnc, ta) in roaming:
        trip = mine.loc[msisdn]  # a traveller's device on this MNO
        assert mcc + mnc == trip["destination_plmn"] and mcc != HOME_MCC
        assert day in _days(trip) and day in PERIOD
        assert etype in {"MOC", "MTC", "SMS_MO", "SMS_MT", "DATA"} and rat == ta == ""
        seen.add((msisdn, day))
    # a device abroad makes no domestic event; most device-days abroad have records
    for day, f in lines:
        if f[3] != "" and f[1] in mine.index:
            assert day not in _days(mine.loc[f[1]]), f
    expected = {(r, d) for r, t in mine.iterrows() for d in _days(t) & PERIOD}
    assert seen <= expected and len(seen) >= 0.8 * len(expected)


def test_signalling_mno_writes_an_hourly_record_without_cell_of_each_device_abroad(
    world, tiny_world
):
    _, _, travelling, manifest = world
    mine = travelling[travelling["mno_id"] == "mno_b"].set_index("raw_id")
    records = _mno_b_records(tiny_world)
    roaming = [(day, r) for day, r in records if "cell" not in r]
    assert len(roaming) == manifest["counts"]["outbound_records"]["mno_b"] > 100
    per_day: dict[tuple[str, dt.date], int] = {}
    for day, r in roaming:
        trip = mine.loc[r["imsi"]]
        assert r["imsi"].startswith(HOME_MCC)  # the subscriber's own IMSI
        assert r["plmn"] == trip["destination_plmn"] and "tech" not in r and "ta" not in r
        assert day in _days(trip)
        per_day[r["imsi"], day] = per_day.get((r["imsi"], day), 0) + 1
    for day, r in records:
        if "cell" in r and r["imsi"] in mine.index:
            assert day not in _days(mine.loc[r["imsi"]]), r
    # UTC-day files: each local day of the period is in them but for its first hour (UTC+1)
    full = [(imsi, d) for imsi, t in mine.iterrows() for d in _days(t) & PERIOD]
    assert full and all(per_day.get(k, 0) >= 23 for k in full)


def test_roaming_records_are_not_faults(spark, tiny_world):
    tags = _delta(spark, tiny_world / "truth/fault_tags")
    assert not pd.to_numeric(tags["record_id"]).mod(10**5).between(80_000, 89_999).any()
