"""The world's side of the fusion problem: visitors whose phone switches between the simulated
networks (one foreign IMSI on both), several home networks, households sharing a home, and a
truth that says which devices are one person's."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from scipy.stats import poisson

from rmf_spark.errors import ConfigError
from rmf_spark.synth.population import TOURIST_BASE_ID, residents_pandas
from rmf_spark.synth.profile import load_profile
from rmf_spark.synth.rng import uniform
from rmf_spark.synth.runner import local_day_starts
from rmf_spark.synth.subscriptions import devices_pandas, regional_shares
from rmf_spark.synth.territory import build_territory

PROFILE = load_profile("tiny")
SUB = PROFILE.subscriptions


def _visitors(n: int, n_days: int) -> pd.DataFrame:
    first = np.arange(n) % n_days
    return pd.DataFrame(
        {
            "person_id": TOURIST_BASE_ID + np.arange(n),
            "home_region_id": "R00",
            "is_tourist": True,
            "first_day": first,
            "last_day": np.minimum(first + 1 + np.arange(n) % 3, n_days),
        }
    )


def _devices(persons: pd.DataFrame, n_days: int, **sub) -> pd.DataFrame:
    params = SUB.model_copy(update=sub)
    shares = regional_shares(PROFILE.mnos, n_regions=1, jitter=0.0, seed=PROFILE.seed)
    return devices_pandas(persons, mnos=PROFILE.mnos, shares=shares, sub=params,
                          seed=PROFILE.seed, n_days=n_days)  # fmt: skip


def test_switching_visitors_keep_one_imsi_on_two_networks_one_after_the_other():
    n_days = 7
    persons = _visitors(4000, n_days)
    dev = _devices(persons, n_days, roamer_switch_share=0.25)
    assert dev["is_inbound"].all()
    by_person = dev.groupby("person_id")
    two = by_person.filter(lambda g: len(g) == 2)
    share = two["person_id"].nunique() / len(persons)
    assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(persons))
    for _, g in list(two.groupby("person_id"))[:200]:
        g = g.sort_values("device_index")
        assert g["raw_id"].nunique() == 1 and g["mno_id"].nunique() == 2
        assert g["device_index"].tolist() == [0, 2]
        first_row, second_row = g.iloc[0], g.iloc[1]
        visit = persons.set_index("person_id").loc[g["person_id"].iloc[0]]
        switch = int(second_row["from_day"])
        assert int(first_row["to_day"]) == switch - 1 and pd.isna(first_row["from_day"])
        assert pd.isna(second_row["to_day"])
        assert visit["first_day"] < switch <= max(visit["first_day"] + 1, visit["last_day"])
    one = dev[~dev["person_id"].isin(two["person_id"])]
    assert one["from_day"].isna().all() and one["to_day"].isna().all()
    # each raw id is the visitor's IMSI: home PLMN and 10 digits, whatever the network's format
    assert dev["raw_id"].str.fullmatch(r"\d{15}").all()
    assert (dev["raw_id"].str.slice(0, 3).astype(int) == dev["mcc"]).all()
    assert (dev["raw_id"].str.slice(3, 5) == dev["mnc"]).all()
    assert dev.groupby("mno_id")["raw_id"].apply(lambda s: s.is_unique).all()


def test_home_networks_follow_their_weights_and_no_switch_by_default():
    persons = _visitors(5000, 3)
    dev = _devices(persons, 3)
    plmn = dev["mcc"].astype(str) + dev["mnc"]
    weights = pd.Series(SUB.roamer_plmns)
    expected = weights / weights.sum()
    got = plmn.value_counts(normalize=True).reindex(expected.index)
    assert (got - expected).abs().max() < 0.02, got
    default = load_profile("tiny", overrides={"subscriptions.roamer_switch_share": 0.0})
    dev0 = _devices(persons, 3, **default.subscriptions.model_dump())
    assert len(dev0) == len(persons) and dev0["from_day"].isna().all()


def test_roamer_plmns_are_checked():
    with pytest.raises(ConfigError, match=r"roamer_plmns"):
        load_profile("tiny", overrides={"subscriptions.roamer_plmns": {"2341": 1.0}})
    with pytest.raises(ConfigError, match=r"own MCC"):
        load_profile("tiny", overrides={"subscriptions.roamer_plmns": {"21499": 1.0}})


def test_households_share_a_home_and_have_the_mean_size():
    terr = build_territory(PROFILE.territory, seed=PROFILE.seed)
    tiles = pd.DataFrame(
        {
            "tile_idx": np.arange(0, 10_000, 7),
            "x_ll": 0.0,
            "y_ll": 0.0,
            "home_weight": 1.0,
        }
    )
    tiles["x_ll"] = terr.x0 + (tiles["tile_idx"] % 100) * 100.0
    tiles["y_ll"] = terr.y0 + (tiles["tile_idx"] // 100) * 100.0
    pop = PROFILE.population.model_copy(update={"household_mean_size": 2.3})
    res = residents_pandas(tiles, t=terr, p=pop, seed=1, scale=8.0, n_days=2)
    homes = res.groupby("household_id")[["home_x", "home_y"]].nunique()
    assert (homes == 1).all().all()
    assert (res["household_id"] // 1000 == res["person_id"] // 1000).all()  # one tile each
    size = res.groupby("household_id").size()
    assert size.max() > 2 and abs(size.mean() - 2.3) < 0.15, size.mean()
    # mean 1 (the default): one person per household, residents per tile Poisson(lam) from
    # the tile's first uniform, the same draws as before households existed
    alone = residents_pandas(tiles, t=terr, p=PROFILE.population, seed=1, scale=8.0, n_days=2)
    assert (alone["household_id"] == alone["person_id"]).all()
    u = uniform(tiles["tile_idx"].to_numpy().astype(np.uint64), 1, 1)
    per_tile = alone.groupby(alone["person_id"] // 1000).size()
    want = pd.Series(poisson.ppf(u, 8.0).astype(int), index=tiles["tile_idx"])
    pd.testing.assert_series_equal(
        per_tile, want[want > 0], check_names=False, check_index_type=False
    )
    key = alone["person_id"].to_numpy().astype(np.uint64)
    x = alone["home_x"] - terr.x0 - (alone["person_id"] // 1000 % 100) * 100.0
    np.testing.assert_allclose(x, 100.0 * uniform(key, 2, 1))


# --- the tiny world (generated once per test run) ----------------------------------------------


@pytest.fixture(scope="module")
def world(spark, tiny_world):
    """Truth tables and the raw records of both MNOs (without the rows a fault was injected
    into: their time may be shifted or unreadable; and without the roaming records of their
    subscribers abroad, which have no cell: tests/synth/test_outbound.py)."""

    def delta(name: str):
        return spark.read.format("delta").load(str(tiny_world / "truth" / name))

    tags = delta("fault_tags").select("mno_id", "record_id")
    a = (
        spark.read.csv(str(tiny_world / "raw/mno_a/events"), sep=";", header=True)
        .where(F.col("cgi").isNotNull())
        .select(
            "record_id",
            F.col("msisdn").alias("raw_id"),
            F.to_timestamp("event_time", "dd/MM/yyyy HH:mm:ss").alias("local_time"),
            F.concat("mcc", "mnc").alias("plmn"),
        )
        .join(tags.where("mno_id = 'mno_a'"), "record_id", "left_anti")
    )
    b = (
        spark.read.text(str(tiny_world / "raw/mno_b/events"))
        .where("get_json_object(value, '$.cell') IS NOT NULL")
        .selectExpr(
            "get_json_object(value, '$.seq') AS record_id",
            "get_json_object(value, '$.imsi') AS raw_id",
            "get_json_object(value, '$.plmn') AS plmn",
            "cast(get_json_object(value, '$.ts_ms') AS long) AS ts_ms",
        )
        .join(tags.where("mno_id = 'mno_b'"), "record_id", "left_anti")
    )
    visitors_present = (
        delta("positions")
        .where(F.col("person_id") >= TOURIST_BASE_ID)
        .groupBy("time_point")
        .count()
    )
    return {
        "devices": delta("devices").toPandas(),
        "persons": delta("persons").toPandas(),
        "present_devices": delta("present_devices").toPandas(),
        "visitors_present": visitors_present.toPandas().set_index("time_point")["count"],
        "a": a.where(F.col("raw_id").isNotNull()).toPandas(),
        "b": b.where(F.col("raw_id").isNotNull()).toPandas(),
        "manifest": json.loads((tiny_world / "synth_manifest.json").read_text()),
    }


def _local_day(d: dt.date | None, default: int) -> int:
    return default if d is None or pd.isna(d) else (d - PROFILE.start_date).days


def test_switching_visitors_appear_with_one_imsi_in_both_mnos_raw_records(world):
    dev = world["devices"]
    inbound = dev[dev["is_inbound"]]
    per_person = inbound.groupby("person_id")["mno_id"].nunique()
    switching = per_person[per_person == 2].index
    assert len(switching) == world["manifest"]["counts"]["switching_roamers"] > 0
    starts = local_day_starts(PROFILE.start_date, PROFILE.n_days + 2, PROFILE.time_zone)
    seen_on_both = 0
    for pid in switching:
        rows = inbound[inbound["person_id"] == pid]
        assert rows["raw_id"].nunique() == 1  # the truth: one SIM, one person, two networks
        raw_id = rows["raw_id"].iloc[0]
        seen = 0
        for _, r in rows.iterrows():
            lo = _local_day(r["from_date"], 0)
            hi = _local_day(r["to_date"], PROFILE.n_days)
            if r["mno_id"] == "mno_a":  # local times of the device's days on mno_a only
                t = world["a"].loc[world["a"]["raw_id"] == raw_id, "local_time"].dt.date
                days = t.map(lambda d: (d - PROFILE.start_date).days)
            else:  # UTC epoch ms, within the local midnights that bound the days on mno_b
                ts = world["b"].loc[world["b"]["raw_id"] == raw_id, "ts_ms"].dropna()
                days = ts.map(lambda v: int(np.searchsorted(starts, v / 1000, side="right")) - 1)
            assert ((days >= lo) & (days <= hi)).all(), (raw_id, r["mno_id"], lo, hi)
            seen += len(days) > 0
        seen_on_both += seen == 2
    # the switch falls inside the two days unless the stay starts on the last one
    assert seen_on_both >= 3, seen_on_both


def test_visitors_come_from_several_home_networks_in_both_formats(world):
    for raw in (world["a"], world["b"]):
        inbound = raw[~raw["plmn"].str.startswith("214", na=True)]
        assert inbound["plmn"].nunique() >= 3
        assert set(inbound["plmn"]) <= set(SUB.roamer_plmns)
        assert inbound["raw_id"].str.fullmatch(r"\d{15}").all()
        assert (inbound["raw_id"].str.slice(0, 5) == inbound["plmn"]).all()


def test_the_truth_has_every_visitor_on_one_network_at_a_time(world):
    dev, persons = world["devices"], world["persons"]
    assert {"from_date", "to_date"} <= set(dev.columns)
    visitors = persons[persons["is_tourist"]]
    assert (visitors["household_id"] == visitors["person_id"]).all()
    assert set(dev["person_id"]) <= set(persons["person_id"])
    assert (dev[dev["is_inbound"]].groupby("person_id").size() <= 2).all()
    # every visitor carries one phone: at each time point one inbound device per visitor
    # present, on one network or the other, never on both
    on = world["present_devices"].groupby("time_point")["inbound_devices"].sum()
    present = world["visitors_present"]
    points = on.index.union(present.index)
    assert present.sum() > 0
    pd.testing.assert_series_equal(
        on.reindex(points, fill_value=0),
        present.reindex(points, fill_value=0),
        check_names=False,
        check_dtype=False,
    )
