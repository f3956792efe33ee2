"""The EM estimator of device density per 100 m tile from devices per observation (cell, TA band).

Notes
-----
Let ``c_i`` be the devices counted in cell i at a time point and ``p_ij = P(cell i | tile j)``
(C-layer ``connection_probability.p_cell_given_tile``; for every tile it sums to 1 over cells).
Devices are Poisson with mean ``u_j`` per tile, and the count of cell i is Poisson with mean
``lambda_i = sum_j p_ij u_j``. The maximum-likelihood estimate of ``u`` is found with the EM
("MLE-Poisson") iteration

    u_j <- u_j * sum_i c_i p_ij / sum_k p_ik u_k

started from the uniform density over the tiles covered by the counted cells,
``u_j = sum_i c_i / #tiles`` (Eurostat Coding Lab 2020, ``tonyhungry/MNO_Eurostat``
``04-estimation.Rmd``; MultiMNO ``present_population_estimation.py``; Ricciato & Coluccia
2020; docs/references.md). Each step keeps the total:
``sum_j u_j = sum_i c_i``. It stops when ``sum_j |u_new - u_old| / sum_i c_i`` falls under a
relative tolerance, or after ``max_iterations``.

When events carry a timing advance (TA), the observation i is the pair (cell, TA band) and
``p_ij = P(cell | tile j) * P(TA | cell, tile j)`` (:mod:`~.timing_advance`):
the TA confines the device to a ring around the antenna, which the radio model alone cannot
(on the small synthetic world it cuts the zone-level error by about a third,
docs/present-population.md). An observed TA that no tile of the cell's footprint can produce
falls back to the cell's own row, so no device is lost.

This module is numpy and scipy only; :mod:`~rmf_spark.slayer.present_population.estimators`
runs it in Spark, one pandas group per date and spatial block (:mod:`~.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DISTANCE_M,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    TILE_ID,
    TIMING_ADVANCE,
)
from rmf_spark.slayer.present_population.schemas import TA_STEP_M
from rmf_spark.slayer.present_population.timing_advance import ta_band_range

__all__ = [
    "EmResult",
    "ObservationStructure",
    "em_density",
    "em_iterate",
    "key_codes",
    "observation_matrix",
    "observation_structure",
]


class EmResult(NamedTuple):
    """Densities per tile, the iterations run and whether the tolerance was reached."""

    density: np.ndarray
    iterations: int
    converged: bool


def em_density(
    counts: np.ndarray,
    cell_index: np.ndarray,
    tile_index: np.ndarray,
    p_cell_given_tile: np.ndarray,
    *,
    n_tiles: int,
    max_iterations: int,
    relative_tolerance: float,
) -> EmResult:
    """EM (MLE-Poisson) device density per tile from devices per cell.

    Parameters
    ----------
    counts
        ``c_i``, devices per cell, length n_cells.
    cell_index, tile_index, p_cell_given_tile
        The sparse matrix ``p_ij`` in coordinate form (cell i, tile j, value).
    n_tiles
        Number of tiles (columns); tiles without any entry get density 0.
    max_iterations
        Iteration cap (``present_population.max_iterations``: early stopping regularises).
    relative_tolerance
        Stop when ``sum_j |u_new - u_old| / sum_i c_i`` is below it.

    Returns
    -------
    EmResult
        ``density`` (length n_tiles, sums to the devices of cells with a footprint),
        ``iterations`` and ``converged``.

    Notes
    -----
    ``u_j <- u_j * sum_i c_i p_ij / sum_k p_ik u_k``, uniform start over the covered tiles
    (see the module notes for the sources).

    Examples
    --------
    >>> import numpy as np
    >>> r = em_density(np.array([10.0]), np.array([0, 0]), np.array([0, 1]),
    ...                np.array([1.0, 1.0]), n_tiles=2, max_iterations=5,
    ...                relative_tolerance=1e-4)
    >>> r.density.tolist()
    [5.0, 5.0]
    """
    from scipy import sparse

    p = sparse.csr_matrix(
        (np.asarray(p_cell_given_tile, dtype=float), (cell_index, tile_index)),
        shape=(len(counts), n_tiles),
    )
    return em_iterate(
        np.asarray(counts, dtype=float),
        p,
        p.T.tocsr(),
        max_iterations=max_iterations,
        relative_tolerance=relative_tolerance,
    )


def em_iterate(
    counts: np.ndarray,
    p,  # type: ignore[no-untyped-def]  # scipy.sparse csr (cells x tiles)
    pt,  # type: ignore[no-untyped-def]  # its transpose, csr
    *,
    max_iterations: int,
    relative_tolerance: float,
    own: np.ndarray | None = None,
) -> EmResult:
    """The EM iteration of :func:`em_density` on a prebuilt sparse matrix ``p`` (cells x tiles)
    and its transpose ``pt``, so that one matrix serves many count vectors.

    ``own`` (boolean per row, default all) returns only the devices of those rows: the last
    step ``u_j = sum_i c_i p_ij u'_j / sum_k p_ik u'_k`` (``u'`` the previous iterate) is a
    sum over rows i, each row's term summing to ``c_i``; the density returned keeps the terms
    of the own rows. Summed over a partition of the rows it is the whole density, so a block
    of cells with neighbours around it as context (:mod:`~.blocks`) reports each cell's
    devices once and keeps every total.
    """
    n_tiles = p.shape[1]
    # Cells without any footprint tile cannot be located; their devices are not spread.
    located = np.asarray(p.sum(axis=1)).ravel() > 0
    c = np.where(located, counts, 0.0)
    total = c.sum()
    covered = np.asarray(pt @ (c > 0).astype(float)).ravel() > 0
    u = np.zeros(n_tiles)
    if total <= 0 or not covered.any():
        return EmResult(u, 0, True)
    u[covered] = total / covered.sum()
    partial = own is not None and not np.all(own)
    for iteration in range(1, max_iterations + 1):
        lam = p @ u
        ratio = np.divide(c, lam, out=np.zeros_like(c), where=lam > 0)
        u_new = u * (pt @ ratio)
        change = np.abs(u_new - u).sum() / total
        converged = change < relative_tolerance
        if converged or iteration == max_iterations:
            if partial:
                u_new = u * (pt @ np.where(own, ratio, 0.0))
            return EmResult(u_new, iteration, bool(converged))
        u = u_new
    return EmResult(u, 0, False)  # max_iterations < 1: the uniform start


class ObservationStructure(NamedTuple):
    """Where the connection probabilities go in the observation matrix: entry k of the matrix
    is ``p[pair[k]] * weight[k]`` at ``(row[k], col[k])``, ``p`` the ``p_cell_given_tile`` of
    the row ``pair[k]`` of the connection probabilities."""

    row: np.ndarray
    col: np.ndarray
    pair: np.ndarray
    weight: np.ndarray
    tiles: np.ndarray
    shape: tuple[int, int]

    def matrix(self, p_cell_given_tile: np.ndarray):  # type: ignore[no-untyped-def]
        """The ``scipy.sparse.csr_matrix`` for these probabilities (one per pair)."""
        from scipy import sparse

        vals = np.asarray(p_cell_given_tile, dtype=float)[self.pair] * self.weight
        return sparse.csr_matrix((vals, (self.row, self.col)), shape=self.shape)


_CELL_KEY = (CELL_ID, FOOTPRINT_VERSION)
#: TA bands per cell in the integer key (cell, band): more than any TA a network reports
_BANDS = 1 << 24


def key_codes(
    columns: Sequence[str], reference: pd.DataFrame, *others: pd.DataFrame
) -> tuple[np.ndarray, ...]:
    """Integer codes of the rows of ``reference`` by the values of ``columns`` (0, 1, ... in
    order of first appearance; nulls equal among themselves), and for each frame of ``others``
    the code of the equal ``reference`` row (-1 where there is none).

    Each column is factorised once over all the frames and the codes are combined as integers:
    no per-row Python objects, which on the hundreds of thousands of (cell, tile) pairs of a
    device-day cost seconds as joined strings and more as a ``MultiIndex``.

    >>> ref = pd.DataFrame({"c": ["A", "B", "A"], "v": ["1", None, "1"]})
    >>> other = pd.DataFrame({"c": ["B", "A"], "v": [None, "2"]})
    >>> [k.tolist() for k in key_codes(["c", "v"], ref, other)]
    [[0, 1, 0], [1, -1]]
    """
    frames = (reference, *others)
    sizes = np.cumsum([0, *(len(f) for f in frames)])
    key = np.zeros(sizes[-1], dtype=np.int64)
    for col in columns:
        values = (
            pd.concat([f[col] for f in frames], ignore_index=True) if others else reference[col]
        )
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        # re-factorised at each column, so the combined key stays below the number of rows
        key, _ = pd.factorize(key * len(uniques) + codes)
    ref_codes, ref_keys = pd.factorize(key[: sizes[1]])
    index = pd.Index(ref_keys)
    return (
        ref_codes.astype(np.int64),
        *(
            index.get_indexer(key[sizes[i] : sizes[i + 1]]).astype(np.int64)
            for i in range(1, len(frames))
        ),
    )


def observation_structure(
    observations: pd.DataFrame,
    cp: pd.DataFrame,
    *,
    ta_buffer: int,
    cell_key: Sequence[str] = _CELL_KEY,
) -> ObservationStructure:
    """The layout of :func:`observation_matrix`, reusable for other values of
    ``p_cell_given_tile`` on the same pairs (the reach calibration changes only the values).

    An observation with a TA gets, from every pair of its cell whose tile can produce its band,
    ``weight = 1 / n_bands``; an observation without TA, or whose TA no pair can produce, gets
    every pair of its cell with weight 1. Of several equal observations only the first gets
    the TA pairs (callers pass distinct observations). ``cell_key``: the columns that name a
    cell in both frames (by default ``cell_id, footprint_version``).
    """
    cell_codes, obs_cell = key_codes(cell_key, cp, observations)
    # columns in tile order, whatever the order of the rows (Spark's is not fixed): ties
    # between tiles, e.g. in a posterior's smallest set, then always go the same way
    tile_codes, tile_uniques = pd.factorize(cp[TILE_ID], sort=True)
    tiles = np.asarray(tile_uniques, dtype="int64")
    ta = observations[TIMING_ADVANCE].to_numpy(dtype=float, na_value=np.nan)
    step = observations[TA_STEP_M].to_numpy(dtype=float, na_value=np.nan)
    with_ta = ~np.isnan(ta) & ~np.isnan(step) & (obs_cell >= 0)
    n_obs = len(observations)
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    rows, cols, pairs, weights = [empty_i], [empty_i], [empty_i], [empty_f]
    if with_ta.any() and DISTANCE_M in cp.columns:
        # A pair (cell, tile) meets the observations of its cell and TA step whose band lies
        # in the pair's [lo, hi]: with the observations sorted by (cell, band), those are one
        # contiguous run, found by two binary searches per pair and step.
        distance = cp[DISTANCE_M].to_numpy(dtype=float, na_value=np.nan)
        with_d = np.flatnonzero(~np.isnan(distance))
        obs_rows = np.flatnonzero(with_ta & (ta >= 0) & (ta < _BANDS))
        band = ta[obs_rows].astype(np.int64)
        for step_m in np.unique(step[obs_rows]):
            of_step = step[obs_rows] == step_m
            key = obs_cell[obs_rows[of_step]] * _BANDS + band[of_step]
            sorted_key, first = np.unique(key, return_index=True)  # the first of equal ones
            sorted_rows = obs_rows[of_step][first]
            lo, hi = ta_band_range(distance[with_d], step_m, buffer=ta_buffer)
            base = cell_codes[with_d] * _BANDS
            start = np.searchsorted(sorted_key, base + lo, side="left")
            n_hit = np.searchsorted(sorted_key, base + hi, side="right") - start
            pair = np.repeat(with_d, n_hit)
            offset = np.arange(n_hit.sum()) - np.repeat(np.cumsum(n_hit) - n_hit, n_hit)
            rows.append(sorted_rows[np.repeat(start, n_hit) + offset])
            cols.append(tile_codes[pair])
            pairs.append(pair)
            weights.append(np.repeat(1.0 / (hi - lo + 1), n_hit))
    # observations without TA, or whose TA no footprint tile can produce: the cell's pairs
    has_ta_entry = np.bincount(np.concatenate(rows), minlength=n_obs) > 0
    plain = (obs_cell >= 0) & ~has_ta_entry
    order = np.argsort(cell_codes, kind="stable")
    sorted_cells = cell_codes[order]
    first = np.searchsorted(sorted_cells, obs_cell[plain], side="left")
    n_pairs = np.searchsorted(sorted_cells, obs_cell[plain], side="right") - first
    plain_rows = np.repeat(np.flatnonzero(plain), n_pairs)
    offset = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    plain_pairs = order[np.repeat(first, n_pairs) + offset]
    rows.append(plain_rows)
    cols.append(tile_codes[plain_pairs])
    pairs.append(plain_pairs)
    weights.append(np.ones(len(plain_pairs)))
    return ObservationStructure(
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(pairs),
        np.concatenate(weights),
        tiles,
        (n_obs, len(tiles)),
    )


def observation_matrix(observations: pd.DataFrame, cp: pd.DataFrame, *, ta_buffer: int):  # type: ignore[no-untyped-def]
    """The sparse matrix ``p_ij`` of observations i (cell, or cell and TA band) by tiles j.

    Parameters
    ----------
    observations
        Distinct ``cell_id, footprint_version, timing_advance, ta_step_m`` (TA and step null
        for an observation without TA).
    cp
        ``cell_id, footprint_version, tile_id, p_cell_given_tile`` and optionally
        ``distance_m`` (without it, or where it is null, the TA is not used).
    ta_buffer
        TA bands added either side (:func:`~.timing_advance.ta_band_range`).

    Returns
    -------
    tuple
        ``(p, tiles)``: ``scipy.sparse.csr_matrix`` of shape (len(observations), len(tiles))
        and the tile ids of its columns. Row i sums to 0 when the cell has no footprint.
    """
    structure = observation_structure(observations, cp, ta_buffer=ta_buffer)
    return structure.matrix(cp[P_CELL_GIVEN_TILE].to_numpy(dtype=float)), structure.tiles
