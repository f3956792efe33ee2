"""Device density per 100 m tile from devices per cell: the EM estimator and a naive baseline.

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
2020; ``reference/methodology.md`` sections 2.1 and 2.2). Each step keeps the total:
``sum_j u_j = sum_i c_i``. It stops when ``sum_j |u_new - u_old| / sum_i c_i`` falls under a
relative tolerance, or after ``max_iterations``.

When events carry a timing advance (TA), the observation i is the pair (cell, TA band) and
``p_ij = P(cell | tile j) * P(TA | cell, tile j)`` (:mod:`rmf_spark.slayer.timing_advance`):
the TA confines the device to a ring around the antenna, which the radio model alone cannot
(on the small synthetic world it cuts the zone-level error by about a third,
docs/present-population.md). An observed TA that no tile of the cell's footprint can produce
falls back to the cell's own row, so no device is lost.

The naive baseline puts each device of cell i on the cell's most probable tile,
``argmax_j P(tile j | cell i)`` (ties to the smallest tile id).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.slayer.reach_calibration import (
    PLE_OFFSET,
    SIGNAL_DOMINANCE,
    apply_reach_offsets,
)
from rmf_spark.slayer.schemas import (
    CELL_ID,
    DEVICES,
    DISTANCE_M,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    P_TILE_GIVEN_CELL,
    TA_STEP_M,
    TILE_ID,
    TIME_POINT,
    TIMING_ADVANCE,
)
from rmf_spark.slayer.timing_advance import ta_band_range

__all__ = [
    "EmResult",
    "ObservationStructure",
    "compute_em_tile_devices",
    "compute_naive_tile_devices",
    "em_density",
    "observation_matrix",
    "observation_structure",
]

DATE = "date"
_TILE_DEVICES_SCHEMA = f"{TIME_POINT} timestamp, {TILE_ID} long, {DEVICES} double"


def _join_keys(connection_probability: DataFrame) -> list[str]:
    # connection_probability is per date (the cells active that day set P(cell | tile)):
    # a time point uses the probabilities of its own date.
    keys = [CELL_ID, FOOTPRINT_VERSION]
    return [*keys, DATE] if DATE in connection_probability.columns else keys


def _with_date(cell_counts: DataFrame, keys: list[str]) -> DataFrame:
    return cell_counts.withColumn(DATE, F.to_date(TIME_POINT)) if DATE in keys else cell_counts


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
    max_iterations: int = 5,
    relative_tolerance: float = 1e-4,
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
        Iteration cap (default 5: early stopping regularises; MultiMNO uses 20).
    relative_tolerance
        Stop when ``sum_j |u_new - u_old| / sum_i c_i`` is below it (default 1e-4).

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
    ...                np.array([1.0, 1.0]), n_tiles=2)
    >>> r.density.tolist()
    [5.0, 5.0]
    """
    from scipy import sparse

    p = sparse.csr_matrix(
        (np.asarray(p_cell_given_tile, dtype=float), (cell_index, tile_index)),
        shape=(len(counts), n_tiles),
    )
    return _em_iterate(
        np.asarray(counts, dtype=float),
        p,
        p.T.tocsr(),
        max_iterations=max_iterations,
        relative_tolerance=relative_tolerance,
    )


def _em_iterate(
    counts: np.ndarray,
    p,  # type: ignore[no-untyped-def]  # scipy.sparse csr (cells x tiles)
    pt,  # type: ignore[no-untyped-def]  # its transpose, csr
    *,
    max_iterations: int,
    relative_tolerance: float,
) -> EmResult:
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
    for iteration in range(1, max_iterations + 1):
        lam = p @ u
        ratio = np.divide(c, lam, out=np.zeros_like(c), where=lam > 0)
        u_new = u * (pt @ ratio)
        change = np.abs(u_new - u).sum() / total
        u = u_new
        if change < relative_tolerance:
            return EmResult(u, iteration, True)
    return EmResult(u, max_iterations, False)


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


def observation_structure(
    observations: pd.DataFrame, cp: pd.DataFrame, *, ta_buffer: int = 1
) -> ObservationStructure:
    """The layout of :func:`observation_matrix`, reusable for other values of
    ``p_cell_given_tile`` on the same pairs (the reach calibration changes only the values).

    An observation with a TA gets, from every pair of its cell whose tile can produce its band,
    ``weight = 1 / n_bands``; an observation without TA, or whose TA no pair can produce, gets
    every pair of its cell with weight 1.
    """
    cell_key = pd.MultiIndex.from_frame(cp[[CELL_ID, FOOTPRINT_VERSION]].astype(str))
    cell_codes, cell_uniques = pd.factorize(cell_key)
    tile_codes, tile_uniques = pd.factorize(cp[TILE_ID])
    tiles = np.asarray(tile_uniques, dtype="int64")
    obs_cell = cell_uniques.get_indexer(
        pd.MultiIndex.from_frame(observations[[CELL_ID, FOOTPRINT_VERSION]].astype(str))
    )
    ta = observations[TIMING_ADVANCE].to_numpy(dtype=float, na_value=np.nan)
    step = observations[TA_STEP_M].to_numpy(dtype=float, na_value=np.nan)
    with_ta = ~np.isnan(ta) & ~np.isnan(step) & (obs_cell >= 0)
    n_obs = len(observations)
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    rows, cols, pairs, weights = [empty_i], [empty_i], [empty_i], [empty_f]
    if with_ta.any() and DISTANCE_M in cp.columns:
        # every (cell, tile) entry is spread over the TA bands it can produce; an entry meets
        # the observation with the same cell, step and band
        step_codes, step_uniques = pd.factorize(step[with_ta])
        cell_steps = pd.DataFrame({"cell": obs_cell[with_ta], "step": step_codes}).drop_duplicates()
        entries = pd.DataFrame(
            {
                "cell": cell_codes,
                "tile": tile_codes,
                "pair": np.arange(len(cp)),
                "d": cp[DISTANCE_M].to_numpy(dtype=float, na_value=np.nan),
            }
        ).merge(cell_steps, on="cell")
        entries = entries[~np.isnan(entries["d"].to_numpy())]
        lo, hi = ta_band_range(
            entries["d"].to_numpy(),
            np.asarray(step_uniques, dtype=float)[entries["step"].to_numpy()],
            buffer=ta_buffer,
        )
        n_bands = hi - lo + 1
        entry = np.repeat(np.arange(len(entries)), n_bands)
        band = lo[entry] + np.arange(len(entry)) - np.repeat(np.cumsum(n_bands) - n_bands, n_bands)

        def key(cell: np.ndarray, step_code: np.ndarray, band: np.ndarray) -> np.ndarray:
            return (cell.astype(np.int64) * len(step_uniques) + step_code) * (1 << 24) + band

        obs_rows = np.flatnonzero(with_ta)
        obs_key = key(obs_cell[with_ta], step_codes, ta[with_ta].astype(np.int64))
        row = pd.Index(obs_key).get_indexer(
            key(entries["cell"].to_numpy()[entry], entries["step"].to_numpy()[entry], band)
        )
        # several observations can share a key only if they are duplicates: keep the first
        hit = row >= 0
        rows.append(obs_rows[row[hit]])
        cols.append(entries["tile"].to_numpy()[entry[hit]])
        pairs.append(entries["pair"].to_numpy()[entry[hit]])
        weights.append((1.0 / n_bands)[entry[hit]])
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


def observation_matrix(observations: pd.DataFrame, cp: pd.DataFrame, *, ta_buffer: int = 1):  # type: ignore[no-untyped-def]
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
        TA bands added either side (:func:`~rmf_spark.slayer.timing_advance.ta_band_range`).

    Returns
    -------
    tuple
        ``(p, tiles)``: ``scipy.sparse.csr_matrix`` of shape (len(observations), len(tiles))
        and the tile ids of its columns. Row i sums to 0 when the cell has no footprint.
    """
    structure = observation_structure(observations, cp, ta_buffer=ta_buffer)
    return structure.matrix(cp[P_CELL_GIVEN_TILE].to_numpy(dtype=float)), structure.tiles


def _em_per_date(  # type: ignore[no-untyped-def]
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
        key = pd.MultiIndex.from_frame(
            counts[obs_cols].astype(str)  # nulls become "None"/"nan", equal among themselves
        )
        obs_codes, _ = pd.factorize(key)
        first = pd.Series(np.arange(len(counts))).groupby(obs_codes).first().to_numpy()
        observations = counts.iloc[first][obs_cols].reset_index(drop=True)
        p, tiles = observation_matrix(observations, cp, ta_buffer=ta_buffer)
        pt = p.T.tocsr()
        devices = counts[DEVICES].to_numpy(dtype=float)
        for time_point, idx in counts.groupby(TIME_POINT).indices.items():
            c = np.bincount(obs_codes[idx], weights=devices[idx], minlength=len(observations))
            result = _em_iterate(
                c, p, pt, max_iterations=max_iterations, relative_tolerance=relative_tolerance
            )
            keep = result.density > 0
            out.append(
                pd.DataFrame(
                    {TIME_POINT: time_point, TILE_ID: tiles[keep], DEVICES: result.density[keep]}
                )
            )
        return pd.concat(out, ignore_index=True)

    return run


def compute_em_tile_devices(
    cell_counts: DataFrame,
    *,
    connection_probability: DataFrame,
    max_iterations: int = 5,
    relative_tolerance: float = 1e-4,
    ta_buffer: int = 1,
    reach_offsets: DataFrame | None = None,
    dominance_steepness: float = 0.2,
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
    max_iterations, relative_tolerance
        EM stopping rule (config ``present_population``).
    ta_buffer
        TA bands added either side of those a tile can produce.
    reach_offsets
        ``date, cell_id, footprint_version, ple_offset`` and optionally ``calibrated``
        (:func:`~rmf_spark.slayer.reach_calibration.compute_reach_offsets`). When given (and
        ``connection_probability`` has ``signal_dominance`` and ``date``), each date's
        ``P(cell | tile)`` is first recomputed with the offsets of that date
        (:func:`~rmf_spark.slayer.reach_calibration.apply_reach_offsets`).
    dominance_steepness
        Logistic steepness per dB of the C-layer's dominance (``convergence.radio.steepness``).

    Returns
    -------
    DataFrame
        ``time_point timestamp, tile_id long, devices double`` (tiles with a positive
        estimate). Per time point the devices sum to the devices of cells with a footprint.

    Notes
    -----
    One pandas group per date (a ``cogroup`` of the counts and the connection probabilities
    of that date): the sparse matrix is built once per date and shared by the date's time
    points, so the probabilities are shuffled once per date rather than once per time point.
    Formula and sources: module notes.
    """
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
    group = F.col(DATE) if DATE in keys else F.lit(0).alias("_all")
    fn = _em_per_date(max_iterations, relative_tolerance, ta_buffer, dominance_steepness)
    return counts.groupBy(group).cogroup(cp.groupBy(group)).applyInPandas(fn, _TILE_DEVICES_SCHEMA)


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
    issue compares EM with.
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
