"""Roll-up additivity on random tile estimates: every 1 km tile and zone holds the sum of its
100 m tiles, so each level's total is the 100 m total per key; one tile without population
makes its areas' population null."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.slayer.aggregate.rollup import compute_rollups

KEYS = ["time_point", "method"]
T0 = datetime(2024, 3, 5, 8)


@st.composite
def worlds(draw):
    """Tiles on a 3 x 3 km patch (so 1 km tiles hold several), two zone levels (level 2 covers
    only some tiles) and estimates per (time point, method) on a random subset of tiles: each
    key is an independent estimate, so one Spark job checks several."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_tiles = draw(st.integers(1, 40))
    cells = rng.choice(900, size=n_tiles, replace=False)
    e, n = 40_000 + cells // 30, 30_000 + cells % 30
    grid = pd.DataFrame(
        {
            "tile_id": (e * 2**20 + n).astype("int64"),
            "inspire_100m": [f"100mN{b}E{a}" for a, b in zip(e, n, strict=True)],
            "inspire_1km": [f"1kmN{b // 10}E{a // 10}" for a, b in zip(e, n, strict=True)],
        }
    )
    level2 = rng.random(n_tiles) < 0.7
    tile_zone = pd.concat(
        [
            pd.DataFrame(
                {
                    "tile_id": grid["tile_id"],
                    "zone_level": 1,
                    "zone_id": rng.choice(["R0", "R1"], n_tiles),
                }
            ),
            pd.DataFrame(
                {
                    "tile_id": grid["tile_id"][level2],
                    "zone_level": 2,
                    "zone_id": rng.choice(["M0", "M1", "M2"], int(level2.sum())),
                }
            ),
        ],
        ignore_index=True,
    )
    rows = []
    for h in range(draw(st.integers(1, 3))):
        for method in ("em", "naive"):
            for t in grid["tile_id"][rng.random(n_tiles) < 0.8]:
                devices = float(rng.choice([0.0, rng.uniform(0, 50)]))
                population = None if rng.random() < 0.1 else devices * rng.uniform(1, 4)
                rows.append((T0.replace(hour=8 + h), method, int(t), devices, population))
    est = pd.DataFrame(rows, columns=[*KEYS, "tile_id", "devices", "population"])
    return grid, tile_zone, est


def _areas(est: pd.DataFrame, grid: pd.DataFrame, tile_zone: pd.DataFrame) -> pd.DataFrame:
    """Each estimate row once per area it lies in: (level, area_id)."""
    g = est.merge(grid, on="tile_id")
    z = est.merge(tile_zone, on="tile_id")
    return pd.concat(
        [
            g.assign(level="100m", area_id=g["inspire_100m"]),
            g.assign(level="1km", area_id=g["inspire_1km"]),
            z.assign(level="zone_" + z["zone_level"].astype(str), area_id=z["zone_id"]),
        ],
        ignore_index=True,
    )


@settings(max_examples=5, deadline=None)
@given(world=worlds())
def test_rollups_add_up_and_null_population_propagates(spark, world):
    grid, tile_zone, est = world
    got = compute_rollups(
        spark.createDataFrame(
            est,
            "time_point timestamp, method string, tile_id long, devices double, population double",
        ),
        keys=KEYS,
        grid=spark.createDataFrame(grid),
        tile_zone=spark.createDataFrame(tile_zone),
    ).toPandas()
    # each level's total is the 100 m total per key (level 2 covers only its zoned tiles)
    totals = got.groupby([*KEYS, "level"])["devices"].sum().unstack("level")
    base = est.groupby(KEYS)["devices"].sum()
    zoned = est[est["tile_id"].isin(tile_zone.loc[tile_zone["zone_level"] == 2, "tile_id"])]
    for level in ("100m", "1km", "zone_1"):
        np.testing.assert_allclose(totals[level].reindex(base.index), base, rtol=1e-12)
    if len(zoned):
        level2 = zoned.groupby(KEYS)["devices"].sum()
        np.testing.assert_allclose(totals["zone_2"].reindex(level2.index), level2, rtol=1e-12)

    # every area: the sum of its tiles, population null as soon as one tile's is
    tiles = _areas(est, grid, tile_zone).groupby([*KEYS, "level", "area_id"])
    expected = pd.DataFrame(
        {
            "devices": tiles["devices"].sum(),
            "population": tiles["population"].sum(min_count=1),
            "any_null": tiles["population"].apply(lambda s: s.isna().any()),
        }
    )
    actual = got.set_index([*KEYS, "level", "area_id"]).sort_index()
    assert actual.index.equals(expected.sort_index().index)
    expected = expected.loc[actual.index]
    np.testing.assert_allclose(actual["devices"], expected["devices"], rtol=1e-12)
    assert (actual["population"].isna() == expected["any_null"]).all()
    known = ~expected["any_null"]
    np.testing.assert_allclose(
        actual.loc[known, "population"], expected.loc[known, "population"], rtol=1e-12
    )
    with_devices = actual["devices"] > 0
    np.testing.assert_allclose(
        actual.loc[with_devices & known, "expansion_factor"],
        (actual["population"] / actual["devices"])[with_devices & known],
        rtol=1e-12,
    )
    assert actual.loc[~with_devices, "expansion_factor"].isna().all()
