"""Grid, tile->zone mapping and footprints on small territories (Spark + Sedona)."""

from __future__ import annotations

import math

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from rmf_spark.clayer import cells, footprint, grid, schemas
from rmf_spark.clayer.settings import PruningSettings, RadioSettings
from tests.clayer.helpers import X0, Y0, cell, cells_df, square_wkt, territory_df

RADIO = RadioSettings()
PRUNE = PruningSettings(dominance_threshold=0.0)


def test_grid_codes_ids_and_extent(spark, grid_3km):
    assert grid_3km.count() == 900
    assert grid_3km.select("tile_id").distinct().count() == 900
    assert_df_equality(
        grid_3km.where((F.col("x_ll") == X0 + 1200) & (F.col("y_ll") == Y0 + 300)),
        spark.createDataFrame(
            [(30012 * 2**20 + 20003, "100mN20003E30012", "1kmN2000E3001",
              3001 * 2**20 + 2000, X0 + 1200, Y0 + 300)],
            schemas.GRID,
        ),
        ignore_nullable=True,
    )  # fmt: skip
    assert grid_3km.select(F.countDistinct("tile_1km_id")).first()[0] == 9


def test_grid_follows_polygon_not_bbox(spark):
    tri = f"POLYGON(({X0} {Y0}, {X0 + 2000} {Y0}, {X0} {Y0 + 2000}, {X0} {Y0}))"
    g = grid.generate_grid(territory_df(spark, tri), buffer_m=0.0)
    # 210 tiles below the diagonal (1+2+...+20) plus the 190 the diagonal cuts through
    n = g.count()
    assert 200 < n < 400
    assert g.where(F.col("x_ll") + F.col("y_ll") > X0 + Y0 + 2000).count() == 0


def test_tile_zone_each_tile_once_per_level(spark, grid_3km):
    zones = spark.createDataFrame(
        [
            ("R1", 1, square_wkt(X0 - 10, Y0 - 10, 3020, 3020)),
            ("M1", 2, square_wkt(X0, Y0, 1500, 3000)),
            ("M2", 2, square_wkt(X0 + 1500, Y0, 1500, 3000)),
        ],
        "zone_id string, zone_level int, wkt string",
    )
    tz = grid.tile_zone(grid_3km, zones)
    assert_df_equality(
        tz.groupBy("zone_level", "zone_id").count(),
        spark.createDataFrame(
            [(1, "R1", 900), (2, "M1", 450), (2, "M2", 450)],
            "zone_level int, zone_id string, count long",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert tz.groupBy("tile_id", "zone_level").count().where("count > 1").count() == 0


def _footprint(spark, grid_3km, rows):
    prepared = cells.prepare_cells(cells_df(spark, rows), radio=RADIO, pruning=PRUNE)
    return footprint.cell_footprint(prepared, grid_3km, radio_settings=RADIO, pruning=PRUNE)


def test_omni_footprint_symmetric_decreasing_and_within_range(spark, grid_3km):
    cx, cy = X0 + 1500, Y0 + 1500  # a tile corner: tile centres sit symmetrically around it
    fp = _footprint(spark, grid_3km, [cell("o", cx, cy, range_m=1000.0)])
    pdf = (
        fp.join(grid_3km, "tile_id")
        .select(
            (F.col("x_ll") + 50 - cx).alias("dx"),
            (F.col("y_ll") + 50 - cy).alias("dy"),
            "signal_dbm",
        )
        .toPandas()
    )
    pdf["r"] = (pdf.dx**2 + pdf.dy**2) ** 0.5
    assert pdf.r.max() <= 1000.0
    # all tile centres within 1000 m: about pi r^2 / 100^2 of them
    assert abs(len(pdf) - math.pi * 1000**2 / 100**2) < 40
    spread = pdf.groupby(pdf.r.round(6)).signal_dbm.agg(lambda s: s.max() - s.min())
    assert spread.max() < 1e-9  # rotational symmetry: same distance, same signal
    by_r = pdf.groupby(pdf.r.round(6)).signal_dbm.first().sort_index()
    assert (by_r.diff().dropna() < 0).all()  # decreasing with distance


def test_directional_footprint_front_and_back(spark, grid_3km):
    cx, cy = X0 + 1550, Y0 + 1550  # a tile centre
    rows = [
        cell("d", cx, cy, directional=True, azimuth_deg=90.0, tilt_deg=0.0, beam_h_deg=65.0,
             beam_v_deg=9.0, antenna_height_m=0.0, range_m=1000.0),
        cell("o", cx, cy, antenna_height_m=0.0, range_m=1000.0),
    ]  # fmt: skip
    fp = _footprint(spark, grid_3km, rows)
    front = grid.tile_id_of_xy(F.lit(cx + 500.0), F.lit(cy))
    back = grid.tile_id_of_xy(F.lit(cx - 500.0), F.lit(cy))
    got = {
        (r["cell_id"], r["which"]): r["signal_dbm"]
        for r in fp.select(
            "cell_id",
            "signal_dbm",
            F.when(F.col("tile_id") == front, "front")
            .when(F.col("tile_id") == back, "back")
            .alias("which"),
        )
        .where("which is not null")
        .collect()
    }
    # Tile centres at (+500, 0) and (-500, 0): exactly on and against the boresight.
    assert got[("d", "front")] == pytest.approx(got[("o", "front")], abs=1e-9)
    assert got[("d", "back")] - got[("o", "back")] == pytest.approx(-30.0, abs=1e-6)


def test_candidate_pairs_use_a_spatial_join_not_a_cross_join(spark, grid_3km):
    prepared = cells.prepare_cells(
        cells_df(spark, [cell("a", X0 + 100, Y0 + 100)]), radio=RADIO, pruning=PRUNE
    )
    plan = footprint.candidate_pairs(prepared, grid_3km)._jdf.queryExecution().executedPlan()
    text = plan.toString()
    assert "BroadcastIndexJoin" in text or "RangeJoin" in text or "DistanceJoin" in text
    assert "CartesianProduct" not in text and "BroadcastNestedLoopJoin" not in text
