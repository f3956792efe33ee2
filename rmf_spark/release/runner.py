"""Stage runner of the release: S-layer table -> disclosure control -> Delta, CSV, GeoParquet.

The only place of ``rmf_spark.release`` that reads or writes. ``rmf release`` and
``jobs/release.py`` call :func:`run_release`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake
from rmf_spark.config import RmfConfig
from rmf_spark.release.disclosure import SUPPRESSED, SUPPRESSION, apply_disclosure_control
from rmf_spark.release.export import area_geometries, with_geometry, write_csv, write_geoparquet
from rmf_spark.release.hierarchy import build_hierarchy
from rmf_spark.release.manifest import build_manifest, write_manifest
from rmf_spark.release.settings import ReleaseSettings
from rmf_spark.slayer.aggregate.schemas import LEVEL
from rmf_spark.slayer.present_population.schemas import METHOD, PRESENT_POPULATION_SCHEMA
from rmf_spark.timerange import time_range_predicate

__all__ = ["release_present_population", "run_release"]

log = logging.getLogger(__name__)

TABLE = "present_population"


def release_present_population(
    estimates: DataFrame, *, hierarchy: DataFrame, settings: ReleaseSettings
) -> DataFrame:
    """The releasable rows of ``present_population``: one method, disclosure control applied.

    Parameters
    ----------
    estimates
        S-layer ``present_population`` rows.
    hierarchy
        :func:`rmf_spark.release.hierarchy.build_hierarchy` edges.
    settings
        ``[release]``: ``method`` (estimator released), ``k``, ``secondary_suppression``.

    Returns
    -------
    DataFrame
        The ``present_population`` columns plus ``suppressed``, ``suppression``; suppressed
        rows have null ``devices``, ``population``, ``expansion_factor``.
    """
    cols = [f.name for f in PRESENT_POPULATION_SCHEMA]
    chosen = estimates.where(F.col(METHOD) == settings.method).select(*cols)
    return apply_disclosure_control(
        chosen, hierarchy=hierarchy, k=settings.k, secondary=settings.secondary_suppression
    )


def _commit_metadata(
    spark: SparkSession, path: str, inputs: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The ``inputs`` the S-layer recorded in the commit of the version read (C-layer versions)."""
    from delta.tables import DeltaTable

    version = inputs["slayer/present_population"]["delta_version"]
    row = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(F.col("version") == version)
        .select("userMetadata")
        .first()
    )
    if row is None or not row[0]:
        return None
    try:
        return dict(json.loads(row[0]).get("inputs", {}))
    except (ValueError, AttributeError):
        return None


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S")


def run_release(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Release ``present_population`` of ``mno`` for time points in [start, end].

    Writes ``<mno>/release/present_population`` (Delta, the range replaced), and in
    ``out_dir`` (default ``<mno>/release/exports/present_population_<start>_<end>``):
    ``present_population.csv/``, ``present_population.geoparquet/`` and ``manifest.json``.

    Returns
    -------
    dict
        The manifest (also written), with ``manifest_path``.

    Raises
    ------
    InputDataError
        The S-layer table or a C-layer table is missing (code ``INPUT_TABLE_MISSING``).
    """
    settings = cfg.release
    paths = {
        "slayer/present_population": lake.table_path(cfg, "slayer", TABLE, mno=mno),
        "clayer/grid": lake.table_path(cfg, "clayer", "grid"),
        "clayer/tile_zone": lake.table_path(cfg, "clayer", "tile_zone"),
    }
    if settings.zones_table:
        paths["reference/zones"] = settings.zones_table
    lake.require_tables(spark, paths)
    # Pin each input to the version recorded in the manifest.
    inputs = {
        n: {"path": p, "delta_version": lake.delta_version(spark, p)} for n, p in paths.items()
    }
    t = {n: lake.read_delta(spark, p, version=inputs[n]["delta_version"]) for n, p in paths.items()}
    upstream = _commit_metadata(spark, paths["slayer/present_population"], inputs)
    if upstream:
        inputs["slayer/present_population"]["computed_from"] = upstream
    window = time_range_predicate(start, end)
    released = release_present_population(
        t["slayer/present_population"].where(window),
        hierarchy=build_hierarchy(grid=t["clayer/grid"], tile_zone=t["clayer/tile_zone"]),
        settings=settings,
    )
    target = lake.table_path(cfg, "release", TABLE, mno=mno)
    lake.write_delta(released, target, replace_where=window)
    written = lake.read_delta(spark, target).where(window).cache()
    base = (
        Path(out_dir)
        if out_dir
        else Path(lake.table_path(cfg, "release", "exports", mno=mno))
        / f"{TABLE}_{_stamp(start)}_{_stamp(end)}"
    )
    outputs: dict[str, Any] = {"delta": target, "delta_version": lake.delta_version(spark, target)}
    if settings.export_csv:
        outputs["csv"] = str(base / f"{TABLE}.csv")
        write_csv(written, outputs["csv"])
    if settings.export_geoparquet:
        outputs["geoparquet"] = str(base / f"{TABLE}.geoparquet")
        geoms = area_geometries(grid=t["clayer/grid"], zones=t.get("reference/zones"))
        write_geoparquet(with_geometry(written, geometries=geoms), outputs["geoparquet"])
    by_level = written.groupBy(LEVEL).agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col(SUPPRESSION) == "primary").alias("primary"),
        F.count_if(F.col(SUPPRESSION) == "secondary").alias("secondary"),
    )
    levels = {r[LEVEL]: r.asDict() for r in by_level.collect()}
    counts = {
        "rows": sum(v["rows"] for v in levels.values()),
        "suppressed": written.where(F.col(SUPPRESSED)).count(),
        "by_level": {
            k: {c: v[c] for c in ("rows", "primary", "secondary")} for k, v in levels.items()
        },
    }
    written.unpersist()
    manifest = build_manifest(
        cfg=cfg,
        mno=mno,
        table=TABLE,
        start=start,
        end=end,
        inputs=inputs,
        outputs=outputs,
        counts=counts,
    )
    manifest["manifest_path"] = str(write_manifest(manifest, base / "manifest.json"))
    log.info(
        "released %s for %s: %s rows, %s suppressed",
        TABLE,
        mno,
        counts["rows"],
        counts["suppressed"],
    )
    return manifest
