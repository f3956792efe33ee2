"""Stage runner of device-level inference: read the C-layer, infer, write the device tables.

The only module of the device stage that reads or writes the lake. ``rmf statistics device``
and ``jobs/device.py`` call :func:`run_device`.

Steps for one date ``D`` of one MNO: the ``event_location`` rows of ``D - 1 .. D + 1``
compressed into runs (:mod:`~.compress`), each device-day of ``D`` given the device's last row
of the day before and first row of the day after (:func:`~.device_days.with_day_context`);
one pandas group per device-day with its cells' connection probabilities of ``D`` makes the
segments, the posteriors at the time points and the accounting (:func:`~.device_days.
compute_device_days`), whose output is spilled once to a staging table
(:func:`staging_path`) from which each of the four tables reads its own rows.

The HMM's prior (``device.hmm.prior = 'em'``): the mean over the day's time points of the EM
devices per 100 m tile of ``slayer/present_population`` (the population-level density the EM
already estimated: an empirical Bayes prior). A day without EM estimates falls back to a flat
prior, and the summary says so.

Crash safety: five commits, each replacing the date's rows (``device_day``,
``time_segments``, ``location_posterior``, ``daily_permanence``, ``device_metrics``), all
derived from the same pinned inputs. A reader between two commits may see the date's new
segments with its old permanence; a run killed between them is completed by the rerun, which
replaces all five. The staging table is not a product: a killed run may leave it behind, and
the rerun replaces it before it removes it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake, tables
from rmf_spark.buckets import device_bucket
from rmf_spark.clayer.schemas import DATE, TILE_ID
from rmf_spark.config import RmfConfig
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, LEVEL
from rmf_spark.slayer.device.compress import compress_runs
from rmf_spark.slayer.device.device_days import (
    RECORD,
    compute_device_days,
    device_day_of,
    permanence_of,
    posteriors_of,
    release_footprints,
    segments_of,
    with_day_context,
)
from rmf_spark.slayer.device.inference import PRIOR
from rmf_spark.slayer.device.schemas import DAY_STATUS, DEVICE_BUCKET, STATE
from rmf_spark.slayer.inputs import read_clayer
from rmf_spark.slayer.present_population.schemas import METHOD, TIME_POINT
from rmf_spark.timerange import date_range_predicate
from rmf_spark.uris import absolute, uri_join

__all__ = ["day_time_points", "device_metrics", "run_device", "staging_path"]

log = logging.getLogger(__name__)

#: the C-layer tables the stage reads
INPUTS = (tables.EVENT_LOCATION, tables.CONNECTION_PROBABILITY, tables.GRID)


def day_time_points(day: dt.date, *, time_zone: str, step_s: int) -> list[dt.datetime]:
    """The time points of a device-day: every ``step_s`` from its local midnight, naive UTC.

    >>> [t.hour for t in day_time_points(dt.date(2024, 3, 5), time_zone="UTC", step_s=21600)]
    [0, 6, 12, 18]
    """
    zone = ZoneInfo(time_zone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(
        dt.UTC
    )
    n = int((end - start).total_seconds()) // step_s
    return [(start + dt.timedelta(seconds=k * step_s)).replace(tzinfo=None) for k in range(n)]


def device_metrics(device_day: DataFrame, segments: DataFrame, *, day: dt.date) -> DataFrame:
    """``date, metric, value``: device-days per status (``device_days_<status>``), segments
    per state (``segments_<state>``), and the compressed rows whose cell had no footprint."""
    per_status = device_day.groupBy(F.concat(F.lit("device_days_"), F.col(DAY_STATUS))).count()
    per_state = segments.groupBy(F.concat(F.lit("segments_"), F.col(STATE))).count()
    no_fp = device_day.agg(
        F.coalesce(F.sum("rows_without_footprint"), F.lit(0)).alias("value")
    ).select(F.lit("rows_without_footprint"), "value")
    return (
        per_status.union(per_state)
        .union(no_fp)
        .toDF("metric", "value")
        .select(F.lit(day).alias(DATE), "metric", F.col("value").cast("long"))
    )


def _em_prior(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, points: list[dt.datetime], grid: DataFrame
) -> DataFrame | None:
    """``tile_id, prior``: the mean EM devices per 100 m tile over ``points``, or None."""
    if not tables.PRESENT_POPULATION.exists(spark, cfg, mno=mno):
        return None
    em = (
        tables.PRESENT_POPULATION.read(spark, cfg, mno=mno)
        .where((F.col(LEVEL) == "100m") & (F.col(METHOD) == "em"))
        .where(F.col(TIME_POINT).isin(points))
        .groupBy(AREA_ID)
        .agg((F.sum(DEVICES) / len(points)).alias(PRIOR))
    )
    prior = em.join(grid.select(TILE_ID, F.col("inspire_100m").alias(AREA_ID)), on=AREA_ID).select(
        TILE_ID, PRIOR
    )
    return prior.cache() if prior.limit(1).count() else None


def staging_path(cfg: RmfConfig, *, mno: str, date: dt.date) -> str:
    """Where :func:`run_device` spills one day's inference before writing its tables
    (``<lake>/<mno>/_staging/device/<date>``; removed when the run ends, replaced by a rerun)."""
    return uri_join(absolute(cfg.lake.root), mno, "_staging", "device", str(date))


def _spill(inferred: DataFrame, path: str) -> DataFrame:
    """Write the pandas pass's output once, partitioned by record kind, and read it back: each
    table then reads only its own kind and columns. A Spark cache would hold whole rows: every
    table's read would deserialise the day's posteriors (gigabytes on the small world) again,
    and in memory they do not fit the heap."""
    inferred.write.mode("overwrite").partitionBy(RECORD).parquet(path)
    return inferred.sparkSession.read.parquet(path)


def _with_bucket(df: DataFrame, n_buckets: int) -> DataFrame:
    # the D-layer's bucket, so a device's rows share files across tables
    return df.withColumn(DEVICE_BUCKET, device_bucket(n_buckets))


def run_device(spark: SparkSession, cfg: RmfConfig, *, mno: str, date: dt.date) -> dict[str, Any]:
    """Compute and write the device-level tables of ``mno`` for ``date``.

    Idempotent: the date's rows of ``slayer/device_day``, ``time_segments``,
    ``location_posterior``, ``daily_permanence`` and ``device_metrics`` are replaced.

    Parameters
    ----------
    spark
        The session (:func:`rmf_spark.session.get_spark`).
    cfg
        The profile (``[device]``; the time points, TA steps and tolerance of
        ``[present_population]``).
    mno
        MNO id (lake folder).
    date
        The device-day (in ``device.time_zone``).

    Returns
    -------
    dict
        ``date``, ``prior`` (``em`` or why it fell back to ``uniform``), ``metrics`` (the
        ``device_metrics`` rows), ``posterior_rows`` and ``input_versions``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        A C-layer table is missing (code ``INPUT_TABLE_MISSING``).
    """
    inputs = read_clayer(spark, cfg, mno=mno, specs=INPUTS)
    t, versions = inputs.tables, inputs.versions
    settings, pp = cfg.device, cfg.present_population
    near = F.col(DATE).between(
        F.lit(date - dt.timedelta(days=1)), F.lit(date + dt.timedelta(days=1))
    )
    compressed = compress_runs(
        t["event_location"].where(near), settings=settings, ta_step_m=pp.timing_advance_step_m
    )
    rows = with_day_context(compressed).where(F.col(DATE) == F.lit(date))
    points = day_time_points(date, time_zone=settings.time_zone, step_s=pp.time_step_s)
    prior, prior_used = None, "uniform"
    if settings.hmm.prior == "em":
        prior = _em_prior(spark, cfg, mno=mno, points=points, grid=t["grid"])
        prior_used = "em" if prior is not None else f"uniform (no EM estimates for {date})"
        if prior is None:
            log.warning("device %s %s: no EM present population, flat HMM prior", mno, date)
    inferred = compute_device_days(
        rows,
        connection_probability=t["connection_probability"].where(F.col(DATE) == F.lit(date)),
        grid=t["grid"],
        settings=settings,
        ta_buffer=pp.timing_advance_buffer,
        time_points=points,
        tolerance_s=pp.tolerance_s,
        prior=prior,
    )
    where = date_range_predicate(date, date)
    meta = json.dumps({"inputs": versions, "prior": prior_used}, sort_keys=True)
    n_buckets = cfg.ingest.n_device_buckets
    staging = staging_path(cfg, mno=mno, date=date)
    try:
        spilled = _spill(inferred, staging)
        for spec, part in (
            (tables.DEVICE_DAY, device_day_of(spilled)),
            (tables.TIME_SEGMENTS, segments_of(spilled)),
            (tables.LOCATION_POSTERIOR, posteriors_of(spilled)),
            (tables.DAILY_PERMANENCE, permanence_of(spilled)),
        ):
            spec.write(
                _with_bucket(part, n_buckets), cfg, mno=mno, replace_where=where, metadata=meta
            )
    finally:
        release_footprints(inferred)
        lake.delete_path(spark, staging)
        if prior is not None:
            prior.unpersist()
    segments = tables.TIME_SEGMENTS.read(spark, cfg, mno=mno).where(where)
    day_rows = tables.DEVICE_DAY.read(spark, cfg, mno=mno).where(where)
    metrics = device_metrics(day_rows, segments, day=date)
    tables.DEVICE_METRICS.write(metrics, cfg, mno=mno, replace_where=where, metadata=meta)
    summary = {
        "date": str(date),
        "prior": prior_used,
        "metrics": {r["metric"]: int(r["value"]) for r in metrics.collect()},
        "posterior_rows": tables.LOCATION_POSTERIOR.read(spark, cfg, mno=mno).where(where).count(),
        "input_versions": versions,
    }
    log.info("device %s: %s", mno, summary)
    return summary
