"""Mid-term permanence: per device and tile, how many slots and days it stayed there over a
period, by day type and time interval (Eurostat MultiMNO, mid-term permanence score).

Notes
-----
Input: the daily permanence (``slayer/daily_permanence``: per device, day and slot, ``grid``
with the tiles where the device stayed at least half the slot, or ``unknown`` / ``abroad``).
A slot belongs to the local day ``date(local(slot_start) - day_start_hour)`` (a night belongs
to the day of its evening) and to the time intervals holding its local start hour. Day types:
``all``, ``workdays`` (Monday to Friday, not a holiday) and ``holidays`` (weekends and
holidays). For each device, tile, day type ``t`` and interval ``i`` (``all`` and each named
one):

    permanence(t, i)  = number of grid slots of (t, i) whose tiles hold the tile     (MPS)
    frequency(t, i)   = number of distinct days with such a slot
    regularity_mean / regularity_std = mean and standard deviation of the gaps, in days,
                        between consecutive such days (null with fewer than two days).

MultiMNO counts the regularity over the month with seven days around it; here the gaps are
those inside the period (the caller chooses it). Per device, day type and interval, the
observation totals are the denominators the labelling rules compare against:
``grid_slots``, ``unknown_slots``, ``abroad_slots`` and ``days`` (distinct days with a grid
slot).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID
from rmf_spark.slayer.device.schemas import (
    ABROAD_SLOT,
    GRID,
    ID_TYPE,
    SLOT_START,
    TILES,
    UNKNOWN_SLOT,
)
from rmf_spark.slayer.usual_environment.settings import UsualEnvironmentSettings

__all__ = [
    "ALL",
    "DAY_TYPE",
    "HOLIDAYS",
    "TIME_INTERVAL",
    "WORKDAYS",
    "compute_midterm_observation",
    "compute_midterm_permanence",
    "with_day_type_and_intervals",
]

DAY_TYPE, TIME_INTERVAL, LOCAL_DAY = "day_type", "time_interval", "local_day"
ALL, WORKDAYS, HOLIDAYS = "all", "workdays", "holidays"
PERMANENCE, FREQUENCY = "permanence", "frequency"
REGULARITY_MEAN, REGULARITY_STD = "regularity_mean", "regularity_std"
GRID_SLOTS, UNKNOWN_SLOTS, ABROAD_SLOTS = "grid_slots", "unknown_slots", "abroad_slots"
DAYS = "days"


def _intervals_of(hour: Column, settings: UsualEnvironmentSettings) -> Column:
    # 'all' and every named interval holding the local hour
    named = [
        F.when(
            (hour >= iv.start_hour) & (hour < iv.end_hour)
            if iv.start_hour < iv.end_hour
            else (hour >= iv.start_hour) | (hour < iv.end_hour),
            F.lit(name),
        )
        for name, iv in sorted(settings.time_intervals.items())
    ]
    return F.filter(F.array(F.lit(ALL), *named), lambda x: x.isNotNull())


def with_day_type_and_intervals(
    permanence: DataFrame, *, holidays: DataFrame | None, settings: UsualEnvironmentSettings
) -> DataFrame:
    """The daily permanence rows with ``local_day`` and one row per (day type, time interval)
    the slot belongs to (``day_type``, ``time_interval``).

    Parameters
    ----------
    permanence
        ``slayer/daily_permanence`` rows (``slot_start`` in UTC).
    holidays
        ``date`` of each public holiday (the reference table), or None: none.
    settings
        ``[usual_environment]``.
    """
    local = F.from_utc_timestamp(F.col(SLOT_START), settings.time_zone)
    day = F.to_date(local - F.expr(f"INTERVAL {int(settings.day_start_hour)} HOURS"))
    out = permanence.withColumn(LOCAL_DAY, day).withColumn("_hour", F.hour(local))
    weekend = F.dayofweek(F.col(LOCAL_DAY)).isin(1, 7)  # Sunday = 1, Saturday = 7
    if holidays is not None:
        days_off = holidays.select(F.col(DATE).alias(LOCAL_DAY)).distinct()
        days_off = days_off.withColumn("_holiday", F.lit(True))
        out = out.join(F.broadcast(days_off), on=LOCAL_DAY, how="left")
        off = weekend | F.coalesce(F.col("_holiday"), F.lit(False))
    else:
        off = weekend
    kinds = F.array(F.lit(ALL), F.when(off, F.lit(HOLIDAYS)).otherwise(F.lit(WORKDAYS)))
    return (
        out.withColumn(DAY_TYPE, F.explode(kinds))
        .withColumn(TIME_INTERVAL, F.explode(_intervals_of(F.col("_hour"), settings)))
        .drop("_hour", "_holiday")
    )


def _gaps(ordered: Column) -> Column:
    # the gaps in days between consecutive days of an already sorted array (a column, not an
    # expression: element_at inside the lambda would recompute an expression per element)
    return F.transform(
        F.slice(ordered, 2, F.greatest(F.size(ordered) - 1, F.lit(0))),
        lambda d, i: F.datediff(d, F.element_at(ordered, i + 1)),
    )


def compute_midterm_permanence(slots: DataFrame) -> DataFrame:
    """Per device, day type, time interval and tile: ``permanence`` (slots), ``frequency``
    (days), ``regularity_mean`` and ``regularity_std`` (gaps in days) over the rows given
    (module notes). ``slots``: :func:`with_day_type_and_intervals` output, computed once for
    this and :func:`compute_midterm_observation`.

    Returns
    -------
    DataFrame
        ``device_id, day_type, time_interval, tile_id, permanence, frequency,
        regularity_mean, regularity_std``.
    """
    grid = slots.where((F.col(ID_TYPE) == GRID) & (F.size(TILES) > 0))
    tiles = grid.select(
        DEVICE_ID, DAY_TYPE, TIME_INTERVAL, LOCAL_DAY, F.explode(TILES).alias(TILE_ID)
    )
    per_tile = tiles.groupBy(DEVICE_ID, DAY_TYPE, TIME_INTERVAL, TILE_ID).agg(
        F.count(F.lit(1)).alias(PERMANENCE),
        F.sort_array(F.collect_set(LOCAL_DAY)).alias("_days"),
    )
    per_tile = per_tile.withColumn("_gaps", _gaps(F.col("_days")))
    gaps = F.col("_gaps")
    n = F.size(gaps)
    mean = F.aggregate(gaps, F.lit(0.0), lambda acc, g: acc + g) / n
    sq = F.aggregate(gaps, F.lit(0.0), lambda acc, g: acc + g * g) / n
    return per_tile.select(
        DEVICE_ID,
        DAY_TYPE,
        TIME_INTERVAL,
        TILE_ID,
        F.col(PERMANENCE).cast("int").alias(PERMANENCE),
        F.size("_days").cast("int").alias(FREQUENCY),
        F.when(n > 0, mean).alias(REGULARITY_MEAN),
        F.when(n > 0, F.sqrt(F.greatest(sq - mean * mean, F.lit(0.0)))).alias(REGULARITY_STD),
    )


def compute_midterm_observation(slots: DataFrame) -> DataFrame:
    """Per device, day type and time interval: ``grid_slots``, ``unknown_slots``,
    ``abroad_slots`` and ``days`` (distinct local days with a grid slot): what the device
    showed of itself, the denominators of the labelling rules. ``slots``:
    :func:`with_day_type_and_intervals` output.
    """
    kind = F.col(ID_TYPE)
    return slots.groupBy(DEVICE_ID, DAY_TYPE, TIME_INTERVAL).agg(
        F.count_if(kind == GRID).cast("int").alias(GRID_SLOTS),
        F.count_if(kind == UNKNOWN_SLOT).cast("int").alias(UNKNOWN_SLOTS),
        F.count_if(kind == ABROAD_SLOT).cast("int").alias(ABROAD_SLOTS),
        F.count_distinct(F.when(kind == GRID, F.col(LOCAL_DAY))).cast("int").alias(DAYS),
    )
