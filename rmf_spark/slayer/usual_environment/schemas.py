"""The tables of the usual-environment stage (``docs/usual-environment.md``), declared once.

Every table holds one period (``period_start .. period_end``, local days) per run; a rerun of
the period replaces its rows. Device-level tables (personal data, never released) are
partitioned by ``period_start, device_bucket`` like the device stage's by ``date,
device_bucket``; the aggregates by ``period_start``.
"""

from __future__ import annotations

from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, EXPANSION_FACTOR, LEVEL, POPULATION
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.usual_environment.labels import (
    HOME_RULE,
    HOME_TILES,
    LABEL,
    RULE,
    STATUS,
    UE_TILES,
    WORK_RULE,
    WORK_TILES,
)
from rmf_spark.slayer.usual_environment.midterm import (
    ABROAD_SLOTS,
    DAY_TYPE,
    DAYS,
    FREQUENCY,
    GRID_SLOTS,
    PERMANENCE,
    REGULARITY_MEAN,
    REGULARITY_STD,
    TIME_INTERVAL,
    UNKNOWN_SLOTS,
)

__all__ = [
    "CALIBRATED_RESIDENTS_SCHEMA",
    "DEVICE_PERIOD_PARTITIONS",
    "LABELS_SCHEMA",
    "LABEL_STATUS_SCHEMA",
    "MIDTERM_OBSERVATION_SCHEMA",
    "MIDTERM_PERMANENCE_SCHEMA",
    "PERIOD_END",
    "PERIOD_KEYS",
    "PERIOD_START",
    "RESIDENTS_SCHEMA",
    "ROLE",
]

PERIOD_START, PERIOD_END = "period_start", "period_end"
#: what a run replaces
PERIOD_KEYS = (PERIOD_START, PERIOD_END)
DEVICE_PERIOD_PARTITIONS = (PERIOD_START, DEVICE_BUCKET)
#: ``home`` (residents) or ``work`` (workers)
ROLE = "role"

_PERIOD = [StructField(PERIOD_START, DateType(), False), StructField(PERIOD_END, DateType(), False)]
_BUCKET = [StructField(DEVICE_BUCKET, IntegerType(), False)]


def _s(*fields: tuple[str, object, bool]) -> list[StructField]:
    return [StructField(n, t, nullable) for n, t, nullable in fields]  # type: ignore[arg-type]


#: per device, day type, time interval and tile (``midterm.compute_midterm_permanence``)
MIDTERM_PERMANENCE_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (DAY_TYPE, StringType(), False),
        (TIME_INTERVAL, StringType(), False),
        (TILE_ID, LongType(), False),
        (PERMANENCE, IntegerType(), False),
        (FREQUENCY, IntegerType(), False),
        (REGULARITY_MEAN, DoubleType(), True),
        (REGULARITY_STD, DoubleType(), True),
    )
    + _BUCKET
)

#: per device, day type and time interval (``midterm.compute_midterm_observation``)
MIDTERM_OBSERVATION_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (DAY_TYPE, StringType(), False),
        (TIME_INTERVAL, StringType(), False),
        (GRID_SLOTS, IntegerType(), False),
        (UNKNOWN_SLOTS, IntegerType(), False),
        (ABROAD_SLOTS, IntegerType(), False),
        (DAYS, IntegerType(), False),
    )
    + _BUCKET
)

#: per device, label (``ue``, ``home``, ``work``) and tile, the rule that fired
LABELS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (LABEL, StringType(), False),
        (TILE_ID, LongType(), False),
        (RULE, StringType(), False),
    )
    + _BUCKET
)

#: one row per device observed in the period, labelled or not, and why
LABEL_STATUS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (DEVICE_ID, StringType(), False),
        (STATUS, StringType(), False),
        (GRID_SLOTS, IntegerType(), True),
        (DAYS, IntegerType(), True),
        (UE_TILES, IntegerType(), False),
        (HOME_TILES, IntegerType(), False),
        (HOME_RULE, StringType(), True),
        (WORK_TILES, IntegerType(), False),
        (WORK_RULE, StringType(), True),
    )
    + _BUCKET
)

#: resident (``home``) and working (``work``) devices and people per area, scalar expansion
RESIDENTS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (ROLE, StringType(), False),
        (LEVEL, StringType(), False),
        (AREA_ID, StringType(), False),
        (DEVICES, DoubleType(), False),
        (POPULATION, DoubleType(), True),
        (EXPANSION_FACTOR, DoubleType(), True),
    )
)

#: residents per zone and region calibrated to the register, with the interval
#: (``calibration.calibrate_residents``)
CALIBRATED_RESIDENTS_SCHEMA = StructType(
    _PERIOD
    + _s(
        (LEVEL, StringType(), False),
        (AREA_ID, StringType(), False),
        ("region_id", StringType(), True),
        (DEVICES, DoubleType(), True),
        ("register", DoubleType(), True),
        ("share", DoubleType(), True),
        ("detection_rate", DoubleType(), True),
        ("ratio_population", DoubleType(), True),
        (POPULATION, DoubleType(), True),
        ("population_sd", DoubleType(), True),
        ("population_lower", DoubleType(), True),
        ("population_upper", DoubleType(), True),
        ("fallback", StringType(), True),
    )
)
