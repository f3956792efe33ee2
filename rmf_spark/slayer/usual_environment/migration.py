"""Internal migration: devices whose home moved between two periods, and the flows between zones.

Notes
-----
A device has the home tiles ``A`` in the first period and ``B`` in the second, each tile with
the weight ``1 / |A|`` (``1 / |B|``) of :func:`~.residents.with_tile_weights`. Their overlap
is, with ``overlap = 'dice'`` (MultiMNO), ``2 |A n B| / (|A| + |B|)``, or, with
``'shared_weight'``, the weight both periods put on the same tiles,
``sum_j min(w_A(j), w_B(j))`` (1 minus the total variation distance of the two weightings).
Both are 1 for the same tiles and 0 for disjoint ones. The device *migrates* when the overlap
is below ``threshold`` (strictly: an overlap equal to it stays); a device with a home in one
period only is neither, its status says which period it lacks.

A migrant puts the weight ``W_A(o) W_B(d)`` on the flow from zone ``o`` to zone ``d`` of each
level, ``W_A(o)`` the weight of its first-period tiles in ``o`` (so it counts once, as in
:mod:`~.residents`), and stands for ``sum_{j in A, j in o} w_A(j) / s_r(j)`` people per unit
of ``W_B(d)``: it is expanded with the market share of its first-period home, the population
it left. Flows from a zone to itself are moves inside it.

This module imports no Spark until a function runs: its settings section is part of the
profile, which loads without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from rmf_spark.config_base import Section

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "HOME_AFTER_ONLY",
    "HOME_BEFORE_ONLY",
    "MIGRANT",
    "STAYER",
    "MigrationSettings",
    "compute_home_overlap",
    "compute_migration_flows",
]

STAYER, MIGRANT = "stayer", "migrant"
#: a device with home tiles in the first (second) period only
HOME_BEFORE_ONLY, HOME_AFTER_ONLY = "home_before_only", "home_after_only"
OVERLAP, STATUS = "overlap", "status"
TILES_BEFORE, TILES_AFTER = "tiles_before", "tiles_after"
ORIGIN_ZONE_ID, DESTINATION_ZONE_ID = "origin_zone_id", "destination_zone_id"


class MigrationSettings(Section):
    """Internal migration: when two periods' home tiles make a migrant."""

    overlap: Literal["dice", "shared_weight"] = Field(
        "dice",
        description=(
            "overlap of the two periods' home tiles: 'dice' 2|A n B| / (|A| + |B|) "
            "(MultiMNO), 'shared_weight' sum of min(w_A, w_B) over the tiles"
        ),
    )
    threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a device migrates when the overlap is below this (MultiMNO: 0.5)",
    )


def compute_home_overlap(
    home_before: DataFrame, home_after: DataFrame, *, settings: MigrationSettings
) -> DataFrame:
    """Per device with a home in either period: the overlap and the migration status.

    Parameters
    ----------
    home_before, home_after
        ``device_id, tile_id``: home tiles of the first and the second period.
    settings
        The ``migration`` section.

    Returns
    -------
    DataFrame
        ``device_id, tiles_before long, tiles_after long, overlap double (null with a home
        in one period only), status ('stayer' | 'migrant' | 'home_before_only' |
        'home_after_only')``. Personal: device ids.

    Examples
    --------
    >>> a = spark.createDataFrame([("d", 1), ("d", 2)], "device_id string, tile_id long")
    >>> b = spark.createDataFrame([("d", 2), ("d", 3)], "device_id string, tile_id long")
    >>> r = compute_home_overlap(a, b, settings=MigrationSettings()).first()
    >>> r.overlap, r.status
    (0.5, 'stayer')
    """
    from pyspark.sql import functions as F

    from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
    from rmf_spark.slayer.usual_environment.residents import WEIGHT, with_tile_weights

    both = (
        with_tile_weights(home_before)
        .withColumnRenamed(WEIGHT, "_wa")
        .join(
            with_tile_weights(home_after).withColumnRenamed(WEIGHT, "_wb"),
            on=[DEVICE_ID, TILE_ID],
            how="full",
        )
    )
    wa, wb = F.col("_wa"), F.col("_wb")
    per_device = both.groupBy(DEVICE_ID).agg(
        F.count(wa).alias(TILES_BEFORE),
        F.count(wb).alias(TILES_AFTER),
        F.count(wa * wb).alias("_shared"),
        # least() skips nulls: a tile of one period only shares nothing
        F.coalesce(
            F.sum(F.when(wa.isNotNull() & wb.isNotNull(), F.least(wa, wb))), F.lit(0.0)
        ).alias("_shared_weight"),
    )
    n_a, n_b = F.col(TILES_BEFORE), F.col(TILES_AFTER)
    dice = 2.0 * F.col("_shared") / (n_a + n_b)
    overlap = dice if settings.overlap == "dice" else F.col("_shared_weight")
    one_period = (n_a == 0) | (n_b == 0)
    status = (
        F.when(n_b == 0, HOME_BEFORE_ONLY)
        .when(n_a == 0, HOME_AFTER_ONLY)
        .when(F.col(OVERLAP) < settings.threshold, MIGRANT)
        .otherwise(STAYER)
    )
    return (
        per_device.withColumn(OVERLAP, F.when(~one_period, overlap.cast("double")))
        .withColumn(STATUS, status)
        .select(DEVICE_ID, TILES_BEFORE, TILES_AFTER, OVERLAP, STATUS)
    )


def compute_migration_flows(
    home_before: DataFrame,
    home_after: DataFrame,
    *,
    tile_zone: DataFrame,
    market_share: DataFrame,
    region_level: int,
    settings: MigrationSettings,
    default_share: float | None = None,
) -> DataFrame:
    """Migrating devices and people between zones of every level (module notes).

    Parameters
    ----------
    home_before, home_after
        ``device_id, tile_id``: home tiles of the first and the second period.
    tile_zone
        C-layer ``tile_zone``: the zones of each level.
    market_share
        ``region_id, share`` of this MNO (people: the share of the first-period home).
    region_level
        The ``zone_level`` of the share's regions.
    settings
        The ``migration`` section.
    default_share
        Share of tiles outside every region with a share; None leaves their people null.

    Returns
    -------
    DataFrame
        ``zone_level int, origin_zone_id, destination_zone_id, devices double, population
        double, expansion_factor double`` (``population / devices``): migrants only; a
        device's weight on tiles outside every zone of a level is not in that level's flows.
        No device ids.
    """
    from pyspark.sql import functions as F

    from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID, ZONE_ID, ZONE_LEVEL
    from rmf_spark.slayer.aggregate.expansion import with_expansion
    from rmf_spark.slayer.aggregate.schemas import DEVICES, EXPANSION_FACTOR, POPULATION
    from rmf_spark.slayer.usual_environment.residents import WEIGHT, with_tile_weights

    migrants = (
        compute_home_overlap(home_before, home_after, settings=settings)
        .where(F.col(STATUS) == MIGRANT)
        .select(DEVICE_ID)
    )
    zones = tile_zone.select(F.col(TILE_ID).cast("long").alias(TILE_ID), ZONE_LEVEL, ZONE_ID)
    before = with_expansion(
        with_tile_weights(home_before).join(migrants, DEVICE_ID).withColumnRenamed(WEIGHT, DEVICES),
        tile_zone=tile_zone,
        market_share=market_share,
        region_level=region_level,
        default_share=default_share,
    )
    origin = (
        before.join(zones, TILE_ID)
        .groupBy(DEVICE_ID, ZONE_LEVEL, F.col(ZONE_ID).alias(ORIGIN_ZONE_ID))
        .agg(
            F.sum(DEVICES).alias("_w_origin"),
            F.when(F.count_if(F.col(POPULATION).isNull()) == 0, F.sum(POPULATION)).alias("_people"),
        )
    )
    destination = (
        with_tile_weights(home_after)
        .join(migrants, DEVICE_ID)
        .join(zones, TILE_ID)
        .groupBy(DEVICE_ID, ZONE_LEVEL, F.col(ZONE_ID).alias(DESTINATION_ZONE_ID))
        .agg(F.sum(WEIGHT).alias("_w_destination"))
    )
    w_d = F.col("_w_destination")
    return (
        origin.join(destination, [DEVICE_ID, ZONE_LEVEL])
        .groupBy(ZONE_LEVEL, ORIGIN_ZONE_ID, DESTINATION_ZONE_ID)
        .agg(
            F.sum(F.col("_w_origin") * w_d).alias(DEVICES),
            F.when(F.count_if(F.col("_people").isNull()) == 0, F.sum(F.col("_people") * w_d))
            .cast("double")
            .alias(POPULATION),
        )
        .withColumn(
            EXPANSION_FACTOR, F.when(F.col(DEVICES) > 0, F.col(POPULATION) / F.col(DEVICES))
        )
    )
