"""The nesting of released areas: 100 m tiles in 1 km tiles and zones, zones in zones."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import INSPIRE_1KM, INSPIRE_100M, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.release.disclosure import CHILD_ID, CHILD_LEVEL, PARENT_ID, PARENT_LEVEL
from rmf_spark.slayer.aggregate.schemas import LEVEL_1KM, LEVEL_100M

__all__ = ["build_hierarchy"]


def _zone_name(level: str) -> F.Column:
    return F.concat(F.lit("zone_"), F.col(level).cast("string"))


def build_hierarchy(*, grid: DataFrame, tile_zone: DataFrame) -> DataFrame:
    """Parent-child edges between the levels of ``present_population``.

    Parameters
    ----------
    grid
        C-layer ``grid`` (``tile_id, inspire_100m, inspire_1km``).
    tile_zone
        C-layer ``tile_zone`` (``tile_id, zone_level, zone_id``).

    Returns
    -------
    DataFrame
        ``child_level, child_id, parent_level, parent_id`` (distinct): ``100m -> 1km``,
        ``100m -> zone_<L>`` for every zone level L, and ``zone_<L> -> zone_<M>`` for M < L.
    """
    tiles = grid.select(TILE_ID, INSPIRE_100M, INSPIRE_1KM)
    to_1km = tiles.select(
        F.lit(LEVEL_100M).alias(CHILD_LEVEL),
        F.col(INSPIRE_100M).alias(CHILD_ID),
        F.lit(LEVEL_1KM).alias(PARENT_LEVEL),
        F.col(INSPIRE_1KM).alias(PARENT_ID),
    )
    to_zone = tiles.join(tile_zone, on=TILE_ID).select(
        F.lit(LEVEL_100M).alias(CHILD_LEVEL),
        F.col(INSPIRE_100M).alias(CHILD_ID),
        _zone_name(ZONE_LEVEL).alias(PARENT_LEVEL),
        F.col(ZONE_ID).alias(PARENT_ID),
    )
    a = tile_zone.select(TILE_ID, F.col(ZONE_LEVEL).alias("cl"), F.col(ZONE_ID).alias("ci"))
    b = tile_zone.select(TILE_ID, F.col(ZONE_LEVEL).alias("pl"), F.col(ZONE_ID).alias("pi"))
    zone_zone = (
        a.join(b, on=TILE_ID)
        .where(F.col("pl") < F.col("cl"))
        .select(
            _zone_name("cl").alias(CHILD_LEVEL),
            F.col("ci").alias(CHILD_ID),
            _zone_name("pl").alias(PARENT_LEVEL),
            F.col("pi").alias(PARENT_ID),
        )
    )
    return to_1km.unionByName(to_zone).unionByName(zone_zone).distinct()
