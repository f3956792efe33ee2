"""Origin-destination matrices: trips per day, time band and pair of areas, and their expansion
from devices to persons.

``<mno>/slayer/od_matrix`` (:data:`OD_SCHEMA`): one row per (date, time band, level, origin
area, destination area): ``date, time_band, level, origin_area_id, destination_area_id, trips,
person_trips, expansion_factor``. :data:`OD_FLOW_TOTALS_SCHEMA`: per (date, time band, level)
the intra-area (origin = destination) and inter-area totals: ``date, time_band, level, flow,
trips, person_trips``.

Notes
-----
*Areas.* A level is ``zone_<n>`` (the C-layer ``tile_zone`` rows of ``zone_level = n``),
``1km`` or ``100m`` (the grid's INSPIRE codes), as in the present population's roll-ups.

*Weights.* A trip's origin is a set of tiles ``i`` with weights ``w_o(i)``, its destination
tiles ``j`` with ``w_d(j)``, each summing to 1 (:mod:`~rmf_spark.slayer.mobility.trips`). At a
level, the weight of area ``A`` is ``W_o(A) = sum_{i in A} w_o(i) / sum_{i in any area}
w_o(i)`` (tiles in no area of the level are left out and the rest renormalised; a trip end
with no tile in an area is not counted at that level), likewise ``W_d(B)``. The trip adds
``W_o(A) * W_d(B)`` to the cell ``(A, B)``: its cells sum to 1, so the matrix of a level sums
to the number of trips (those with both ends in the level's areas).

*Expansion.* :func:`with_trip_expansion` gives each trip the factor of its origin:
``f = sum_i w_o(i) * f_{r(i)}``, ``f_r`` the factor (persons per device) of the region ``r``
holding tile ``i``, e.g. ``1 / market share`` (:func:`factors_from_market_share`), as the
present population expands the devices of a tile by its region's factor. Then
``person_trips(A, B) = sum_trips f * W_o(A) * W_d(B)`` and ``expansion_factor = person_trips
/ trips``. A cell's ``person_trips`` is null when one of its trips has no factor.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

from rmf_spark.clayer.schemas import (
    DATE,
    INSPIRE_1KM,
    INSPIRE_100M,
    TILE_ID,
    ZONE_ID,
    ZONE_LEVEL,
)
from rmf_spark.slayer.aggregate.schemas import (
    AREA_ID,
    EXPANSION_FACTOR,
    LEVEL,
    LEVEL_1KM,
    LEVEL_100M,
    REGION_ID,
    SHARE,
)
from rmf_spark.slayer.mobility.settings import MobilitySettings
from rmf_spark.slayer.mobility.trips import (
    DESTINATION_TILE_IDS,
    DESTINATION_WEIGHTS,
    ORIGIN_TILE_IDS,
    ORIGIN_WEIGHTS,
    TIME_BAND,
    TRIP_KEY,
)

__all__ = [
    "DESTINATION_AREA_ID",
    "FLOW",
    "INTER",
    "INTRA",
    "OD_FLOW_TOTALS_SCHEMA",
    "OD_SCHEMA",
    "ORIGIN_AREA_ID",
    "PERSON_TRIPS",
    "TRIPS",
    "compute_od_flow_totals",
    "compute_od_matrices",
    "factors_from_market_share",
    "tile_areas",
    "with_trip_expansion",
]

ORIGIN_AREA_ID, DESTINATION_AREA_ID = "origin_area_id", "destination_area_id"
#: trips of devices (fractional: the sum of the trips' weights on the cell)
TRIPS = "trips"
#: trips of persons: each trip's weight times its expansion factor
PERSON_TRIPS = "person_trips"
#: ``intra`` (origin area = destination area) or ``inter``
FLOW = "flow"
INTRA, INTER = "intra", "inter"

#: ``level``: ``zone_<n>``, ``1km`` or ``100m``; ``person_trips`` and ``expansion_factor``
#: (``person_trips / trips``) are null without expansion
OD_SCHEMA = StructType(
    [
        StructField(DATE, DateType(), False),
        StructField(TIME_BAND, StringType(), False),
        StructField(LEVEL, StringType(), False),
        StructField(ORIGIN_AREA_ID, StringType(), False),
        StructField(DESTINATION_AREA_ID, StringType(), False),
        StructField(TRIPS, DoubleType(), False),
        StructField(PERSON_TRIPS, DoubleType(), True),
        StructField(EXPANSION_FACTOR, DoubleType(), True),
    ]
)

OD_FLOW_TOTALS_SCHEMA = StructType(
    [
        StructField(DATE, DateType(), False),
        StructField(TIME_BAND, StringType(), False),
        StructField(LEVEL, StringType(), False),
        StructField(FLOW, StringType(), False),
        StructField(TRIPS, DoubleType(), False),
        StructField(PERSON_TRIPS, DoubleType(), True),
    ]
)

_SIDE, _W, _F = "_side", "_w", "_f"


def _sum_or_null(value: Column) -> Column:
    """The sum of ``value``, null when one of the values is."""
    return F.when(F.count_if(value.isNull()) > 0, F.lit(None).cast("double")).otherwise(
        F.sum(value).cast("double")
    )


def tile_areas(*, grid: DataFrame, tile_zone: DataFrame, levels: list[str]) -> DataFrame:
    """``tile_id, level, area_id``: the area of each tile at each of ``levels`` (module notes).

    Parameters
    ----------
    grid
        C-layer ``grid`` (``tile_id, inspire_100m, inspire_1km``).
    tile_zone
        C-layer ``tile_zone`` (``tile_id, zone_level, zone_id``).
    levels
        ``mobility.levels``.
    """
    tile = F.col(TILE_ID).cast("long").alias(TILE_ID)
    parts = []
    for level in levels:
        if level in (LEVEL_1KM, LEVEL_100M):
            code = INSPIRE_1KM if level == LEVEL_1KM else INSPIRE_100M
            parts.append(grid.select(tile, F.lit(level).alias(LEVEL), F.col(code).alias(AREA_ID)))
        else:
            n = int(level.removeprefix("zone_"))
            parts.append(
                tile_zone.where(F.col(ZONE_LEVEL) == n).select(
                    tile, F.lit(level).alias(LEVEL), F.col(ZONE_ID).cast("string").alias(AREA_ID)
                )
            )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.where(F.col(AREA_ID).isNotNull())


def _end_tiles(trips: DataFrame, keys: list[str], tiles: str, weights: str) -> DataFrame:
    """One row per tile of a trip end: ``keys, tile_id, _w``."""
    zipped = F.arrays_zip(F.col(tiles).alias("t"), F.col(weights).alias("w"))
    return trips.select(*keys, F.explode(zipped).alias("_e")).select(
        *keys, F.col("_e.t").alias(TILE_ID), F.col("_e.w").alias(_W)
    )


def factors_from_market_share(market_share: DataFrame) -> DataFrame:
    """``region_id, expansion_factor`` (``1 / share``) from a market share table (``region_id,
    share``; regions without a positive share are left out)."""
    return market_share.where(F.col(SHARE) > 0).select(
        REGION_ID, (F.lit(1.0) / F.col(SHARE).cast("double")).alias(EXPANSION_FACTOR)
    )


def with_trip_expansion(
    trips: DataFrame,
    *,
    tile_zone: DataFrame,
    factors: DataFrame,
    region_level: int,
    default_factor: float | None = None,
) -> DataFrame:
    """``trips`` plus ``expansion_factor``: persons per device of each trip, from the regions
    of its origin (module notes).

    Parameters
    ----------
    trips
        :data:`~rmf_spark.slayer.mobility.trips.TRIPS_SCHEMA` rows.
    tile_zone
        C-layer ``tile_zone``.
    factors
        ``region_id, expansion_factor`` (persons per device), e.g.
        :func:`factors_from_market_share`.
    region_level
        The ``zone_level`` of the factors' regions.
    default_factor
        Factor of origin tiles in no region with a factor; ``None``: the trip's factor is
        null.

    Returns
    -------
    DataFrame
        The trips and ``expansion_factor double`` (``sum_i w_o(i) f_{r(i)}``).
    """
    keys = list(TRIP_KEY)
    regions = tile_zone.where(F.col(ZONE_LEVEL) == region_level).select(
        F.col(TILE_ID).cast("long").alias(TILE_ID), F.col(ZONE_ID).alias(REGION_ID)
    )
    f = factors.select(REGION_ID, F.col(EXPANSION_FACTOR).cast("double").alias(_F))
    factor = F.col(_F) if default_factor is None else F.coalesce(F.col(_F), F.lit(default_factor))
    per_trip = (
        _end_tiles(trips, keys, ORIGIN_TILE_IDS, ORIGIN_WEIGHTS)
        .join(regions, on=TILE_ID, how="left")
        .join(F.broadcast(f), on=REGION_ID, how="left")
        .groupBy(*keys)
        .agg(_sum_or_null(F.col(_W) * factor).alias(EXPANSION_FACTOR))
    )
    return trips.join(per_trip, on=keys, how="left")


def compute_od_matrices(
    trips: DataFrame, *, grid: DataFrame, tile_zone: DataFrame, settings: MobilitySettings
) -> DataFrame:
    """OD matrices per day, time band and level (module notes).

    Parameters
    ----------
    trips
        :data:`~rmf_spark.slayer.mobility.trips.TRIPS_SCHEMA` rows, with ``expansion_factor``
        when expanded (:func:`with_trip_expansion`).
    grid, tile_zone
        C-layer ``grid`` and ``tile_zone``.
    settings
        ``[mobility]`` (its ``levels``).

    Returns
    -------
    DataFrame
        :data:`OD_SCHEMA`; ``person_trips`` and ``expansion_factor`` null when ``trips`` has
        no ``expansion_factor``.
    """
    factor = (
        F.col(EXPANSION_FACTOR).cast("double")
        if EXPANSION_FACTOR in trips.columns
        else F.lit(None).cast("double")
    )
    keys = [*TRIP_KEY, DATE, TIME_BAND, _F]
    t = trips.withColumn(_F, factor)
    both = F.array(
        F.struct(F.lit("o").alias(_SIDE), F.col(ORIGIN_TILE_IDS).alias("t"),
                 F.col(ORIGIN_WEIGHTS).alias("w")),
        F.struct(F.lit("d").alias(_SIDE), F.col(DESTINATION_TILE_IDS).alias("t"),
                 F.col(DESTINATION_WEIGHTS).alias("w")),
    )  # fmt: skip
    ends = _end_tiles(t.select(*keys, F.inline(both)), [*keys, _SIDE], "t", "w")
    areas = tile_areas(grid=grid, tile_zone=tile_zone, levels=settings.levels)
    area_weights = (
        ends.join(areas, on=TILE_ID, how="inner")
        .groupBy(*keys, LEVEL, _SIDE, AREA_ID)
        .agg(F.sum(_W).alias(_W))
    )
    entry = F.struct(F.col(AREA_ID).alias("a"), F.col(_W).alias("w"))
    sides = area_weights.groupBy(*keys, LEVEL).agg(
        F.collect_list(F.when(F.col(_SIDE) == "o", entry)).alias("_o"),
        F.collect_list(F.when(F.col(_SIDE) == "d", entry)).alias("_d"),
    )

    def total(side: Column) -> Column:
        return F.aggregate(side, F.lit(0.0), lambda acc, e: acc + e["w"])

    o, d = F.col("_o"), F.col("_d")
    cells = F.flatten(
        F.transform(
            o,
            lambda a: F.transform(
                d,
                lambda b: F.struct(
                    a["a"].alias(ORIGIN_AREA_ID),
                    b["a"].alias(DESTINATION_AREA_ID),
                    (a["w"] / total(o) * b["w"] / total(d)).alias(_W),
                ),
            ),
        )
    )
    pairs = (
        sides.where((F.size(o) > 0) & (F.size(d) > 0))
        .select(DATE, TIME_BAND, LEVEL, _F, F.explode(cells).alias("_c"))
        .select(DATE, TIME_BAND, LEVEL, _F, "_c.*")
    )
    return (
        pairs.groupBy(DATE, TIME_BAND, LEVEL, ORIGIN_AREA_ID, DESTINATION_AREA_ID)
        .agg(
            F.sum(_W).cast("double").alias(TRIPS),
            _sum_or_null(F.col(_W) * F.col(_F)).alias(PERSON_TRIPS),
        )
        .withColumn(EXPANSION_FACTOR, F.when(F.col(TRIPS) > 0, F.col(PERSON_TRIPS) / F.col(TRIPS)))
        .select(*OD_SCHEMA.fieldNames())
    )


def compute_od_flow_totals(od: DataFrame) -> DataFrame:
    """Intra-area (origin = destination) and inter-area totals of OD matrices.

    Parameters
    ----------
    od
        :data:`OD_SCHEMA` rows.

    Returns
    -------
    DataFrame
        :data:`OD_FLOW_TOTALS_SCHEMA`: per ``date, time_band, level`` and ``flow`` (``intra``
        | ``inter``) the sums of ``trips`` and ``person_trips`` (null when a cell's is).
    """
    flow = F.when(F.col(ORIGIN_AREA_ID) == F.col(DESTINATION_AREA_ID), F.lit(INTRA)).otherwise(
        F.lit(INTER)
    )
    return (
        od.groupBy(DATE, TIME_BAND, LEVEL, flow.alias(FLOW))
        .agg(
            F.sum(TRIPS).cast("double").alias(TRIPS),
            _sum_or_null(F.col(PERSON_TRIPS)).alias(PERSON_TRIPS),
        )
        .select(*OD_FLOW_TOTALS_SCHEMA.fieldNames())
    )
