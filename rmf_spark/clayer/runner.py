"""``rmf convergence``: the C-layer for one MNO and one date. All C-layer I/O is here.

Steps: (1) the shared grid and tile -> zone tables, each built once from the reference
territory and zones; (2) every bronze cell-plan row checked and versioned (``cell_version``);
(3) footprints computed only for the cell versions active on the date that have none yet
(``cell_footprint``, added); (4) pruning and probabilities over the active versions
(``connection_probability``, the date's partition replaced); (5) the date's events flagged and
written as ``event_location``; (6) ``cleaning_metrics``. Re-running a date gives the same
tables.

Crash safety: every write is one Delta commit (:mod:`rmf_spark.tables`), and a run killed
between two of them is completed by the rerun. The grid and ``tile_zone`` are each built when
missing (a crash after the grid still gets its ``tile_zone``). A footprint version is computed
once: the versions done are those in ``cell_footprint`` itself, a version covering no tile
being kept as a marker row (:func:`~rmf_spark.clayer.footprint.uncovered_markers`) written
after the footprints; killed in between, the rerun recomputes only the uncovered versions,
which still cover nothing, so no footprint is ever written twice. The other tables are
replaced (the date's rows, or the whole ``cell_version``) and derived from their inputs only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.clayer import schemas
from rmf_spark.clayer.cells import RADIO_COLUMNS, active_cells, prepare_cells
from rmf_spark.clayer.cleaning import cleaning_metrics, flag_events
from rmf_spark.clayer.connection import connection_probability, land_use_prior, prune
from rmf_spark.clayer.event_location import event_location
from rmf_spark.clayer.footprint import (
    cell_footprint,
    computed_versions,
    covered_tiles,
    uncovered_markers,
)
from rmf_spark.clayer.grid import generate_grid, tile_zone
from rmf_spark.clayer.parameters import convergence_parameters
from rmf_spark.config import RmfConfig
from rmf_spark.errors import InputDataError
from rmf_spark.tables import TableSpec

__all__ = ["build_grid", "run_convergence"]

_VERSION_KEY = [schemas.CELL_ID, schemas.FOOTPRINT_VERSION]


def _read_ref(spark: SparkSession, cfg: RmfConfig, spec: TableSpec) -> DataFrame | None:
    return spec.read(spark, cfg) if spec.exists(spark, cfg) else None


def build_grid(spark: SparkSession, cfg: RmfConfig) -> DataFrame:
    """Read the shared grid, building it and ``tile_zone`` from the reference data if missing.

    Each table is built when it is missing, so a run killed after the grid still builds
    ``tile_zone`` (from the grid as written).
    """
    if not tables.GRID.exists(spark, cfg):
        territory = _read_ref(spark, cfg, tables.TERRITORY)
        if territory is None:
            raise InputDataError(
                f"no territory table at {tables.TERRITORY.path(cfg)}: set "
                "convergence.reference_dir to a directory with territory/ (and zones/)",
                code="TERRITORY_MISSING",
            )
        grid = generate_grid(territory, buffer_m=cfg.convergence.grid.buffer_m)
        tables.GRID.write(grid.repartition(max(1, spark.sparkContext.defaultParallelism)), cfg)
    if not tables.TILE_ZONE.exists(spark, cfg):
        zones = _read_ref(spark, cfg, tables.ZONES)
        if zones is not None:
            tables.TILE_ZONE.write(tile_zone(tables.GRID.read(spark, cfg), zones), cfg)
    return tables.GRID.read(spark, cfg)


def _add_footprints(
    spark: SparkSession, cfg: RmfConfig, active: DataFrame, grid: DataFrame, *, mno: str
) -> int:
    """Compute and add the footprints of the usable ``active`` versions not computed yet;
    return how many versions were computed."""
    conv = cfg.convergence
    fp = tables.CELL_FOOTPRINT
    todo = active.where("usable").select(*_VERSION_KEY, *RADIO_COLUMNS)
    if fp.exists(spark, cfg, mno=mno):
        done = computed_versions(fp.read(spark, cfg, mno=mno))
        todo = todo.join(done, _VERSION_KEY, "left_anti")
    todo = todo.withColumn("usable", F.lit(True)).cache()
    computed = todo.count()
    if computed:
        keys = F.broadcast(todo.select(*_VERSION_KEY))
        fp.write(
            cell_footprint(todo, grid, radio_settings=conv.radio, pruning=conv.pruning),
            cfg,
            mno=mno,
        )
        written = fp.read(spark, cfg, mno=mno).join(keys, _VERSION_KEY)
        fp.write(uncovered_markers(todo, written), cfg, mno=mno)
    todo.unpersist()
    return computed


def run_convergence(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, date: dt.date
) -> dict[str, Any]:
    """Run the C-layer for ``mno`` on ``date``; return a summary dict.

    Raises
    ------
    rmf_spark.errors.InputDataError
        The bronze cells table is missing (``INPUT_TABLE_MISSING``), or the reference
        territory is (``TERRITORY_MISSING``).
    """
    day = date.isoformat()
    conv = cfg.convergence
    grid = build_grid(spark, cfg)

    tables.require(spark, cfg, [tables.CELLS], mno=mno)
    prepared = prepare_cells(
        tables.CELLS.read(spark, cfg, mno=mno), radio=conv.radio, pruning=conv.pruning
    )
    tables.CELL_VERSION.write(prepared, cfg, mno=mno)
    cell_version = tables.CELL_VERSION.read(spark, cfg, mno=mno)
    active = active_cells(cell_version, date=day)
    computed = _add_footprints(spark, cfg, active, grid, mno=mno)

    keys = F.broadcast(active.where("usable").select(*_VERSION_KEY).distinct())
    fp = tables.CELL_FOOTPRINT
    footprints = fp.read(spark, cfg, mno=mno) if fp.exists(spark, cfg, mno=mno) else None
    footprint = (
        covered_tiles(footprints).join(keys, _VERSION_KEY)
        if footprints is not None
        else spark.createDataFrame([], schemas.CELL_FOOTPRINT)
    )
    tile_prior = None
    if conv.prior.kind == "land_use":
        land_use = _read_ref(spark, cfg, tables.LAND_USE)
        tile_prior = land_use_prior(land_use, grid, prior=conv.prior) if land_use else None
    probs = connection_probability(
        prune(footprint, pruning=conv.pruning), prior=conv.prior, tile_prior=tile_prior
    ).withColumn(schemas.DATE, F.lit(day).cast("date"))
    where = f"date = DATE'{day}'"
    on_day = F.col(schemas.DATE) == F.lit(day).cast("date")
    tables.CONNECTION_PROBABILITY.write(probs, cfg, mno=mno, replace_where=where)
    tables.CONVERGENCE_PARAMETERS.write(
        convergence_parameters(spark, conv, date=date), cfg, mno=mno, replace_where=where
    )

    n_events = 0
    counts: dict[str, int] = {}
    if tables.EVENTS.exists(spark, cfg, mno=mno):
        events = tables.EVENTS.read(spark, cfg, mno=mno).where(on_day)
        flagged = flag_events(events, cell_version, date=day, cleaning=conv.cleaning)
        el = event_location(flagged, grid, home_mcc=conv.home_mcc)
        tables.EVENT_LOCATION.write(el, cfg, mno=mno, replace_where=where)
        written = tables.EVENT_LOCATION.read(spark, cfg, mno=mno).where(on_day)
        metrics = cleaning_metrics(written, date=day)
        tables.CLEANING_METRICS.write(metrics, cfg, mno=mno, replace_where=where)
        counts = {r["metric"]: int(r["value"]) for r in metrics.collect()}
        n_events = counts.get("events", 0)

    issues = (
        active.where(F.size("issues") > 0)
        .select("cell_id", "usable", "issues")
        .orderBy("cell_id")
        .limit(200)
        .collect()
    )
    no_cover = (
        footprints.where(F.col(schemas.TILE_ID).isNull())
        .join(active.select(*_VERSION_KEY), _VERSION_KEY)
        .select("cell_id")
        .orderBy("cell_id")
        .limit(200)
        .collect()
        if footprints is not None
        else []
    )
    cp = tables.CONNECTION_PROBABILITY.read(spark, cfg, mno=mno).where(on_day)
    return {
        "mno": mno,
        "date": day,
        "cells_active": active.count(),
        "cells_unusable": active.where(~F.col("usable")).count(),
        "cells_with_issues": [
            {"cell_id": r["cell_id"], "usable": r["usable"], "issues": list(r["issues"])}
            for r in issues
        ],
        "footprints_computed": computed,
        "cells_without_coverage": [r["cell_id"] for r in no_cover],
        "connection_rows": cp.count(),
        "events": n_events,
        "flags": {k: v for k, v in counts.items() if k != "events"},
    }
