"""Present population as one composition of pure steps: events -> time points -> counts per
observation -> EM and naive devices per tile -> people -> all area levels.

No I/O: the stage runner (:mod:`~.runner`) reads the C-layer and writes the result.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.slayer.aggregate.expansion import with_expansion
from rmf_spark.slayer.aggregate.rollup import compute_rollups
from rmf_spark.slayer.present_population.estimators import (
    compute_em_tile_devices,
    compute_naive_tile_devices,
)
from rmf_spark.slayer.present_population.observations import (
    compute_cell_counts,
    to_device_time_points,
)
from rmf_spark.slayer.present_population.schemas import (
    METHOD,
    PRESENT_POPULATION_SCHEMA,
    TIME_POINT,
)
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings

__all__ = [
    "as_present_population",
    "compute_present_population",
    "compute_tile_estimates",
    "to_present_population",
]


def compute_tile_estimates(
    events: DataFrame,
    *,
    connection_probability: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    start: datetime,
    end: datetime,
    settings: PresentPopulationSettings,
    dominance_steepness: float,
    reach_offsets: DataFrame | None = None,
) -> DataFrame:
    """Devices and people per (time point, 100 m tile), EM and naive.

    Parameters
    ----------
    events
        C-layer ``event_location`` of one MNO.
    connection_probability, tile_zone
        C-layer tables (``docs/tables.md`` section 3).
    market_share
        ``region_id, share`` of this MNO.
    start, end
        First and last time point (UTC).
    settings
        The profile's ``[present_population]`` section.
    dominance_steepness
        Logistic steepness per dB of the C-layer's signal dominance (recorded by the
        convergence run), for the reach offsets.
    reach_offsets
        Per (date, cell) path-loss offsets of the reach calibration
        (:func:`~.reach_calibration.compute_reach_offsets`; the stage runner computes and
        writes them), or None: the C-layer's ``P(cell | tile)`` as it is, not calibrated.

    Returns
    -------
    DataFrame
        ``time_point, tile_id, devices, method, expansion_factor, population``.
    """
    points = to_device_time_points(
        events,
        start=start,
        end=end,
        step_s=settings.time_step_s,
        tolerance_s=settings.tolerance_s,
    )
    counts = compute_cell_counts(points, ta_step_m=settings.timing_advance_step_m)
    em = compute_em_tile_devices(
        counts,
        connection_probability=connection_probability,
        settings=settings,
        dominance_steepness=dominance_steepness,
        reach_offsets=reach_offsets,
    ).withColumn(METHOD, F.lit("em"))
    naive = compute_naive_tile_devices(
        counts, connection_probability=connection_probability
    ).withColumn(METHOD, F.lit("naive"))
    return with_expansion(
        em.unionByName(naive),
        tile_zone=tile_zone,
        market_share=market_share,
        region_level=settings.region_level,
        default_share=settings.default_share,
    )


def to_present_population(tiles: DataFrame, *, grid: DataFrame, tile_zone: DataFrame) -> DataFrame:
    """Roll :func:`compute_tile_estimates` up to all levels, in the output schema."""
    out = compute_rollups(tiles, keys=(TIME_POINT, METHOD), grid=grid, tile_zone=tile_zone)
    return as_present_population(out)


def as_present_population(rows: DataFrame) -> DataFrame:
    """``rows`` in :data:`~.schemas.PRESENT_POPULATION_SCHEMA` (missing interval columns null)."""
    return rows.select(
        *(
            (F.col(f.name) if f.name in rows.columns else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in PRESENT_POPULATION_SCHEMA
        )
    )


def compute_present_population(
    events: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    tile_zone: DataFrame,
    market_share: DataFrame,
    start: datetime,
    end: datetime,
    settings: PresentPopulationSettings,
    dominance_steepness: float,
    reach_offsets: DataFrame | None = None,
) -> DataFrame:
    """Present population at every time point in [start, end], EM and naive, all levels.

    Parameters are those of :func:`compute_tile_estimates` plus the C-layer ``grid``.

    Returns
    -------
    DataFrame
        :data:`~.schemas.PRESENT_POPULATION_SCHEMA` rows. No device ids.
    """
    tiles = compute_tile_estimates(
        events,
        connection_probability=connection_probability,
        tile_zone=tile_zone,
        market_share=market_share,
        start=start,
        end=end,
        settings=settings,
        dominance_steepness=dominance_steepness,
        reach_offsets=reach_offsets,
    )
    return to_present_population(tiles, grid=grid, tile_zone=tile_zone)
