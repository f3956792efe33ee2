"""Residents per tile and zone: a device spread evenly over its home tiles counts once, and
without calibration a region's people are its devices over the market share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.slayer.usual_environment.residents import compute_residents

HOMES = "device_id string, tile_id long"
GRID = "tile_id long, inspire_100m string, inspire_1km string"
TILE_ZONE = "tile_id long, zone_level int, zone_id string"
SHARES = "region_id string, share double"


def _frames(spark, homes, grid, tile_zone, shares):
    return (
        spark.createDataFrame(homes, HOMES),
        spark.createDataFrame(grid, GRID),
        spark.createDataFrame(tile_zone, TILE_ZONE),
        spark.createDataFrame(shares, SHARES),
    )


def test_a_device_with_two_home_tiles_counts_half_in_each(spark):
    homes, grid, tile_zone, shares = _frames(
        spark,
        [("a", 1), ("a", 2), ("a", 2), ("b", 2), ("c", None)],  # a repeated row counts once
        [(1, "t1", "k1"), (2, "t2", "k1")],
        [(1, 1, "R"), (2, 1, "R"), (1, 2, "m1"), (2, 2, "m2")],
        [("R", 0.25)],
    )
    got = {
        (r.level, r.area_id): (r.devices, r.population)
        for r in compute_residents(
            homes, grid=grid, tile_zone=tile_zone, market_share=shares, region_level=1
        ).collect()
    }
    assert got == {
        ("100m", "t1"): (0.5, 2.0),
        ("100m", "t2"): (1.5, 6.0),
        ("1km", "k1"): (2.0, 8.0),
        ("zone_1", "R"): (2.0, 8.0),
        ("zone_2", "m1"): (0.5, 2.0),
        ("zone_2", "m2"): (1.5, 6.0),
    }


def test_keys_keep_labellings_apart(spark):
    homes = spark.createDataFrame(
        [("home", "a", 1), ("home", "a", 2), ("work", "a", 2)],
        "label string, device_id string, tile_id long",
    )
    _, grid, tile_zone, shares = _frames(
        spark, [], [(1, "t1", "k1"), (2, "t2", "k1")], [(1, 1, "R"), (2, 1, "R")], [("R", 0.5)]
    )
    got = compute_residents(
        homes,
        grid=grid,
        tile_zone=tile_zone,
        market_share=shares,
        region_level=1,
        keys=["label"],
    ).where("level = '100m'")
    assert sorted((r.label, r.area_id, r.devices) for r in got.collect()) == [
        ("home", "t1", 0.5),
        ("home", "t2", 0.5),
        ("work", "t2", 1.0),
    ]


@st.composite
def worlds(draw):
    """Up to 30 tiles in 2-3 regions of 1-4 municipalities each (nested), up to 40 devices
    with 1-4 home tiles each, a share per region."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_tiles = int(rng.integers(1, 31))
    n_regions = int(rng.integers(2, 4))
    tiles = np.arange(1, n_tiles + 1)
    region = rng.integers(0, n_regions, n_tiles)
    muni = region * 10 + rng.integers(0, 4, n_tiles)
    grid = [(int(t), f"t{t}", f"k{t // 4}") for t in tiles]
    tile_zone = [(int(t), 1, f"R{r}") for t, r in zip(tiles, region, strict=True)] + [
        (int(t), 2, f"M{m}") for t, m in zip(tiles, muni, strict=True)
    ]
    homes = [
        (f"d{i}", int(t))
        for i in range(int(rng.integers(0, 41)))
        for t in rng.choice(tiles, size=int(rng.integers(1, 5)))  # repeats allowed
    ]
    shares = [(f"R{r}", float(rng.uniform(0.05, 1.0))) for r in range(n_regions)]
    return homes, grid, tile_zone, shares


@settings(max_examples=5, deadline=None)
@given(world=worlds())
def test_people_per_zone_are_non_negative_and_sum_to_devices_over_the_share(spark, world):
    homes, _, tile_zone, shares = world
    tiles_df, grid_df, zones_df, shares_df = _frames(spark, *world)
    got = compute_residents(
        tiles_df, grid=grid_df, tile_zone=zones_df, market_share=shares_df, region_level=1
    ).toPandas()
    assert (got["devices"] >= 0).all() and (got["population"] >= 0).all()

    # each device once: tiles weighted 1/n over its distinct home tiles
    h = pd.DataFrame(homes, columns=["device_id", "tile_id"]).drop_duplicates()
    h["w"] = 1.0 / h.groupby("device_id")["tile_id"].transform("size")
    assert got.loc[got["level"] == "100m", "devices"].sum() == pytest.approx(
        h["device_id"].nunique()
    )
    region_of = {t: z for t, lvl, z in tile_zone if lvl == 1}
    share = dict(shares)
    h["region"] = h["tile_id"].map(region_of)
    expected = h.groupby("region")["w"].sum() / h.groupby("region")["w"].sum().index.map(share)
    per_region = got[got["level"] == "zone_1"].set_index("area_id")["population"]
    assert per_region.to_dict() == pytest.approx(expected.to_dict(), rel=1e-12)
    # municipalities nest in regions: their people add up to the region's
    muni_region = {z: f"R{int(z[1:]) // 10}" for _, lvl, z in tile_zone if lvl == 2}
    munis = got[got["level"] == "zone_2"]
    by_region = munis.groupby(munis["area_id"].map(muni_region))["population"].sum()
    assert by_region.to_dict() == pytest.approx(expected.to_dict(), rel=1e-12)
