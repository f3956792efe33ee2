"""Time points, the nearest event of each device to each time point, and devices per cell.

Notes
-----
Time points are ``t_k = start + k * step`` for ``k = 0 .. floor((end - start) / step)``. For a
device d and a time point t, the S-layer keeps the single usable event e of d that minimises
``|ts(e) - t|`` subject to ``|ts(e) - t| <= tolerance``; on a tie the earlier event wins
(MultiMNO, ``9_present_population_estimation.md``). Each device is
therefore counted at most once per time point, and the devices counted at a time point are
exactly those with a usable event inside the window.

MultiMNO's tolerance is 3 600 s; rmf_spark's default is 12 h, so that a device of a CDR-like MNO
(a few events a day) is placed at its last or next known cell rather than dropped: on the small
synthetic world the CDR MNO's devices counted at a time point rise from 39 % to 98 % of the
truth (docs/present-population.md). Signalling data, with an event every few minutes, picks the
same events under either value.

No cross join with a time-point table and no explosion over the whole window: with the device's
events sorted in time (one window per device), an event is the nearest one for exactly the time
points between the midpoint with the previous event (exclusive: a tie goes to the earlier one)
and the midpoint with the next (inclusive), within ``+-tolerance``, so each event is exploded only
over the time points it wins. The rows produced are the output rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DEVICE_ID,
    EVENT_TS,
    FOOTPRINT_VERSION,
    TECHNOLOGY,
    TIMING_ADVANCE,
    USABLE,
)
from rmf_spark.slayer.aggregate.schemas import DEVICES
from rmf_spark.slayer.present_population.schemas import TA_STEP_M, TIME_POINT

__all__ = [
    "compute_cell_counts",
    "ta_columns",
    "ta_step_of_technology",
    "time_points",
    "to_device_time_points",
]

_US = 1_000_000


def time_points(*, start: datetime, end: datetime, step_s: int) -> list[datetime]:
    """The time points ``start, start + step, ...`` up to and including ``end`` (UTC).

    Examples
    --------
    >>> from datetime import datetime
    >>> [t.hour for t in time_points(start=datetime(2024, 1, 1), end=datetime(2024, 1, 1, 2),
    ...                              step_s=3600)]
    [0, 1, 2]
    """
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    n = int((end - start).total_seconds() // step_s)
    return [start + timedelta(seconds=k * step_s) for k in range(n + 1)]


def _micros(ts: datetime) -> int:
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def to_device_time_points(
    events: DataFrame,
    *,
    start: datetime,
    end: datetime,
    step_s: int = 3600,
    tolerance_s: int = 3600,
) -> DataFrame:
    """One row per (device, time point): the device's usable event nearest to the time point.

    Parameters
    ----------
    events
        C-layer ``event_location`` rows: ``device_id, event_ts, cell_id, footprint_version,
        usable`` (other columns are ignored). Only rows with ``usable = true`` count.
    start, end
        First and last time point (naive datetimes are UTC).
    step_s
        Seconds between time points (default 3 600: hourly).
    tolerance_s
        Largest accepted ``|event_ts - time_point|`` in seconds (default 3 600).

    Returns
    -------
    DataFrame
        ``device_id string, time_point timestamp, cell_id string, footprint_version,
        event_ts timestamp, technology string, timing_advance int`` (the last two null when
        ``events`` lacks them); at most one row per (device_id, time_point).

    Notes
    -----
    Nearest event, tie to the earlier one: ``argmin_e (|ts(e) - t|, ts(e))``
    (MultiMNO, ``9_present_population_estimation.md``).
    """
    if step_s <= 0 or tolerance_s < 0:
        raise ValueError(f"step_s must be > 0 and tolerance_s >= 0, got {step_s}, {tolerance_s}")
    start_us, end_us = _micros(start), _micros(end)
    step_us, tol_us = step_s * _US, tolerance_s * _US
    n_max = (end_us - start_us) // step_us
    usable = events.where(F.col(USABLE))
    if "date" in events.columns:  # partition pruning on event_location
        first = (start - timedelta(seconds=tolerance_s)).date()
        last = (end + timedelta(seconds=tolerance_s)).date()
        usable = usable.where(F.col("date").between(F.lit(first), F.lit(last)))
    by_device = Window.partitionBy(DEVICE_ID).orderBy("_ts", CELL_ID, FOOTPRINT_VERSION)
    optional = [
        (F.col(c) if c in events.columns else F.lit(None)).cast(t).alias(c)
        for c, t in ((TECHNOLOGY, "string"), (TIMING_ADVANCE, "int"))
    ]
    in_range = usable.select(
        DEVICE_ID,
        EVENT_TS,
        CELL_ID,
        FOOTPRINT_VERSION,
        *optional,
        F.unix_micros(F.col(EVENT_TS)).alias("_ts"),
    ).where(F.col("_ts").between(start_us - tol_us, end_us + tol_us))
    # Events at the same instant are equally near every time point: the first in (cell,
    # version) order stands for them, as in argmin (|ts - t|, ts, cell_id, version).
    distinct_instants = (
        in_range.withColumn("_prev", F.lag("_ts").over(by_device))
        .where(F.col("_prev").isNull() | (F.col("_prev") != F.col("_ts")))
        .drop("_prev")
    )
    prev_ts, next_ts = F.lag("_ts").over(by_device), F.lead("_ts").over(by_device)
    # The time points an event is nearest to: after the midpoint with the previous event
    # (a tie goes to the earlier one), up to and including the midpoint with the next one.
    lo_t = F.greatest(
        F.col("_ts") - F.lit(tol_us),
        F.coalesce(F.floor((prev_ts + F.col("_ts")) / 2) + 1, F.lit(start_us - tol_us)),
    )
    hi_t = F.least(
        F.col("_ts") + F.lit(tol_us),
        F.coalesce(F.floor((F.col("_ts") + next_ts) / 2), F.lit(end_us + tol_us)),
    )
    lo = F.greatest(F.lit(0), _ceil_div(lo_t - F.lit(start_us), step_us))
    hi = F.least(F.lit(n_max), F.floor((hi_t - F.lit(start_us)) / F.lit(step_us)))
    return (
        distinct_instants.withColumn("_lo", lo.cast("long"))
        .withColumn("_hi", hi.cast("long"))
        .where(F.col("_lo") <= F.col("_hi"))
        .withColumn("_k", F.explode(F.sequence("_lo", "_hi")))
        .select(
            DEVICE_ID,
            F.timestamp_micros(F.lit(start_us) + F.col("_k") * F.lit(step_us)).alias(TIME_POINT),
            CELL_ID,
            FOOTPRINT_VERSION,
            EVENT_TS,
            TECHNOLOGY,
            TIMING_ADVANCE,
        )
    )


def _ceil_div(num: Column, den: int) -> Column:
    return -F.floor(-num / F.lit(den))


def ta_step_of_technology(ta_step_m: Mapping[str, float]) -> Column:
    """The TA step in metres of each row's ``technology`` (null for one without a step)."""
    steps = F.create_map(*[F.lit(v) for kv in sorted(ta_step_m.items()) for v in kv])
    return steps[F.col(TECHNOLOGY)].cast("double")


def ta_columns(df: DataFrame, ta_step_m: Mapping[str, float] | None) -> tuple[Column, Column]:
    """A row's TA and TA step as the observation uses them: both null unless the row has a TA
    and its ``technology`` a step in ``ta_step_m`` (None or empty: never)."""
    ta, step = F.lit(None).cast("int"), F.lit(None).cast("double")
    if ta_step_m and TIMING_ADVANCE in df.columns and TECHNOLOGY in df.columns:
        known = ta_step_of_technology(ta_step_m)
        has_ta = known.isNotNull() & F.col(TIMING_ADVANCE).isNotNull()
        ta, step = F.when(has_ta, F.col(TIMING_ADVANCE)), F.when(has_ta, known)
    return ta, step


def compute_cell_counts(
    device_time_points: DataFrame, *, ta_step_m: Mapping[str, float] | None = None
) -> DataFrame:
    """Devices per (time point, cell, footprint version, timing advance).

    Parameters
    ----------
    device_time_points
        Output of :func:`to_device_time_points`.
    ta_step_m
        TA step in metres per technology (e.g. ``{"4G": 78.12}``). An event's TA is kept
        when its technology has a step; otherwise, or when ``None``/empty, the TA columns are
        null and the counts are per cell only.

    Returns
    -------
    DataFrame
        ``time_point, cell_id, footprint_version, timing_advance int, ta_step_m double,
        devices long`` (c_i of the estimators; the observation i is the cell, or the cell and
        its TA band).
    """
    df = device_time_points
    ta, step = ta_columns(df, ta_step_m)
    return df.groupBy(
        TIME_POINT, CELL_ID, FOOTPRINT_VERSION, ta.alias(TIMING_ADVANCE), step.alias(TA_STEP_M)
    ).agg(F.count(F.lit(1)).alias(DEVICES))
