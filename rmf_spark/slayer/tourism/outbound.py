"""Outbound tourism: trips abroad and nights abroad of the MNO's own subscribers.

Notes
-----
Input: the device stage's ``abroad`` segments of domestic devices (``inbound`` not true): an
MNO sees its subscribers abroad only through the roaming records of the visited network, with
its PLMN and no cell. The destination is the country of the visited PLMN's MCC
(:mod:`~.countries`).

1. *Time abroad.* Abroad parts across midnight in the same country are joined
   (:func:`~.nights.with_joined_stays`); time abroad lasting less than ``min_stay_s`` is left
   out (MultiMNO drops abroad segments under ``min_duration_segment_m``: a border cell of a
   foreign network seen for a moment is no trip).
2. *Trips.* Consecutive time abroad of a device is one trip while no domestic segment lies
   between (a ``stay`` or ``undetermined`` segment, or a ``move`` through domestic cells) and
   the next starts at most ``outbound.max_trip_gap_s`` after the previous ends (MultiMNO:
   ``max_outbound_trip_gap_h``). A trip may visit several countries; it counts once for
   each, on the local day (``tourism.time_zone``) it entered that country.
3. *Nights.* The night of D is spent in the country where the device is at the functional
   midnight (:mod:`~.nights`), in the destination's time zone (the reference table's,
   ``outbound.destination_time_zone``; MultiMNO does the same), when its time abroad there
   lasts at least ``min_night_stay_s``.
4. *Home.* A traveller's home area is spread over its home tiles (``usual_environment``
   labels ``home``, weights ``1 / |H|``, :func:`~.nights.area_weights`); a traveller without
   a home label is in the area ``unknown`` at every level of ``tourism.levels``.
5. *Indicators* per date, destination country, level and home area
   (:data:`~.schemas.OUTBOUND_INDICATORS`): ``trips`` (entries into the country) and
   ``nights``; at the ``territory`` level and at the home levels.
6. *Expansion* (:func:`home_factors`): a traveller stands for ``f = sum_i w(i) f_{r(i)}``
   persons, ``f_r = 1 / s_r`` the market share's factor of the region holding home tile
   ``i``, as residents are expanded; one without a home label takes ``default_factor``
   (the runner: ``1 / present_population.default_share``, else the mean of the regions'
   factors, so that travellers abroad the whole period, who have no home label, still count).

A period ``D1..D2`` needs the segments of ``D1 - 1 - ceil(max_trip_gap_s / 1 day) .. D2 + 1``:
the days before tell whether a trip began before the period, the day after holds the night
of ``D2``.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.slayer.aggregate.schemas import AREA_ID, EXPANSION_FACTOR, LEVEL, REGION_ID
from rmf_spark.slayer.device.schemas import (
    ABROAD_STATE,
    CELLS,
    END_TS,
    INBOUND,
    MOVE,
    SEGMENT_INDEX,
    START_TS,
    STATE,
    STAY,
    UNDETERMINED,
    VISITED_PLMN,
)
from rmf_spark.slayer.tourism.countries import plmn_country_column, plmn_time_zone_column
from rmf_spark.slayer.tourism.nights import (
    STAY_S,
    WEIGHT,
    aggregate_indicators,
    area_weights,
    local_day,
    night_dates,
    seconds_between,
    sum_or_null,
    with_joined_stays,
)
from rmf_spark.slayer.tourism.schemas import (
    ALL_AREAS,
    BEGAN_BEFORE,
    COUNTRY_OF_DESTINATION,
    ENDS_AFTER,
    ENTRY_TS,
    EXIT_TS,
    INDICATOR,
    LEVEL_TERRITORY,
    NIGHTS,
    TRIP_END,
    TRIP_START,
    TRIPS,
    UNKNOWN_HOME,
)
from rmf_spark.slayer.tourism.settings import TourismSettings

__all__ = [
    "OutboundTourism",
    "compute_abroad_parts",
    "compute_outbound_tourism",
    "home_areas",
    "home_factors",
]

_TRIP, _ABROAD, _TZ, _F = "_trip", "_abroad", "_tz", "_f"


class OutboundTourism(NamedTuple):
    """:func:`compute_outbound_tourism`'s result."""

    #: one row per trip and destination overlapping the period (``OUTBOUND_TRIPS_SCHEMA``
    #: without the period and the bucket)
    trips: DataFrame
    #: ``OUTBOUND_TOURISM_SCHEMA``
    indicators: DataFrame


def compute_abroad_parts(segments: DataFrame, settings: TourismSettings) -> DataFrame:
    """The parts of time abroad of domestic devices, with their trip (module notes, 1-2).

    Returns
    -------
    DataFrame
        ``device_id, date, start_ts, end_ts, country_of_destination, stay_s`` (the time
        abroad the part belongs to), ``_tz`` (the zone of its functional midnights),
        ``trip_start, trip_end`` and ``_trip`` (the trip's number for the device).
    """
    s = settings
    domestic = segments.where(~F.coalesce(F.col(INBOUND), F.lit(False)))
    tz = (
        plmn_time_zone_column(F.col(VISITED_PLMN), s.time_zone)
        if s.outbound.destination_time_zone
        else F.lit(s.time_zone)
    )
    abroad = with_joined_stays(
        domestic.where(F.col(STATE) == ABROAD_STATE).select(
            DEVICE_ID, DATE, SEGMENT_INDEX, START_TS, END_TS,
            plmn_country_column(F.col(VISITED_PLMN)).alias(COUNTRY_OF_DESTINATION),
            tz.alias(_TZ),
        ),
        same_place=[COUNTRY_OF_DESTINATION],
    ).where(F.col(STAY_S) >= s.min_stay_s)  # fmt: skip
    home_seen = F.col(STATE).isin(STAY, UNDETERMINED) | (
        (F.col(STATE) == MOVE) & (F.coalesce(F.size(CELLS), F.lit(0)) > 0)
    )
    breaks = domestic.where(home_seen).select(DEVICE_ID, DATE, SEGMENT_INDEX, START_TS, END_TS)
    timeline = abroad.withColumn(_ABROAD, F.lit(True)).unionByName(
        breaks.withColumn(_ABROAD, F.lit(False)), allowMissingColumns=True
    )
    order = Window.partitionBy(DEVICE_ID).orderBy(DATE, SEGMENT_INDEX)
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    gap = seconds_between(F.lag(END_TS).over(order), F.col(START_TS))
    new = F.col(_ABROAD) & (
        ~F.coalesce(F.lag(_ABROAD).over(order), F.lit(False)) | (gap > s.outbound.max_trip_gap_s)
    )
    trip = Window.partitionBy(DEVICE_ID, _TRIP)
    return (
        timeline.withColumn(_TRIP, F.sum(new.cast("int")).over(upto))
        .where(F.col(_ABROAD))
        .withColumn(TRIP_START, F.min(START_TS).over(trip))
        .withColumn(TRIP_END, F.max(END_TS).over(trip))
        .drop(_ABROAD)
    )


def home_areas(home_tiles: DataFrame, *, areas: DataFrame) -> DataFrame:
    """``device_id, level, area_id, weight``: each labelled device's home spread over the
    areas (module notes, 4).

    Parameters
    ----------
    home_tiles
        ``device_id, tile_id``: the home tiles of each device (``usual_environment_labels``
        with ``label = 'home'``).
    areas
        ``tile_id, level, area_id``.
    """
    per_device = home_tiles.groupBy(DEVICE_ID).agg(
        F.sort_array(F.collect_set(F.col(TILE_ID).cast("long"))).alias("_tiles")
    )
    return area_weights(per_device, keys=[DEVICE_ID], tiles="_tiles", areas=areas)


def home_factors(
    home_tiles: DataFrame, *, tile_zone: DataFrame, factors: DataFrame, region_level: int
) -> DataFrame:
    """``device_id, expansion_factor``: persons per traveller from the regions of its home
    tiles, ``sum_i (1 / |H|) f_{r(i)}`` (module notes, 6; null when a tile's region has no
    factor).

    Parameters
    ----------
    home_tiles
        ``device_id, tile_id``.
    tile_zone
        C-layer ``tile_zone``.
    factors
        ``region_id, expansion_factor`` (e.g.
        :func:`rmf_spark.slayer.mobility.od.factors_from_market_share`).
    region_level
        The ``zone_level`` of the factors' regions.
    """
    regions = tile_zone.where(F.col(ZONE_LEVEL) == region_level).select(
        F.col(TILE_ID).cast("long").alias(TILE_ID), F.col(ZONE_ID).alias(REGION_ID)
    )
    tiles = home_tiles.select(DEVICE_ID, F.col(TILE_ID).cast("long").alias(TILE_ID)).distinct()
    share = F.lit(1.0) / F.count("*").over(Window.partitionBy(DEVICE_ID))
    region_factors = factors.select(REGION_ID, F.col(EXPANSION_FACTOR).alias(_F))
    return (
        tiles.withColumn(WEIGHT, share)
        .join(regions, TILE_ID, "left")
        .join(F.broadcast(region_factors), REGION_ID, "left")
        .groupBy(DEVICE_ID)
        .agg(sum_or_null(F.col(WEIGHT) * F.col(_F)).alias(EXPANSION_FACTOR))
    )


def _item(df: DataFrame, indicator: str) -> DataFrame:
    return df.select(DEVICE_ID, DATE, COUNTRY_OF_DESTINATION, F.lit(indicator).alias(INDICATOR))


def compute_outbound_tourism(
    segments: DataFrame,
    *,
    start: dt.date,
    end: dt.date,
    settings: TourismSettings,
    homes: DataFrame | None = None,
    factors: DataFrame | None = None,
    default_factor: float | None = None,
) -> OutboundTourism:
    """The trips and indicators of the period ``start .. end`` (module notes).

    Parameters
    ----------
    segments
        ``slayer/time_segments`` rows of the days ``start - 1 - ceil(max_trip_gap_s / 1 day)
        .. end + 1``; only the domestic devices' ones are read.
    start, end
        The period (days of the indicators).
    settings
        ``[tourism]``: its ``levels`` are the home levels.
    homes
        ``device_id, level, area_id, weight`` (:func:`home_areas`); None: every traveller's
        home is ``unknown``.
    factors
        ``device_id, expansion_factor`` (:func:`home_factors`); None: no persons.
    default_factor
        The factor of travellers without one; None: their persons are null.
    """
    s = settings
    in_period = F.col(DATE).between(F.lit(start), F.lit(end))
    parts = compute_abroad_parts(segments, s)
    keys = [DEVICE_ID, _TRIP, COUNTRY_OF_DESTINATION]
    visits = parts.groupBy(*keys).agg(
        F.min(START_TS).alias(ENTRY_TS),
        F.max(END_TS).alias(EXIT_TS),
        F.first(TRIP_START).alias(TRIP_START),
        F.first(TRIP_END).alias(TRIP_END),
    )
    held = night_dates(F.col(START_TS), F.col(END_TS), F.col(_TZ), s.functional_midnight_hour)
    nights = (
        parts.where(F.col(STAY_S) >= s.min_night_stay_s)
        .select(*keys, F.explode(held).alias(DATE))
        .where(in_period)
    )

    def day(column: str) -> Column:
        return local_day(F.col(column), s.time_zone)

    trip_rows = (
        visits.where((day(ENTRY_TS) <= F.lit(end)) & (day(EXIT_TS) >= F.lit(start)))
        .join(nights.groupBy(*keys).agg(F.count("*").cast("int").alias(NIGHTS)), keys, "left")
        .select(
            DEVICE_ID,
            TRIP_START,
            TRIP_END,
            COUNTRY_OF_DESTINATION,
            ENTRY_TS,
            EXIT_TS,
            F.coalesce(F.col(NIGHTS), F.lit(0)).cast("int").alias(NIGHTS),
            (day(TRIP_START) < F.lit(start)).alias(BEGAN_BEFORE),
            (day(TRIP_END) > F.lit(end)).alias(ENDS_AFTER),
        )
    )
    entries = visits.withColumn(DATE, day(ENTRY_TS)).where(in_period)
    items = _item(entries, TRIPS).unionByName(_item(nights, NIGHTS))
    territory = items.select(
        "*", F.lit(LEVEL_TERRITORY).alias(LEVEL), F.lit(ALL_AREAS).alias(AREA_ID),
        F.lit(1.0).alias(WEIGHT),
    )  # fmt: skip
    level_rows = segments.sparkSession.createDataFrame(
        [(lv,) for lv in s.levels], f"{LEVEL} string"
    )
    travellers = items.select(DEVICE_ID).distinct().crossJoin(F.broadcast(level_rows))
    if homes is None:
        placed = travellers.select(
            DEVICE_ID, LEVEL, F.lit(UNKNOWN_HOME).alias(AREA_ID), F.lit(1.0).alias(WEIGHT)
        )
    else:
        known = homes.select(DEVICE_ID, LEVEL, AREA_ID, WEIGHT)
        placed = travellers.join(known, [DEVICE_ID, LEVEL], "left").select(
            DEVICE_ID,
            LEVEL,
            F.coalesce(F.col(AREA_ID), F.lit(UNKNOWN_HOME)).alias(AREA_ID),
            F.coalesce(F.col(WEIGHT), F.lit(1.0)).alias(WEIGHT),
        )
    spread = items.join(placed, DEVICE_ID, "inner").select(*territory.columns)
    indicators = aggregate_indicators(
        territory.unionByName(spread),
        country=COUNTRY_OF_DESTINATION,
        factors=factors,
        on=DEVICE_ID,
        default_factor=default_factor,
    )
    return OutboundTourism(trip_rows, indicators)
