"""The event-location table: every bronze event with its cell's footprint version and flags.

Identical for CDR and signalling sources and every technology: the S-layer joins it to
``connection_probability`` by ``(date, cell_id, footprint_version)``. Events that carry WGS84
coordinates (the MultiMNO sample has them) also get the 100 m tile holding the point:
``ST_Transform(ST_Point(lon, lat), 'EPSG:4326', 'EPSG:3035')`` with Sedona, then the tile key
of the half-open INSPIRE tile ``[E, E + 100) x [N, N + 100)`` joined to the grid. For a regular
grid this key join is the exact point-in-tile relation (a polygon ``ST_Contains`` join would
give no tile, and ``ST_Intersects`` two tiles, to points on a tile border) and costs one
equi-join; points outside the grid get ``tile_id = null``.

``domain`` follows MultiMNO's event cleaning: ``outbound`` for a roaming record of the MNO's
own subscriber abroad (no cell, a visited PLMN whose MCC is not ``home_mcc``: bronze has no
other row without a cell), else ``domestic`` when the SIM's MCC is ``home_mcc`` and
``inbound`` when it is another. An outbound row has ``abroad = true`` and ``visited_plmn``
(its bronze ``plmn``), the columns the device stage makes abroad segments of; it has no tile
and is not ``usable``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer import schemas
from rmf_spark.clayer.grid import tile_id_of_xy
from rmf_spark.roaming import is_outbound_record

__all__ = ["event_location", "wgs84_to_3035"]


def wgs84_to_3035(events: DataFrame) -> DataFrame:
    """Add ``x_3035, y_3035`` (metres) from ``longitude, latitude`` (null where missing)."""
    has = F.col("longitude").isNotNull() & F.col("latitude").isNotNull()
    pt = F.when(
        has,
        F.expr(
            "ST_Transform(ST_Point(CAST(longitude AS DOUBLE), CAST(latitude AS DOUBLE)), "
            "'EPSG:4326', 'EPSG:3035')"
        ),
    )
    return (
        events.withColumn("_pt", pt)
        .withColumn("x_3035", F.expr("ST_X(_pt)"))
        .withColumn("y_3035", F.expr("ST_Y(_pt)"))
        .drop("_pt")
    )


def event_location(flagged: DataFrame, grid: DataFrame, *, home_mcc: int) -> DataFrame:
    """Build :data:`~rmf_spark.clayer.schemas.EVENT_LOCATION` rows from flagged events.

    Parameters
    ----------
    flagged
        Output of :func:`rmf_spark.clayer.cleaning.flag_events`.
    grid
        :data:`~rmf_spark.clayer.schemas.GRID` (only ``tile_id`` is read).
    home_mcc
        Mobile country code of the MNO's country; other MCCs are ``inbound``, and a row
        without a cell whose PLMN has another MCC is ``outbound`` (module notes).
    """
    df = flagged
    for c in ("latitude", "longitude"):
        if c not in df.columns:
            df = df.withColumn(c, F.lit(None).cast("double"))
    df = wgs84_to_3035(df).withColumn("_tile", tile_id_of_xy(F.col("x_3035"), F.col("y_3035")))
    tiles = grid.select(F.col("tile_id").alias("_tile"), F.lit(True).alias("_in_grid"))
    df = df.join(tiles, "_tile", "left").withColumn(
        "tile_id", F.when(F.col("_in_grid"), F.col("_tile"))
    )
    outbound = is_outbound_record(F.col("cell_id"), F.col("plmn"), home_mcc)
    df = df.withColumn(
        "domain",
        F.when(outbound, F.lit("outbound"))
        .when(F.col("mcc").isNull(), F.lit(None).cast("string"))
        .when(F.col("mcc") == home_mcc, "domestic")
        .otherwise("inbound"),
    )
    df = df.withColumn(schemas.ABROAD, outbound).withColumn(
        schemas.VISITED_PLMN, F.when(outbound, F.col("plmn"))
    )
    for f in schemas.EVENT_LOCATION.fields:
        if f.name not in df.columns:
            df = df.withColumn(f.name, F.lit(None).cast(f.dataType))
    return df.select(*[F.col(f.name).cast(f.dataType) for f in schemas.EVENT_LOCATION.fields])
