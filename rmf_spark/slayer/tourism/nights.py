"""What inbound and outbound tourism share: joined stays, the functional midnight, the overnight
rule, areas and expansion.

Notes
-----
*Joined stays.* The device stage clips segments to the device-day, so one stay across
midnight is two parts, the first ending when the second starts. Consecutive parts of a device
(in ``date, segment_index`` order) of two different days, the first ending when the second
starts and (abroad) in the same country, are one stay: :func:`with_joined_stays` gives every
part the start, end and duration of its stay. Durations are compared after joining.

*Functional midnight.* With ``h`` the ``functional_midnight_hour`` and ``tz`` the zone, the
functional day of an instant ``t`` is ``fday(t) = local_date(t - h hours)``. The *night of
day D* ends at the functional midnight ``D + 1, h:00`` local (MultiMNO: 04:00), the instant
the device is looked for. The night dates held by a part ``[s, e)`` are those ``D`` whose
functional midnight ``m`` has ``s <= m < e``:

    fday(s - 1 us) <= D <= fday(e - 1 us) - 1

*Overnight rule.* A night is spent where the device stays at the functional midnight: in a
part of a stay (or, outbound, of time abroad) that, parts joined, lasts at least
``min_night_stay_s`` (MultiMNO: 300 min). MultiMNO applies it to the day's segment holding
the midnight (which starts at 00:00 when it crosses midnight); here the whole stay counts.

*Areas.* An item (a night, a stay, a traveller's home) spread over tiles ``i`` with weights
``w(i)`` puts on area ``A`` of a level ``W(A) = sum_{i in A} w(i) / sum_{i in any area}
w(i)`` (:func:`area_weights`; tiles in no area of the level are left out, an item with none is
not counted at that level), as the OD matrices do (:mod:`rmf_spark.slayer.mobility.od`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, EXPANSION_FACTOR, LEVEL, POPULATION
from rmf_spark.slayer.device.schemas import (
    BEST_TILE,
    END_TS,
    LOCATION_TILES,
    SEGMENT_INDEX,
    START_TS,
    TILES,
)
from rmf_spark.slayer.tourism.schemas import INDICATOR

__all__ = [
    "STAY_END",
    "STAY_S",
    "STAY_START",
    "WEIGHT",
    "aggregate_indicators",
    "area_weights",
    "functional_day",
    "local_day",
    "night_dates",
    "seconds_between",
    "stay_tiles",
    "sum_or_null",
    "with_joined_stays",
]

#: the joined stay of a part: its start, end and duration in seconds
STAY_START, STAY_END, STAY_S = "stay_start", "stay_end", "stay_s"
_STAY_ID, _W, _F = "_stay_id", "_w", "_f"
#: an item's weight on an area (1 at the territory level)
WEIGHT = "weight"


def seconds_between(start: Column, end: Column) -> Column:
    """``end - start`` in seconds (double)."""
    return (F.unix_micros(end) - F.unix_micros(start)) / F.lit(1e6)


def local_day(ts: Column, time_zone: str | Column) -> Column:
    """The local date of the instants ``ts`` in ``time_zone`` (a name or a column of names)."""
    tz = F.lit(time_zone) if isinstance(time_zone, str) else time_zone
    return F.to_date(F.from_utc_timestamp(ts, tz))


def functional_day(ts: Column, time_zone: str | Column, hour: int) -> Column:
    """``fday(t)``: the local date of ``ts - hour`` hours (module notes)."""
    tz = F.lit(time_zone) if isinstance(time_zone, str) else time_zone
    return F.to_date(F.from_utc_timestamp(ts, tz) - F.expr(f"INTERVAL {int(hour)} HOURS"))


def night_dates(start: Column, end: Column, time_zone: str | Column, hour: int) -> Column:
    """The dates of the nights whose functional midnight lies in ``[start, end)`` (an array,
    empty when none; module notes)."""
    eps = F.expr("INTERVAL 1 MICROSECONDS")
    first = functional_day(start - eps, time_zone, hour)
    last = F.date_sub(functional_day(end - eps, time_zone, hour), 1)
    return F.when(last >= first, F.sequence(first, last)).otherwise(F.array().cast("array<date>"))


def with_joined_stays(parts: DataFrame, *, same_place: Sequence[str] = ()) -> DataFrame:
    """``parts`` with :data:`STAY_START`, :data:`STAY_END` and :data:`STAY_S`: the stay each
    part belongs to, parts across midnight joined (module notes).

    Parameters
    ----------
    parts
        Segment rows of one kind (stays, or abroad segments) with ``device_id, date,
        segment_index, start_ts, end_ts``.
    same_place
        Columns two parts must share to be joined (``country`` abroad).
    """
    order = Window.partitionBy(DEVICE_ID).orderBy(DATE, SEGMENT_INDEX)
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    continues = (F.lag(END_TS).over(order) == F.col(START_TS)) & (
        F.lag(DATE).over(order) < F.col(DATE)
    )
    for c in same_place:
        continues = continues & F.lag(c).over(order).eqNullSafe(F.col(c))
    stay = Window.partitionBy(DEVICE_ID, _STAY_ID)
    return (
        parts.withColumn(_STAY_ID, F.sum(F.when(continues, 0).otherwise(1)).over(upto))
        .withColumn(STAY_START, F.min(START_TS).over(stay))
        .withColumn(STAY_END, F.max(END_TS).over(stay))
        .withColumn(STAY_S, seconds_between(F.col(STAY_START), F.col(STAY_END)))
        .drop(_STAY_ID)
    )


def stay_tiles(stay_location: str) -> Column:
    """The tiles a stay part is spread over (``tourism.stay_location``): its location tiles,
    else its best tile, else its footprint tiles; sorted, distinct, maybe empty."""
    located = F.when(F.coalesce(F.size(LOCATION_TILES), F.lit(0)) > 0, F.col(LOCATION_TILES))
    best = F.when(F.col(BEST_TILE).isNotNull(), F.array(F.col(BEST_TILE)))
    choice = {
        "location": F.coalesce(located, best, F.col(TILES)),
        "best_tile": F.coalesce(best, F.col(TILES)),
        "footprint": F.col(TILES),
    }[stay_location]
    return F.sort_array(F.array_distinct(F.coalesce(choice, F.array().cast("array<long>"))))


def area_weights(
    items: DataFrame, *, keys: Sequence[str], tiles: str, areas: DataFrame
) -> DataFrame:
    """Each item's weight on the areas of every level (module notes).

    Parameters
    ----------
    items
        One row per item: ``keys`` identify it, ``tiles`` is an array of tile ids (equal
        weights; an empty array puts the item in no area).
    keys
        The columns kept.
    areas
        ``tile_id, level, area_id`` (:func:`rmf_spark.slayer.mobility.od.tile_areas`).

    Returns
    -------
    DataFrame
        ``<keys>, level, area_id, weight`` (``weight`` double; per item and level, the
        weights sum to 1).
    """
    exploded = items.select(
        *keys, F.explode(tiles).alias(TILE_ID), (F.lit(1.0) / F.size(tiles)).alias(_W)
    ).withColumn(TILE_ID, F.col(TILE_ID).cast("long"))
    per_area = (
        exploded.join(areas, on=TILE_ID, how="inner")
        .groupBy(*keys, LEVEL, AREA_ID)
        .agg(F.sum(_W).alias(_W))
    )
    total = F.sum(_W).over(Window.partitionBy(*keys, LEVEL))
    return per_area.select(*keys, LEVEL, AREA_ID, (F.col(_W) / total).alias(WEIGHT))


def sum_or_null(value: Column) -> Column:
    """The sum of ``value``, null when one of the values is (a persons total is not known
    when one of its devices has no expansion factor)."""
    return F.when(F.count_if(value.isNull()) > 0, F.lit(None).cast("double")).otherwise(
        F.sum(value).cast("double")
    )


def aggregate_indicators(
    items: DataFrame,
    *,
    country: str,
    factors: DataFrame | None,
    on: str,
    default_factor: float | None,
) -> DataFrame:
    """Indicator rows from weighted items, expanded to persons.

    Parameters
    ----------
    items
        ``date, <country>, indicator, level, area_id, weight`` and ``on``, one row per item
        and area.
    country
        The country column (of origin, or of destination).
    factors
        ``<on>, expansion_factor`` (persons per device); None: no persons.
    on
        The column the factors are joined on (a country, a device).
    default_factor
        The factor of items without one; None: their persons are null.

    Returns
    -------
    DataFrame
        ``date, <country>, indicator, level, area_id, devices`` (the weights summed),
        ``population`` (``weight * factor`` summed; null when a factor is) and
        ``expansion_factor`` (``population / devices``).
    """
    factor: Column = F.lit(None).cast("double")
    if factors is not None:
        items = items.join(factors.select(on, F.col(EXPANSION_FACTOR).alias(_F)), on, "left")
        factor = F.col(_F)
    if default_factor is not None:
        factor = F.coalesce(factor, F.lit(float(default_factor)))
    keys = [DATE, country, INDICATOR, LEVEL, AREA_ID]
    return (
        items.groupBy(*keys)
        .agg(
            F.sum(WEIGHT).cast("double").alias(DEVICES),
            sum_or_null(F.col(WEIGHT) * factor).alias(POPULATION),
        )
        .withColumn(
            EXPANSION_FACTOR,
            F.when(F.col(DEVICES) > 0, F.col(POPULATION) / F.col(DEVICES)),
        )
        .select(*keys, DEVICES, POPULATION, EXPANSION_FACTOR)
    )
