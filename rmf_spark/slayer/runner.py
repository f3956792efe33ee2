"""Stage runner for present population: read the C-layer, estimate, write the S-layer table.

The only place of the S-layer that reads or writes the lake. ``rmf statistics
present-population`` and ``jobs/present_population.py`` call :func:`run_present_population`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake
from rmf_spark.config import RmfConfig
from rmf_spark.errors import ConfigError, InputDataError
from rmf_spark.slayer.expansion import REGION_ID, SHARE, with_expansion
from rmf_spark.slayer.present_population import (
    compute_em_tile_devices,
    compute_naive_tile_devices,
)
from rmf_spark.slayer.reach_calibration import compute_reach_offsets, compute_ta_event_counts
from rmf_spark.slayer.rollup import compute_rollups
from rmf_spark.slayer.schemas import (
    DEVICES,
    METHOD,
    PRESENT_POPULATION_SCHEMA,
    TIME_POINT,
)
from rmf_spark.slayer.settings import PresentPopulationSettings
from rmf_spark.slayer.time_points import compute_cell_counts, to_device_time_points

__all__ = [
    "compute_present_population",
    "compute_tile_estimates",
    "read_market_share",
    "require_tables",
    "run_present_population",
    "time_range_predicate",
    "to_present_population",
]

log = logging.getLogger(__name__)

_COMMIT_METADATA = "spark.databricks.delta.commitInfo.userMetadata"

#: C-layer tables read by the S-layer: (name, shared?).
INPUT_TABLES = (
    ("event_location", False),
    ("connection_probability", False),
    ("grid", True),
    ("tile_zone", True),
)


def require_tables(spark: SparkSession, paths: dict[str, str], *, hint: str = "") -> None:
    """Raise :class:`InputDataError` (``INPUT_TABLE_MISSING``) naming the first missing table."""
    for name, path in paths.items():
        if not lake.table_exists(spark, path):
            raise InputDataError(
                f"table {name} not found at {path}" + (f": {hint}" if hint else ""),
                code="INPUT_TABLE_MISSING",
            )


def time_range_predicate(start: datetime, end: datetime) -> str:
    """SQL predicate selecting ``time_point`` in [start, end] (used for ``replaceWhere``)."""
    fmt = "%Y-%m-%d %H:%M:%S"
    return (
        f"{TIME_POINT} >= TIMESTAMP '{start.strftime(fmt)}' "
        f"AND {TIME_POINT} <= TIMESTAMP '{end.strftime(fmt)}'"
    )


def compute_tile_estimates(
    events: DataFrame,
    *,
    connection_probability: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    start: datetime,
    end: datetime,
    settings: PresentPopulationSettings,
    reach_offsets: DataFrame | None = None,
    dominance_steepness: float = 0.2,
) -> DataFrame:
    """Devices and people per (time point, 100 m tile), EM and naive.

    Parameters
    ----------
    events
        C-layer ``event_location`` of one MNO.
    connection_probability, tile_zone
        C-layer tables (``docs/tables.md`` section 3).
    market_share
        ``region_id, share`` of this MNO.
    start, end
        First and last time point (UTC).
    settings
        The profile's ``[present_population]`` section.
    reach_offsets
        Per (date, cell) path-loss offsets of the reach calibration
        (:func:`compute_reach_offsets`; the stage runner computes and writes them), or None:
        the C-layer's ``P(cell | tile)`` as it is, not calibrated.
    dominance_steepness
        ``convergence.radio.steepness``, for the reach calibration.

    Returns
    -------
    DataFrame
        ``time_point, tile_id, devices, method, expansion_factor, population``.
    """
    points = to_device_time_points(
        events,
        start=start,
        end=end,
        step_s=settings.time_step_s,
        tolerance_s=settings.tolerance_s,
    )
    counts = compute_cell_counts(points, ta_step_m=settings.timing_advance_step_m)
    em = compute_em_tile_devices(
        counts,
        connection_probability=connection_probability,
        max_iterations=settings.max_iterations,
        relative_tolerance=settings.relative_tolerance,
        ta_buffer=settings.timing_advance_buffer,
        reach_offsets=reach_offsets,
        dominance_steepness=dominance_steepness,
    ).withColumn(METHOD, F.lit("em"))
    naive = compute_naive_tile_devices(
        counts, connection_probability=connection_probability
    ).withColumn(METHOD, F.lit("naive"))
    return with_expansion(
        em.unionByName(naive),
        tile_zone=tile_zone,
        market_share=market_share,
        region_level=settings.region_level,
        default_share=settings.default_share,
    )


def compute_present_population(
    events: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    start: datetime,
    end: datetime,
    settings: PresentPopulationSettings,
    reach_offsets: DataFrame | None = None,
    dominance_steepness: float = 0.2,
) -> DataFrame:
    """Present population at every time point in [start, end], EM and naive, all levels.

    Parameters are those of :func:`compute_tile_estimates` plus the C-layer ``grid``.

    Returns
    -------
    DataFrame
        :data:`rmf_spark.slayer.schemas.PRESENT_POPULATION_SCHEMA` rows. No device ids.
    """
    tiles = compute_tile_estimates(
        events,
        connection_probability=connection_probability,
        tile_zone=tile_zone,
        market_share=market_share,
        start=start,
        end=end,
        settings=settings,
        reach_offsets=reach_offsets,
        dominance_steepness=dominance_steepness,
    )
    return to_present_population(tiles, grid=grid, tile_zone=tile_zone)


def to_present_population(tiles: DataFrame, *, grid: DataFrame, tile_zone: DataFrame) -> DataFrame:
    """Roll :func:`compute_tile_estimates` up to all levels, in the output schema."""
    out = compute_rollups(tiles, grid=grid, tile_zone=tile_zone)
    return out.select(*(F.col(f.name).cast(f.dataType) for f in PRESENT_POPULATION_SCHEMA))


def read_market_share(
    spark: SparkSession, settings: PresentPopulationSettings, *, mno: str
) -> DataFrame:
    """The MNO's ``region_id, share`` from the inline config or the configured Delta table.

    Raises
    ------
    ConfigError
        Neither ``present_population.market_share`` nor ``market_share_table`` is set
        (code ``MARKET_SHARE_MISSING``).
    """
    if settings.market_share:
        rows = [(str(k), float(v)) for k, v in settings.market_share.items()]
        return spark.createDataFrame(rows, f"{REGION_ID} string, {SHARE} double")
    if settings.market_share_table:
        df = lake.read_delta(spark, settings.market_share_table)
        if "mno_id" in df.columns:
            df = df.where(F.col("mno_id") == mno)
        return df.select(REGION_ID, SHARE)
    raise ConfigError(
        "no market share for the expansion: set present_population.market_share "
        "(inline {region_id = share}) or present_population.market_share_table (a Delta path)",
        code="MARKET_SHARE_MISSING",
    )


def _write_reach_offsets(
    spark: SparkSession,
    cfg: RmfConfig,
    tables: dict[str, DataFrame],
    *,
    mno: str,
    start: datetime,
    end: datetime,
    steepness: float,
) -> DataFrame:
    """Fit, write (``<mno>/slayer/reach_calibration``, the dates of [start, end] replaced) and
    read back the per-cell path-loss offsets of each date."""
    settings = cfg.present_population
    ta_events = compute_ta_event_counts(
        tables["event_location"], start=start, end=end, ta_step_m=settings.timing_advance_step_m
    )
    dates = F.col("date").between(F.lit(start.date()), F.lit(end.date()))
    offsets = compute_reach_offsets(
        tables["connection_probability"].where(dates),
        ta_events,
        settings=settings.reach_calibration,
        steepness=steepness,
        ta_buffer=settings.timing_advance_buffer,
    )
    target = lake.table_path(cfg, "slayer", "reach_calibration", mno=mno)
    lake.write_delta(
        offsets,
        target,
        partition_by=("date",),
        replace_where=f"date >= DATE '{start.date()}' AND date <= DATE '{end.date()}'",
    )
    written = lake.read_delta(spark, target).where(dates)
    if not log.isEnabledFor(logging.INFO):  # the summary below is one more job
        return written
    log.info(
        "reach calibration %s: %s",
        mno,
        written.agg(
            F.count_if("calibrated").alias("cells_calibrated"),
            F.count(F.lit(1)).alias("cell_days"),
            F.round(F.avg(F.when(F.col("calibrated"), F.abs("ple_offset"))), 3).alias(
                "mean_abs_offset"
            ),
        )
        .first()
        .asDict(),
    )
    return written


def run_present_population(
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    spark: SparkSession | None = None,
    market_share: DataFrame | None = None,
) -> dict[str, Any]:
    """Compute and write ``<mno>/slayer/present_population`` for time points in [start, end].

    Idempotent: the rows of [start, end] are replaced (Delta ``replaceWhere``), other time
    ranges are untouched.

    Parameters
    ----------
    cfg
        The profile.
    mno
        MNO id (lake folder).
    start, end
        First and last time point (UTC, naive datetimes are UTC).
    spark
        Session (default: :func:`rmf_spark.session.get_spark` of ``cfg``).
    market_share
        ``region_id, share``; default :func:`read_market_share`.

    Returns
    -------
    dict
        ``path``, ``rows``, ``time_points``, ``devices_counted`` (EM, at 100 m, summed over
        time points) and ``input_versions`` (Delta version per C-layer table).

    Raises
    ------
    InputDataError
        A C-layer table is missing (code ``INPUT_TABLE_MISSING``).
    """
    if spark is None:
        from rmf_spark.session import get_spark

        spark = get_spark(cfg)
    paths = {
        name: lake.table_path(cfg, "clayer", name, mno=None if shared else mno)
        for name, shared in INPUT_TABLES
    }
    require_tables(spark, paths, hint=f"run `rmf convergence` for {mno}")
    versions = {name: lake.delta_version(spark, path) for name, path in paths.items()}
    # Read each table at the version recorded, whatever is committed meanwhile.
    t = {n: lake.read_delta(spark, p, version=versions[n]) for n, p in paths.items()}
    shares = (
        market_share
        if market_share is not None
        else read_market_share(spark, cfg.present_population, mno=mno)
    )
    settings = cfg.present_population
    steepness = cfg.convergence.radio.steepness
    offsets = None
    cp_columns = set(t["connection_probability"].columns)
    if (
        settings.reach_calibration.enabled
        and {"date", "signal_dominance", "distance_m"} <= cp_columns
    ):
        offsets = _write_reach_offsets(
            spark, cfg, t, mno=mno, start=start, end=end, steepness=steepness
        )
    # The tile estimates feed three roll-ups: computed once (the EM runs once).
    tiles = compute_tile_estimates(
        t["event_location"],
        connection_probability=t["connection_probability"],
        tile_zone=t["tile_zone"],
        market_share=shares,
        start=start,
        end=end,
        settings=settings,
        reach_offsets=offsets,
        dominance_steepness=steepness,
    ).persist()
    out = to_present_population(tiles, grid=t["grid"], tile_zone=t["tile_zone"])
    target = lake.table_path(cfg, "slayer", "present_population", mno=mno)
    # The commit records the C-layer versions it was computed from (read by the release).
    spark.conf.set(_COMMIT_METADATA, json.dumps({"inputs": versions}, sort_keys=True))
    try:
        lake.write_delta(out, target, replace_where=time_range_predicate(start, end))
    finally:
        spark.conf.unset(_COMMIT_METADATA)
        tiles.unpersist()
    written = lake.read_delta(spark, target).where(time_range_predicate(start, end))
    stats = (
        written.where("level = '100m' AND method = 'em'")
        .agg(F.count_distinct(TIME_POINT).alias("tp"), F.sum(DEVICES).alias("dev"))
        .first()
    )
    summary = {
        "path": target,
        "rows": written.count(),
        "time_points": int(stats["tp"] or 0),
        "devices_counted": float(stats["dev"] or 0.0),
        "input_versions": versions,
    }
    log.info("present population %s: %s", mno, summary)
    return summary
