"""Compressed rows per device-day, in Spark SQL: runs of identical observations, bounded.

Notes
-----
*Device-day.* ``date`` is the day of the event in ``device.time_zone``; a day runs from its
local midnight to the next (``day_start``, ``day_end`` in UTC).

*Runs.* Per device-day, in time order, consecutive events with the same observation (cell,
footprint version, TA and TA step, abroad flag, visited PLMN) whose silence is at most
``run_max_gap_s`` form one row: ``first_ts``, ``last_ts``, ``n_events``. The continuous time
segmentation sees the same places as on the raw events (a run has one footprint, and its
silences are within ``max_gap_stay_s``), so signalling devices with an event every few
seconds shrink to a row per change of cell or TA.

*Bound.* A device-day left with more than ``max_rows_per_day`` rows (a modem, a faulty SIM)
keeps one row per time bin of ``ceil(90 000 / max_rows_per_day)`` seconds of its local day
(25 h at most): the bin's most frequent observation (ties to the earliest), spanning the
bin's first to last event and counting all of them. A pandas group then holds at most
``max_rows_per_day`` rows whatever the raw volume.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DEVICE_ID,
    EVENT_TS,
    FOOTPRINT_VERSION,
    TIMING_ADVANCE,
    USABLE,
)
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    COMPRESSED_COLUMNS,
    DAY_END,
    DAY_START,
    FIRST_TS,
    INBOUND,
    LAST_TS,
    N_EVENTS,
    VISITED_PLMN,
)
from rmf_spark.slayer.device.settings import DeviceSettings
from rmf_spark.slayer.present_population.observations import ta_columns
from rmf_spark.slayer.present_population.schemas import TA_STEP_M

__all__ = ["compress_runs", "with_day_bounds"]

#: the observation a run repeats
_KEY = (CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE, TA_STEP_M, ABROAD, VISITED_PLMN)
_LONGEST_DAY_S = 90_000


def _optional(df: DataFrame, name: str, kind: str, default: Column | None = None) -> Column:
    value = F.col(name) if name in df.columns else (default if default is not None else F.lit(None))
    return value.cast(kind).alias(name)


def with_day_bounds(df: DataFrame, *, time_zone: str) -> DataFrame:
    """Adds ``day_start``, ``day_end`` (UTC timestamps) of each row's ``date`` in ``time_zone``."""
    midnight = F.to_utc_timestamp(F.col(DATE).cast("timestamp"), time_zone)
    next_midnight = F.to_utc_timestamp(F.date_add(F.col(DATE), 1).cast("timestamp"), time_zone)
    return df.withColumn(DAY_START, midnight).withColumn(DAY_END, next_midnight)


def compress_runs(
    events: DataFrame, *, settings: DeviceSettings, ta_step_m: Mapping[str, float]
) -> DataFrame:
    """One row per run of identical consecutive observations of a device-day.

    Parameters
    ----------
    events
        C-layer ``event_location`` rows: ``device_id, event_ts, cell_id, footprint_version``
        and optionally ``usable`` (rows with ``usable = false`` are dropped unless abroad),
        ``technology, timing_advance``, ``domain`` (``inbound`` sets the flag), ``abroad``
        (boolean, made on a foreign visited network) and ``visited_plmn``.
    settings
        ``[device]``: ``time_zone``, ``run_max_gap_s``, ``max_rows_per_day``.
    ta_step_m
        TA step per technology (``present_population.timing_advance_step_m``): an event's TA
        is kept when its technology has one, as for the EM.

    Returns
    -------
    DataFrame
        ``device_id, date, first_ts, last_ts, n_events long, cell_id, footprint_version,
        timing_advance int, ta_step_m double, abroad boolean, visited_plmn, inbound boolean``.

    Notes
    -----
    Rules and bound: module notes.
    """
    tz = settings.time_zone
    abroad = _optional(events, ABROAD, "boolean", F.lit(False))
    usable = F.col(USABLE) if USABLE in events.columns else F.lit(True)
    inbound = (F.col("domain") == F.lit("inbound")) if "domain" in events.columns else F.lit(None)
    ta, step = ta_columns(events, ta_step_m)
    ev = events.where(F.coalesce(usable, F.lit(False)) | F.coalesce(abroad, F.lit(False))).select(
        DEVICE_ID,
        EVENT_TS,
        F.to_date(F.from_utc_timestamp(F.col(EVENT_TS), tz)).alias(DATE),
        CELL_ID,
        FOOTPRINT_VERSION,
        ta.cast("int").alias(TIMING_ADVANCE),
        step.cast("double").alias(TA_STEP_M),
        F.coalesce(abroad, F.lit(False)).alias(ABROAD),
        _optional(events, VISITED_PLMN, "string"),
        inbound.cast("boolean").alias(INBOUND),
    )
    by_time = Window.partitionBy(DEVICE_ID, DATE).orderBy(EVENT_TS, *_KEY)
    key = F.struct(*_KEY)
    prev_ts = F.lag(EVENT_TS).over(by_time)
    new_run = (
        prev_ts.isNull()
        | ~F.lag(key).over(by_time).eqNullSafe(key)
        | (F.unix_micros(F.col(EVENT_TS)) - F.unix_micros(prev_ts) > settings.run_max_gap_s * 10**6)
    )
    runs = (
        ev.withColumn("_new", new_run.cast("int"))
        .withColumn("_run", F.sum("_new").over(by_time.rowsBetween(Window.unboundedPreceding, 0)))
        .groupBy(DEVICE_ID, DATE, "_run", *_KEY)
        .agg(
            F.min(EVENT_TS).alias(FIRST_TS),
            F.max(EVENT_TS).alias(LAST_TS),
            F.count(F.lit(1)).alias(N_EVENTS),
            F.max(INBOUND).alias(INBOUND),
        )
        .drop("_run")
    )
    return _bound_rows(runs, settings=settings).select(DEVICE_ID, DATE, *COMPRESSED_COLUMNS[1:])


def _bound_rows(runs: DataFrame, *, settings: DeviceSettings) -> DataFrame:
    per_day = Window.partitionBy(DEVICE_ID, DATE)
    counted = runs.withColumn("_rows", F.count(F.lit(1)).over(per_day))
    small = counted.where(F.col("_rows") <= settings.max_rows_per_day).drop("_rows")
    bin_s = math.ceil(_LONGEST_DAY_S / settings.max_rows_per_day)
    big = with_day_bounds(
        counted.where(F.col("_rows") > settings.max_rows_per_day), time_zone=settings.time_zone
    ).withColumn(
        "_bin",
        F.floor((F.unix_micros(F.col(FIRST_TS)) - F.unix_micros(F.col(DAY_START))) / (bin_s * 1e6)),
    )
    per_key = big.groupBy(DEVICE_ID, DATE, "_bin", *_KEY).agg(
        F.sum(N_EVENTS).alias(N_EVENTS),
        F.min(FIRST_TS).alias(FIRST_TS),
        F.max(LAST_TS).alias(LAST_TS),
        F.max(INBOUND).alias(INBOUND),
    )
    binned = per_key.groupBy(DEVICE_ID, DATE, "_bin").agg(
        F.max_by(F.struct(*_KEY), F.struct(F.col(N_EVENTS), -F.unix_micros(F.col(FIRST_TS)))).alias(
            "_key"
        ),
        F.sum(N_EVENTS).alias(N_EVENTS),
        F.min(FIRST_TS).alias(FIRST_TS),
        F.max(LAST_TS).alias(LAST_TS),
        F.max(INBOUND).alias(INBOUND),
    )
    binned = binned.select(
        DEVICE_ID,
        DATE,
        *[F.col(f"_key.{k}").alias(k) for k in _KEY],
        FIRST_TS,
        LAST_TS,
        N_EVENTS,
        INBOUND,
    )
    return small.unionByName(binned)
