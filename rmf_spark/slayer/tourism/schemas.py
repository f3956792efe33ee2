"""Columns and tables of inbound and outbound tourism (``docs/mobility.md``, section 7).

Device level (personal data, never released), one row per visit or trip of the period:
``<mno>/slayer/inbound_visits`` (:data:`INBOUND_VISITS_SCHEMA`) and
``<mno>/slayer/outbound_trips`` (:data:`OUTBOUND_TRIPS_SCHEMA`), keyed by the period.
Aggregates, one row per (date, country, indicator, level, area):
``<mno>/slayer/inbound_tourism`` (:data:`INBOUND_TOURISM_SCHEMA`) and
``<mno>/slayer/outbound_tourism`` (:data:`OUTBOUND_TOURISM_SCHEMA`), keyed by the date.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from rmf_spark.clayer.schemas import DATE, DEVICE_ID
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, EXPANSION_FACTOR, LEVEL, POPULATION
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.usual_environment.schemas import PERIOD_END, PERIOD_KEYS, PERIOD_START

__all__ = [
    "ALL_AREAS",
    "ARRIVALS",
    "ARRIVED_BEFORE",
    "BEGAN_BEFORE",
    "COUNTRY_OF_DESTINATION",
    "COUNTRY_OF_ORIGIN",
    "DAYS_SEEN",
    "DEPARTS_AFTER",
    "DEPARTURES",
    "ENDS_AFTER",
    "ENTRY_TS",
    "EXIT_TS",
    "INBOUND_INDICATORS",
    "INBOUND_SHARE_SCHEMA",
    "INBOUND_TOURISM_SCHEMA",
    "INBOUND_VISITS_SCHEMA",
    "INDICATOR",
    "LEVEL_TERRITORY",
    "NIGHTS",
    "OUTBOUND_INDICATORS",
    "OUTBOUND_TOURISM_SCHEMA",
    "OUTBOUND_TRIPS_SCHEMA",
    "PERIOD_KEYS",
    "STAYS",
    "TRIPS",
    "TRIP_END",
    "TRIP_START",
    "UNKNOWN_HOME",
    "VISITORS",
    "VISIT_END",
    "VISIT_START",
]

#: ISO 3166 alpha-2 code of the device's home network (inbound) or visited network (outbound)
COUNTRY_OF_ORIGIN = "country_of_origin"
COUNTRY_OF_DESTINATION = "country_of_destination"
#: what a row of an aggregate counts
INDICATOR = "indicator"
#: devices in the country that day (a visit covers the day)
VISITORS = "visitors"
#: visits beginning / ending that day
ARRIVALS, DEPARTURES = "arrivals", "departures"
#: nights spent (the night of a date: from its evening to the functional midnight after it)
NIGHTS = "nights"
#: tourism stays (inbound) beginning that day
STAYS = "stays"
#: trips abroad entering the destination that day (outbound)
TRIPS = "trips"
INBOUND_INDICATORS = (VISITORS, ARRIVALS, DEPARTURES, NIGHTS, STAYS)
OUTBOUND_INDICATORS = (TRIPS, NIGHTS)
#: the level of the whole territory (area ``all``), besides ``zone_<n>``, ``1km``, ``100m``
LEVEL_TERRITORY = "territory"
ALL_AREAS = "all"
#: the home area of a traveller without a home label (outbound)
UNKNOWN_HOME = "unknown"

# --- inbound visits (device level) -------------------------------------------------------------
VISIT_START, VISIT_END = "visit_start", "visit_end"
DAYS_SEEN = "days_seen"
ARRIVED_BEFORE, DEPARTS_AFTER = "arrived_before", "departs_after"

_PERIOD = [StructField(PERIOD_START, DateType(), False), StructField(PERIOD_END, DateType(), False)]


def _s(*fields: tuple[str, object, bool]) -> list[StructField]:
    return [StructField(n, t, nullable) for n, t, nullable in fields]  # type: ignore[arg-type]


#: one row per visit overlapping the period: its first and last day seen (in the days read,
#: which reach ``1 + inbound.max_unseen_days`` days either side of the period), the days
#: seen, nights spent and tourism stays begun within the period, and whether the visit began
#: before / goes on after the period
INBOUND_VISITS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (COUNTRY_OF_ORIGIN, StringType(), False),
        (VISIT_START, DateType(), False),
        (VISIT_END, DateType(), False),
        (DAYS_SEEN, IntegerType(), False),
        (NIGHTS, IntegerType(), False),
        (STAYS, IntegerType(), False),
        (ARRIVED_BEFORE, BooleanType(), False),
        (DEPARTS_AFTER, BooleanType(), False),
        (DEVICE_BUCKET, IntegerType(), False),
    )
)

# --- outbound trips (device level) -------------------------------------------------------------
TRIP_START, TRIP_END = "trip_start", "trip_end"
ENTRY_TS, EXIT_TS = "entry_ts", "exit_ts"
BEGAN_BEFORE, ENDS_AFTER = "began_before", "ends_after"

#: one row per trip abroad and destination country overlapping the period: the trip's first
#: and last instant abroad, the first and last in this country, the nights spent there within
#: the period, and whether the trip began before / goes on after the period
OUTBOUND_TRIPS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (TRIP_START, TimestampType(), False),
        (TRIP_END, TimestampType(), False),
        (COUNTRY_OF_DESTINATION, StringType(), False),
        (ENTRY_TS, TimestampType(), False),
        (EXIT_TS, TimestampType(), False),
        (NIGHTS, IntegerType(), False),
        (BEGAN_BEFORE, BooleanType(), False),
        (ENDS_AFTER, BooleanType(), False),
        (DEVICE_BUCKET, IntegerType(), False),
    )
)


def _aggregate(country: str) -> StructType:
    return StructType(
        _s(
            (DATE, DateType(), False),
            (country, StringType(), False),
            (INDICATOR, StringType(), False),
            (LEVEL, StringType(), False),
            (AREA_ID, StringType(), False),
            (DEVICES, DoubleType(), False),
            (POPULATION, DoubleType(), True),
            (EXPANSION_FACTOR, DoubleType(), True),
        )
    )


#: per date, origin country, indicator (:data:`INBOUND_INDICATORS`), level and area: devices
#: (fractional where a stay is spread over areas) and persons (``population``, null without a
#: share for the country); ``visitors``, ``arrivals`` and ``departures`` only at the
#: ``territory`` level
INBOUND_TOURISM_SCHEMA = _aggregate(COUNTRY_OF_ORIGIN)
#: per date, destination country, indicator (:data:`OUTBOUND_INDICATORS`), level and home area
#: of the travellers (``unknown`` without a home label)
OUTBOUND_TOURISM_SCHEMA = _aggregate(COUNTRY_OF_DESTINATION)

#: a reference table of inbound shares (``inbound.share_table``; a synthetic world's
#: ``reference/inbound_share``): the share of each origin country's visitors on each MNO
INBOUND_SHARE_SCHEMA = StructType(
    _s(
        ("mno_id", StringType(), True),
        ("country", StringType(), True),
        ("share", DoubleType(), True),
    )
)
