"""The ``hmm`` estimator: present population as the sum of the devices' location posteriors,
with an interval.

Notes
-----
*Estimate.* A device ``i`` is in area ``A`` at time point ``t`` with probability
``p_iA = sum_{j in A} p_ij``, its HMM posterior on the 100 m tiles ``j`` of ``A``
(``slayer/location_posterior``). Devices in ``A``: ``N_A = sum_i p_iA``; people:
``P_A = sum_i sum_{j in A} p_ij f_j``, ``f_j = 1 / s_r(j)`` the expansion factor of the
tile's region (:mod:`rmf_spark.slayer.aggregate.expansion`).

*Interval.* Given the posteriors, each device's presence is an independent Bernoulli:
``Var N_A = sum_i p_iA (1 - p_iA)``; for people, the device contributes ``f_j`` with
probability ``p_ij``, so ``Var P_A = sum_i (sum_{j in A} p_ij f_j^2 - (sum_{j in A} p_ij
f_j)^2)``, plus the expansion's own uncertainty, ``(P_A rse)^2`` with ``rse`` the relative
standard error of the market shares (delta method: ``f = 1/s`` has the relative error of
``s``). The interval is ``x +- z sqrt(Var)`` (normal approximation, ``z`` of
``interval_level``), clipped at 0. It reflects the uncertainty the model knows of, not its
bias: the evaluation reports its coverage against the truth. The variances are not additive
over areas (a device's ``p_iA`` is a sum), so the 1 km and zone levels are summed per device
first; a 100 m area is one tile, where ``p_iA = p_ij`` and the per-tile terms add up directly.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.stats import norm

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
from rmf_spark.slayer.aggregate.expansion import with_expansion
from rmf_spark.slayer.aggregate.rollup import compute_rollups
from rmf_spark.slayer.aggregate.schemas import (
    AREA_ID,
    DEVICES,
    EXPANSION_FACTOR,
    LEVEL,
    POPULATION,
)
from rmf_spark.slayer.present_population.pipeline import as_present_population
from rmf_spark.slayer.present_population.schemas import (
    DEVICES_LOWER,
    DEVICES_UPPER,
    METHOD,
    POPULATION_LOWER,
    POPULATION_UPPER,
    TIME_POINT,
)
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings

__all__ = ["HMM", "compute_hmm_present_population"]

#: the estimator's name in ``present_population.method``
HMM = "hmm"
_PF2 = "_pf2"  # sum of p f^2 (one device's second moment of people)
_P2, _POP2 = "_p2", "_pop2"  # p^2 and (p f)^2 of one device on one tile


def compute_hmm_present_population(
    posteriors: DataFrame,
    *,
    grid: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    start: datetime,
    end: datetime,
    settings: PresentPopulationSettings,
) -> DataFrame:
    """Present population at every time point of ``posteriors`` in [start, end], all levels.

    Parameters
    ----------
    posteriors
        ``slayer/location_posterior``: ``device_id, time_point, tile_id, probability``.
    grid, tile_zone
        C-layer tables (roll-ups).
    market_share
        ``region_id, share`` of this MNO.
    start, end
        First and last time point (UTC).
    settings
        ``[present_population]`` (expansion; ``hmm.interval_level``, ``hmm.market_share_rse``).

    Returns
    -------
    DataFrame
        :data:`~.schemas.PRESENT_POPULATION_SCHEMA` rows with ``method = 'hmm'`` and the
        interval columns. No device ids.
    """
    z = float(norm.ppf(0.5 + settings.hmm.interval_level / 2))
    rse = settings.hmm.market_share_rse
    p = posteriors.where(F.col(TIME_POINT).between(F.lit(start), F.lit(end))).select(
        DEVICE_ID, TIME_POINT, F.col(TILE_ID).cast("long"), F.col("probability").alias(DEVICES)
    )
    tiles = with_expansion(
        p,
        tile_zone=tile_zone,
        market_share=market_share,
        region_level=settings.region_level,
        default_share=settings.default_share,
    ).withColumn(_PF2, F.col(POPULATION) * F.col(EXPANSION_FACTOR))
    d, pop = F.col(DEVICES), F.col(POPULATION)
    # A 100 m area is one tile: a device's p_iA is its p_ij, so the variances add up over
    # devices as they are (sum p - sum p^2): no shuffle by device of every tile.
    squares = tiles.withColumn(_P2, d * d).withColumn(_POP2, pop * pop)
    fine = compute_rollups(
        squares,
        keys=(TIME_POINT,),
        grid=grid,
        tile_zone=tile_zone,
        sums=(_PF2, _P2, _POP2),
        levels=("100m",),
    ).select(
        TIME_POINT,
        LEVEL,
        AREA_ID,
        DEVICES,
        (d - F.col(_P2)).alias("_var_devices"),
        POPULATION,
        (F.col(_PF2) - F.col(_POP2)).alias("_var_people"),
    )
    # Coarser areas: each device's p_iA first (a sum over its tiles in A), then over devices.
    per_device = compute_rollups(
        tiles,
        keys=(TIME_POINT, DEVICE_ID),
        grid=grid,
        tile_zone=tile_zone,
        sums=(_PF2,),
        levels=("1km", "zone"),
    )
    coarse = per_device.groupBy(TIME_POINT, LEVEL, AREA_ID).agg(
        F.sum(d).alias(DEVICES),
        F.sum(d * (1 - d)).alias("_var_devices"),
        F.when(F.count_if(pop.isNull()) == 0, F.sum(pop)).alias(POPULATION),
        F.sum(F.col(_PF2) - pop * pop).alias("_var_people"),
    )
    areas = fine.unionByName(coarse)
    sd_devices = F.sqrt(F.greatest(F.col("_var_devices"), F.lit(0.0)))
    var_people = F.greatest(F.col("_var_people"), F.lit(0.0)) + (pop * rse) ** 2
    sd_people = F.sqrt(var_people)
    out = (
        areas.withColumn(METHOD, F.lit(HMM))
        .withColumn(EXPANSION_FACTOR, F.when(d > 0, pop / d))
        .withColumn(DEVICES_LOWER, F.greatest(d - z * sd_devices, F.lit(0.0)))
        .withColumn(DEVICES_UPPER, d + z * sd_devices)
        .withColumn(POPULATION_LOWER, F.greatest(pop - z * sd_people, F.lit(0.0)))
        .withColumn(POPULATION_UPPER, pop + z * sd_people)
    )
    return as_present_population(out)
