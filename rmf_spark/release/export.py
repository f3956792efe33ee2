"""Exports of released tables: CSV (one file) and GeoParquet with area polygons (EPSG:3035).

The GeoParquet files declare their CRS: Sedona writes ``"crs": null`` (unknown) unless the
``geoparquet.crs`` option gives a PROJJSON, and a reader then cannot place the metres on a map
(geopandas reads no CRS, QGIS asks). ``epsg_3035.json`` beside this module is EPSG:3035
(ETRS89-extended / LAEA Europe) as PROJJSON, written once with ``pyproj.CRS.from_epsg(3035)
.to_json_dict()`` (PROJ 9.5), so writing needs no PROJ at run time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark import lake
from rmf_spark.clayer.schemas import (
    INSPIRE_1KM,
    INSPIRE_100M,
    TILE_ID,
    X_LL,
    Y_LL,
    ZONE_ID,
    ZONE_LEVEL,
)
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL, LEVEL_1KM, LEVEL_100M

__all__ = [
    "GEOMETRY",
    "area_geometries",
    "with_flow_geometry",
    "with_geometry",
    "write_csv",
    "write_geoparquet",
    "zone_centroids",
]

GEOMETRY = "geometry"
#: the CRS of every geometry written (grid squares, zone polygons, flows)
EPSG = 3035


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


def zone_centroids(*, grid: DataFrame, tile_zone: DataFrame) -> DataFrame:
    """``level, area_id, geometry``: each zone's point at the mean centre of its 100 m tiles,
    for maps of flows where no zone polygons are configured (``release.zones_table``)."""
    return (
        tile_zone.join(grid.select(TILE_ID, X_LL, Y_LL), on=TILE_ID)
        .groupBy(
            F.concat(F.lit("zone_"), F.col(ZONE_LEVEL).cast("string")).alias(LEVEL),
            F.col(ZONE_ID).cast("string").alias(AREA_ID),
        )
        .agg(F.avg(F.col(X_LL) + 50.0).alias("_x"), F.avg(F.col(Y_LL) + 50.0).alias("_y"))
        .select(LEVEL, AREA_ID, F.expr("ST_SetSRID(ST_Point(_x, _y), 3035)").alias(GEOMETRY))
    )


def with_geometry(released: DataFrame, *, geometries: DataFrame) -> DataFrame:
    """Add ``geometry`` (null where unknown) to rows keyed by ``level, area_id``."""
    return released.join(geometries, on=[LEVEL, AREA_ID], how="left")


def with_flow_geometry(released: DataFrame, *, geometries: DataFrame) -> DataFrame:
    """Add ``geometry`` to OD rows: the line from the origin's centroid to the destination's
    (a point for a flow within one area); null for a margin (``_T``) or an unknown area."""
    ends = geometries.select(LEVEL, AREA_ID, F.expr(f"ST_Centroid({GEOMETRY})").alias("_c"))
    o = ends.withColumnsRenamed({AREA_ID: "origin_area_id", "_c": "_o"})
    d = ends.withColumnsRenamed({AREA_ID: "destination_area_id", "_c": "_d"})
    line = F.expr(
        "ST_SetSRID(CASE WHEN ST_Equals(_o, _d) THEN _o ELSE ST_MakeLine(_o, _d) END, 3035)"
    )
    return (
        released.join(o, on=[LEVEL, "origin_area_id"], how="left")
        .join(d, on=[LEVEL, "destination_area_id"], how="left")
        .withColumn(GEOMETRY, line)
        .drop("_o", "_d")
        .select(*released.columns, GEOMETRY)
    )


def write_csv(df: DataFrame, uri: str) -> None:
    """One CSV file with a header in the directory ``uri`` (released aggregates are small)."""
    lake.write_files(df, uri, fmt="csv", options={"header": "true"})


@cache
def crs_projjson() -> str:
    """EPSG:3035 as PROJJSON (one line), the ``crs`` of the GeoParquet metadata."""
    text = resources.files(__package__).joinpath(f"epsg_{EPSG}.json").read_text("utf-8")
    return json.dumps(json.loads(text), separators=(",", ":"))


def write_geoparquet(df: DataFrame, uri: str) -> None:
    """GeoParquet (Sedona's ``geoparquet`` writer), one file in the directory ``uri``, its
    geometry column's CRS declared EPSG:3035."""
    lake.write_files(df, uri, fmt="geoparquet", options={"geoparquet.crs": crs_projjson()})
