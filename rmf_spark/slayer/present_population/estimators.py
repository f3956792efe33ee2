"""Devices per (time point, 100 m tile) in Spark: the EM estimator and the naive baseline.

Notes
-----
The EM (:mod:`~rmf_spark.slayer.present_population.em`) runs in one pandas group per date and
spatial block (:mod:`~.blocks`): a ``cogroup`` of the counts and connection probabilities of
the block's cells on that date, where the sparse matrix is built once and shared by the date's
time points. Each group reports the devices of the cells homed in its block; a tile's devices
are the sum over the groups that reach it.

The naive baseline puts each device of cell i on the cell's most probable tile,
``argmax_j P(tile j | cell i)`` (ties to the smallest tile id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DISTANCE_M,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    P_TILE_GIVEN_CELL,
    SIGNAL_DOMINANCE,
    TILE_ID,
    TIMING_ADVANCE,
)
from rmf_spark.slayer.aggregate.schemas import DEVICES
from rmf_spark.slayer.present_population.blocks import (
    HOME,
    Groups,
    block_groups,
    compute_cell_blocks,
)
from rmf_spark.slayer.present_population.em import em_iterate, key_codes, observation_matrix
from rmf_spark.slayer.present_population.reach_calibration import apply_reach_offsets
from rmf_spark.slayer.present_population.schemas import PLE_OFFSET, TA_STEP_M, TIME_POINT
from rmf_spark.slayer.present_population.settings import BlockSettings, PresentPopulationSettings

__all__ = ["compute_em_tile_devices", "compute_naive_tile_devices", "em_groups"]

_TILE_DEVICES_SCHEMA = f"{TIME_POINT} timestamp, {TILE_ID} long, {DEVICES} double"


def _join_keys(connection_probability: DataFrame) -> list[str]:
    # connection_probability is per date (the cells active that day set P(cell | tile)):
    # a time point uses the probabilities of its own date.
    keys = [CELL_ID, FOOTPRINT_VERSION]
    return [*keys, DATE] if DATE in connection_probability.columns else keys


def _with_date(cell_counts: DataFrame, keys: list[str]) -> DataFrame:
    return cell_counts.withColumn(DATE, F.to_date(TIME_POINT)) if DATE in keys else cell_counts


def _em_per_block(  # type: ignore[no-untyped-def]
    max_iterations: int,
    relative_tolerance: float,
    ta_buffer: int,
    steepness: float,
):
    def run(counts: pd.DataFrame, cp: pd.DataFrame) -> pd.DataFrame:
        out = [
            pd.DataFrame(
                {
                    TIME_POINT: pd.Series([], dtype="datetime64[ns]"),
                    TILE_ID: pd.Series([], dtype="int64"),
                    DEVICES: pd.Series([], dtype="float64"),
                }
            )
        ]
        if counts.empty or cp.empty:
            return out[0]
        # a date without calibrated cells keeps the C-layer's probabilities as they are
        if PLE_OFFSET in cp.columns and cp[PLE_OFFSET].notna().any():
            cp = apply_reach_offsets(cp, steepness=steepness)
        obs_cols = [CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE, TA_STEP_M]
        (obs_codes,) = key_codes(obs_cols, counts)  # nulls equal among themselves
        first = pd.Series(np.arange(len(counts))).groupby(obs_codes).first().to_numpy()
        observations = counts.iloc[first][obs_cols].reset_index(drop=True)
        own = counts[HOME].to_numpy(dtype=bool)[first]  # cells homed in this block
        p, tiles = observation_matrix(observations, cp, ta_buffer=ta_buffer)
        pt = p.T.tocsr()
        devices = counts[DEVICES].to_numpy(dtype=float)
        for time_point, idx in counts.groupby(TIME_POINT).indices.items():
            c = np.bincount(obs_codes[idx], weights=devices[idx], minlength=len(observations))
            result = em_iterate(
                c,
                p,
                pt,
                max_iterations=max_iterations,
                relative_tolerance=relative_tolerance,
                own=own,
            )
            keep = result.density > 0
            out.append(
                pd.DataFrame(
                    {TIME_POINT: time_point, TILE_ID: tiles[keep], DEVICES: result.density[keep]}
                )
            )
        return pd.concat(out, ignore_index=True)

    return run


def em_groups(
    cell_counts: DataFrame,
    *,
    connection_probability: DataFrame,
    blocks: BlockSettings,
    reach_offsets: DataFrame | None,
) -> Groups:
    """The two sides of the EM's ``cogroup``: counts and connection probabilities of every
    (date, block) group (:func:`compute_em_tile_devices`; also read by ``bench/``)."""
    keys = _join_keys(connection_probability)
    distance = F.col(DISTANCE_M) if DISTANCE_M in connection_probability.columns else F.lit(None)
    calibrate = (
        reach_offsets is not None
        and DATE in keys
        and SIGNAL_DOMINANCE in connection_probability.columns
    )
    dominance = [F.col(SIGNAL_DOMINANCE).cast("double")] if calibrate else []
    cp = connection_probability.select(
        *keys,
        F.col(TILE_ID).cast("long").alias(TILE_ID),
        P_CELL_GIVEN_TILE,
        distance.cast("double").alias(DISTANCE_M),
        *dominance,
    ).where(F.col(P_CELL_GIVEN_TILE) > 0)
    if calibrate:
        assert reach_offsets is not None
        # a cell without a row keeps offset 0; rows of uncalibrated cells are 0 anyway
        offsets = reach_offsets
        if "calibrated" in offsets.columns:
            offsets = offsets.where(F.col("calibrated"))
        offsets = offsets.select(*keys, F.col(PLE_OFFSET).cast("double"))
        cp = cp.join(offsets, on=keys, how="left")
    ta_cols = [
        (F.col(c) if c in cell_counts.columns else F.lit(None)).cast(t).alias(c)
        for c, t in ((TIMING_ADVANCE, "int"), (TA_STEP_M, "double"))
    ]
    counts = _with_date(cell_counts, keys).select(
        TIME_POINT, *keys, *ta_cols, F.col(DEVICES).cast("double").alias(DEVICES)
    )
    # every cell goes to the group of each block it is in; counts of cells without a
    # footprint have no block and are not located (as in the EM of a whole date)
    cell_blocks = compute_cell_blocks(cp, keys=keys, blocks=blocks)
    return block_groups(counts, cp, cell_blocks=cell_blocks, keys=keys)


def compute_em_tile_devices(
    cell_counts: DataFrame,
    *,
    connection_probability: DataFrame,
    settings: PresentPopulationSettings,
    dominance_steepness: float,
    reach_offsets: DataFrame | None = None,
) -> DataFrame:
    """Estimated devices per (time point, 100 m tile) with the EM estimator.

    Parameters
    ----------
    cell_counts
        ``time_point, cell_id, footprint_version, devices`` and optionally
        ``timing_advance, ta_step_m`` (:func:`compute_cell_counts`).
    connection_probability
        C-layer ``connection_probability``: ``cell_id, footprint_version, tile_id,
        p_cell_given_tile`` and, when present, ``distance_m`` (for the TA) and ``date`` (the
        probabilities of the time point's date are used). Devices of cells without a row are
        not located.
    settings
        ``[present_population]``: the EM stopping rule (``max_iterations``,
        ``relative_tolerance``) and ``timing_advance_buffer`` (TA bands added either side of
        those a tile can produce).
    dominance_steepness
        Logistic steepness per dB of the C-layer's dominance (``convergence.radio.steepness``
        of the convergence run), used to apply the reach offsets.
    reach_offsets
        ``date, cell_id, footprint_version, ple_offset`` and optionally ``calibrated``
        (:func:`~.reach_calibration.compute_reach_offsets`). When given (and
        ``connection_probability`` has ``signal_dominance`` and ``date``), each date's
        ``P(cell | tile)`` is first recomputed with the offsets of that date
        (:func:`~.reach_calibration.apply_reach_offsets`).

    Returns
    -------
    DataFrame
        ``time_point timestamp, tile_id long, devices double`` (tiles with a positive
        estimate). Per time point the devices sum to the devices of cells with a footprint.

    Notes
    -----
    One pandas group per date and block (``settings.blocks``, :mod:`~.blocks`): a
    ``cogroup`` of the counts and the connection probabilities of the block's cells and halo
    on that date. The sparse matrix is built once per group and shared by the date's time
    points, so the probabilities are shuffled once per date (times the cells' blocks) rather
    than once per time point. Each group keeps the devices of the cells homed in it
    (:func:`~.em.em_iterate` ``own``); with one block (``blocks.km = 0``) this is the EM of
    the whole date. The EM's stopping rule applies per group. Formula and sources: module
    notes.
    """
    groups = em_groups(
        cell_counts,
        connection_probability=connection_probability,
        blocks=settings.blocks,
        reach_offsets=reach_offsets,
    )
    fn = _em_per_block(
        settings.max_iterations,
        settings.relative_tolerance,
        settings.timing_advance_buffer,
        dominance_steepness,
    )
    out = groups.cogroup().applyInPandas(fn, _TILE_DEVICES_SCHEMA)
    if settings.blocks.km <= 0:  # one group per date: each tile once per time point
        return out
    return out.groupBy(TIME_POINT, TILE_ID).agg(F.sum(DEVICES).alias(DEVICES))


def compute_naive_tile_devices(
    cell_counts: DataFrame, *, connection_probability: DataFrame
) -> DataFrame:
    """Devices per (time point, 100 m tile), each device on its cell's most probable tile.

    Parameters
    ----------
    cell_counts
        ``time_point, cell_id, footprint_version, devices``.
    connection_probability
        ``cell_id, footprint_version, tile_id, p_tile_given_cell``.

    Returns
    -------
    DataFrame
        ``time_point timestamp, tile_id long, devices double``.

    Notes
    -----
    ``tile(i) = argmax_j P(tile j | cell i)``, ties to the smallest tile id; the baseline the
    EM is compared with.
    """
    keys = _join_keys(connection_probability)
    best = connection_probability.groupBy(*keys).agg(
        F.max_by(
            F.col(TILE_ID).cast("long"),
            F.struct(F.col(P_TILE_GIVEN_CELL), -F.col(TILE_ID).cast("long")),
        ).alias(TILE_ID)
    )
    return (
        _with_date(cell_counts, keys)
        .join(best, on=keys, how="inner")
        .groupBy(TIME_POINT, TILE_ID)
        .agg(F.sum(DEVICES).cast("double").alias(DEVICES))
    )
