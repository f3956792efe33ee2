"""Timing advance (TA) as a likelihood: which tiles can a (cell, TA) observation come from.

Notes
-----
The TA of an event counts, in steps of ``s`` metres (LTE and 5G NR at 15 kHz subcarrier
spacing: 78.12 m; GSM: 553.85 m), the distance between the device and the antenna:
``TA = floor(r / s)``. A 100 m tile spans distances ``d +- h`` around its centre's distance
``d`` (``h`` = half the tile diagonal, 70.7 m), so it yields TA bands
``k_lo = floor((d - h) / s)`` to ``k_hi = floor((d + h) / s)``; with a buffer of ``b`` bands
either side (for the antenna's timing error) the observation model is

    P(TA = k | cell c, tile g) = 1 / n_g   for max(0, k_lo - b) <= k <= k_hi + b,  else 0,

with ``n_g`` the number of those bands, so it sums to 1 over k for every (cell, tile). The
likelihood of an observed (cell, TA) in tile g is ``P(c | g) * P(TA | c, g)``, and these sum
to 1 over all observations, as the EM estimator requires. This is mobloc's TA posterior update
(``update_posterior_TA``: likelihood 1 inside the TA band +- ``TA_buffer``, 0 outside;
Tennekes & Gootzen 2022) written as a proper probability.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TILE_HALF_DIAGONAL_M", "ta_band_range"]

#: half the diagonal of a 100 m tile: the farthest a point of the tile is from its centre
TILE_HALF_DIAGONAL_M = 50.0 * 2**0.5


def ta_band_range(
    distance_m: np.ndarray,
    step_m: np.ndarray | float,
    *,
    buffer: int = 1,
    half_width_m: float = TILE_HALF_DIAGONAL_M,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last TA band a tile can produce: ``P(TA = k | c, g) = 1 / (hi - lo + 1)``.

    Parameters
    ----------
    distance_m
        Distance from the antenna to each tile's centre (metres).
    step_m
        TA step of the cell's technology (metres), scalar or per tile.
    buffer
        Extra bands either side (mobloc ``TA_buffer``, default 1).
    half_width_m
        How far a point of the tile can be from its centre (default: half the diagonal).

    Returns
    -------
    tuple of numpy.ndarray
        ``lo, hi`` (int64), ``0 <= lo <= hi``.

    Examples
    --------
    >>> lo, hi = ta_band_range(np.array([20.0, 500.0]), 78.12, buffer=1)
    >>> lo.tolist(), hi.tolist()
    ([0, 4], [2, 8])
    """
    d = np.asarray(distance_m, dtype=float)
    s = np.asarray(step_m, dtype=float)
    lo = np.floor((d - half_width_m) / s).astype(np.int64) - buffer
    hi = np.floor((d + half_width_m) / s).astype(np.int64) + buffer
    return np.maximum(lo, 0), np.maximum(hi, 0)
