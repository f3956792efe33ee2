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

The naive baseline puts each device of cell i on the cell's most probable tile,
``argmax_j P(tile j | cell i)`` (ties to the smallest tile id).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.slayer.schemas import (
    CELL_ID,
    DEVICES,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    P_TILE_GIVEN_CELL,
    TILE_ID,
    TIME_POINT,
)

__all__ = ["EmResult", "compute_em_tile_devices", "compute_naive_tile_devices", "em_density"]

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


def _em_per_date(max_iterations: int, relative_tolerance: float):  # type: ignore[no-untyped-def]
    def run(counts: pd.DataFrame, cp: pd.DataFrame) -> pd.DataFrame:
        from scipy import sparse

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
        cell_codes, cell_uniques = pd.factorize(
            pd.MultiIndex.from_frame(cp[[CELL_ID, FOOTPRINT_VERSION]].astype(str))
        )
        tile_codes, tile_uniques = pd.factorize(cp[TILE_ID])
        tiles = np.asarray(tile_uniques, dtype="int64")
        p = sparse.csr_matrix(
            (cp[P_CELL_GIVEN_TILE].to_numpy(dtype=float), (cell_codes, tile_codes)),
            shape=(len(cell_uniques), len(tile_uniques)),
        )
        pt = p.T.tocsr()
        # devices of a cell without connection probabilities that date are not located
        where = cell_uniques.get_indexer(
            pd.MultiIndex.from_frame(counts[[CELL_ID, FOOTPRINT_VERSION]].astype(str))
        )
        for time_point, idx in counts.groupby(TIME_POINT).indices.items():
            c = np.zeros(len(cell_uniques))
            rows = where[idx]
            np.add.at(c, rows[rows >= 0], counts[DEVICES].to_numpy(dtype=float)[idx][rows >= 0])
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
) -> DataFrame:
    """Estimated devices per (time point, 100 m tile) with the EM estimator.

    Parameters
    ----------
    cell_counts
        ``time_point, cell_id, footprint_version, devices`` (:func:`compute_cell_counts`).
    connection_probability
        C-layer ``connection_probability``: ``cell_id, footprint_version, tile_id,
        p_cell_given_tile`` and, when present, ``date`` (the probabilities of the time
        point's date are used). Devices of cells without a row are not located.
    max_iterations, relative_tolerance
        EM stopping rule (config ``present_population``).

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
    cp = connection_probability.select(
        *keys, F.col(TILE_ID).cast("long").alias(TILE_ID), P_CELL_GIVEN_TILE
    ).where(F.col(P_CELL_GIVEN_TILE) > 0)
    counts = _with_date(cell_counts, keys).select(TIME_POINT, *keys, DEVICES)
    group = F.col(DATE) if DATE in keys else F.lit(0).alias("_all")
    return (
        counts.groupBy(group)
        .cogroup(cp.groupBy(group))
        .applyInPandas(_em_per_date(max_iterations, relative_tolerance), _TILE_DEVICES_SCHEMA)
    )


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
