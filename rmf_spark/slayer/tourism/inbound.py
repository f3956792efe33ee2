"""Inbound tourism: visits, nights and tourism stays of devices whose SIM is foreign.

Notes
-----
Input: the device stage's time segments of the inbound devices (``inbound`` true: the C-layer
marks an event ``domain = 'inbound'`` when its MCC is not ``convergence.home_mcc``) and their
origin, the country of their home network's MCC (:func:`inbound_origins`, from the C-layer
``event_location``; :mod:`~.countries`).

1. *Seen.* A device is seen on a day (the segments' ``date``, the device stage's day) when a
   ``stay``, ``move`` or ``undetermined`` segment of that day holds one of its events.
2. *Visits.* A visit is a maximal run of days seen in which two consecutive days seen are at
   most ``inbound.max_unseen_days + 1`` apart (default: consecutive days). It covers the days
   from its first to its last day seen.
3. *Tourism stays.* A stay of the device (parts across midnight joined,
   :func:`~.nights.with_joined_stays`) lasting at least ``min_stay_s`` (MultiMNO: 180 min).
   Its day is the local day (``tourism.time_zone``) of its start; it is spread over the
   tiles of its first part (:func:`~.nights.stay_tiles`).
4. *Nights.* The device spends the night of day D where it stays at the functional midnight
   ``D + 1, functional_midnight_hour:00`` local, in a stay of at least ``min_night_stay_s``
   (:mod:`~.nights`: the overnight rule); the night is spread over the tiles of the stay's
   part holding that instant.
5. *Indicators* per date and origin country (:data:`~.schemas.INBOUND_INDICATORS`):
   ``visitors`` (devices whose visit covers the day), ``arrivals`` and ``departures`` (visits
   whose first / last day it is), at the ``territory`` level; ``nights`` and ``stays`` at the
   ``territory`` level (each counts 1) and at every level of ``tourism.levels`` (spread over
   the areas, :func:`~.nights.area_weights`). The average length of stay over a period is
   ``sum nights / sum arrivals`` (Eurostat's definition for accommodation statistics).
6. *Expansion.* A device of origin ``c`` stands for ``f_c = 1 / s_c`` persons, ``s_c`` the
   share of that country's visitors on the MNO (``inbound.share``, ``share_table``; MultiMNO
   expands inbound tourism by a factor per country of origin): ``population = devices * f_c``.

A period ``D1..D2`` needs the segments of ``D1 - 1 - max_unseen_days .. D2 + 1 +
max_unseen_days``: the day before tells an arrival, the day after a departure and the
night of ``D2``.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, DEVICE_ID
from rmf_spark.slayer.aggregate.schemas import AREA_ID, EXPANSION_FACTOR, LEVEL
from rmf_spark.slayer.device.schemas import (
    END_TS,
    INBOUND,
    MOVE,
    N_EVENTS,
    START_TS,
    STATE,
    STAY,
    UNDETERMINED,
)
from rmf_spark.slayer.tourism.countries import UNKNOWN_COUNTRY, mcc_country_column
from rmf_spark.slayer.tourism.nights import (
    STAY_END,
    STAY_S,
    STAY_START,
    aggregate_indicators,
    area_weights,
    local_day,
    night_dates,
    stay_tiles,
    with_joined_stays,
)
from rmf_spark.slayer.tourism.schemas import (
    ALL_AREAS,
    ARRIVALS,
    ARRIVED_BEFORE,
    COUNTRY_OF_ORIGIN,
    DAYS_SEEN,
    DEPARTS_AFTER,
    DEPARTURES,
    INDICATOR,
    LEVEL_TERRITORY,
    NIGHTS,
    STAYS,
    VISIT_END,
    VISIT_START,
    VISITORS,
)
from rmf_spark.slayer.tourism.settings import TourismSettings

__all__ = [
    "InboundTourism",
    "compute_inbound_nights",
    "compute_inbound_stays",
    "compute_inbound_tourism",
    "compute_seen_days",
    "compute_visits",
    "factors_from_inbound_share",
    "inbound_origins",
]

#: the tiles an inbound night or stay is spread over
TILES_COL = "tiles"
_VISIT = "_visit"


class InboundTourism(NamedTuple):
    """:func:`compute_inbound_tourism`'s result."""

    #: one row per visit overlapping the period (``INBOUND_VISITS_SCHEMA`` without the
    #: period and the bucket)
    visits: DataFrame
    #: ``INBOUND_TOURISM_SCHEMA``
    indicators: DataFrame


def inbound_origins(events: DataFrame) -> DataFrame:
    """``device_id, country_of_origin``: the country of each inbound device's home network.

    Parameters
    ----------
    events
        C-layer ``event_location`` rows (``device_id, mcc, domain``); only ``domain =
        'inbound'`` rows are read. A device's MCC is its most frequent one (ties: the
        smallest); an MCC not in the reference table gives ``ZZ``.
    """
    counts = (
        events.where(F.col("domain") == "inbound")
        .groupBy(DEVICE_ID, "mcc")
        .agg(F.count("*").alias("_n"))
    )
    most = F.min_by("mcc", F.struct(-F.col("_n"), F.col("mcc")))
    return counts.groupBy(DEVICE_ID).agg(mcc_country_column(most).alias(COUNTRY_OF_ORIGIN))


def compute_seen_days(segments: DataFrame) -> DataFrame:
    """``device_id, date``: the days each inbound device is seen (module notes, 1)."""
    seen = F.col(STATE).isin(STAY, MOVE, UNDETERMINED) & (F.col(N_EVENTS) > 0)
    return segments.where(F.col(INBOUND) & seen).select(DEVICE_ID, DATE).distinct()


def compute_visits(seen: DataFrame, *, max_unseen_days: int) -> DataFrame:
    """``device_id, visit_start, visit_end``: the visits made of the days seen (notes, 2)."""
    order = Window.partitionBy(DEVICE_ID).orderBy(DATE)
    gap = F.datediff(F.col(DATE), F.lag(DATE).over(order))
    new = F.coalesce(gap > max_unseen_days + 1, F.lit(True))
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        seen.withColumn(_VISIT, F.sum(new.cast("int")).over(upto))
        .groupBy(DEVICE_ID, _VISIT)
        .agg(F.min(DATE).alias(VISIT_START), F.max(DATE).alias(VISIT_END))
        .drop(_VISIT)
    )


def _inbound_stays(segments: DataFrame) -> DataFrame:
    return with_joined_stays(segments.where(F.col(INBOUND) & (F.col(STATE) == STAY)))


def compute_inbound_nights(segments: DataFrame, settings: TourismSettings) -> DataFrame:
    """``device_id, date, tiles``: the nights spent (``date``: the night's), each with the
    tiles of the stay part holding its functional midnight (notes, 4)."""
    s = settings
    held = night_dates(F.col(START_TS), F.col(END_TS), s.time_zone, s.functional_midnight_hour)
    return (
        _inbound_stays(segments)
        .where(F.col(STAY_S) >= s.min_night_stay_s)
        .select(
            DEVICE_ID, F.explode(held).alias(DATE), stay_tiles(s.stay_location).alias(TILES_COL)
        )
    )


def compute_inbound_stays(segments: DataFrame, settings: TourismSettings) -> DataFrame:
    """``device_id, stay_start, stay_end, date, tiles``: the tourism stays, ``date`` the local
    day of their start, ``tiles`` those of their first part (notes, 3)."""
    s = settings
    first = F.col(START_TS) == F.col(STAY_START)
    return (
        _inbound_stays(segments)
        .where((F.col(STAY_S) >= s.min_stay_s) & first)
        .select(
            DEVICE_ID,
            STAY_START,
            STAY_END,
            local_day(F.col(STAY_START), s.time_zone).alias(DATE),
            stay_tiles(s.stay_location).alias(TILES_COL),
        )
    )


def factors_from_inbound_share(share: DataFrame) -> DataFrame:
    """``country_of_origin, expansion_factor`` (``1 / share``) from ``country, share`` rows
    (countries without a positive share are left out)."""
    return share.where(F.col("share") > 0).select(
        F.col("country").alias(COUNTRY_OF_ORIGIN),
        (F.lit(1.0) / F.col("share").cast("double")).alias(EXPANSION_FACTOR),
    )


def _territory(df: DataFrame, indicator: str, date: Column) -> DataFrame:
    return df.select(
        DEVICE_ID,
        date.alias(DATE),
        F.lit(indicator).alias(INDICATOR),
        F.lit(LEVEL_TERRITORY).alias(LEVEL),
        F.lit(ALL_AREAS).alias(AREA_ID),
        F.lit(1.0).alias("weight"),
    )


def _spread(df: DataFrame, indicator: str, areas: DataFrame, keys: list[str]) -> DataFrame:
    """The items of ``df`` at the territory level and spread over the areas."""
    spread = area_weights(df, keys=keys, tiles=TILES_COL, areas=areas)
    return _territory(df, indicator, F.col(DATE)).unionByName(
        spread.select(DEVICE_ID, DATE, F.lit(indicator).alias(INDICATOR), LEVEL, AREA_ID, "weight")
    )


def compute_inbound_tourism(
    segments: DataFrame,
    *,
    origins: DataFrame,
    areas: DataFrame,
    start: dt.date,
    end: dt.date,
    settings: TourismSettings,
    factors: DataFrame | None = None,
    default_factor: float | None = None,
) -> InboundTourism:
    """The visits and indicators of the period ``start .. end`` (module notes).

    Parameters
    ----------
    segments
        ``slayer/time_segments`` rows (``SEGMENTS_SCHEMA``) of the days ``start - 1 -
        max_unseen_days .. end + 1 + max_unseen_days``; only the inbound ones are read.
    origins
        ``device_id, country_of_origin`` (:func:`inbound_origins`); a device without one is
        of origin ``ZZ``.
    areas
        ``tile_id, level, area_id`` at the levels of ``tourism.levels``
        (:func:`rmf_spark.slayer.mobility.od.tile_areas`).
    start, end
        The period (days of the indicators).
    settings
        ``[tourism]``.
    factors
        ``country_of_origin, expansion_factor`` (:func:`factors_from_inbound_share`); None:
        no persons.
    default_factor
        The factor of origins without one; None: their persons are null.
    """
    s = settings
    in_period = F.col(DATE).between(F.lit(start), F.lit(end))
    seen = compute_seen_days(segments)
    # a visit arriving after midnight on end + 1 spent the night of end in the country
    visits = compute_visits(seen, max_unseen_days=s.inbound.max_unseen_days).where(
        (F.col(VISIT_START) <= F.lit(end + dt.timedelta(days=1)))
        & (F.col(VISIT_END) >= F.lit(start))
    )
    nights = compute_inbound_nights(segments, s).where(in_period)
    stays = compute_inbound_stays(segments, s).where(in_period)
    same_device = F.col("v." + DEVICE_ID) == F.col("x." + DEVICE_ID)
    item_day = F.col("x." + DATE)

    def per_visit(items: DataFrame, name: str, *, from_eve: bool) -> DataFrame:
        # a night (or a stay begun just before midnight) of the eve of the first day seen
        # belongs to the visit: its morning is the first day seen
        first = F.date_sub(F.col(VISIT_START), 1) if from_eve else F.col(VISIT_START)
        on = same_device & (item_day >= first) & (item_day <= F.col(VISIT_END))
        return (
            visits.alias("v")
            .join(items.select(DEVICE_ID, DATE).alias("x"), on, "inner")
            .groupBy("v." + DEVICE_ID, VISIT_START)
            .agg(F.count("*").cast("int").alias(name))
        )

    country = F.coalesce(F.col(COUNTRY_OF_ORIGIN), F.lit(UNKNOWN_COUNTRY))
    by_visit = [DEVICE_ID, VISIT_START]
    visit_rows = (
        visits.join(per_visit(seen.where(in_period), DAYS_SEEN, from_eve=False), by_visit, "left")
        .join(per_visit(nights, NIGHTS, from_eve=True), by_visit, "left")
        .join(per_visit(stays, STAYS, from_eve=True), by_visit, "left")
        .join(origins, DEVICE_ID, "left")
        .select(
            DEVICE_ID,
            country.alias(COUNTRY_OF_ORIGIN),
            VISIT_START,
            VISIT_END,
            *[
                F.coalesce(F.col(c), F.lit(0)).cast("int").alias(c)
                for c in (DAYS_SEEN, NIGHTS, STAYS)
            ],
            (F.col(VISIT_START) < F.lit(start)).alias(ARRIVED_BEFORE),
            (F.col(VISIT_END) > F.lit(end)).alias(DEPARTS_AFTER),
        )
    )
    first, last = (
        F.greatest(F.col(VISIT_START), F.lit(start)),
        F.least(F.col(VISIT_END), F.lit(end)),
    )
    covered = F.explode(
        F.when(first <= last, F.sequence(first, last)).otherwise(F.array().cast("array<date>"))
    )
    items = (
        _territory(visits.select(DEVICE_ID, covered.alias(DATE)), VISITORS, F.col(DATE))
        .unionByName(_territory(visits, ARRIVALS, F.col(VISIT_START)))
        .unionByName(_territory(visits, DEPARTURES, F.col(VISIT_END)))
        .where(in_period)
        .unionByName(_spread(nights, NIGHTS, areas, [DEVICE_ID, DATE]))
        .unionByName(_spread(stays, STAYS, areas, [DEVICE_ID, DATE, STAY_START]))
        .join(origins, DEVICE_ID, "left")
        .withColumn(COUNTRY_OF_ORIGIN, country)
    )
    indicators = aggregate_indicators(
        items,
        country=COUNTRY_OF_ORIGIN,
        factors=None if factors is None else F.broadcast(factors),
        on=COUNTRY_OF_ORIGIN,
        default_factor=default_factor,
    )
    return InboundTourism(visit_rows, indicators)
