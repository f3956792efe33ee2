"""Column names and schemas of every C-layer table, and of the inputs the C-layer reads.

Written once here (where each table lives and how it is written: :mod:`rmf_spark.tables`); the
meaning of each column is in ``docs/c-layer.md``.
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

__all__ = [
    "ABROAD",
    "BRONZE_CELL_COLUMNS",
    "BRONZE_EVENT_COLUMNS",
    "CELL_FOOTPRINT",
    "CELL_ID",
    "CELL_VERSION",
    "CLEANING_METRICS",
    "CLEANING_METRICS_PARTITIONS",
    "CONNECTION_PROBABILITY",
    "CONNECTION_PROBABILITY_PARTITIONS",
    "CONVERGENCE_PARAMETERS",
    "DATE",
    "DEVICE_ID",
    "DISTANCE_M",
    "EVENT_FLAGS",
    "EVENT_LOCATION",
    "EVENT_LOCATION_PARTITIONS",
    "EVENT_TS",
    "FOOTPRINT_VERSION",
    "GRID",
    "HOLIDAYS",
    "INSPIRE_1KM",
    "INSPIRE_100M",
    "LAND_USE",
    "P_CELL_GIVEN_TILE",
    "P_TILE_GIVEN_CELL",
    "REGISTER",
    "SIGNAL_DOMINANCE",
    "TECHNOLOGY",
    "TERRITORY",
    "TILE_ID",
    "TILE_ZONE",
    "TILE_ZONE_PARTITIONS",
    "TIMING_ADVANCE",
    "USABLE",
    "VISITED_PLMN",
    "X_LL",
    "Y_LL",
    "ZONES",
    "ZONE_ID",
    "ZONE_LEVEL",
]

# --- column names of the C-layer contract, written once (meaning: docs/c-layer.md) -----------
DEVICE_ID = "device_id"
EVENT_TS = "event_ts"
CELL_ID = "cell_id"
FOOTPRINT_VERSION = "footprint_version"
USABLE = "usable"
TECHNOLOGY = "technology"
TIMING_ADVANCE = "timing_advance"
DISTANCE_M = "distance_m"
TILE_ID = "tile_id"
SIGNAL_DOMINANCE = "signal_dominance"
P_CELL_GIVEN_TILE = "p_cell_given_tile"
P_TILE_GIVEN_CELL = "p_tile_given_cell"
INSPIRE_100M = "inspire_100m"
INSPIRE_1KM = "inspire_1km"
X_LL = "x_ll"
Y_LL = "y_ll"
ZONE_LEVEL = "zone_level"
ZONE_ID = "zone_id"
DATE = "date"
#: an outbound roaming record: the MNO's subscriber on a foreign network (domain ``outbound``)
ABROAD = "abroad"
#: the visited network's PLMN (MCC + MNC) of an outbound roaming record
VISITED_PLMN = "visited_plmn"


def _s(*fields: tuple[str, object]) -> StructType:
    return StructType([StructField(n, t, True) for n, t in fields])  # type: ignore[arg-type]


# --- bronze (D-layer) columns the C-layer reads (docs/tables.md section 2) --------------------
BRONZE_CELL_COLUMNS = (
    "cell_id", "valid_from", "valid_to", "x", "y", "altitude_m", "antenna_height_m",
    "directional", "azimuth_deg", "tilt_deg", "beam_h_deg", "beam_v_deg", "power_w", "range_m",
    "frequency_mhz", "technology", "cell_type", "path_loss_exponent",
)  # fmt: skip
BRONZE_EVENT_COLUMNS = (
    "device_id", "event_ts", "cell_id", "event_type", "technology", "timing_advance", "mcc",
    "mnc", "plmn",
    "latitude", "longitude", "record_id", "mno_id", "date", "device_bucket",
)  # fmt: skip

# --- shared/clayer/grid: one row per INSPIRE 100 m tile -------------------------------------
GRID = _s(
    ("tile_id", LongType()),
    ("inspire_100m", StringType()),
    ("inspire_1km", StringType()),
    ("tile_1km_id", LongType()),
    ("x_ll", DoubleType()),
    ("y_ll", DoubleType()),
)

# --- shared/clayer/tile_zone: tile -> zone, one row per tile and zone level ------------------
TILE_ZONE = _s(("tile_id", LongType()), ("zone_level", IntegerType()), ("zone_id", StringType()))
TILE_ZONE_PARTITIONS = ("zone_level",)

# --- <mno>/clayer/cell_version: every bronze cell-plan row, with its version and usability ---
CELL_VERSION = _s(
    ("cell_id", StringType()),
    ("valid_from", DateType()),
    ("valid_to", DateType()),
    ("footprint_version", StringType()),
    ("usable", BooleanType()),
    ("issues", ArrayType(StringType())),
    ("x", DoubleType()),
    ("y", DoubleType()),
    ("range_m", DoubleType()),
)

# --- reference inputs (docs/tables.md section 1): territory, zones, land use ---------------------
TERRITORY = _s(("wkt", StringType()))
ZONES = _s(
    ("zone_id", StringType()),
    ("zone_level", IntegerType()),
    ("parent_id", StringType()),
    ("name", StringType()),
    ("wkt", StringType()),
)
LAND_USE = _s(
    ("inspire_100m", StringType()),
    ("x_ll", DoubleType()),
    ("y_ll", DoubleType()),
    ("land_use", StringType()),
)
#: public holidays of the territory (the usual environment's day types)
HOLIDAYS = _s(("date", DateType()), ("name", StringType()))
#: the statistical office's residents per zone (the usual environment's calibration)
REGISTER = _s(("zone_id", StringType()), ("zone_level", IntegerType()), ("residents", LongType()))

# --- <mno>/clayer/cell_footprint: per cell version and tile, before cross-cell pruning ---------
# A computed version that covers no tile has one row with a null tile_id (and null values), so
# that the table alone tells which versions are computed (written in the same commit as the
# others: no crash between two tables can make a rerun compute a footprint twice).
CELL_FOOTPRINT = _s(
    ("cell_id", StringType()),
    ("footprint_version", StringType()),
    ("tile_id", LongType()),
    ("signal_dbm", DoubleType()),
    ("signal_dominance", DoubleType()),
    ("distance_m", DoubleType()),
)

# --- <mno>/clayer/connection_probability: per date, after pruning -----------------------------
CONNECTION_PROBABILITY = _s(
    ("cell_id", StringType()),
    ("footprint_version", StringType()),
    ("tile_id", LongType()),
    ("signal_dominance", DoubleType()),
    ("p_cell_given_tile", DoubleType()),
    ("p_tile_given_cell", DoubleType()),
    ("distance_m", DoubleType()),
    ("date", DateType()),
)
CONNECTION_PROBABILITY_PARTITIONS = ("date",)

# --- <mno>/clayer/event_location: one row per bronze event -----------------------------------
EVENT_FLAGS = ("unknown_cell", "cell_not_valid", "impossible_movement", "same_time_duplicate")
EVENT_LOCATION = _s(
    ("device_id", StringType()),
    ("event_ts", TimestampType()),
    ("cell_id", StringType()),
    ("footprint_version", StringType()),
    ("event_type", StringType()),
    ("technology", StringType()),
    ("timing_advance", IntegerType()),
    ("mcc", IntegerType()),
    ("mnc", StringType()),
    ("plmn", StringType()),
    ("domain", StringType()),
    (ABROAD, BooleanType()),
    (VISITED_PLMN, StringType()),
    ("record_id", StringType()),
    *[(f, BooleanType()) for f in EVENT_FLAGS],
    ("cell_unusable", BooleanType()),
    ("usable", BooleanType()),
    ("tile_id", LongType()),
    ("mno_id", StringType()),
    ("date", DateType()),
    ("device_bucket", IntegerType()),
)
EVENT_LOCATION_PARTITIONS = ("date", "device_bucket")

# --- <mno>/clayer/cleaning_metrics: counts of each flag per date -----------------------------
CLEANING_METRICS = _s(("date", DateType()), ("metric", StringType()), ("value", LongType()))
CLEANING_METRICS_PARTITIONS = ("date",)

# --- <mno>/clayer/convergence_parameters: the settings each date was computed with -----------
# one row per setting: dotted key of [convergence] (e.g. radio.steepness), JSON value
CONVERGENCE_PARAMETERS = _s(
    ("parameter", StringType()), ("value", StringType()), ("date", DateType())
)
