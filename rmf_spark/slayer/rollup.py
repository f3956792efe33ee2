"""Roll estimates per 100 m tile up to 1 km tiles and zones.

Notes
-----
Devices and people are additive: the value of an area is the sum over the 100 m tiles in it,
``N_A = sum_{j in A} u_j``. A 100 m tile lies in one 1 km tile (grid ``inspire_1km``) and, per
zone level, in one zone (``tile_zone``). The expansion factor of an aggregate is the effective
one, ``population / devices``. An area's population is null when any of its tiles has none.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.slayer.schemas import (
    AREA_ID,
    DEVICES,
    EXPANSION_FACTOR,
    INSPIRE_1KM,
    INSPIRE_100M,
    LEVEL,
    LEVEL_1KM,
    LEVEL_100M,
    METHOD,
    POPULATION,
    TILE_ID,
    TIME_POINT,
    ZONE_ID,
    ZONE_LEVEL,
)

__all__ = ["compute_rollups"]

_OUT = [TIME_POINT, LEVEL, AREA_ID, METHOD, DEVICES, POPULATION, EXPANSION_FACTOR]


def _sum_or_null(name: str) -> Column:
    return F.when(F.count_if(F.col(name).isNull()) > 0, F.lit(None).cast("double")).otherwise(
        F.sum(name).cast("double")
    )


def _aggregate(df: DataFrame, level: Column, area: Column) -> DataFrame:
    return (
        df.groupBy(F.col(TIME_POINT), F.col(METHOD), level.alias(LEVEL), area.alias(AREA_ID))
        .agg(
            F.sum(DEVICES).cast("double").alias(DEVICES), _sum_or_null(POPULATION).alias(POPULATION)
        )
        .withColumn(
            EXPANSION_FACTOR,
            F.when(F.col(DEVICES) > 0, F.col(POPULATION) / F.col(DEVICES)),
        )
        .select(*_OUT)
    )


def compute_rollups(
    tile_estimates: DataFrame, *, grid: DataFrame, tile_zone: DataFrame
) -> DataFrame:
    """Estimates at the 100 m, 1 km and zone levels, in the ``present_population`` layout.

    Parameters
    ----------
    tile_estimates
        ``time_point, method, tile_id, devices, population`` per 100 m tile.
    grid
        C-layer ``grid``: ``tile_id, inspire_100m, inspire_1km``.
    tile_zone
        C-layer ``tile_zone``: ``tile_id, zone_level, zone_id``.

    Returns
    -------
    DataFrame
        ``time_point, level ('100m' | '1km' | 'zone_<level>'), area_id (INSPIRE code or
        zone id), method, devices double, population double, expansion_factor double``.

    Notes
    -----
    ``N_A = sum_{j in A} u_j`` for devices and for people (module notes).
    """
    tiles = tile_estimates.join(
        grid.select(F.col(TILE_ID).cast("long").alias(TILE_ID), INSPIRE_100M, INSPIRE_1KM),
        on=TILE_ID,
        how="inner",
    )
    zones = tile_estimates.join(
        tile_zone.select(F.col(TILE_ID).cast("long").alias(TILE_ID), ZONE_LEVEL, ZONE_ID),
        on=TILE_ID,
        how="inner",
    )
    return (
        _aggregate(tiles, F.lit(LEVEL_100M), F.col(INSPIRE_100M))
        .unionByName(_aggregate(tiles, F.lit(LEVEL_1KM), F.col(INSPIRE_1KM)))
        .unionByName(
            _aggregate(
                zones,
                F.concat(F.lit("zone_"), F.col(ZONE_LEVEL).cast("string")),
                F.col(ZONE_ID),
            )
        )
    )
