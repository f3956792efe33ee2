"""Exports of released tables: CSV (one file) and GeoParquet with area polygons (EPSG:3035)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark import lake
from rmf_spark.clayer.schemas import INSPIRE_1KM, INSPIRE_100M, X_LL, Y_LL, ZONE_ID
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL, LEVEL_1KM, LEVEL_100M

__all__ = ["GEOMETRY", "area_geometries", "with_geometry", "write_csv", "write_geoparquet"]

GEOMETRY = "geometry"


def _square(x: str, y: str, size_m: float) -> F.Column:
    return F.expr(f"ST_PolygonFromEnvelope({x}, {y}, {x} + {size_m}, {y} + {size_m})")


def area_geometries(*, grid: DataFrame, zones: DataFrame | None = None) -> DataFrame:
    """Polygons of the released areas: ``level, area_id, geometry`` (EPSG:3035 metres).

    Parameters
    ----------
    grid
        C-layer ``grid`` (``inspire_100m, inspire_1km, x_ll, y_ll``): a 100 m tile is the
        square ``[x_ll, x_ll + 100] x [y_ll, y_ll + 100]``; a 1 km tile the square of side
        1 000 m at ``floor(min x_ll / 1000) * 1000``, ``floor(min y_ll / 1000) * 1000``.
    zones
        Optional ``zone_id, zone_level, wkt`` (reference zones); without it zones get no
        geometry.
    """
    tiles = grid.select(
        F.lit(LEVEL_100M).alias(LEVEL), F.col(INSPIRE_100M).alias(AREA_ID), X_LL, Y_LL
    ).withColumn(GEOMETRY, _square(X_LL, Y_LL, 100.0))
    kms = (
        grid.groupBy(F.col(INSPIRE_1KM).alias(AREA_ID))
        .agg(
            (F.floor(F.min(X_LL) / 1000) * 1000).cast("double").alias(X_LL),
            (F.floor(F.min(Y_LL) / 1000) * 1000).cast("double").alias(Y_LL),
        )
        .withColumn(LEVEL, F.lit(LEVEL_1KM))
        .withColumn(GEOMETRY, _square(X_LL, Y_LL, 1000.0))
    )
    out = tiles.select(LEVEL, AREA_ID, GEOMETRY).unionByName(kms.select(LEVEL, AREA_ID, GEOMETRY))
    if zones is not None:
        out = out.unionByName(
            zones.select(
                F.concat(F.lit("zone_"), F.col("zone_level").cast("string")).alias(LEVEL),
                F.col(ZONE_ID).alias(AREA_ID),
                F.expr("ST_GeomFromWKT(wkt)").alias(GEOMETRY),
            )
        )
    return out.select(LEVEL, AREA_ID, F.expr(f"ST_SetSRID({GEOMETRY}, 3035)").alias(GEOMETRY))


def with_geometry(released: DataFrame, *, geometries: DataFrame) -> DataFrame:
    """Add ``geometry`` (null where unknown) to rows keyed by ``level, area_id``."""
    return released.join(geometries, on=[LEVEL, AREA_ID], how="left")


def write_csv(df: DataFrame, uri: str) -> None:
    """One CSV file with a header in the directory ``uri`` (released aggregates are small)."""
    lake.write_files(df, uri, fmt="csv", options={"header": "true"})


def write_geoparquet(df: DataFrame, uri: str) -> None:
    """GeoParquet (Sedona's ``geoparquet`` writer), one file in the directory ``uri``."""
    lake.write_files(df, uri, fmt="geoparquet")
