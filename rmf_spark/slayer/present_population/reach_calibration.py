"""Reach calibration: a per-cell correction of the radio model's distance decay, from the TA.

Notes
-----
The nominal radio model gets each cell's reach wrong (path-loss exponent, power, height and
azimuth in the plan are approximate; on the small synthetic world this model mismatch is the
main error source, docs/present-population.md section 6). The timing advance (TA) of an event
measures the distance to the antenna, whatever the radio model says, so the TA of a cell's
events shows how far its devices really are. The calibration adds to each cell's path-loss
exponent an offset ``delta_c``, which changes its signal strength by ``-10 delta_c
log10(d_cg)`` (log-distance model, mobloc, Tennekes & Gootzen 2022) and so its
dominance (logistic, steepness ``a`` per dB) by

    logit s_cg(delta_c) = logit s_cg - 10 a delta_c log10(d_cg),
    P(c | g) = s_cg(delta_c) / sum_c' s_c'g(delta_c'),

and chooses ``delta_c`` so that the mean distance the model predicts for the cell's events,
``sum_g u_g P(c | g) d_cg / sum_g u_g P(c | g)`` (``u_g`` the events per tile, estimated by
the EM with the TA from the same events), matches the mean of the observed
``(TA + 1/2) * step``. The offsets are searched on a grid, cell by cell with the others
fixed (one Jacobi step per round, each round moving half way to the chosen value), for
``rounds`` rounds; only cells with at least ``min_events`` TA events of the day are moved, the
others keep ``delta_c = 0`` (but their ``P(c | g)`` follows their neighbours'). This is a
method of moments on the TA, rmf_spark's own: mobloc and MultiMNO use the TA only as a
posterior update of one event (mobloc ``update_posterior_TA``), which the EM also
does (:mod:`~.timing_advance`). ``P(c | g)`` still sums to 1 over cells for
every tile, so the EM keeps its totals. Cells without TA (3G) are not moved.

On the small synthetic world (day 2, six time points) it brings the zone NAE of the
signalling MNO from 0.13 to 0.07 and of the CDR MNO from 0.17 to 0.13
(docs/present-population.md section 6).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DISTANCE_M,
    EVENT_TS,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    SIGNAL_DOMINANCE,
    TECHNOLOGY,
    TILE_ID,
    TIMING_ADVANCE,
    USABLE,
)
from rmf_spark.slayer.aggregate.schemas import DEVICES
from rmf_spark.slayer.present_population.blocks import (
    HOME,
    Groups,
    block_groups,
    compute_cell_blocks,
)
from rmf_spark.slayer.present_population.em import em_iterate, key_codes, observation_structure
from rmf_spark.slayer.present_population.observations import ta_step_of_technology
from rmf_spark.slayer.present_population.schemas import (
    PLE_OFFSET,
    REACH_OFFSETS_SCHEMA,
    TA_STEP_M,
)
from rmf_spark.slayer.present_population.settings import BlockSettings, ReachCalibrationSettings

__all__ = [
    "ReachCalibration",
    "apply_reach_offsets",
    "calibrate_reach",
    "compute_reach_offsets",
    "compute_ta_event_counts",
    "reach_groups",
]

# dominance is a logistic value in (0, 1); clip so that its logit stays finite
_EPS = 1e-12


class ReachCalibration(NamedTuple):
    """The recalibrated connection probabilities and the offset of every cell."""

    connection_probability: pd.DataFrame
    offsets: pd.DataFrame


def compute_ta_event_counts(
    events: DataFrame,
    *,
    start: datetime,
    end: datetime,
    ta_step_m: dict[str, float],
) -> DataFrame:
    """Usable events with a TA per (date, cell, footprint version, TA band): the data the
    calibration of each date is fitted to.

    Parameters
    ----------
    events
        C-layer ``event_location``.
    start, end
        The dates from ``start`` to ``end`` (UTC) are counted.
    ta_step_m
        TA step per technology; events of other technologies are left out.

    Returns
    -------
    DataFrame
        ``date, cell_id, footprint_version, timing_advance int, ta_step_m double,
        devices double`` (here: events).
    """
    if not ta_step_m or TIMING_ADVANCE not in events.columns or TECHNOLOGY not in events.columns:
        return events.sparkSession.createDataFrame(
            [],
            f"{DATE} date, {CELL_ID} string, {FOOTPRINT_VERSION} string, "
            f"{TIMING_ADVANCE} int, {TA_STEP_M} double, {DEVICES} double",
        )
    df = events.where(F.col(USABLE))
    if DATE in events.columns:  # partition pruning on event_location
        df = df.where(F.col(DATE).between(F.lit(start.date()), F.lit(end.date())))
    day = F.to_date(EVENT_TS)
    return (
        df.select(
            day.alias(DATE),
            CELL_ID,
            FOOTPRINT_VERSION,
            F.col(TIMING_ADVANCE).cast("int").alias(TIMING_ADVANCE),
            ta_step_of_technology(ta_step_m).alias(TA_STEP_M),
        )
        .where(
            F.col(DATE).between(F.lit(start.date()), F.lit(end.date()))
            & F.col(TIMING_ADVANCE).isNotNull()
            & F.col(TA_STEP_M).isNotNull()
        )
        .groupBy(DATE, CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE, TA_STEP_M)
        .agg(F.count(F.lit(1)).cast("double").alias(DEVICES))
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class _PairTerms(NamedTuple):
    """Per (cell, tile) pair: the nominal dominance's logit, ``d(logit) / d(offset)``, the
    distance (0 when unknown) and the tile's code."""

    logit: np.ndarray
    slope: np.ndarray
    distance: np.ndarray
    tile_codes: np.ndarray
    n_tiles: int


def _pair_terms(cp: pd.DataFrame, steepness: float) -> _PairTerms:
    tile_codes, _ = pd.factorize(cp[TILE_ID])
    n_tiles = int(tile_codes.max()) + 1 if len(cp) else 0
    dist = cp[DISTANCE_M].to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(dist)
    dom0 = np.clip(cp[SIGNAL_DOMINANCE].to_numpy(dtype=float), _EPS, 1.0 - _EPS)
    # d(logit s) / d(delta): 10 a log10(d); zero where the distance is unknown
    log_d = np.log10(np.maximum(np.nan_to_num(dist, nan=1.0), 1.0))
    slope = np.where(known, 10.0 * steepness * log_d, 0.0)
    return _PairTerms(
        np.log(dom0 / (1.0 - dom0)), slope, np.nan_to_num(dist, nan=0.0), tile_codes, n_tiles
    )


def _probabilities(terms: _PairTerms, pair_offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(dominance, P(cell | tile))`` of every pair with the given exponent offsets."""
    dom = _sigmoid(terms.logit - pair_offset * terms.slope)
    tile_total = np.bincount(terms.tile_codes, weights=dom, minlength=terms.n_tiles)
    return dom, dom / tile_total[terms.tile_codes]


def apply_reach_offsets(cp: pd.DataFrame, *, steepness: float) -> pd.DataFrame:
    """``P(cell | tile)`` of one date recomputed with each cell's path-loss offset.

    Parameters
    ----------
    cp
        ``cell_id, footprint_version, tile_id, p_cell_given_tile, distance_m,
        signal_dominance, ple_offset`` (null offset: 0).
    steepness
        Logistic steepness per dB of the dominance.

    Returns
    -------
    pandas.DataFrame
        ``cp`` with ``p_cell_given_tile`` and ``signal_dominance`` recomputed (module notes);
        ``P(cell | tile)`` sums to 1 over the cells of every tile.
    """
    cp = cp.reset_index(drop=True)
    if cp.empty:
        return cp
    offset = np.nan_to_num(cp[PLE_OFFSET].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    dom, p = _probabilities(_pair_terms(cp, steepness), offset)
    return cp.assign(**{P_CELL_GIVEN_TILE: p, SIGNAL_DOMINANCE: dom})


def calibrate_reach(
    cp: pd.DataFrame,
    ta_events: pd.DataFrame,
    *,
    settings: ReachCalibrationSettings,
    steepness: float,
    ta_buffer: int,
) -> ReachCalibration:
    """Per-cell path-loss offsets fitted to the TA of one day, and the resulting P(cell | tile).

    Parameters
    ----------
    cp
        One date's ``cell_id, footprint_version, tile_id, p_cell_given_tile, distance_m,
        signal_dominance``.
    ta_events
        That date's ``cell_id, footprint_version, timing_advance, ta_step_m, devices``
        (events per TA band, :func:`compute_ta_event_counts`).
    settings
        Rounds, grid, minimum events.
    steepness
        Logistic steepness per dB of the dominance (``convergence.radio.steepness``).
    ta_buffer
        TA bands added either side (as in the EM).

    Returns
    -------
    ReachCalibration
        ``connection_probability``: ``cp`` with ``p_cell_given_tile`` recomputed (it sums to 1
        over the cells of every tile); ``offsets``: ``cell_id, footprint_version,
        ple_offset, ta_events, observed_mean_m, model_mean_m, calibrated`` per cell
        (``calibrated``: it had ``min_events`` TA events and was moved).

    Notes
    -----
    Formula and sources: module notes. Pairs without ``distance_m`` keep their dominance.
    """
    cp = cp.reset_index(drop=True)
    codes, ev_cell = key_codes((CELL_ID, FOOTPRINT_VERSION), cp, ta_events)
    terms = _pair_terms(cp, steepness)
    tile_codes, n_tiles, d = terms.tile_codes, terms.n_tiles, terms.distance
    n_cells = int(codes.max()) + 1 if len(codes) else 0

    ok = ev_cell >= 0
    weight = ta_events[DEVICES].to_numpy(dtype=float)[ok]
    observed_d = (ta_events[TIMING_ADVANCE].to_numpy(dtype=float)[ok] + 0.5) * ta_events[
        TA_STEP_M
    ].to_numpy(dtype=float)[ok]
    n_obs = np.bincount(ev_cell[ok], weights=weight, minlength=n_cells)
    mean_obs = np.bincount(ev_cell[ok], weights=weight * observed_d, minlength=n_cells) / (
        np.maximum(n_obs, 1e-12)
    )
    movable = n_obs >= settings.min_events
    grid = np.arange(-settings.max_offset, settings.max_offset + 1e-9, settings.offset_step)
    delta = np.zeros(n_cells)
    observations = ta_events[ok].reset_index(drop=True)
    structure = observation_structure(observations, cp, ta_buffer=ta_buffer)
    tile_of_pair = pd.Index(structure.tiles).get_indexer(cp[TILE_ID].to_numpy())
    u_pair = None
    moved = np.flatnonzero(movable[codes])  # the pairs of the cells that can move
    moved_codes, moved_logit, moved_slope = codes[moved], terms.logit[moved], terms.slope[moved]

    for _ in range(settings.rounds if movable.any() else 0):
        dom, p_pairs = _probabilities(terms, delta[codes])
        tile_total = np.bincount(tile_codes, weights=dom, minlength=n_tiles)
        p = structure.matrix(p_pairs)
        u = em_iterate(
            observations[DEVICES].to_numpy(dtype=float),
            p,
            p.T.tocsr(),
            max_iterations=settings.em_iterations,
            relative_tolerance=1e-9,
        ).density
        u_pair = u[tile_of_pair]
        best_err = np.full(n_cells, np.inf)
        choice = delta.copy()
        others = tile_total[tile_codes[moved]] - dom[moved]
        for g in grid:
            dg = _sigmoid(moved_logit - g * moved_slope)
            w = u_pair[moved] * dg / (others + dg)
            mass = np.bincount(moved_codes, weights=w, minlength=n_cells)
            mean = np.bincount(moved_codes, weights=w * d[moved], minlength=n_cells) / np.maximum(
                mass, 1e-12
            )
            err = np.abs(mean - mean_obs)
            better = movable & (mass > 0) & (err < best_err)
            best_err[better] = err[better]
            choice[better] = g
        delta = 0.5 * delta + 0.5 * choice

    dom, p_final = _probabilities(terms, delta[codes])
    out = cp.assign(**{P_CELL_GIVEN_TILE: p_final, SIGNAL_DOMINANCE: dom})
    model_mean = np.full(n_cells, np.nan)
    if u_pair is not None:  # mean distance under the calibrated model (last round's u)
        w = u_pair * p_final
        mass = np.bincount(codes, weights=w, minlength=n_cells)
        total = np.bincount(codes, weights=w * d, minlength=n_cells)
        model_mean = np.where(mass > 0, total / np.maximum(mass, 1e-12), np.nan)
    # the keys as given, from the first pair of each cell
    first_row = pd.Series(np.arange(len(cp))).groupby(codes).first().to_numpy()
    offsets = pd.DataFrame(
        {
            CELL_ID: cp[CELL_ID].to_numpy()[first_row],
            FOOTPRINT_VERSION: cp[FOOTPRINT_VERSION].to_numpy()[first_row],
            PLE_OFFSET: delta,
            "ta_events": n_obs,
            "observed_mean_m": np.where(n_obs > 0, mean_obs, np.nan),
            "model_mean_m": model_mean,
            "calibrated": movable,
        }
    )
    return ReachCalibration(out, offsets)


def reach_groups(
    connection_probability: DataFrame, ta_event_counts: DataFrame, *, blocks: BlockSettings
) -> Groups:
    """The two sides of the calibration's ``cogroup``: connection probabilities (with the
    ``home`` flag of each cell) and TA events of every (date, block) group
    (:func:`compute_reach_offsets`; also read by ``bench/``)."""
    cp = connection_probability.select(
        DATE,
        CELL_ID,
        FOOTPRINT_VERSION,
        F.col(TILE_ID).cast("long").alias(TILE_ID),
        P_CELL_GIVEN_TILE,
        F.col(DISTANCE_M).cast("double").alias(DISTANCE_M),
        F.col(SIGNAL_DOMINANCE).cast("double").alias(SIGNAL_DOMINANCE),
    ).where(F.col(P_CELL_GIVEN_TILE) > 0)
    ta = ta_event_counts.select(
        DATE,
        CELL_ID,
        FOOTPRINT_VERSION,
        F.col(TIMING_ADVANCE).cast("int").alias(TIMING_ADVANCE),
        F.col(TA_STEP_M).cast("double").alias(TA_STEP_M),
        F.col(DEVICES).cast("double").alias(DEVICES),
    )
    keys = [DATE, CELL_ID, FOOTPRINT_VERSION]
    cell_blocks = compute_cell_blocks(cp, keys=keys, blocks=blocks)
    return block_groups(cp, ta, cell_blocks=cell_blocks, keys=keys)


def compute_reach_offsets(
    connection_probability: DataFrame,
    ta_event_counts: DataFrame,
    *,
    settings: ReachCalibrationSettings,
    steepness: float,
    ta_buffer: int,
    blocks: BlockSettings,
) -> DataFrame:
    """The path-loss offset of every cell on every date (:func:`calibrate_reach`, one pandas
    group per date and spatial block).

    Parameters
    ----------
    connection_probability
        C-layer ``connection_probability`` (``date, cell_id, footprint_version, tile_id,
        p_cell_given_tile, distance_m, signal_dominance``).
    ta_event_counts
        :func:`compute_ta_event_counts` output.
    settings, steepness, ta_buffer
        As :func:`calibrate_reach`.
    blocks
        ``[present_population.blocks]`` (:mod:`~.blocks`): each group calibrates the cells
        of a block and its halo together and reports the cells homed in the block.

    Returns
    -------
    DataFrame
        :data:`REACH_OFFSETS_SCHEMA`: per date, every cell of the connection probabilities
        with its offset (0 when not ``calibrated``: fewer than ``min_events`` TA events), its
        TA events, and the mean distance observed from the TA and given by the calibrated
        model (null when the cell's group had no cell to calibrate). Large offsets point at
        cells whose plan (power, height, azimuth) is wrong.

    Notes
    -----
    The rounds couple cells only through the tiles they share, so a block with its halo
    holds what its cells' offsets depend on, up to the cells beyond the halo (exact with
    ``blocks.km = 0``, one group per date).
    """
    columns = REACH_OFFSETS_SCHEMA.fieldNames()
    groups = reach_groups(connection_probability, ta_event_counts, blocks=blocks)
    ta_columns = groups.right.columns

    def run(cp_block: pd.DataFrame, ta_block: pd.DataFrame) -> pd.DataFrame:
        if cp_block.empty:
            return pd.DataFrame({c: [] for c in columns})
        ta_block = ta_block.reindex(columns=ta_columns)  # an empty side may come without them
        offsets = calibrate_reach(
            cp_block, ta_block, settings=settings, steepness=steepness, ta_buffer=ta_buffer
        ).offsets
        home = cp_block.drop_duplicates([CELL_ID, FOOTPRINT_VERSION])
        home = home.loc[home[HOME].astype(bool), [CELL_ID, FOOTPRINT_VERSION]]
        offsets = offsets.merge(home, on=[CELL_ID, FOOTPRINT_VERSION])
        return offsets.assign(**{DATE: cp_block[DATE].iloc[0]})[columns]

    return groups.cogroup().applyInPandas(run, REACH_OFFSETS_SCHEMA)
