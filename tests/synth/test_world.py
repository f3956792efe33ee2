"""The tiny synthetic world, checked against its configuration (generated once, by the CLI)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from rmf_spark.synth.faults import FAULT_KINDS
from rmf_spark.synth.profile import load_profile
from rmf_spark.synth.subscriptions import expected_device_share

PROFILE = load_profile("tiny")


def _delta(spark, path):
    return spark.read.format("delta").load(str(path)).toPandas()


@pytest.fixture(scope="module")
def manifest(tiny_world):
    return json.loads((tiny_world / "synth_manifest.json").read_text())


@pytest.fixture(scope="module")
def mno_a_rows(tiny_world):
    """Raw mno_a lines as bytes, with their file date."""
    rows = []
    for f in sorted((tiny_world / "raw/mno_a/events").glob("events_*.csv")):
        day = datetime.strptime(f.stem[-8:], "%Y%m%d").date()
        lines = f.read_bytes().split(b"\n")
        assert lines[0] == b"record_id;msisdn;event_time;cgi;event_type;rat;mcc;mnc;ta"
        rows += [(day, line) for line in lines[1:] if line]
    return rows


def test_cli_writes_manifest_raw_reference_and_truth(tiny_world, manifest):
    assert manifest["profile"] == "tiny" and manifest["seed"] == 42
    for rel in ["raw/mno_a/events/events_20240119.csv", "raw/mno_a/events/events_20240120.csv",
                "raw/mno_b/events/events-2024-01-19.jsonl", "raw/mno_a/cells/cells.csv",
                "raw/mno_b/cells/cells.parquet"]:  # fmt: skip
        assert (tiny_world / rel).is_file(), rel
    for table in ["zones", "territory", "land_use", "register", "holidays", "market_share"]:
        assert (tiny_world / "reference" / table / "_delta_log").is_dir(), table
    for table in ["persons", "devices", "positions", "present_population", "present_devices",
                  "od_flows", "residents", "fault_tags", "stays", "outbound_trips"]:  # fmt: skip
        assert (tiny_world / "truth" / table / "_delta_log").is_dir(), table
    assert set(manifest["counts"]["faults"]["mno_a"]) == set(FAULT_KINDS)
    per_day_b = manifest["counts"]["events"]["mno_b"]["2024-01-19"]
    assert 100 <= per_day_b / manifest["counts"]["devices"]["mno_b"] <= 150


def test_persons_and_devices_follow_market_shares(spark, tiny_world, manifest):
    persons = _delta(spark, tiny_world / "truth/persons")
    devices = _delta(spark, tiny_world / "truth/devices")
    residents = persons[~persons["is_tourist"]]
    n = len(residents)
    assert abs(n - PROFILE.population.n_persons) < 4 * np.sqrt(PROFILE.population.n_persons)
    assert (persons["is_tourist"]).sum() == PROFILE.population.n_tourists
    sub = PROFILE.subscriptions
    shares = np.array([manifest["regional_shares"][m.mno_id] for m in PROFILE.mnos]).T
    per_region = residents.groupby("home_region_id").size()
    dom = devices[~devices["is_inbound"]]
    rate = sub.second_mno_rate
    for j, m in enumerate(PROFILE.mnos):
        expected = sum(
            per_region[f"R{r:02d}"]
            * expected_device_share(shares[r], no_phone=sub.no_phone_rate, second_mno=rate)[j]
            for r in range(len(shares))
        )
        got = dom.loc[dom["mno_id"] == m.mno_id, "person_id"].nunique()
        p = expected / n
        assert abs(got - expected) < 4 * np.sqrt(n * p * (1 - p)), (m.mno_id, got, expected)


def test_duplicate_carrier_rates(spark, tiny_world):
    persons = _delta(spark, tiny_world / "truth/persons")
    devices = _delta(spark, tiny_world / "truth/devices")
    n = int((~persons["is_tourist"]).sum())
    sub = PROFILE.subscriptions
    dom = devices[~devices["is_inbound"]]
    per_person = dom.groupby("person_id")["mno_id"].agg(["size", "nunique"])
    cross = int((per_person["nunique"] > 1).sum())
    same = int((dom.groupby(["person_id", "mno_id"]).size() > 1).sum())
    has_phone = 1 - sub.no_phone_rate
    share_sim = sum(m.market_share for m in PROFILE.mnos)
    for got, p in [
        (same, has_phone * share_sim * sub.second_device_same_mno_rate),
        (cross, has_phone * share_sim * sub.second_mno_rate),
    ]:
        assert abs(got / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 0.005, (got, n, p)
    assert (~persons["is_tourist"] & ~persons["person_id"].isin(dom["person_id"])).mean() > 0.1


def test_every_event_belongs_to_a_device(spark, tiny_world, mno_a_rows):
    devices = _delta(spark, tiny_world / "truth/devices")
    ids_a = set(devices.loc[devices["mno_id"] == "mno_a", "raw_id"])
    msisdn = {line.split(b";")[1].decode() for _, line in mno_a_rows}
    assert msisdn - {""} <= ids_a
    b = spark.read.text(str(tiny_world / "raw/mno_b/events"))
    imsi = b.selectExpr("get_json_object(value, '$.imsi') AS imsi").distinct().toPandas()["imsi"]
    ids_b = set(devices.loc[devices["mno_id"] == "mno_b", "raw_id"])
    assert set(imsi.dropna()) <= ids_b
    assert len(set(imsi.dropna())) > 0.9 * len(ids_b)


def _detect_mno_a_faults(rows, cells: pd.DataFrame) -> dict[str, set[str]]:
    """Find every fault in mno_a's raw rows from the data alone (what the D/C-layers see)."""
    found: dict[str, set[str]] = {k: set() for k in FAULT_KINDS}
    seen: dict[str, bytes] = {}
    by_time: dict[tuple[str, str], list[tuple[str, str]]] = {}
    tz = ZoneInfo("Europe/Madrid")
    plan = cells.set_index("cgi")
    for day, line in rows:
        rid = line.split(b";")[0].decode()
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            found["invalid_utf8"].add(rid)
            continue
        f = text.split(";")
        if len(f) != 9:
            found["wrong_column_count"].add(rid)
            continue
        if rid in seen:
            found["exact_duplicate"].add(rid)
            assert seen[rid] == line
            continue
        seen[rid] = line
        if f[1] == "":
            found["null_mandatory"].add(rid)
            continue
        if not re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", f[2]):
            found["malformed_timestamp"].add(rid)
            continue
        ts = datetime.strptime(f[2], "%d/%m/%Y %H:%M:%S").replace(tzinfo=tz)
        if ts.date() != day:
            found["out_of_day_timestamp"].add(rid)
            continue
        if f[3] == "" and f[6] != "214":
            continue  # a roaming record of a subscriber abroad (tests/synth/test_outbound.py)
        if f[3] not in plan.index:
            found["unknown_cell"].add(rid)
            continue
        c = plan.loc[f[3]]
        vf, vt = str(c["valid_from"]), c["valid_to"]
        if str(day) < vf or (isinstance(vt, str) and vt and str(day) > vt):
            found["cell_not_active"].add(rid)
            continue
        by_time.setdefault((f[1], f[2]), []).append((rid, f[3]))
    for group in by_time.values():
        if len({c for _, c in group}) > 1:
            found["same_time_different_cell"].add(max(r for r, _ in group))
    return found


def test_every_injected_fault_is_tagged(spark, tiny_world, mno_a_rows, manifest):
    tags = _delta(spark, tiny_world / "truth/fault_tags")
    counts = tags.groupby(["mno_id", "fault_kind"]).size()
    for mno, by_kind in manifest["counts"]["faults"].items():
        for kind, n in by_kind.items():
            assert counts.get((mno, kind), 0) == n
            assert n > 0, (mno, kind)
    cells = pd.read_csv(tiny_world / "raw/mno_a/cells/cells.csv", sep=";", dtype=str,
                        keep_default_na=False)  # fmt: skip
    found = _detect_mno_a_faults(mno_a_rows, cells)
    a = tags[tags["mno_id"] == "mno_a"]
    for kind in FAULT_KINDS:
        tagged = set(a.loc[a["fault_kind"] == kind, "record_id"])
        if kind == "same_time_different_cell":
            # two independent events of a device may fall in the same second by chance
            assert tagged <= found[kind] and len(found[kind] - tagged) <= len(mno_a_rows) / 1000
        else:
            assert found[kind] == tagged, kind
    assert tags.groupby(["mno_id", "record_id"]).size().max() == 1


def test_mno_b_faults_are_visible_in_the_json_lines(spark, tiny_world):
    tags = _delta(spark, tiny_world / "truth/fault_tags")
    b = tags[tags["mno_id"] == "mno_b"]
    bad_json, bad_utf8 = set(), set()
    for f in sorted((tiny_world / "raw/mno_b/events").glob("*.jsonl")):
        for line in f.read_bytes().split(b"\n"):
            if not line:
                continue
            rid = re.match(rb'\{"seq":(\d+)', line).group(1).decode()
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8.add(rid)
                continue
            try:
                json.loads(text)
            except json.JSONDecodeError:
                bad_json.add(rid)
    assert bad_utf8 == set(b.loc[b["fault_kind"] == "invalid_utf8", "record_id"])
    assert bad_json == set(b.loc[b["fault_kind"] == "wrong_column_count", "record_id"])


def test_truth_tables_are_consistent(spark, tiny_world):
    pos = spark.read.format("delta").load(str(tiny_world / "truth/positions"))
    pp = _delta(spark, tiny_world / "truth/present_population")
    pdv = _delta(spark, tiny_world / "truth/present_devices")
    n_pos = pos.groupBy("time_point").count().toPandas().set_index("time_point")["count"]
    for level in ["100m", "1km", "municipality", "region"]:
        s = pp[pp["level"] == level].groupby("time_point")["persons"].sum()
        assert (s.sort_index() == n_pos.sort_index()).all(), level
    assert len(n_pos) == 24 * PROFILE.n_days
    assert pp.loc[pp["level"] == "100m", "area_id"].str.fullmatch(r"100mN\d+E\d+").all()
    assert set(pdv["mno_id"]) == {"mno_a", "mno_b"}
    res = _delta(spark, tiny_world / "truth/residents")
    reg = _delta(spark, tiny_world / "reference/register")
    for df in (res, reg):
        assert (
            df.loc[df["zone_level"] == 1, "residents"].sum()
            == df.loc[df["zone_level"] == 2, "residents"].sum()
        )
    zones = _delta(spark, tiny_world / "reference/zones")
    assert set(res["zone_id"]) <= set(zones["zone_id"])
    od = _delta(spark, tiny_world / "truth/od_flows")
    assert od["trips"].gt(0).all() and set(od["zone_level"]) == {1, 2}
