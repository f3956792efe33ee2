"""Column names the S-layer reads (C-layer contract) and the tables it writes.

The C-layer names are those of ``docs/tables.md`` section 3. The S-layer writes one table per
MNO, ``slayer/present_population`` (:data:`PRESENT_POPULATION_SCHEMA`).
"""

from __future__ import annotations

from pyspark.sql.types import (
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

__all__ = [
    "AREA_ID",
    "CELL_ID",
    "DEVICES",
    "DEVICE_ID",
    "DISTANCE_M",
    "EVENT_TS",
    "EXPANSION_FACTOR",
    "FOOTPRINT_VERSION",
    "INSPIRE_1KM",
    "INSPIRE_100M",
    "LEVEL",
    "LEVEL_1KM",
    "LEVEL_100M",
    "METHOD",
    "POPULATION",
    "PRESENT_POPULATION_PARTITION_COLS",
    "PRESENT_POPULATION_SCHEMA",
    "P_CELL_GIVEN_TILE",
    "P_TILE_GIVEN_CELL",
    "TA_STEP_M",
    "TECHNOLOGY",
    "TILE_ID",
    "TIME_POINT",
    "TIMING_ADVANCE",
    "USABLE",
    "X_LL",
    "Y_LL",
    "ZONE_ID",
    "ZONE_LEVEL",
    "zone_level_name",
]

# --- C-layer contract (docs/tables.md section 3) ---------------------------------------------
DEVICE_ID = "device_id"
EVENT_TS = "event_ts"
CELL_ID = "cell_id"
FOOTPRINT_VERSION = "footprint_version"
USABLE = "usable"
TECHNOLOGY = "technology"
TIMING_ADVANCE = "timing_advance"
TA_STEP_M = "ta_step_m"
DISTANCE_M = "distance_m"
TILE_ID = "tile_id"
P_CELL_GIVEN_TILE = "p_cell_given_tile"
P_TILE_GIVEN_CELL = "p_tile_given_cell"
INSPIRE_100M = "inspire_100m"
INSPIRE_1KM = "inspire_1km"
X_LL = "x_ll"
Y_LL = "y_ll"
ZONE_LEVEL = "zone_level"
ZONE_ID = "zone_id"

# --- S-layer output ----------------------------------------------------------------------------
TIME_POINT = "time_point"
LEVEL = "level"
AREA_ID = "area_id"
METHOD = "method"
DEVICES = "devices"
POPULATION = "population"
EXPANSION_FACTOR = "expansion_factor"

LEVEL_100M = "100m"
LEVEL_1KM = "1km"


def zone_level_name(zone_level: int) -> str:
    """Level label of a zone level: ``zone_1`` (regions), ``zone_2`` (municipalities), ..."""
    return f"zone_{int(zone_level)}"


#: ``<mno>/slayer/present_population``: one row per (time point, level, area, method).
#: ``devices`` is the estimated device count (fractional for EM), ``population`` the devices
#: times the expansion factor, ``expansion_factor`` population / devices (1 / market share).
PRESENT_POPULATION_SCHEMA = StructType(
    [
        StructField(TIME_POINT, TimestampType(), False),
        StructField(LEVEL, StringType(), False),
        StructField(AREA_ID, StringType(), False),
        StructField(METHOD, StringType(), False),
        StructField(DEVICES, DoubleType(), False),
        StructField(POPULATION, DoubleType(), True),
        StructField(EXPANSION_FACTOR, DoubleType(), True),
    ]
)
PRESENT_POPULATION_PARTITION_COLS: tuple[str, ...] = ()
