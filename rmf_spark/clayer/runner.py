"""``rmf convergence``: the C-layer for one MNO and one date. All C-layer I/O is here.

Steps: (1) the shared grid and tile -> zone tables, built once from the reference territory and
zones; (2) every bronze cell-plan row checked and versioned (``cell_version``); (3) footprints
computed only for the cell versions active on the date that have none yet (``cell_footprint``,
appended); (4) pruning and probabilities over the active versions (``connection_probability``,
the date's partition replaced) and the settings they were computed with
(``convergence_parameters``); (5) the date's events flagged and written as ``event_location``;
(6) ``cleaning_metrics``. Re-running a date gives the same tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark.clayer import schemas
from rmf_spark.clayer.cells import RADIO_COLUMNS, active_cells, prepare_cells
from rmf_spark.clayer.cleaning import cleaning_metrics, flag_events
from rmf_spark.clayer.connection import connection_probability, land_use_prior, prune
from rmf_spark.clayer.event_location import event_location
from rmf_spark.clayer.footprint import cell_footprint
from rmf_spark.clayer.grid import generate_grid, tile_zone
from rmf_spark.clayer.parameters import TABLE as PARAMETERS_TABLE
from rmf_spark.clayer.parameters import convergence_parameters
from rmf_spark.config import RmfConfig
from rmf_spark.errors import InputDataError
from rmf_spark.lake import read_delta, table_exists, table_path, write_delta

__all__ = ["build_grid", "run_convergence"]


def _ref_path(cfg: RmfConfig, name: str) -> str:
    base = cfg.convergence.reference_dir
    if base:
        return f"{base.rstrip('/')}/{name}"
    return table_path(cfg, "reference", name)


def _read_ref(spark: SparkSession, cfg: RmfConfig, name: str) -> DataFrame | None:
    path = _ref_path(cfg, name)
    return read_delta(spark, path) if table_exists(spark, path) else None


def build_grid(spark: SparkSession, cfg: RmfConfig) -> DataFrame:
    """Read the shared grid, building it (and ``tile_zone``) from the reference data once."""
    grid_path = table_path(cfg, "clayer", "grid")
    if not table_exists(spark, grid_path):
        territory = _read_ref(spark, cfg, "territory")
        if territory is None:
            raise InputDataError(
                f"no territory table at {_ref_path(cfg, 'territory')}: set "
                "convergence.reference_dir to a directory with territory/ (and zones/)",
                code="TERRITORY_MISSING",
            )
        grid = generate_grid(territory, buffer_m=cfg.convergence.grid.buffer_m)
        write_delta(grid.repartition(max(1, spark.sparkContext.defaultParallelism)), grid_path)
        zones = _read_ref(spark, cfg, "zones")
        if zones is not None:
            tz = tile_zone(read_delta(spark, grid_path), zones)
            write_delta(tz, table_path(cfg, "clayer", "tile_zone"), partition_by=("zone_level",))
    return read_delta(spark, grid_path)


def run_convergence(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, date: dt.date
) -> dict[str, Any]:
    """Run the C-layer for ``mno`` on ``date``; return a summary dict.

    Raises
    ------
    rmf_spark.errors.InputDataError
        The bronze cells table is missing (``BRONZE_CELLS_MISSING``), or the reference
        territory is (``TERRITORY_MISSING``).
    """
    day = date.isoformat()
    conv = cfg.convergence
    grid = build_grid(spark, cfg)

    cells_path = table_path(cfg, "bronze", "cells", mno=mno)
    if not table_exists(spark, cells_path):
        raise InputDataError(
            f"no bronze cells for MNO {mno!r} at {cells_path}: run `rmf ingest` first",
            code="BRONZE_CELLS_MISSING",
        )
    cv_path = table_path(cfg, "clayer", "cell_version", mno=mno)
    prepared = prepare_cells(read_delta(spark, cells_path), radio=conv.radio, pruning=conv.pruning)
    write_delta(prepared, cv_path)
    cell_version = read_delta(spark, cv_path)
    active = active_cells(cell_version, date=day)

    fp_path = table_path(cfg, "clayer", "cell_footprint", mno=mno)
    log_path = table_path(cfg, "clayer", "footprint_log", mno=mno)
    todo = active.where("usable").select("cell_id", "footprint_version", *RADIO_COLUMNS)
    if table_exists(spark, log_path):
        done = read_delta(spark, log_path).select("cell_id", "footprint_version")
        todo = todo.join(done, ["cell_id", "footprint_version"], "left_anti")
    todo = todo.withColumn("usable", F.lit(True)).cache()
    recomputed = todo.count()
    if recomputed:
        new = cell_footprint(todo, grid, radio_settings=conv.radio, pruning=conv.pruning)
        write_delta(new, fp_path, mode="append")
        n_tiles = (
            read_delta(spark, fp_path)
            .join(
                F.broadcast(todo.select("cell_id", "footprint_version")),
                ["cell_id", "footprint_version"],
            )
            .groupBy("cell_id", "footprint_version")
            .agg(F.count(F.lit(1)).alias("n_tiles"))
        )
        log = todo.select("cell_id", "footprint_version").join(
            n_tiles, ["cell_id", "footprint_version"], "left"
        )
        write_delta(
            log.select(
                "cell_id",
                "footprint_version",
                F.coalesce("n_tiles", F.lit(0)).cast("long").alias("n_tiles"),
                F.current_timestamp().alias("computed_at"),
            ),
            log_path,
            mode="append",
        )
    todo.unpersist()

    keys = active.where("usable").select("cell_id", "footprint_version").distinct()
    footprint = (
        read_delta(spark, fp_path).join(F.broadcast(keys), ["cell_id", "footprint_version"])
        if table_exists(spark, fp_path)
        else spark.createDataFrame([], schemas.CELL_FOOTPRINT)
    )
    tile_prior = None
    if conv.prior.kind == "land_use":
        land_use = _read_ref(spark, cfg, "land_use")
        tile_prior = land_use_prior(land_use, grid, prior=conv.prior) if land_use else None
    probs = connection_probability(
        prune(footprint, pruning=conv.pruning), prior=conv.prior, tile_prior=tile_prior
    ).withColumn("date", F.lit(day).cast("date"))
    cp_path = table_path(cfg, "clayer", "connection_probability", mno=mno)
    where = f"date = DATE'{day}'"
    write_delta(probs, cp_path, partition_by=("date",), replace_where=where)
    write_delta(
        convergence_parameters(spark, conv, date=date),
        table_path(cfg, "clayer", PARAMETERS_TABLE, mno=mno),
        partition_by=("date",),
        replace_where=where,
    )

    el_path = table_path(cfg, "clayer", "event_location", mno=mno)
    ev_path = table_path(cfg, "bronze", "events", mno=mno)
    n_events = 0
    if table_exists(spark, ev_path):
        events = read_delta(spark, ev_path).where(F.col("date") == F.lit(day).cast("date"))
        flagged = flag_events(events, cell_version, date=day, cleaning=conv.cleaning)
        el = event_location(flagged, grid, home_mcc=conv.home_mcc)
        write_delta(
            el, el_path, partition_by=schemas.EVENT_LOCATION_PARTITIONS, replace_where=where
        )
        written = read_delta(spark, el_path).where(F.col("date") == F.lit(day).cast("date"))
        metrics = cleaning_metrics(written, date=day)
        write_delta(
            metrics,
            table_path(cfg, "clayer", "cleaning_metrics", mno=mno),
            partition_by=("date",),
            replace_where=where,
        )
        counts = {r["metric"]: int(r["value"]) for r in metrics.collect()}
        n_events = counts.get("events", 0)
    else:
        counts = {}

    issues = (
        active.where(F.size("issues") > 0)
        .select("cell_id", "usable", "issues")
        .orderBy("cell_id")
        .limit(200)
        .collect()
    )
    no_cover = (
        read_delta(spark, log_path)
        .where("n_tiles = 0")
        .join(active.select("cell_id", "footprint_version"), ["cell_id", "footprint_version"])
        .select("cell_id")
        .orderBy("cell_id")
        .limit(200)
        .collect()
        if table_exists(spark, log_path)
        else []
    )
    cp = read_delta(spark, cp_path).where(F.col("date") == F.lit(day).cast("date"))
    return {
        "mno": mno,
        "date": day,
        "cells_active": active.count(),
        "cells_unusable": active.where(~F.col("usable")).count(),
        "cells_with_issues": [
            {"cell_id": r["cell_id"], "usable": r["usable"], "issues": list(r["issues"])}
            for r in issues
        ],
        "footprints_computed": recomputed,
        "cells_without_coverage": [r["cell_id"] for r in no_cover],
        "connection_rows": cp.count(),
        "events": n_events,
        "flags": {k: v for k, v in counts.items() if k != "events"},
    }
