"""Columns and tables of device-level inference (personal data: these never leave the MNO).

``<mno>/slayer/time_segments`` (:data:`SEGMENTS_SCHEMA`): one row per (device, day, segment);
``<mno>/slayer/daily_permanence`` (:data:`PERMANENCE_SCHEMA`): one row per (device, day, slot);
``<mno>/slayer/location_posterior`` (:data:`TIME_POINT_POSTERIOR_SCHEMA` plus ``date``): one
row per (device, time point), its tiles and probabilities as two aligned arrays;
``<mno>/slayer/device_day`` (:data:`DEVICE_DAY_SCHEMA`): one row per device-day.
Each is partitioned by ``date, device_bucket`` (:data:`DEVICE_PARTITIONS`). The compressed
event rows (:data:`COMPRESSED_COLUMNS`) are an intermediate, not a table.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DEVICE_ID,
    FOOTPRINT_VERSION,
    TIMING_ADVANCE,
)
from rmf_spark.slayer.present_population.schemas import TA_STEP_M, TIME_POINT

__all__ = [
    "ABROAD",
    "ABROAD_ONLY",
    "ABROAD_SLOT",
    "ABROAD_STATE",
    "BEST_TILE",
    "CELLS",
    "CELL_KEY",
    "COMPRESSED_COLUMNS",
    "CONTEXT",
    "DAY_END",
    "DAY_START",
    "DAY_STATUS",
    "DAY_STATUSES",
    "DEVICE_BUCKET",
    "DEVICE_DAY_SCHEMA",
    "DEVICE_PARTITIONS",
    "END_TS",
    "FIRST_TS",
    "GRID",
    "ID_TYPE",
    "ID_TYPES",
    "INBOUND",
    "LAST_TS",
    "LOCATED",
    "LOCATED_EVENTS",
    "LOCATION_TILES",
    "LOG_LIKELIHOOD",
    "MOVE",
    "NO_FOOTPRINT",
    "N_EVENTS",
    "N_SEGMENTS",
    "PERMANENCE_SCHEMA",
    "POSTERIOR_TABLE_SCHEMA",
    "PROBABILITIES",
    "PROBABILITY",
    "RADIUS_M",
    "ROWS",
    "ROWS_WITHOUT_FOOTPRINT",
    "SEGMENTS_SCHEMA",
    "SEGMENT_INDEX",
    "SLOT_INDEX",
    "SLOT_START",
    "START_TS",
    "STATE",
    "STATES",
    "STAY",
    "TILES",
    "TILE_IDS",
    "TIME_POINT_POSTERIOR_SCHEMA",
    "UNDETERMINED",
    "UNKNOWN",
    "UNKNOWN_SLOT",
    "VISITED_PLMN",
    "with_table_columns",
]

#: the D-layer's bucket of a device (``pmod(xxhash64(device_id), ingest.n_device_buckets)``)
DEVICE_BUCKET = "device_bucket"
DEVICE_PARTITIONS = (DATE, DEVICE_BUCKET)

# --- compressed event rows (compress.py): one row per run of identical observations ---------
FIRST_TS = "first_ts"
LAST_TS = "last_ts"
N_EVENTS = "n_events"
#: the event was made on a foreign visited network (the device is abroad)
ABROAD = "abroad"
#: PLMN (MCC + MNC) of the visited foreign network of an abroad event
VISITED_PLMN = "visited_plmn"
#: the device's SIM is foreign (C-layer ``domain = 'inbound'``)
INBOUND = "inbound"
#: a row of a neighbouring day, copied into a device-day to continue its first/last segment
CONTEXT = "context"
DAY_START = "day_start"
DAY_END = "day_end"
#: 64-bit hash of (cell_id, footprint_version), computed in Spark: it stands for the two
#: strings in the footprints a device-day's pandas group receives (hundreds of thousands of
#: (cell, tile) rows, whose strings cost more to ship and factorise than the model itself)
CELL_KEY = "cell_key"

COMPRESSED_COLUMNS = (
    DEVICE_ID, FIRST_TS, LAST_TS, N_EVENTS, CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE,
    TA_STEP_M, ABROAD, VISITED_PLMN, INBOUND,
)  # fmt: skip

# --- segments ---------------------------------------------------------------------------------
SEGMENT_INDEX = "segment_index"
STATE = "state"
START_TS = "start_ts"
END_TS = "end_ts"
CELLS = "cells"
TILES = "tiles"
BEST_TILE = "best_tile"
RADIUS_M = "radius_m"
#: a located segment's fewest most probable tiles holding ``device.hmm.location_mass`` of its
#: location posterior (sorted; null when the HMM did not locate it)
LOCATION_TILES = "location_tiles"

STAY, MOVE, UNDETERMINED, UNKNOWN, ABROAD_STATE = (
    "stay",
    "move",
    "undetermined",
    "unknown",
    "abroad",
)
#: the states of a segment; every instant of a device-day is in exactly one segment
STATES = (STAY, MOVE, UNDETERMINED, UNKNOWN, ABROAD_STATE)

#: ``tiles`` is the common intersection of the footprints of the segment's events (stay,
#: undetermined; empty otherwise); ``best_tile`` and ``radius_m`` (centre-to-centre distance
#: holding ``device.hmm.radius_mass`` of the segment's mean posterior) are null without HMM.
SEGMENTS_SCHEMA = StructType(
    [
        StructField(DEVICE_ID, StringType(), False),
        StructField(DATE, DateType(), False),
        StructField(SEGMENT_INDEX, IntegerType(), False),
        StructField(STATE, StringType(), False),
        StructField(START_TS, TimestampType(), False),
        StructField(END_TS, TimestampType(), False),
        StructField(N_EVENTS, LongType(), False),
        StructField(CELLS, ArrayType(StringType(), False), False),
        StructField(TILES, ArrayType(LongType(), False), False),
        StructField(VISITED_PLMN, StringType(), True),
        StructField(BEST_TILE, LongType(), True),
        StructField(RADIUS_M, DoubleType(), True),
        StructField(LOCATION_TILES, ArrayType(LongType(), False), True),
        StructField(INBOUND, BooleanType(), True),
    ]
)

# --- daily permanence -------------------------------------------------------------------------
SLOT_INDEX = "slot_index"
SLOT_START = "slot_start"
ID_TYPE = "id_type"
GRID, UNKNOWN_SLOT, ABROAD_SLOT = "grid", "unknown", "abroad"
#: what a slot's ``tiles`` hold (MultiMNO ``id_type``)
ID_TYPES = (GRID, UNKNOWN_SLOT, ABROAD_SLOT)

#: ``tiles``: the tiles where the device stayed at least ``min_share`` of the slot (``grid``;
#: may be empty when it moved), empty for ``unknown`` and ``abroad`` slots.
PERMANENCE_SCHEMA = StructType(
    [
        StructField(DEVICE_ID, StringType(), False),
        StructField(DATE, DateType(), False),
        StructField(SLOT_INDEX, IntegerType(), False),
        StructField(SLOT_START, TimestampType(), False),
        StructField(ID_TYPE, StringType(), False),
        StructField(TILES, ArrayType(LongType(), False), False),
        StructField(VISITED_PLMN, StringType(), True),
    ]
)

# --- device-days: what the stage did with each (the bad-input accounting) -------------------
ROWS = "rows"
ROWS_WITHOUT_FOOTPRINT = "rows_without_footprint"
LOCATED_EVENTS = "located_events"
N_SEGMENTS = "segments"
LOG_LIKELIHOOD = "log_likelihood"
DAY_STATUS = "status"
#: a device-day's status: HMM events located it, it was only abroad, or none of its domestic
#: cells had a footprint that day (a cell plan gap: the whole day is one ``unknown`` segment)
LOCATED, ABROAD_ONLY, NO_FOOTPRINT = "located", "abroad_only", "no_footprint"
DAY_STATUSES = (LOCATED, ABROAD_ONLY, NO_FOOTPRINT)

#: one row per device-day: compressed rows of its own day, those whose cell had no footprint,
#: HMM events, segments, the HMM log-likelihood (null when nothing was located; later stages
#: compare devices by it) and the status
DEVICE_DAY_SCHEMA = StructType(
    [
        StructField(DEVICE_ID, StringType(), False),
        StructField(DATE, DateType(), False),
        StructField(ROWS, IntegerType(), False),
        StructField(ROWS_WITHOUT_FOOTPRINT, IntegerType(), False),
        StructField(LOCATED_EVENTS, IntegerType(), False),
        StructField(N_SEGMENTS, IntegerType(), False),
        StructField(LOG_LIKELIHOOD, DoubleType(), True),
        StructField(INBOUND, BooleanType(), True),
        StructField(DAY_STATUS, StringType(), False),
    ]
)

# --- location posteriors at time points -------------------------------------------------------
PROBABILITY = "probability"
#: a stored posterior's tiles and their probabilities (aligned arrays)
TILE_IDS, PROBABILITIES = "tile_ids", "probabilities"
#: per (device, time point), the fewest tiles holding ``device.hmm.posterior_mass`` of the
#: posterior of the nearest HMM event, renormalised: ``probabilities`` sums to 1. One row per
#: time point, not per tile: a CDR device's posterior spans thousands of tiles, and a row per
#: tile made the stage's output (and its Arrow conversion) tens of thousands of rows per
#: device-day. :func:`~rmf_spark.slayer.device.device_days.posterior_tiles` gives one row
#: per tile (``tile_id, probability``).
TIME_POINT_POSTERIOR_SCHEMA = StructType(
    [
        StructField(DEVICE_ID, StringType(), False),
        StructField(TIME_POINT, TimestampType(), False),
        StructField(TILE_IDS, ArrayType(LongType(), False), False),
        StructField(PROBABILITIES, ArrayType(DoubleType(), False), False),
    ]
)


def with_table_columns(schema: StructType) -> StructType:
    """``schema`` as stored in the lake: ``date`` (if absent) and ``device_bucket`` added."""
    extra = [] if DATE in schema.fieldNames() else [StructField(DATE, DateType(), False)]
    return StructType([*schema.fields, *extra, StructField(DEVICE_BUCKET, IntegerType(), False)])


#: ``slayer/location_posterior`` before its bucket: the posteriors with their device-day
POSTERIOR_TABLE_SCHEMA = StructType(
    [*TIME_POINT_POSTERIOR_SCHEMA.fields, StructField(DATE, DateType(), False)]
)
