"""From devices to people: a per-region expansion factor from the MNO's market share.

Notes
-----
A device in a tile of region r stands for ``f_r = 1 / s_r`` people, where ``s_r`` is the MNO's
market share in r (the share of r's residents with a device on that MNO):
``population_j = devices_j * f_{r(j)}``. This is MultiMNO's ``mno_to_target_population_factor``
step with a per-region factor (MultiMNO, ``17_output_indicators.md``; docs/references.md);
no cross-MNO deduplication factor is applied here: a person with devices on several MNOs is
counted by each. The factor
is kept with every output row, so the released figures can be traced back to devices.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.slayer.aggregate.schemas import (
    DEVICES,
    EXPANSION_FACTOR,
    POPULATION,
    REGION_ID,
    SHARE,
)

__all__ = ["with_expansion"]


def with_expansion(
    tile_devices: DataFrame,
    *,
    tile_zone: DataFrame,
    market_share: DataFrame,
    region_level: int,
    default_share: float | None,
) -> DataFrame:
    """Add ``expansion_factor`` and ``population`` to devices per 100 m tile.

    Parameters
    ----------
    tile_devices
        Rows with ``tile_id`` and ``devices`` (any other columns are kept).
    tile_zone
        C-layer ``tile_zone``: ``tile_id, zone_level, zone_id``.
    market_share
        ``region_id, share`` (share in (0, 1]) for this MNO.
    region_level
        The ``zone_level`` of the regions the shares refer to.
    default_share
        Share for tiles outside any region with a share; ``None`` leaves their
        ``population`` and ``expansion_factor`` null.

    Returns
    -------
    DataFrame
        The input plus ``expansion_factor double`` (``1 / share``) and ``population double``
        (``devices * expansion_factor``).

    Notes
    -----
    ``f_r = 1 / s_r``; ``population_j = devices_j * f_{r(j)}`` (module notes).
    """
    regions = tile_zone.where(F.col(ZONE_LEVEL) == region_level).select(
        F.col(TILE_ID).cast("long").alias(TILE_ID), F.col(ZONE_ID).alias(REGION_ID)
    )
    shares = market_share.select(REGION_ID, F.col(SHARE).cast("double").alias(SHARE)).where(
        F.col(SHARE) > 0
    )
    share = (
        F.col(SHARE) if default_share is None else F.coalesce(F.col(SHARE), F.lit(default_share))
    )
    return (
        tile_devices.join(regions, on=TILE_ID, how="left")
        .join(F.broadcast(shares), on=REGION_ID, how="left")
        .withColumn(EXPANSION_FACTOR, F.lit(1.0) / share)
        .withColumn(POPULATION, F.col(DEVICES) * F.col(EXPANSION_FACTOR))
        .drop(REGION_ID, SHARE)
    )
