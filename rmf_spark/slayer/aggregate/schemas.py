"""Column names of the aggregates every S-layer product writes (area levels, devices, people).

A product's table is keyed by its own columns (a time point, a method, a day type, ...) plus
``level, area_id``; its measures are ``devices`` (estimated devices, fractional), ``population``
(devices times the expansion factor) and ``expansion_factor`` (``population / devices``).
"""

from __future__ import annotations

from pyspark.sql.types import DoubleType, StringType, StructField, StructType

__all__ = [
    "AREA_ID",
    "DEVICES",
    "EXPANSION_FACTOR",
    "LEVEL",
    "LEVEL_1KM",
    "LEVEL_100M",
    "MARKET_SHARE_SCHEMA",
    "POPULATION",
    "REGION_ID",
    "SHARE",
    "zone_level_name",
]

LEVEL = "level"
AREA_ID = "area_id"
DEVICES = "devices"
POPULATION = "population"
EXPANSION_FACTOR = "expansion_factor"
#: market share tables: ``region_id, share`` (share of the region's residents on the MNO)
REGION_ID = "region_id"
SHARE = "share"
#: a market share table (e.g. the synthetic world's ``reference/market_share``); ``mno_id`` is
#: optional (a table of one MNO needs none)
MARKET_SHARE_SCHEMA = StructType(
    [
        StructField("mno_id", StringType(), True),
        StructField(REGION_ID, StringType(), True),
        StructField(SHARE, DoubleType(), True),
    ]
)

LEVEL_100M = "100m"
LEVEL_1KM = "1km"


def zone_level_name(zone_level: int) -> str:
    """Level label of a zone level: ``zone_1`` (regions), ``zone_2`` (municipalities), ...

    >>> zone_level_name(2)
    'zone_2'
    """
    return f"zone_{int(zone_level)}"
