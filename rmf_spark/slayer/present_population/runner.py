"""Stage runner of present population: read the C-layer, estimate, write the S-layer tables.

The only module of the estimator that reads or writes the lake. ``rmf statistics
present-population`` and ``jobs/present_population.py`` call :func:`run_present_population`.

Crash safety: two commits, ``reach_calibration`` (the dates of the range replaced) then
``present_population`` (the time points of the range and the methods computed replaced), both
computed from the pinned input tables; a run killed between them is completed by the rerun,
which replaces both. The ``hmm`` rows can be computed on their own, after the device stage
(``methods=("hmm",)``), without touching the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.clayer.schemas import DATE, DISTANCE_M, SIGNAL_DOMINANCE
from rmf_spark.config import RmfConfig
from rmf_spark.errors import ConfigError
from rmf_spark.slayer.aggregate.schemas import DEVICES
from rmf_spark.slayer.device.device_days import posterior_tiles
from rmf_spark.slayer.inputs import (
    read_clayer,
    read_market_share,
    recorded_convergence_value,
)
from rmf_spark.slayer.present_population.pipeline import (
    compute_tile_estimates,
    to_present_population,
)
from rmf_spark.slayer.present_population.posterior_sum import HMM, compute_hmm_present_population
from rmf_spark.slayer.present_population.reach_calibration import (
    compute_reach_offsets,
    compute_ta_event_counts,
)
from rmf_spark.slayer.present_population.schemas import METHOD, TIME_POINT
from rmf_spark.timerange import date_range_predicate, time_range_predicate

__all__ = ["run_present_population"]

log = logging.getLogger(__name__)

#: the C-layer tables the estimator reads
INPUTS = (
    tables.EVENT_LOCATION,
    tables.CONNECTION_PROBABILITY,
    tables.GRID,
    tables.TILE_ZONE,
)


def _write_reach_offsets(
    spark: SparkSession,
    cfg: RmfConfig,
    clayer: dict[str, DataFrame],
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
        clayer["event_location"], start=start, end=end, ta_step_m=settings.timing_advance_step_m
    )
    dates = F.col(DATE).between(F.lit(start.date()), F.lit(end.date()))
    offsets = compute_reach_offsets(
        clayer["connection_probability"].where(dates),
        ta_events,
        settings=settings.reach_calibration,
        steepness=steepness,
        ta_buffer=settings.timing_advance_buffer,
        blocks=settings.blocks,
    )
    target = tables.REACH_CALIBRATION
    target.write(
        offsets, cfg, mno=mno, replace_where=date_range_predicate(start.date(), end.date())
    )
    written = target.read(spark, cfg, mno=mno).where(dates)
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


#: the estimators from cell counts (computed together) and from device posteriors
COUNT_METHODS = ("em", "naive")
METHODS = (*COUNT_METHODS, HMM)


def _methods(
    spark: SparkSession, cfg: RmfConfig, mno: str, methods: Sequence[str] | None
) -> tuple[str, ...]:
    if methods is None:
        found = tables.LOCATION_POSTERIOR.exists(spark, cfg, mno=mno)
        return (*COUNT_METHODS, HMM) if found else COUNT_METHODS
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ConfigError(
            f"present-population methods {list(methods)}: choose among {list(METHODS)}"
        )
    return tuple(m for m in METHODS if m in methods)


def run_present_population(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    market_share: DataFrame | None = None,
    methods: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compute and write ``<mno>/slayer/present_population`` for time points in [start, end].

    Idempotent: the rows of [start, end] and of the methods computed are replaced (Delta
    ``replaceWhere``), other time ranges and methods are untouched.

    Parameters
    ----------
    spark
        The session (:func:`rmf_spark.session.get_spark`).
    cfg
        The profile.
    mno
        MNO id (lake folder).
    start, end
        First and last time point (UTC, naive datetimes are UTC).
    market_share
        ``region_id, share``; default :func:`~rmf_spark.slayer.inputs.read_market_share`.
    methods
        Estimators to compute: ``em`` and ``naive`` (from cell counts), ``hmm`` (sums of the
        device stage's ``slayer/location_posterior``). Default: all whose inputs exist.

    Returns
    -------
    dict
        ``path``, ``methods``, ``rows``, ``time_points``, ``devices_counted`` (EM, else the
        first method, at 100 m, summed over time points) and ``input_versions`` (Delta
        version per input table).

    Raises
    ------
    rmf_spark.errors.InputDataError
        An input table is missing (code ``INPUT_TABLE_MISSING``).
    rmf_spark.errors.ConfigError
        An unknown method.
    """
    chosen = _methods(spark, cfg, mno, methods)
    specs = (*INPUTS, tables.LOCATION_POSTERIOR) if HMM in chosen else INPUTS
    inputs = read_clayer(spark, cfg, mno=mno, specs=specs)
    t, versions = inputs.tables, inputs.versions
    shares = market_share if market_share is not None else read_market_share(spark, cfg, mno=mno)
    settings = cfg.present_population
    parts = []
    if HMM in chosen:
        parts.append(
            compute_hmm_present_population(
                posterior_tiles(t["location_posterior"]),
                grid=t["grid"],
                tile_zone=t["tile_zone"],
                market_share=shares,
                start=start,
                end=end,
                settings=settings,
            )
        )
    tiles = None
    if set(COUNT_METHODS) & set(chosen):
        tiles = _count_estimates(spark, cfg, t, mno=mno, start=start, end=end, shares=shares)
        counted = to_present_population(tiles, grid=t["grid"], tile_zone=t["tile_zone"])
        parts.append(counted.where(F.col(METHOD).isin(*chosen)))
    out = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    target = tables.PRESENT_POPULATION
    in_list = ", ".join(f"'{m}'" for m in chosen)
    window = f"{time_range_predicate(start, end)} AND {METHOD} IN ({in_list})"
    # The commit records the C-layer versions it was computed from (read by the release).
    try:
        target.write(
            out,
            cfg,
            mno=mno,
            replace_where=window,
            metadata=json.dumps({"inputs": versions}, sort_keys=True),
        )
    finally:
        if tiles is not None:
            tiles.unpersist()
    written = target.read(spark, cfg, mno=mno).where(window)
    main = "em" if "em" in chosen else chosen[0]
    stats = (
        written.where(f"level = '100m' AND method = '{main}'")
        .agg(F.count_distinct(TIME_POINT).alias("tp"), F.sum(DEVICES).alias("dev"))
        .first()
    )
    summary = {
        "path": target.path(cfg, mno=mno),
        "methods": list(chosen),
        "rows": written.count(),
        "time_points": int(stats["tp"] or 0),
        "devices_counted": float(stats["dev"] or 0.0),
        "input_versions": versions,
    }
    log.info("present population %s: %s", mno, summary)
    return summary


def _count_estimates(
    spark: SparkSession,
    cfg: RmfConfig,
    t: dict[str, DataFrame],
    *,
    mno: str,
    start: datetime,
    end: datetime,
    shares: DataFrame,
) -> DataFrame:
    """The EM and naive devices and people per tile (persisted: three roll-ups read them),
    after the reach calibration of the dates, written first."""
    settings = cfg.present_population
    # the dominance's steepness the C-layer tables were computed with, not today's profile
    steepness = float(
        recorded_convergence_value(
            spark, cfg, mno=mno, key="radio.steepness", start=start.date(), end=end.date()
        )
    )
    offsets = None
    cp_columns = set(t["connection_probability"].columns)
    if settings.reach_calibration.enabled and {DATE, SIGNAL_DOMINANCE, DISTANCE_M} <= cp_columns:
        offsets = _write_reach_offsets(
            spark, cfg, t, mno=mno, start=start, end=end, steepness=steepness
        )
    # The tile estimates feed three roll-ups: computed once (the EM runs once).
    return compute_tile_estimates(
        t["event_location"],
        connection_probability=t["connection_probability"],
        tile_zone=t["tile_zone"],
        market_share=shares,
        start=start,
        end=end,
        settings=settings,
        dominance_steepness=steepness,
        reach_offsets=offsets,
    ).persist()
