"""Trips: the moves of a device between two consecutive stays, from its time segments.

``<mno>/slayer/trips`` (:data:`TRIPS_SCHEMA`, personal data: never leaves the MNO): one row
per trip, ``device_id, date, departure_ts, arrival_ts, time_band, origin_stay_s,
destination_stay_s, unknown_s, origin_tile_ids, origin_weights, destination_tile_ids,
destination_weights, inbound``.

Notes
-----
Input: ``slayer/time_segments`` (:data:`~rmf_spark.slayer.device.schemas.SEGMENTS_SCHEMA`),
every segment of a device in time order (``date``, then ``segment_index``).

1. *Stays across midnight.* The device stage clips segments to the day, so a night at home is
   the last ``stay`` of day D, ending at D's end, and the first ``stay`` of D + 1, starting
   at that instant. Such parts (consecutive stays of different days, the first ending when
   the second starts) are one stay, from the first part's start to the last part's end.
2. *Trip ends.* A stay lasting at least ``min_stay_s`` (after step 1) is an *anchor*; a
   shorter one is part of the path, like ``move``, ``undetermined`` and ``unknown``
   segments. An ``abroad`` segment breaks the chain: no domestic trip crosses it.
3. *Trips.* Each anchor followed by another anchor (not by an abroad segment) gives a trip:
   ``departure_ts`` = end of the first, ``arrival_ts`` = start of the second, ``unknown_s`` =
   unknown time between them. It is not a trip when
   ``unknown_s > max_unknown_s`` (the day of the move is not known), nor when the path holds
   only unknown time (no move, undetermined or short stay seen) and the two stays' footprint
   tiles overlap: the device was silent longer than a stay's largest silence
   (``device.segments.max_gap_stay_s``) where it could have been all along.
4. *Locations.* A trip end is spread with equal weights, ``w(j) = 1 / |T|`` for ``j`` in
   ``T``, over the tiles ``T`` of one part of its stay (``stay_location``): its
   ``location_tiles`` (the HMM's fewest most probable tiles holding half of the part's
   location), else ``[best_tile]``, else its footprint ``tiles``. The origin takes the last
   part of its stay (where the device was when it left), the destination the first part of
   its own (where it arrived): the parts of a stay are one place by construction, and a
   part's location is the mean over that part only.
5. *Day and band.* ``date`` = local date of ``departure_ts - day_start_hour`` (in
   ``time_zone``); ``time_band`` = the band holding the local departure hour.

Trips near the ends of the input lose their first or last stay's outside part: to have every
trip departing on days D1..D2, pass the segments of D1 - 1 .. D2 + 1 and keep ``date`` in
D1..D2 (a path longer than a day, up to ``max_unknown_s``, needs more).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from rmf_spark.clayer.schemas import DATE, DEVICE_ID
from rmf_spark.slayer.device.schemas import (
    ABROAD_STATE,
    BEST_TILE,
    END_TS,
    INBOUND,
    LOCATION_TILES,
    MOVE,
    SEGMENT_INDEX,
    START_TS,
    STATE,
    STAY,
    TILES,
    UNDETERMINED,
    UNKNOWN,
)
from rmf_spark.slayer.mobility.settings import MobilitySettings

__all__ = [
    "ARRIVAL_TS",
    "DEPARTURE_TS",
    "DESTINATION_STAY_S",
    "DESTINATION_TILE_IDS",
    "DESTINATION_WEIGHTS",
    "ORIGIN_STAY_S",
    "ORIGIN_TILE_IDS",
    "ORIGIN_WEIGHTS",
    "TIME_BAND",
    "TRIPS_SCHEMA",
    "TRIP_KEY",
    "UNKNOWN_S",
    "compute_trips",
    "local_day_and_band",
]

DEPARTURE_TS, ARRIVAL_TS = "departure_ts", "arrival_ts"
TIME_BAND = "time_band"
ORIGIN_STAY_S, DESTINATION_STAY_S = "origin_stay_s", "destination_stay_s"
#: seconds of ``unknown`` segments between the two stays
UNKNOWN_S = "unknown_s"
#: a trip end's tiles and their weights (aligned arrays, tiles sorted, weights summing to 1)
ORIGIN_TILE_IDS, ORIGIN_WEIGHTS = "origin_tile_ids", "origin_weights"
DESTINATION_TILE_IDS, DESTINATION_WEIGHTS = "destination_tile_ids", "destination_weights"
#: the columns that identify a trip
TRIP_KEY = (DEVICE_ID, DEPARTURE_TS, ARRIVAL_TS)

#: ``date``: local day of the departure; ``time_band``: ``mobility.time_bands`` name of the
#: local departure hour; ``*_stay_s``: durations of the two stays (parts joined); ``inbound``:
#: the origin stay's device-day flag (foreign SIM)
TRIPS_SCHEMA = StructType(
    [
        StructField(DEVICE_ID, StringType(), False),
        StructField(DATE, DateType(), False),
        StructField(DEPARTURE_TS, TimestampType(), False),
        StructField(ARRIVAL_TS, TimestampType(), False),
        StructField(TIME_BAND, StringType(), False),
        StructField(ORIGIN_STAY_S, DoubleType(), False),
        StructField(DESTINATION_STAY_S, DoubleType(), False),
        StructField(UNKNOWN_S, DoubleType(), False),
        StructField(ORIGIN_TILE_IDS, ArrayType(LongType(), False), False),
        StructField(ORIGIN_WEIGHTS, ArrayType(DoubleType(), False), False),
        StructField(DESTINATION_TILE_IDS, ArrayType(LongType(), False), False),
        StructField(DESTINATION_WEIGHTS, ArrayType(DoubleType(), False), False),
        StructField(INBOUND, BooleanType(), True),
    ]
)

# working columns
_BLOCK, _DUR, _PLACE, _LOC, _ANCHOR = "_block", "_dur", "_place", "_loc", "_anchor"
_FIRST_LOC, _LAST_LOC = "_first_loc", "_last_loc"
_CUM_UNKNOWN, _CUM_SEEN = "_cum_unknown", "_cum_seen"


def _seconds(start: Column, end: Column) -> Column:
    return (F.unix_micros(end) - F.unix_micros(start)) / F.lit(1e6)


def _has(arr: Column) -> Column:
    return F.coalesce(F.size(arr), F.lit(0)) > 0


def _stay_tiles(settings: MobilitySettings) -> Column:
    """A stay part's tiles (module notes, 4)."""
    best = F.when(F.col(BEST_TILE).isNotNull(), F.array(F.col(BEST_TILE)))
    footprint = F.col(TILES)
    if settings.stay_location == "footprint":
        return footprint
    if settings.stay_location == "best_tile":
        return F.coalesce(best, footprint)
    loc = F.when(_has(F.col(LOCATION_TILES)), F.col(LOCATION_TILES))
    return F.coalesce(loc, best, footprint)


def local_day_and_band(ts: Column, settings: MobilitySettings) -> tuple[Column, Column]:
    """The local day (``day_start_hour`` shifted) and time band of the instants ``ts``."""
    local = F.from_utc_timestamp(ts, settings.time_zone)
    day = F.to_date(local - F.expr(f"INTERVAL {int(settings.day_start_hour)} HOURS"))
    hour = F.hour(local)
    band: Column | None = None
    for name, iv in settings.time_bands.items():
        held = (
            (hour >= iv.start_hour) & (hour < iv.end_hour)
            if iv.start_hour < iv.end_hour
            else (hour >= iv.start_hour) | (hour < iv.end_hour)
        )
        band = F.when(held, F.lit(name)) if band is None else band.when(held, F.lit(name))
    assert band is not None  # the settings hold at least one band (every hour is in one)
    return day, band


def _blocks(segments: DataFrame, settings: MobilitySettings) -> DataFrame:
    """One row per stay (parts across midnight joined) or other segment (notes 1, 4)."""
    order = Window.partitionBy(DEVICE_ID).orderBy(DATE, SEGMENT_INDEX)
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    is_stay = F.col(STATE) == STAY
    continues = (
        is_stay
        & (F.lag(STATE).over(order) == STAY)
        & (F.lag(END_TS).over(order) == F.col(START_TS))
        & (F.lag(DATE).over(order) < F.col(DATE))
    )
    parts = segments.select(
        DEVICE_ID, DATE, SEGMENT_INDEX, STATE, START_TS, END_TS, TILES, INBOUND,
        F.when(is_stay, _stay_tiles(settings)).alias(_LOC),
    ).withColumn(
        _BLOCK, F.sum(F.when(continues, 0).otherwise(1)).over(upto)
    )  # fmt: skip
    return parts.groupBy(DEVICE_ID, _BLOCK).agg(
        F.first(STATE).alias(STATE),
        F.min(START_TS).alias(START_TS),
        F.max(END_TS).alias(END_TS),
        F.sort_array(F.array_distinct(F.flatten(F.collect_list(TILES)))).alias(_PLACE),
        F.min_by(_LOC, DATE).alias(_FIRST_LOC),
        F.max_by(_LOC, DATE).alias(_LAST_LOC),
        F.max(INBOUND).alias(INBOUND),
    )


def _uniform(tiles: Column) -> tuple[Column, Column]:
    """Sorted distinct ``tiles`` and their equal weights (notes, 4)."""
    distinct = F.sort_array(F.array_distinct(tiles))
    return distinct, F.transform(distinct, lambda _: F.lit(1.0) / F.size(distinct))


def compute_trips(segments: DataFrame, settings: MobilitySettings) -> DataFrame:
    """The trips of the devices in ``segments`` (rules: module notes).

    Parameters
    ----------
    segments
        ``slayer/time_segments`` rows (``SEGMENTS_SCHEMA``; other columns are ignored), for a
        run of consecutive days (module notes: the days either side of those wanted).
    settings
        ``[mobility]``.

    Returns
    -------
    DataFrame
        :data:`TRIPS_SCHEMA`, one row per trip.
    """
    s = settings
    blocks = _blocks(segments, s)
    dur = _seconds(F.col(START_TS), F.col(END_TS))
    anchor = (F.col(STATE) == STAY) & (dur >= s.min_stay_s)
    seen = F.col(STATE).isin(MOVE, UNDETERMINED) | ((F.col(STATE) == STAY) & ~anchor)
    order = Window.partitionBy(DEVICE_ID).orderBy(_BLOCK)
    upto = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    marked = (
        blocks.withColumn(_DUR, dur)
        .withColumn(_ANCHOR, anchor)
        .withColumn(
            _CUM_UNKNOWN,
            F.sum(F.when(F.col(STATE) == UNKNOWN, F.col(_DUR)).otherwise(0.0)).over(upto),
        )
        .withColumn(_CUM_SEEN, F.sum(seen.cast("long")).over(upto))
        .where(F.col(_ANCHOR) | (F.col(STATE) == ABROAD_STATE))
    )

    def nxt(name: str) -> Column:
        return F.lead(name).over(order)

    pairs = marked.select(
        "*",
        nxt(_ANCHOR).alias("_n_anchor"),
        nxt(START_TS).alias("_n_start"),
        nxt(_DUR).alias("_n_dur"),
        nxt(_PLACE).alias("_n_place"),
        nxt(_FIRST_LOC).alias("_n_loc"),
        (nxt(_CUM_UNKNOWN) - F.col(_CUM_UNKNOWN)).alias(UNKNOWN_S),
        (nxt(_CUM_SEEN) - F.col(_CUM_SEEN)).alias("_seen"),
    )
    silent_same_place = (F.col("_seen") == 0) & F.arrays_overlap(F.col(_PLACE), F.col("_n_place"))
    trips = pairs.where(
        F.col(_ANCHOR)
        & _has(F.col(_LAST_LOC))
        & _has(F.col("_n_loc"))
        & F.coalesce(F.col("_n_anchor"), F.lit(False))
        & (F.col(UNKNOWN_S) <= s.max_unknown_s)
        & ~silent_same_place
    )
    o_tiles, o_weights = _uniform(F.col(_LAST_LOC))
    d_tiles, d_weights = _uniform(F.col("_n_loc"))
    day, band = local_day_and_band(F.col(END_TS), s)
    return trips.select(
        DEVICE_ID,
        day.alias(DATE),
        F.col(END_TS).alias(DEPARTURE_TS),
        F.col("_n_start").alias(ARRIVAL_TS),
        band.alias(TIME_BAND),
        F.col(_DUR).alias(ORIGIN_STAY_S),
        F.col("_n_dur").alias(DESTINATION_STAY_S),
        F.col(UNKNOWN_S).cast("double").alias(UNKNOWN_S),
        o_tiles.alias(ORIGIN_TILE_IDS),
        o_weights.alias(ORIGIN_WEIGHTS),
        d_tiles.alias(DESTINATION_TILE_IDS),
        d_weights.alias(DESTINATION_WEIGHTS),
        F.col(INBOUND),
    )
