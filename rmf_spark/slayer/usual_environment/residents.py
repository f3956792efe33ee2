"""Residents (or workers) per tile and zone: devices spread evenly over their labelled tiles.

Notes
-----
A device ``i`` labelled with the tiles ``H_i`` (its home tiles; for workers its work tiles)
puts the weight ``w_ij = 1 / |H_i|`` on each of them, so that it counts once in all:
``u_j = sum_i w_ij`` resident devices in tile ``j`` (MultiMNO aggregates the usual environment
labels with uniform tile weights). Areas sum their tiles like present population
(:mod:`rmf_spark.slayer.aggregate.rollup`), and the scalar expansion gives people,
``u_j / s_r(j)`` with ``s_r`` the MNO's market share in the tile's region
(:mod:`rmf_spark.slayer.aggregate.expansion`): the MultiMNO baseline, which
:mod:`~.calibration` compares with an estimate calibrated to the register.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
from rmf_spark.slayer.aggregate.expansion import with_expansion
from rmf_spark.slayer.aggregate.rollup import compute_rollups
from rmf_spark.slayer.aggregate.schemas import DEVICES

__all__ = ["WEIGHT", "compute_residents", "compute_tile_residents", "with_tile_weights"]

#: a device's weight on one of its labelled tiles, ``1 / (number of its tiles)``
WEIGHT = "weight"


def with_tile_weights(tiles: DataFrame, *, keys: Sequence[str] = ()) -> DataFrame:
    """Each device's labelled tiles with the weight ``1 / n``, ``n`` its number of tiles.

    Parameters
    ----------
    tiles
        ``<keys>, device_id, tile_id``: one row per labelled tile (a repeated row counts
        once; a null ``tile_id`` is no tile).
    keys
        Columns that set one labelling apart (a period, a label): a device's weights sum
        to 1 per value of ``keys``.

    Returns
    -------
    DataFrame
        ``<keys>, device_id, tile_id long, weight double``.

    Examples
    --------
    >>> df = spark.createDataFrame([("a", 1), ("a", 2), ("b", 3)], "device_id string, "
    ...     "tile_id long")
    >>> sorted(tuple(r) for r in with_tile_weights(df).collect())
    [('a', 1, 0.5), ('a', 2, 0.5), ('b', 3, 1.0)]
    """
    distinct = (
        tiles.select(*keys, DEVICE_ID, F.col(TILE_ID).cast("long").alias(TILE_ID))
        .where(F.col(TILE_ID).isNotNull())
        .dropDuplicates()
    )
    per_device = Window.partitionBy(*keys, DEVICE_ID)
    return distinct.withColumn(WEIGHT, F.lit(1.0) / F.count("*").over(per_device))


def compute_tile_residents(tiles: DataFrame, *, keys: Sequence[str] = ()) -> DataFrame:
    """Resident devices per tile, ``u_j = sum_i w_ij`` (module notes).

    Parameters are those of :func:`with_tile_weights`.

    Returns
    -------
    DataFrame
        ``<keys>, tile_id long, devices double``; summed over the tiles, each device of a
        ``keys`` value counts 1.
    """
    return (
        with_tile_weights(tiles, keys=keys)
        .groupBy(*keys, TILE_ID)
        .agg(F.sum(WEIGHT).alias(DEVICES))
    )


def compute_residents(
    tiles: DataFrame,
    *,
    grid: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    region_level: int,
    default_share: float | None = None,
    keys: Sequence[str] = (),
) -> DataFrame:
    """Resident devices and people (scalar expansion) per 100 m tile, 1 km tile and zone.

    Parameters
    ----------
    tiles
        ``<keys>, device_id, tile_id``: the labelled tiles of each device (home tiles for
        residents, work tiles for workers).
    grid, tile_zone
        C-layer ``grid`` and ``tile_zone`` (the roll-ups).
    market_share
        ``region_id, share`` of this MNO.
    region_level
        The ``zone_level`` of the share's regions.
    default_share
        Share of tiles outside every region with a share; None leaves their people null.
    keys
        As in :func:`with_tile_weights`; kept in the output.

    Returns
    -------
    DataFrame
        ``<keys>, level ('100m' | '1km' | 'zone_<level>'), area_id, devices double,
        population double, expansion_factor double``: ``population = devices / s_r``
        summed over the area's tiles (module notes). No device ids.
    """
    per_tile = with_expansion(
        compute_tile_residents(tiles, keys=keys),
        tile_zone=tile_zone,
        market_share=market_share,
        region_level=region_level,
        default_share=default_share,
    )
    return compute_rollups(per_tile, keys=keys, grid=grid, tile_zone=tile_zone)
