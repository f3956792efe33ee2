"""Device-level inference in Spark: one pandas group per device-day (``cogroup``).

Notes
-----
Each group holds the device-day's compressed rows (at most ``device.max_rows_per_day``, plus
two context rows) and the connection probabilities of its cells (one row per cell and tile).
The numpy work is :mod:`~rmf_spark.slayer.device.inference`; memory per group is stated in
``docs/device-inference.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.group_ops import PandasCogroupedOps

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DEVICE_ID,
    DISTANCE_M,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    TILE_ID,
    X_LL,
    Y_LL,
)
from rmf_spark.slayer.device.compress import with_day_bounds
from rmf_spark.slayer.device.inference import PRIOR, infer_device_day, time_point_posteriors
from rmf_spark.slayer.device.permanence import daily_permanence
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    CONTEXT,
    DAY_END,
    DAY_START,
    FIRST_TS,
    INBOUND,
    LAST_TS,
    PERMANENCE_SCHEMA,
    SEGMENTS_SCHEMA,
    TIME_POINT_POSTERIOR_SCHEMA,
)
from rmf_spark.slayer.device.settings import DeviceSettings

__all__ = [
    "compute_daily_permanence",
    "compute_segments",
    "compute_time_point_posteriors",
    "with_day_context",
]


def with_day_context(compressed: DataFrame) -> DataFrame:
    """Adds to each device-day the device's last row before it and first row after it
    (``context = true``), so a stay or an abroad stretch crossing midnight continues.

    Parameters
    ----------
    compressed
        :func:`~rmf_spark.slayer.device.compress.compress_runs` output.

    Returns
    -------
    DataFrame
        The same columns plus ``context boolean``.
    """
    w = Window.partitionBy(DEVICE_ID).orderBy(FIRST_TS, LAST_TS, CELL_ID)
    marked = compressed.withColumn("_prev", F.lag(DATE).over(w)).withColumn(
        "_next", F.lead(DATE).over(w)
    )
    own = compressed.withColumn(CONTEXT, F.lit(False))
    cols = compressed.columns

    def copied(into: str) -> DataFrame:
        rows = marked.where(F.col(into).isNotNull() & (F.col(into) != F.col(DATE)))
        return rows.withColumn(DATE, F.col(into)).select(*cols).withColumn(CONTEXT, F.lit(True))

    return own.unionByName(copied("_next")).unionByName(copied("_prev"))


def _per_device_day(
    rows: DataFrame,
    connection_probability: DataFrame,
    grid: DataFrame,
    prior: DataFrame | None,
    time_zone: str,
) -> PandasCogroupedOps:
    """The cogroup of each device-day's rows (with its day bounds) and its cells' footprints."""
    keys = [CELL_ID, FOOTPRINT_VERSION]
    on_date = DATE in connection_probability.columns
    distance = F.col(DISTANCE_M) if DISTANCE_M in connection_probability.columns else F.lit(None)
    cp = connection_probability.select(
        *keys,
        *([DATE] if on_date else []),
        F.col(TILE_ID).cast("long").alias(TILE_ID),
        F.col(P_CELL_GIVEN_TILE).cast("double").alias(P_CELL_GIVEN_TILE),
        distance.cast("double").alias(DISTANCE_M),
    ).where(F.col(P_CELL_GIVEN_TILE) > 0)
    cp = cp.join(grid.select(TILE_ID, X_LL, Y_LL), on=TILE_ID, how="inner")
    if prior is not None:
        cp = cp.join(prior.select(TILE_ID, F.col(PRIOR).cast("double")), on=TILE_ID, how="left")
    # new attributes for every column: both sides of the cogroup come from ``rows``, and
    # Spark's self-join check would find them ambiguous
    fresh = [DEVICE_ID, DATE, *keys]
    cells = (
        rows.where(~F.col(ABROAD) & F.col(CELL_ID).isNotNull())
        .select(*[F.col(c).alias(f"_{c}") for c in fresh])
        .distinct()
        .toDF(*fresh)
    )
    footprints = cells.join(cp, on=[*keys, *([DATE] if on_date else [])], how="inner")
    own = with_day_bounds(rows, time_zone=time_zone).groupBy(DEVICE_ID, DATE)
    return own.cogroup(footprints.groupBy(DEVICE_ID, DATE))


def _segments_fn(settings: DeviceSettings, ta_buffer: int):  # type: ignore[no-untyped-def]
    names = SEGMENTS_SCHEMA.fieldNames()

    def run(rows: pd.DataFrame, footprints: pd.DataFrame) -> pd.DataFrame:
        if rows.empty:
            return pd.DataFrame(columns=names)
        out = infer_device_day(
            rows,
            footprints,
            day_start=rows[DAY_START].iloc[0],
            day_end=rows[DAY_END].iloc[0],
            settings=settings,
            ta_buffer=ta_buffer,
        )
        out[DEVICE_ID] = rows[DEVICE_ID].iloc[0]
        out[DATE] = rows[DATE].iloc[0]
        inbound = rows[INBOUND].dropna()
        out[INBOUND] = bool(inbound.any()) if len(inbound) else None
        return out[names]

    return run


def compute_segments(
    rows: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    settings: DeviceSettings,
    ta_buffer: int,
    prior: DataFrame | None = None,
) -> DataFrame:
    """Continuous time segments of every device-day, located by the HMM.

    Parameters
    ----------
    rows
        :func:`with_day_context` output.
    connection_probability
        C-layer ``connection_probability`` (``cell_id, footprint_version, tile_id,
        p_cell_given_tile``, optionally ``distance_m`` and ``date``: when present, a
        device-day uses the probabilities of its own date).
    grid
        C-layer ``grid`` (``tile_id, x_ll, y_ll``).
    settings
        ``[device]``.
    ta_buffer
        ``present_population.timing_advance_buffer``.
    prior
        Optional ``tile_id, prior`` (weights, e.g. an EM density): the HMM's prior.

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.slayer.device.schemas.SEGMENTS_SCHEMA`.
    """
    groups = _per_device_day(rows, connection_probability, grid, prior, settings.time_zone)
    return groups.applyInPandas(_segments_fn(settings, ta_buffer), SEGMENTS_SCHEMA)


def compute_daily_permanence(segments: DataFrame, *, settings: DeviceSettings) -> DataFrame:
    """Daily permanence per (device, day, slot) from the segments.

    Parameters
    ----------
    segments
        :func:`compute_segments` output.
    settings
        ``[device]`` (``time_zone`` and ``permanence``).

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.slayer.device.schemas.PERMANENCE_SCHEMA`.
    """
    names = PERMANENCE_SCHEMA.fieldNames()

    def run(seg: pd.DataFrame) -> pd.DataFrame:
        out = daily_permanence(
            seg,
            day_start=seg[DAY_START].iloc[0],
            day_end=seg[DAY_END].iloc[0],
            settings=settings.permanence,
        )
        out[DEVICE_ID] = seg[DEVICE_ID].iloc[0]
        out[DATE] = seg[DATE].iloc[0]
        return out[names]

    return (
        with_day_bounds(segments, time_zone=settings.time_zone)
        .groupBy(DEVICE_ID, DATE)
        .applyInPandas(run, PERMANENCE_SCHEMA)
    )


def compute_time_point_posteriors(
    rows: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    time_points: Sequence[datetime],
    tolerance_s: float,
    settings: DeviceSettings,
    ta_buffer: int,
    prior: DataFrame | None = None,
) -> DataFrame:
    """The HMM posterior of every device at the time points of each of its days.

    Parameters
    ----------
    rows, connection_probability, grid, settings, ta_buffer, prior
        As :func:`compute_segments`.
    time_points
        Naive UTC instants; a device-day answers those in ``[day_start, day_end)``.
    tolerance_s
        Largest distance to the nearest HMM event (``present_population.tolerance_s``).

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.slayer.device.schemas.TIME_POINT_POSTERIOR_SCHEMA`; per (device,
        time point) the probabilities sum to 1.
    """
    points = pd.Series(pd.to_datetime(list(time_points)), dtype="datetime64[us]")
    names = TIME_POINT_POSTERIOR_SCHEMA.fieldNames()

    def run(rows_pd: pd.DataFrame, footprints: pd.DataFrame) -> pd.DataFrame:
        if rows_pd.empty:
            return pd.DataFrame(columns=names)
        day0, day1 = rows_pd[DAY_START].iloc[0], rows_pd[DAY_END].iloc[0]
        mine = points[(points >= day0) & (points < day1)]
        out = time_point_posteriors(
            rows_pd,
            footprints,
            mine,
            tolerance_s=tolerance_s,
            settings=settings,
            ta_buffer=ta_buffer,
        )
        out[DEVICE_ID] = rows_pd[DEVICE_ID].iloc[0]
        return out[names]

    groups = _per_device_day(rows, connection_probability, grid, prior, settings.time_zone)
    return groups.applyInPandas(run, TIME_POINT_POSTERIOR_SCHEMA)
