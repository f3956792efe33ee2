"""Roll estimates per 100 m tile up to 1 km tiles and zones.

Notes
-----
Devices and people are additive: the value of an area is the sum over the 100 m tiles in it,
``N_A = sum_{j in A} u_j``. A 100 m tile lies in one 1 km tile (grid ``inspire_1km``) and, per
zone level, in one zone (``tile_zone``). The expansion factor of an aggregate is the effective
one, ``population / devices``. An area's population is null when any of its tiles has none.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import INSPIRE_1KM, INSPIRE_100M, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.slayer.aggregate.schemas import (
    AREA_ID,
    DEVICES,
    EXPANSION_FACTOR,
    LEVEL,
    LEVEL_1KM,
    LEVEL_100M,
    POPULATION,
)

__all__ = ["compute_rollups"]


def _sum_or_null(name: str) -> Column:
    return F.when(F.count_if(F.col(name).isNull()) > 0, F.lit(None).cast("double")).otherwise(
        F.sum(name).cast("double")
    )


def _aggregate(
    df: DataFrame, keys: Sequence[str], level: Column, area: Column, sums: Sequence[str]
) -> DataFrame:
    return (
        df.groupBy(*(F.col(k) for k in keys), level.alias(LEVEL), area.alias(AREA_ID))
        .agg(
            F.sum(DEVICES).cast("double").alias(DEVICES),
            _sum_or_null(POPULATION).alias(POPULATION),
            *[_sum_or_null(c).alias(c) for c in sums],
        )
        .withColumn(
            EXPANSION_FACTOR,
            F.when(F.col(DEVICES) > 0, F.col(POPULATION) / F.col(DEVICES)),
        )
        .select(*keys, LEVEL, AREA_ID, DEVICES, POPULATION, EXPANSION_FACTOR, *sums)
    )


def compute_rollups(
    tile_estimates: DataFrame,
    *,
    keys: Sequence[str],
    grid: DataFrame,
    tile_zone: DataFrame,
    sums: Sequence[str] = (),
    levels: Sequence[str] = ("100m", "1km", "zone"),
) -> DataFrame:
    """Estimates at the 100 m, 1 km and zone levels (those of ``levels``).

    Parameters
    ----------
    tile_estimates
        ``<keys>, tile_id, devices, population`` per 100 m tile.
    keys
        The product's own key columns, kept as they are (present population:
        ``time_point, method``).
    grid
        C-layer ``grid``: ``tile_id, inspire_100m, inspire_1km``.
    tile_zone
        C-layer ``tile_zone``: ``tile_id, zone_level, zone_id``.
    sums
        Other additive columns, summed like ``population`` (null when a tile's is null).
    levels
        Which of ``100m``, ``1km`` and ``zone`` (every zone level) to compute.

    Returns
    -------
    DataFrame
        ``<keys>, level ('100m' | '1km' | 'zone_<level>'), area_id (INSPIRE code or zone
        id), devices double, population double, expansion_factor double`` and ``sums``.

    Notes
    -----
    ``N_A = sum_{j in A} u_j`` for devices and for people (module notes).
    """
    unknown = sorted(set(levels) - {"100m", "1km", "zone"})
    if unknown or not levels:
        raise ValueError(f"levels {list(levels)}: each one of '100m', '1km', 'zone'")
    parts = []
    if {"100m", "1km"} & set(levels):
        tiles = tile_estimates.join(
            grid.select(F.col(TILE_ID).cast("long").alias(TILE_ID), INSPIRE_100M, INSPIRE_1KM),
            on=TILE_ID,
            how="inner",
        )
        if "100m" in levels:
            parts.append(_aggregate(tiles, keys, F.lit(LEVEL_100M), F.col(INSPIRE_100M), sums))
        if "1km" in levels:
            parts.append(_aggregate(tiles, keys, F.lit(LEVEL_1KM), F.col(INSPIRE_1KM), sums))
    if "zone" in levels:
        zones = tile_estimates.join(
            tile_zone.select(F.col(TILE_ID).cast("long").alias(TILE_ID), ZONE_LEVEL, ZONE_ID),
            on=TILE_ID,
            how="inner",
        )
        level = F.concat(F.lit("zone_"), F.col(ZONE_LEVEL).cast("string"))
        parts.append(_aggregate(zones, keys, level, F.col(ZONE_ID), sums))
    return functools.reduce(DataFrame.unionByName, parts)
