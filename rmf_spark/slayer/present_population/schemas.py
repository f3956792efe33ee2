"""Columns and tables of the present-population estimator.

``<mno>/slayer/present_population`` (:data:`PRESENT_POPULATION_SCHEMA`): one row per (time
point, level, area, method); ``<mno>/slayer/reach_calibration`` (:data:`REACH_OFFSETS_SCHEMA`):
one row per (date, cell version) of the connection probabilities.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from rmf_spark.clayer.schemas import CELL_ID, DATE, FOOTPRINT_VERSION
from rmf_spark.slayer.aggregate.schemas import (
    AREA_ID,
    DEVICES,
    EXPANSION_FACTOR,
    LEVEL,
    POPULATION,
)

__all__ = [
    "DEVICES_LOWER",
    "DEVICES_UPPER",
    "INTERVAL_COLUMNS",
    "METHOD",
    "PLE_OFFSET",
    "POPULATION_LOWER",
    "POPULATION_UPPER",
    "PRESENT_POPULATION_SCHEMA",
    "REACH_OFFSETS_SCHEMA",
    "TA_STEP_M",
    "TIME_POINT",
]

TIME_POINT = "time_point"
METHOD = "method"
#: metres per TA unit of an event's technology (``present_population.timing_advance_step_m``)
TA_STEP_M = "ta_step_m"
#: a cell's path-loss exponent offset fitted by the reach calibration
PLE_OFFSET = "ple_offset"

#: bounds of the interval of an estimate (``present_population.hmm.interval_level``)
DEVICES_LOWER, DEVICES_UPPER = "devices_lower", "devices_upper"
POPULATION_LOWER, POPULATION_UPPER = "population_lower", "population_upper"
INTERVAL_COLUMNS = (DEVICES_LOWER, DEVICES_UPPER, POPULATION_LOWER, POPULATION_UPPER)

#: ``devices`` is the estimated device count (fractional for EM), ``population`` the devices
#: times the expansion factor, ``expansion_factor`` population / devices (1 / market share);
#: the interval columns are those of the estimators that give one (``hmm``), null otherwise.
PRESENT_POPULATION_SCHEMA = StructType(
    [
        StructField(TIME_POINT, TimestampType(), False),
        StructField(LEVEL, StringType(), False),
        StructField(AREA_ID, StringType(), False),
        StructField(METHOD, StringType(), False),
        StructField(DEVICES, DoubleType(), False),
        StructField(POPULATION, DoubleType(), True),
        StructField(EXPANSION_FACTOR, DoubleType(), True),
        *[StructField(c, DoubleType(), True) for c in INTERVAL_COLUMNS],
    ]
)

REACH_OFFSETS_SCHEMA = StructType(
    [
        StructField(DATE, DateType(), True),
        StructField(CELL_ID, StringType(), True),
        StructField(FOOTPRINT_VERSION, StringType(), True),
        StructField(PLE_OFFSET, DoubleType(), True),
        StructField("ta_events", DoubleType(), True),
        StructField("observed_mean_m", DoubleType(), True),
        StructField("model_mean_m", DoubleType(), True),
        StructField("calibrated", BooleanType(), True),
    ]
)
