"""Stage runner of the usual environment: mid-term permanence, labels, residents, calibration.

The only module of the stage that reads or writes the lake. ``rmf statistics
usual-environment`` calls :func:`run_usual_environment`.

Steps for one period ``start .. end`` (local days) of one MNO: the ``slayer/daily_permanence``
of ``start .. end + 1`` (a night's slots after midnight belong to the day of its evening) with
their day types and time intervals (:func:`~.midterm.with_day_type_and_intervals`, the
holidays of ``reference/holidays``) -> the mid-term permanence and observation totals ->
the usual environment, home and work labels and one status row per device -> resident and
working devices and people per area (scalar expansion by the market share) -> residents per
zone and region calibrated to the register (``reference/register``), with intervals.

Fallbacks are never silent: a missing holidays table (with ``usual_environment.holidays =
'weekends_only'``) or register (no calibration) is named in the summary and recorded in the
commits' metadata, which the release copies into its manifest.

Crash safety: six commits, each replacing the period's rows; each table is computed from the
ones committed before it, so a run killed between two commits is completed by the rerun.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.buckets import device_bucket
from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID
from rmf_spark.config import RmfConfig
from rmf_spark.errors import InputDataError
from rmf_spark.slayer.aggregate.schemas import LEVEL, POPULATION, zone_level_name
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.inputs import read_clayer, read_market_share
from rmf_spark.slayer.usual_environment.calibration import calibrate_residents
from rmf_spark.slayer.usual_environment.labels import (
    HOME,
    LABEL,
    STATUS,
    WORK,
    compute_label_status,
    compute_labels,
)
from rmf_spark.slayer.usual_environment.midterm import (
    LOCAL_DAY,
    compute_midterm_observation,
    compute_midterm_permanence,
    with_day_type_and_intervals,
)
from rmf_spark.slayer.usual_environment.residents import compute_residents
from rmf_spark.slayer.usual_environment.schemas import PERIOD_END, PERIOD_START, ROLE

__all__ = ["period_predicate", "run_usual_environment"]

log = logging.getLogger(__name__)

#: the tables the stage reads (daily permanence: the device stage; the rest: the C-layer)
INPUTS = (tables.DAILY_PERMANENCE, tables.GRID, tables.TILE_ZONE)


def period_predicate(start: dt.date, end: dt.date) -> str:
    """SQL predicate selecting the rows of the period ``start .. end``.

    >>> period_predicate(dt.date(2024, 5, 13), dt.date(2024, 5, 19))
    "period_start = DATE '2024-05-13' AND period_end = DATE '2024-05-19'"
    """
    first, last = start.isoformat(), end.isoformat()
    return f"{PERIOD_START} = DATE '{first}' AND {PERIOD_END} = DATE '{last}'"


def _conform(
    df: DataFrame, spec: tables.TableSpec, *, start: dt.date, end: dt.date, n_buckets: int
) -> DataFrame:
    # the period's columns (and the device bucket of device-level tables), in the table's order
    out = df.withColumn(PERIOD_START, F.lit(start)).withColumn(PERIOD_END, F.lit(end))
    if DEVICE_BUCKET in spec.schema.fieldNames():
        out = out.withColumn(DEVICE_BUCKET, device_bucket(n_buckets))
    return out.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema.fields])


def _holidays(spark: SparkSession, cfg: RmfConfig, fallbacks: list[str]) -> DataFrame | None:
    spec = tables.HOLIDAYS
    if spec.exists(spark, cfg):
        return spec.read(spark, cfg)
    if cfg.usual_environment.holidays == "required":
        raise InputDataError(
            f"table {spec.id} not found at {spec.path(cfg)}: the usual environment's day types "
            "need the public holidays. Set convergence.reference_dir to the reference tables, "
            "or usual_environment.holidays = 'weekends_only' to count weekends alone",
            code="INPUT_TABLE_MISSING",
        )
    fallbacks.append(
        f"holidays: {spec.id} not found, weekends only (usual_environment.holidays = "
        "'weekends_only')"
    )
    return None


def run_usual_environment(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Compute and write the usual-environment tables of ``mno`` for the period.

    Idempotent: the period's rows of ``slayer/midterm_permanence``, ``midterm_observation``,
    ``usual_environment_labels``, ``label_status``, ``residents`` and
    ``calibrated_residents`` are replaced.

    Parameters
    ----------
    spark
        The session.
    cfg
        The profile (``[usual_environment]``; the market share, ``region_level`` and
        ``default_share`` of ``[present_population]``).
    mno
        MNO id (lake folder).
    start, end
        First and last local day of the period (``usual_environment.time_zone``).

    Returns
    -------
    dict
        ``start``, ``end``, ``devices`` (per status), ``residents`` and ``workers`` (devices
        and people at the region level), ``calibration`` (the fit's summary, or why it was
        skipped), ``fallbacks`` and ``input_versions``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        An input table is missing (``INPUT_TABLE_MISSING``); the register does not match the
        zones (the calibration's codes).
    rmf_spark.errors.ConfigError
        No market share for the expansion.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    settings, pp = cfg.usual_environment, cfg.present_population
    inputs = read_clayer(spark, cfg, mno=mno, specs=INPUTS)
    t, versions = inputs.tables, inputs.versions
    fallbacks: list[str] = []
    holidays = _holidays(spark, cfg, fallbacks)
    where = period_predicate(start, end)

    def write(spec: tables.TableSpec, df: DataFrame) -> DataFrame:
        meta = json.dumps({"inputs": versions, "fallbacks": fallbacks}, sort_keys=True)
        spec.write(
            _conform(df, spec, start=start, end=end, n_buckets=cfg.ingest.n_device_buckets),
            cfg,
            mno=mno,
            replace_where=where,
            metadata=meta,
        )
        return spec.read(spark, cfg, mno=mno).where(where)

    days = F.col(DATE).between(F.lit(start), F.lit(end + dt.timedelta(days=1)))
    slots = with_day_type_and_intervals(
        t["daily_permanence"].where(days), holidays=holidays, settings=settings
    ).where(F.col(LOCAL_DAY).between(F.lit(start), F.lit(end)))
    midterm = write(tables.MIDTERM_PERMANENCE, compute_midterm_permanence(slots))
    observation = write(tables.MIDTERM_OBSERVATION, compute_midterm_observation(slots))
    labels = write(tables.UE_LABELS, compute_labels(midterm, observation, settings=settings))
    status = write(
        tables.UE_LABEL_STATUS,
        compute_label_status(observation, labels, settings=settings),
    )
    shares = read_market_share(spark, cfg, mno=mno)
    located = labels.where(F.col(LABEL).isin(HOME, WORK)).select(
        F.col(LABEL).alias(ROLE), DEVICE_ID, TILE_ID
    )
    residents = write(
        tables.RESIDENTS,
        compute_residents(
            located,
            grid=t["grid"],
            tile_zone=t["tile_zone"],
            market_share=shares,
            region_level=pp.region_level,
            default_share=pp.default_share,
            keys=(ROLE,),
        ),
    )
    calibration: dict[str, Any]
    if tables.REGISTER.exists(spark, cfg):
        calibrated, result = calibrate_residents(
            residents.where(F.col(ROLE) == HOME),
            tile_zone=t["tile_zone"],
            register=tables.REGISTER.read(spark, cfg),
            market_share=shares,
            region_level=pp.region_level,
            settings=settings.calibration,
        )
        write(tables.CALIBRATED_RESIDENTS, calibrated)
        calibration = result.summary()
    else:
        calibration = {"skipped": f"{tables.REGISTER.id} not found"}
        fallbacks.append(
            f"calibration: {tables.REGISTER.id} not found, residents expanded by the market "
            "share only"
        )
    region = zone_level_name(pp.region_level)
    totals = (
        residents.where(F.col(LEVEL) == region)
        .groupBy(ROLE)
        .agg(F.sum("devices").alias("devices"), F.sum(POPULATION).alias(POPULATION))
        .collect()
    )
    per_status = status.groupBy(STATUS).count().collect()
    summary = {
        "start": str(start),
        "end": str(end),
        "devices": {r[STATUS]: int(r["count"]) for r in per_status},
        **{
            ("residents" if r[ROLE] == HOME else "workers"): {
                "devices": r["devices"],
                POPULATION: r[POPULATION],
            }
            for r in totals
        },
        "calibration": calibration,
        "fallbacks": fallbacks,
        "input_versions": versions,
    }
    log.info("usual environment %s: %s", mno, summary)
    return summary
