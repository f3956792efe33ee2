"""Internal migration on constructed devices: the overlap of two periods' home tiles, the
threshold's boundary, devices with a home in one period only, and the flows between zones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rmf_spark.slayer.usual_environment.migration import (
    MigrationSettings,
    compute_home_overlap,
    compute_migration_flows,
)

HOMES = "device_id string, tile_id long"
HALF = MigrationSettings()  # dice, threshold 0.5

# home tiles per device: (first period, second period)
DEVICES = {
    "stayer": ([1, 2], [2, 1]),
    "at_threshold": ([1, 2], [2, 3]),  # dice 2 * 1 / 4 = 0.5: not below, stays
    "below": ([1, 2, 3], [3, 4]),  # dice 2 * 1 / 5 = 0.4
    "subset": ([1, 2], [2]),  # dice 2 / 3; shared weight min(1/2, 1) = 0.5
    "moved": ([1], [5, 6]),  # disjoint: 0
    "left": ([1, 5], []),
    "arrived": ([], [6]),
}


def _homes(spark, period):
    rows = [(d, t) for d, tiles in DEVICES.items() for t in tiles[period]]
    return spark.createDataFrame(rows, HOMES)


def _overlap(spark, settings):
    got = compute_home_overlap(_homes(spark, 0), _homes(spark, 1), settings=settings)
    return {r.device_id: r for r in got.collect()}


def test_dice_overlap_threshold_boundary_and_one_period_homes(spark):
    got = _overlap(spark, HALF)
    assert {d: r.overlap for d, r in got.items()} == {
        "stayer": 1.0,
        "at_threshold": 0.5,
        "below": pytest.approx(0.4),
        "subset": pytest.approx(2 / 3),
        "moved": 0.0,
        "left": None,
        "arrived": None,
    }
    assert {d: r.status for d, r in got.items()} == {
        "stayer": "stayer",
        "at_threshold": "stayer",
        "below": "migrant",
        "subset": "stayer",
        "moved": "migrant",
        "left": "home_before_only",
        "arrived": "home_after_only",
    }
    assert (got["below"].tiles_before, got["below"].tiles_after) == (3, 2)
    assert (got["left"].tiles_before, got["left"].tiles_after) == (2, 0)


def test_shared_weight_overlap_and_a_higher_threshold(spark):
    got = _overlap(spark, MigrationSettings(overlap="shared_weight", threshold=0.6))
    assert got["subset"].overlap == pytest.approx(0.5)
    assert got["below"].overlap == pytest.approx(1 / 3)  # min(1/3, 1/2) on tile 3
    assert got["stayer"].overlap == pytest.approx(1.0)
    # 0.5 < 0.6: the threshold boundary moved, so did the device at it
    assert got["at_threshold"].status == got["subset"].status == "migrant"
    assert got["stayer"].status == "stayer"


def test_flows_weight_each_migrant_once_and_expand_with_the_origin_share(spark):
    # tiles 1-3 in region R1 (share 0.5), 4-6 in R2 (share 0.25); municipalities:
    # m1 = {1, 2}, m2 = {3}, m3 = {4}, m4 = {5, 6}
    region = {1: "R1", 2: "R1", 3: "R1", 4: "R2", 5: "R2", 6: "R2"}
    muni = {1: "m1", 2: "m1", 3: "m2", 4: "m3", 5: "m4", 6: "m4"}
    tile_zone = spark.createDataFrame(
        [(t, 1, z) for t, z in region.items()] + [(t, 2, z) for t, z in muni.items()],
        "tile_id long, zone_level int, zone_id string",
    )
    shares = spark.createDataFrame([("R1", 0.5), ("R2", 0.25)], "region_id string, share double")
    flows = compute_migration_flows(
        _homes(spark, 0),
        _homes(spark, 1),
        tile_zone=tile_zone,
        market_share=shares,
        region_level=1,
        settings=HALF,
    )
    got = {
        (r.zone_level, r.origin_zone_id, r.destination_zone_id): (r.devices, r.population)
        for r in flows.collect()
    }
    # migrants: "below" {1,2,3} -> {3,4} and "moved" {1} -> {5,6}; all leave R1 (factor 2)
    expected = {
        (2, "m1", "m2"): (2 / 3 * 1 / 2, 2 / 3),  # below: 2/3 of it in m1, 1/2 to m2
        (2, "m1", "m3"): (2 / 3 * 1 / 2, 2 / 3),
        (2, "m2", "m2"): (1 / 3 * 1 / 2, 1 / 3),  # a move inside m2
        (2, "m2", "m3"): (1 / 3 * 1 / 2, 1 / 3),
        (2, "m1", "m4"): (1.0, 2.0),  # moved
        (1, "R1", "R1"): (0.5, 1.0),
        (1, "R1", "R2"): (1.5, 3.0),
    }
    assert got.keys() == expected.keys()
    for key, (devices, population) in expected.items():
        assert got[key] == (pytest.approx(devices), pytest.approx(population)), key
    # every migrant counts once per level
    for level in (1, 2):
        assert sum(d for (lvl, _, _), (d, _) in got.items() if lvl == level) == pytest.approx(2)


def test_settings_are_typed_and_strict():
    with pytest.raises(ValidationError):
        MigrationSettings(threshold=0)
    with pytest.raises(ValidationError):
        MigrationSettings(threshold=1.5)
    with pytest.raises(ValidationError):
        MigrationSettings(overlap="jaccard")
    with pytest.raises(ValidationError):
        MigrationSettings(treshold=0.5)
