"""The INSPIRE grid in EPSG:3035 (100 m tiles, 1 km roll-up) and the tile -> zone mapping.

Codes follow the INSPIRE / EEA reference grid: ``100mN{N/100}E{E/100}`` and
``1kmN{N/1000}E{E/1000}`` with ``(E, N)`` the tile's lower-left corner, northing first
(MultiMNO user manual, ``1_inspire_grid_generation.md``). The compact integer id is
``tile_id = (E/100) * 2**20 + N/100`` (``tile_1km_id`` the same with 1 000 m): reversible,
unique over the whole EPSG:3035 domain (N/100 < 2**20) and a plain ``long``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer import schemas

__all__ = [
    "TILE_M",
    "generate_grid",
    "tile_centre",
    "tile_id_of_xy",
    "tile_zone",
]

TILE_M = 100
_SHIFT = 1 << 20


def _id(e_units: Column, n_units: Column) -> Column:
    return e_units.cast("long") * F.lit(_SHIFT) + n_units.cast("long")


def tile_id_of_xy(x: Column, y: Column) -> Column:
    """``tile_id`` of the 100 m tile holding the EPSG:3035 point ``(x, y)``.

    Tiles are half-open ``[E, E + 100) x [N, N + 100)``, so every point has exactly one tile.
    """
    return _id(F.floor(x / TILE_M), F.floor(y / TILE_M))


def tile_centre(*, x_ll: str = "x_ll", y_ll: str = "y_ll") -> Column:
    """Sedona point at the tile centre (EPSG:3035)."""
    return F.expr(f"ST_Point({x_ll} + {TILE_M / 2}, {y_ll} + {TILE_M / 2})")


def _grid_columns(x: Column, y: Column) -> list[Column]:
    e100, n100 = (x / 100).cast("long"), (y / 100).cast("long")
    e1k, n1k = F.floor(x / 1000).cast("long"), F.floor(y / 1000).cast("long")
    return [
        _id(e100, n100).alias("tile_id"),
        F.concat(F.lit("100mN"), n100, F.lit("E"), e100).alias("inspire_100m"),
        F.concat(F.lit("1kmN"), n1k, F.lit("E"), e1k).alias("inspire_1km"),
        _id(e1k, n1k).alias("tile_1km_id"),
        x.cast("double").alias("x_ll"),
        y.cast("double").alias("y_ll"),
    ]


def generate_grid(territory: DataFrame, *, buffer_m: float) -> DataFrame:
    """All 100 m INSPIRE tiles that share area with the territory polygon(s).

    Parameters
    ----------
    territory
        Rows with a ``wkt`` column: polygon(s) in EPSG:3035.
    buffer_m
        Buffer (metres) added around the territory (``convergence.grid.buffer_m``).

    Returns
    -------
    DataFrame
        Schema :data:`rmf_spark.clayer.schemas.GRID`, one row per tile.

    Notes
    -----
    Two passes with Sedona: the 1 km blocks of the territory's envelope are tested with
    ``ST_Intersects``; blocks inside the polygon (``ST_Contains``) keep all their 100 tiles,
    only tiles of the boundary blocks are tested one by one (``ST_Intersects`` and not
    ``ST_Touches``: a tile that only touches the border is not part of the territory).
    Cost grows with the territory's
    area, and no cell data is involved.
    """
    geom = F.expr(f"ST_Buffer(ST_GeomFromWKT(wkt), {float(buffer_m)})")
    t = territory.select(geom.alias("geom")).select(
        "geom",
        (F.floor(F.expr("ST_XMin(geom)") / 1000) * 1000).cast("long").alias("x0"),
        (F.floor(F.expr("ST_YMin(geom)") / 1000) * 1000).cast("long").alias("y0"),
        (F.floor(F.expr("ST_XMax(geom)") / 1000) * 1000).cast("long").alias("x1"),
        (F.floor(F.expr("ST_YMax(geom)") / 1000) * 1000).cast("long").alias("y1"),
    )
    blocks = (
        t.withColumn("bx", F.explode(F.sequence("x0", "x1", F.lit(1000).cast("long"))))
        .withColumn("by", F.explode(F.sequence("y0", "y1", F.lit(1000).cast("long"))))
        .withColumn("block", F.expr("ST_PolygonFromEnvelope(bx, by, bx + 1000, by + 1000)"))
        .where(F.expr("ST_Intersects(geom, block)"))
        .withColumn("inside", F.expr("ST_Contains(geom, block)"))
        .repartition(max(1, territory.sparkSession.sparkContext.defaultParallelism))
    )
    offsets = F.sequence(F.lit(0).cast("long"), F.lit(900).cast("long"), F.lit(100).cast("long"))
    tiles = (
        blocks.withColumn("dx", F.explode(offsets))
        .withColumn("dy", F.explode(offsets))
        .withColumn("x_ll", F.col("bx") + F.col("dx"))
        .withColumn("y_ll", F.col("by") + F.col("dy"))
        .withColumn("tile", F.expr(_poly_sql()))
        .where(F.col("inside") | F.expr("ST_Intersects(geom, tile) AND NOT ST_Touches(geom, tile)"))
    )
    return tiles.select(*_grid_columns(F.col("x_ll"), F.col("y_ll"))).dropDuplicates(["tile_id"])


def _poly_sql() -> str:
    return f"ST_PolygonFromEnvelope(x_ll, y_ll, x_ll + {TILE_M}, y_ll + {TILE_M})"


def tile_zone(grid: DataFrame, zones: DataFrame) -> DataFrame:
    """Map every tile to the zone of each level that contains its centre.

    A Sedona broadcast spatial join (``ST_Contains(zone, tile centre)``, the zones broadcast as
    the small side). A tile belongs to at most one zone per level (centre rule); tiles outside
    every zone of a level have no row for it.

    Parameters
    ----------
    grid
        :data:`~rmf_spark.clayer.schemas.GRID` rows.
    zones
        ``zone_id string, zone_level int, wkt string`` (EPSG:3035 polygons).

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.clayer.schemas.TILE_ZONE`.
    """
    z = zones.select(
        F.col("zone_id").cast("string").alias("zone_id"),
        F.col("zone_level").cast("int").alias("zone_level"),
        F.expr("ST_GeomFromWKT(wkt)").alias("zone_geom"),
    )
    t = grid.select("tile_id", tile_centre().alias("centre"))
    joined = t.join(F.broadcast(z), F.expr("ST_Contains(zone_geom, centre)"))
    # A centre exactly on a shared border lies in neither polygon's interior; keep the smaller id
    # if two zones of a level both claim a tile (overlapping zone polygons).
    return (
        joined.groupBy("tile_id", "zone_level")
        .agg(F.min("zone_id").alias("zone_id"))
        .select(*[F.col(f.name).cast(f.dataType) for f in schemas.TILE_ZONE.fields])
    )
