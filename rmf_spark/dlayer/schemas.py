"""Bronze tables written by the D-layer: schemas, partition columns and reason codes.

Where each table lives and how it is written is declared in :mod:`rmf_spark.tables`
(``bronze/*``, ``quality/*``). See docs/bronze.md for the meaning of each column.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

__all__ = [
    "CELLS_AUDIT_SCHEMA",
    "CELLS_PARTITION_COLS",
    "CELLS_QUARANTINE_SCHEMA",
    "CELLS_SCHEMA",
    "CELL_REASONS",
    "EVENTS_PARTITION_COLS",
    "EVENTS_SCHEMA",
    "EVENT_REASONS",
    "LOAD_AUDIT_SCHEMA",
    "QUALITY_METRICS_SCHEMA",
    "QUALITY_WARNINGS_SCHEMA",
    "QUARANTINE_SCHEMA",
]

# Event reason codes (docs/tables.md section 4, docs/bronze.md).
NULL_MANDATORY = "NULL_MANDATORY"
BAD_TIMESTAMP = "BAD_TIMESTAMP"
OUT_OF_DAY = "OUT_OF_DAY"
MALFORMED_ROW = "MALFORMED_ROW"
INVALID_ENCODING = "INVALID_ENCODING"
BAD_MCC_MNC = "BAD_MCC_MNC"
BAD_CELL_ID = "BAD_CELL_ID"
BAD_COORDINATES = "BAD_COORDINATES"
BAD_VALUE = "BAD_VALUE"
EVENT_REASONS = (
    NULL_MANDATORY,
    BAD_TIMESTAMP,
    OUT_OF_DAY,
    MALFORMED_ROW,
    INVALID_ENCODING,
    BAD_MCC_MNC,
    BAD_CELL_ID,
    BAD_COORDINATES,
    BAD_VALUE,
)

# Cell-plan reason codes.
CELL_MISSING_ID = "CELL_MISSING_ID"
CELL_BAD_COORDINATES = "CELL_BAD_COORDINATES"
CELL_OUTSIDE_TERRITORY = "CELL_OUTSIDE_TERRITORY"
CELL_BAD_AZIMUTH = "CELL_BAD_AZIMUTH"
CELL_BAD_VALIDITY = "CELL_BAD_VALIDITY"
CELL_REASONS = (
    MALFORMED_ROW,
    INVALID_ENCODING,
    CELL_MISSING_ID,
    CELL_BAD_COORDINATES,
    CELL_OUTSIDE_TERRITORY,
    CELL_BAD_AZIMUTH,
    CELL_BAD_VALIDITY,
)

EVENTS_SCHEMA = StructType(
    [
        StructField("device_id", StringType(), False),
        StructField("event_ts", TimestampType(), False),
        # null on an outbound roaming record only (docs/bronze.md); Delta stores every column
        # of a DataFrame write as nullable, so tables written before read and write unchanged
        StructField("cell_id", StringType(), True),
        StructField("event_type", StringType(), True),
        StructField("technology", StringType(), True),
        StructField("mcc", IntegerType(), False),
        StructField("mnc", StringType(), False),
        StructField("plmn", StringType(), True),
        StructField("latitude", DoubleType(), True),
        StructField("longitude", DoubleType(), True),
        StructField("loc_error_m", DoubleType(), True),
        StructField("timing_advance", IntegerType(), True),
        StructField("record_id", StringType(), True),
        # inbound roamers only: keyed link of the foreign identifier (rmf_spark.dlayer.roamers)
        StructField("roamer_link", LongType(), True),
        StructField("source_file", StringType(), False),
        StructField("source_row", LongType(), False),
        StructField("mno_id", StringType(), False),
        StructField("date", DateType(), False),
        StructField("device_bucket", IntegerType(), False),
    ]
)
EVENTS_PARTITION_COLS = ("date", "device_bucket")
#: table properties set when bronze/events is created: file statistics (min/max/null counts,
#: used for data skipping) on event_ts only; statistics on every string column (the default:
#: the first 32 columns) cost about a tenth of the load's CPU
EVENTS_PROPERTIES = {"delta.dataSkippingStatsColumns": "event_ts"}

QUARANTINE_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("source_row", LongType(), False),
        StructField("record_id", StringType(), True),
        StructField("device_id", StringType(), True),
        StructField("reason_codes", ArrayType(StringType(), False), False),
        StructField("raw_content", StringType(), True),
        StructField("raw_encrypted", BinaryType(), True),
        StructField("date", DateType(), False),
    ]
)
QUARANTINE_PARTITION_COLS = ("date",)

#: the counts of a load (read = bronze + quarantined + duplicates)
_COUNT_FIELDS = [
    StructField("source_files", ArrayType(StringType(), False), False),
    StructField("rows_read", LongType(), False),
    StructField("rows_bronze", LongType(), False),
    StructField("rows_quarantined", LongType(), False),
    StructField("duplicates_removed", LongType(), False),
    StructField("quarantined_by_reason", MapType(StringType(), LongType(), False), False),
]

LOAD_AUDIT_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        *_COUNT_FIELDS,
        StructField("key_period_start", DateType(), False),
        StructField("profile", StringType(), False),
        StructField("loaded_at", TimestampType(), False),
        StructField("date", DateType(), False),
    ]
)
LOAD_AUDIT_PARTITION_COLS = ("date",)

_CELL_DOUBLES = (
    "x",
    "y",
    "latitude",
    "longitude",
    "altitude_m",
    "antenna_height_m",
)
CELLS_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        StructField("cell_id", StringType(), False),
        StructField("valid_from", DateType(), True),
        StructField("valid_to", DateType(), True),
        *[StructField(c, DoubleType(), c not in ("x", "y")) for c in _CELL_DOUBLES],
        StructField("directional", BooleanType(), False),
        StructField("azimuth_deg", DoubleType(), True),
        StructField("tilt_deg", DoubleType(), True),
        StructField("beam_h_deg", DoubleType(), True),
        StructField("beam_v_deg", DoubleType(), True),
        StructField("power_w", DoubleType(), True),
        StructField("range_m", DoubleType(), True),
        StructField("frequency_mhz", DoubleType(), True),
        StructField("technology", StringType(), True),
        StructField("cell_type", StringType(), False),
        StructField("path_loss_exponent", DoubleType(), True),
        StructField("imputed", ArrayType(StringType(), False), False),
        StructField("source_file", StringType(), False),
        StructField("source_row", LongType(), False),
    ]
)
CELLS_PARTITION_COLS: tuple[str, ...] = ()

CELLS_QUARANTINE_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("source_row", LongType(), False),
        StructField("cell_id", StringType(), True),
        StructField("reason_codes", ArrayType(StringType(), False), False),
        StructField("raw_content", StringType(), True),
    ]
)

CELLS_AUDIT_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        *_COUNT_FIELDS,
        StructField("values_imputed", MapType(StringType(), LongType(), False), False),
        StructField("loaded_at", TimestampType(), False),
    ]
)

QUALITY_METRICS_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        StructField("metric", StringType(), False),
        StructField("value", DoubleType(), True),
        StructField("date", DateType(), False),
    ]
)
QUALITY_METRICS_PARTITION_COLS = ("date",)

QUALITY_WARNINGS_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), False),
        StructField("metric", StringType(), False),
        StructField("value", DoubleType(), True),
        StructField("trailing_mean", DoubleType(), False),
        StructField("trailing_sd", DoubleType(), False),
        StructField("trailing_loads", IntegerType(), False),
        StructField("lower", DoubleType(), False),
        StructField("upper", DoubleType(), False),
        StructField("date", DateType(), False),
    ]
)
QUALITY_WARNINGS_PARTITION_COLS = ("date",)
