"""MultiMNO's sample network and events (deliberately wrong values) through `rmf convergence`.

The D-layer's bronze cells ingest for this layout did not exist when this test was written, so
the sample is mapped to the bronze schema (docs/tables.md) here: each daily snapshot of the
network becomes a plan row valid on that day.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.clayer.runner import run_convergence
from rmf_spark.clayer.settings import ConvergenceSettings, GridSettings, PriorSettings
from rmf_spark.lake import write_delta
from tests.conftest import MULTIMNO_SAMPLE

# a whole C-layer run on the MultiMNO sample: `make test-integration` (CI runs it)
pytestmark = pytest.mark.integration

MNO, DAY = "mno_mm", dt.date(2023, 1, 8)


def _bronze_cells(spark):
    n = spark.read.parquet(str(MULTIMNO_SAMPLE / "mno_network"))
    snap = F.make_date("year", "month", "day")
    pt = F.expr(
        "ST_Transform(ST_Point(CAST(longitude AS DOUBLE), CAST(latitude AS DOUBLE)), "
        "'EPSG:4326', 'EPSG:3035')"
    )
    return (
        n.select(
            F.lit(MNO).alias("mno_id"),
            F.col("cell_id").cast("string"),
            snap.alias("valid_from"),
            snap.alias("valid_to"),
            pt.alias("_pt"),
            F.col("latitude").cast("double"),
            F.col("longitude").cast("double"),
            F.col("altitude").cast("double").alias("altitude_m"),
            F.col("antenna_height").cast("double").alias("antenna_height_m"),
            (F.col("directionality") == 1).alias("directional"),
            F.col("azimuth_angle").cast("double").alias("azimuth_deg"),
            F.col("elevation_angle").cast("double").alias("tilt_deg"),
            F.col("horizontal_beam_width").cast("double").alias("beam_h_deg"),
            F.col("vertical_beam_width").cast("double").alias("beam_v_deg"),
            F.col("power").cast("double").alias("power_w"),
            F.col("range").cast("double").alias("range_m"),
            F.col("frequency").cast("double").alias("frequency_mhz"),
            "technology",
            "cell_type",
            F.lit(None).cast("double").alias("path_loss_exponent"),
            F.array().cast("array<string>").alias("imputed"),
        )
        .select("*", F.expr("ST_X(_pt)").alias("x"), F.expr("ST_Y(_pt)").alias("y"))
        .drop("_pt")
    )


def _bronze_events(spark):
    e = spark.read.parquet(str(MULTIMNO_SAMPLE / "mno_events"))
    ts = F.to_timestamp("timestamp")
    return e.select(
        F.hex("user_id").alias("device_id"),
        ts.alias("event_ts"),
        F.col("cell_id").cast("string"),
        F.lit(None).cast("string").alias("event_type"),
        F.lit(None).cast("string").alias("technology"),
        F.col("mcc").cast("int"),
        F.col("mnc").cast("string"),
        F.col("plmn").cast("string"),
        F.col("latitude").cast("double"),
        F.col("longitude").cast("double"),
        F.col("loc_error").cast("double").alias("loc_error_m"),
        F.lit(None).cast("int").alias("timing_advance"),
        F.lit(None).cast("string").alias("record_id"),
        F.lit("mno_events").alias("source_file"),
        F.lit(None).cast("long").alias("source_row"),
        F.lit(MNO).alias("mno_id"),
        F.to_date(ts).alias("date"),
        F.pmod(F.xxhash64(F.hex("user_id")), F.lit(4)).cast("int").alias("device_bucket"),
    )


@pytest.fixture(scope="module")
def mm_run(spark, test_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("mm")
    ref = root / "reference"
    cells = _bronze_cells(spark).cache()
    c = cells.agg(F.avg("x"), F.avg("y")).first()
    x0, y0 = (c[0] // 1000) * 1000 - 1500, (c[1] // 1000) * 1000 - 1500
    wkt = f"POLYGON(({x0} {y0}, {x0 + 3000} {y0}, {x0 + 3000} {y0 + 3000}, {x0} {y0 + 3000}, {x0} {y0}))"  # noqa: E501
    write_delta(spark.createDataFrame([(wkt,)], "wkt string"), str(ref / "territory"))
    zones = spark.read.parquet(str(MULTIMNO_SAMPLE / "spatial" / "geographic_zones")).select(
        F.col("zone_id").cast("string"),
        F.col("level").cast("int").alias("zone_level"),
        F.col("parent_id").cast("string"),
        F.col("name"),
        F.expr("ST_AsText(ST_GeomFromWKB(geometry))").alias("wkt"),
    )
    write_delta(zones, str(ref / "zones"))
    cfg = test_config.model_copy(
        update={
            "lake": test_config.lake.model_copy(update={"root": str(root / "lake")}),
            "convergence": ConvergenceSettings(
                reference_dir=str(ref),
                grid=GridSettings(),
                prior=PriorSettings(kind="network"),
            ),
        }
    )
    write_delta(cells, tables.CELLS.path(cfg, mno=MNO))
    write_delta(
        _bronze_events(spark),
        tables.EVENTS.path(cfg, mno=MNO),
        partition_by=("date", "device_bucket"),
    )
    first = run_convergence(spark, cfg, mno=MNO, date=DAY)
    second = run_convergence(spark, cfg, mno=MNO, date=DAY)
    cells.unpersist()
    print(json.dumps(first))
    return cfg, first, second


@pytest.mark.slow
def test_multimno_sample_through_the_c_layer(spark, mm_run):
    cfg, summary, again = mm_run
    assert summary["cells_active"] == 30  # one plan row per cell on the day
    # wrong values are reported per cell, with codes, not dropped
    assert summary["cells_with_issues"]
    reported = {i for c in summary["cells_with_issues"] for i in c["issues"]}
    assert any(i.startswith("FIXED:") for i in reported)
    cv = tables.CELL_VERSION.read(spark, cfg, mno=MNO)
    assert cv.count() == 150  # every bronze plan row is kept
    assert summary["footprints_computed"] == 30 - summary["cells_unusable"]
    fp = tables.CELL_FOOTPRINT.read(spark, cfg, mno=MNO)
    versions = fp.select("cell_id", "footprint_version").distinct()
    assert versions.count() == summary["footprints_computed"]  # every version, even empty
    empty = {r["cell_id"] for r in fp.where("tile_id IS NULL").collect()}
    assert set(summary["cells_without_coverage"]) == empty
    # a version has tiles or one marker row, never both
    both = fp.groupBy("cell_id", "footprint_version").agg(
        F.count_if(F.col("tile_id").isNull()).alias("markers"), F.count(F.lit(1)).alias("rows")
    )
    assert both.where("markers > 0 AND rows > 1").count() == 0
    assert summary["connection_rows"] > 0
    bronze = tables.EVENTS.read(spark, cfg, mno=MNO)
    n_day = bronze.where(F.col("date") == F.lit(DAY).cast("date")).count()
    assert summary["events"] == n_day > 0
    # second run: nothing recomputed, same result
    assert again["footprints_computed"] == 0
    assert again["connection_rows"] == summary["connection_rows"]
    el = tables.EVENT_LOCATION.read(spark, cfg, mno=MNO)
    assert el.count() == n_day  # no event dropped
    # events carry coordinates: those inside the 3 x 3 km grid got their tile
    assert el.where("tile_id is not null").count() > 0
    tz = tables.TILE_ZONE.read(spark, cfg)
    assert tz.select("tile_id").distinct().count() == 900
    cp = tables.CONNECTION_PROBABILITY.read(spark, cfg, mno=MNO)
    sums = cp.groupBy("tile_id").agg(F.sum("p_cell_given_tile").alias("s"))
    assert sums.where(F.abs(F.col("s") - 1) > 1e-9).count() == 0
