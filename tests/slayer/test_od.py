"""OD matrices from trips: weights spread over areas, levels, intra/inter totals, expansion
(docs/mobility.md section 3)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings

from rmf_spark.clayer.schemas import GRID, TILE_ZONE
from rmf_spark.slayer.mobility.od import (
    OD_FLOW_TOTALS_SCHEMA,
    OD_SCHEMA,
    compute_od_flow_totals,
    compute_od_matrices,
    factors_from_market_share,
    with_trip_expansion,
)
from rmf_spark.slayer.mobility.settings import MobilitySettings
from rmf_spark.slayer.mobility.trips import TRIPS_SCHEMA, compute_trips
from tests.slayer.test_trips import segments, timelines

D = dt.date(2024, 5, 13)
T0 = dt.datetime(2024, 5, 13, 8)
S = MobilitySettings()

# tiles 1-4 in municipalities M1-M3 and regions R1-R2; tile 5 in the grid only (no zone)
MUNICIPALITY = {1: "M1", 2: "M2", 3: "M2", 4: "M3"}
REGION = {1: "R1", 2: "R1", 3: "R1", 4: "R2"}
KM = {1: "K1", 2: "K1", 3: "K2", 4: "K2", 5: "K3"}


def _areas(spark, municipality=MUNICIPALITY, region=REGION, km=KM):
    grid = spark.createDataFrame(
        [(t, f"100m{t}", code, None, 0.0, 0.0) for t, code in km.items()], GRID
    )
    zones = [(t, 2, m) for t, m in municipality.items()] + [(t, 1, r) for t, r in region.items()]
    return grid, spark.createDataFrame(zones, TILE_ZONE)


def _trip(device, band, origin, destination, minute=0):
    """A trip row; ``origin`` and ``destination`` are ``{tile: weight}``."""
    o, d = sorted(origin.items()), sorted(destination.items())
    start = T0 + dt.timedelta(minutes=minute)
    return (
        device, D, start, start + dt.timedelta(minutes=20), band, 3600.0, 3600.0, 0.0,
        [t for t, _ in o], [w for _, w in o], [t for t, _ in d], [w for _, w in d], False,
    )  # fmt: skip


TRIPS = [
    _trip("a", "morning_peak", {1: 0.5, 2: 0.5}, {3: 1.0}),
    _trip("b", "morning_peak", {4: 1.0}, {1: 1 / 3, 2: 1 / 3, 3: 1 / 3}),
    _trip("c", "day", {1: 0.5, 5: 0.5}, {4: 1.0}),  # tile 5 is in no zone
    _trip("d", "evening", {5: 1.0}, {1: 1.0}),  # an end in no zone: only at the 1 km level
]


def _cells(od):
    return {
        (r.time_band, r.level, r.origin_area_id, r.destination_area_id): r for r in od.collect()
    }


def test_each_trip_spreads_its_weight_over_the_pairs_of_its_ends_areas(spark):
    grid, tile_zone = _areas(spark)
    od = compute_od_matrices(
        spark.createDataFrame(TRIPS, TRIPS_SCHEMA), grid=grid, tile_zone=tile_zone, settings=S
    )
    assert od.schema.simpleString() == OD_SCHEMA.simpleString()
    got = {k: r.trips for k, r in _cells(od).items()}
    assert got == pytest.approx(
        {
            # a: half from M1, half from M2, to M2
            ("morning_peak", "zone_2", "M1", "M2"): 0.5,
            ("morning_peak", "zone_2", "M2", "M2"): 0.5,
            # b: from M3 to M1 (a third) and M2 (two thirds)
            ("morning_peak", "zone_2", "M3", "M1"): 1 / 3,
            ("morning_peak", "zone_2", "M3", "M2"): 2 / 3,
            ("morning_peak", "zone_1", "R1", "R1"): 1.0,
            ("morning_peak", "zone_1", "R2", "R1"): 1.0,
            ("morning_peak", "1km", "K1", "K2"): 1.0,
            ("morning_peak", "1km", "K2", "K1"): 2 / 3,
            ("morning_peak", "1km", "K2", "K2"): 1 / 3,
            # c: tile 5 has no zone, so its origin is all M1 / R1 at the zone levels
            ("day", "zone_2", "M1", "M3"): 1.0,
            ("day", "zone_1", "R1", "R2"): 1.0,
            ("day", "1km", "K1", "K2"): 0.5,
            ("day", "1km", "K3", "K2"): 0.5,
            # d: its origin is in no zone: counted at the 1 km level only
            ("evening", "1km", "K3", "K1"): 1.0,
        }
    )
    assert all(r.person_trips is None and r.expansion_factor is None for r in od.collect())
    totals = compute_od_flow_totals(od)
    assert totals.schema.simpleString() == OD_FLOW_TOTALS_SCHEMA.simpleString()
    flows = {
        (r.level, r.flow): r.trips for r in totals.where("time_band = 'morning_peak'").collect()
    }
    assert flows == pytest.approx(
        {
            ("zone_2", "intra"): 0.5,
            ("zone_2", "inter"): 1.5,
            ("zone_1", "intra"): 1.0,
            ("zone_1", "inter"): 1.0,
            ("1km", "intra"): 1 / 3,
            ("1km", "inter"): 5 / 3,
        }
    )


def test_expansion_takes_the_factors_of_the_origins_regions(spark):
    shares = spark.createDataFrame(
        [("R1", 0.5), ("R2", 0.25), ("R3", 0.0)], "region_id string, share double"
    )
    factors = factors_from_market_share(shares)
    assert sorted(map(tuple, factors.collect())) == [("R1", 2.0), ("R2", 4.0)]
    grid, tile_zone = _areas(spark)
    trips = spark.createDataFrame(TRIPS, TRIPS_SCHEMA)

    def expanded(default):
        out = with_trip_expansion(
            trips, tile_zone=tile_zone, factors=factors, region_level=1, default_factor=default
        )
        return out, {r.device_id: r.expansion_factor for r in out.collect()}

    out, by_trip = expanded(None)
    # a: both origin tiles in R1; b: in R2; c, d: an origin tile in no region
    assert by_trip == {"a": 2.0, "b": 4.0, "c": None, "d": None}
    od = _cells(compute_od_matrices(out, grid=grid, tile_zone=tile_zone, settings=S))
    cell = od["morning_peak", "zone_2", "M1", "M2"]
    assert (cell.person_trips, cell.expansion_factor) == pytest.approx((1.0, 2.0))
    cell = od["morning_peak", "zone_1", "R1", "R1"]
    assert (cell.trips, cell.person_trips) == pytest.approx((1.0, 2.0))
    assert od["day", "zone_2", "M1", "M3"].person_trips is None  # trip c has no factor
    _, by_trip = expanded(10.0)
    assert by_trip == pytest.approx({"a": 2.0, "b": 4.0, "c": 0.5 * 2 + 0.5 * 10, "d": 10.0})


@settings(max_examples=6, deadline=None)
@given(devices=timelines())
def test_property_trip_weights_sum_to_one_and_each_level_totals_the_trips(spark, devices):
    tiles = range(1, 13)
    grid, tile_zone = _areas(
        spark,
        municipality={t: f"M{t % 4}" for t in tiles},
        region={t: f"R{t % 2}" for t in tiles},
        km={t: f"K{t // 3}" for t in tiles},
    )
    trips = compute_trips(segments(spark, devices), S).cache()
    rows = trips.collect()
    for r in rows:
        for weights in (r.origin_weights, r.destination_weights):
            assert sum(weights) == pytest.approx(1.0)
    per_band = Counter((r.date, r.time_band) for r in rows)
    od = compute_od_matrices(trips, grid=grid, tile_zone=tile_zone, settings=S)
    totals: dict[tuple, float] = {}
    for r in od.collect():
        key = (r.level, r.date, r.time_band)
        totals[key] = totals.get(key, 0.0) + r.trips
    expected = {(lvl, *k): float(n) for lvl in S.levels for k, n in per_band.items()}
    assert totals == pytest.approx(expected)
    trips.unpersist()
