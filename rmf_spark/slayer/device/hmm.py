"""A device's location posteriors from its events: a sparse HMM over 100 m tiles.

Notes
-----
States are tiles; the emission ``e_k(j) = P(observation k | tile j)`` is given (destim, Oancea
et al.: emissions are not fitted) and is the EM's observation model, ``P(cell | tile)`` times
the TA band term (:func:`~rmf_spark.slayer.present_population.em.observation_structure`).
Between events ``k`` and ``k+1``, ``dt = t_(k+1) - t_k`` seconds apart, the device moves with

    T_dt(i, j) = (1 - eps) * sum_c w_c * g_c(x_j - x_i) * g_c(y_j - y_i) / Z_c(dt)
                 + eps * pi_j,
    g_c(u) = exp(-u^2 / (2 sd_c(dt)^2)) * 1[|u| <= R_c(dt)],
    sd_c(dt) = scale_m + v_c * dt,
    R_c(dt) = min(min_reach_m + max_speed_m_s * dt, kernel_cutoff * sd_c(dt)),

two components ``c``: the device stayed (``v = stay_speed_m_s``, weight
``1 - travel_share``) or travelled (``v = travel_speed_m_s``, weight ``travel_share``);
``(x, y)`` the tile centres, ``pi`` the initial distribution and ``eps`` the jump probability.
``Z_c(dt) = (sum_{n in Z, |n| h <= R_c} exp(-(n h)^2 / (2 sd_c^2)))^2`` sums a component over
the whole 100 m lattice (spacing ``h``), so the kernel is the same for every tile and a row of
``T`` sums to 1 on the plane. Tiles no event of the device covers have emission 0 at every
event, so leaving them out of the state space is exact: each step only maps the tiles of
event k to those of event k + 1.

Why this kernel. destim moves a device only to the 8 neighbours of its tile, with events a
fixed step ``E / V`` apart; network events come at irregular gaps, so the spread grows with
``dt``, linearly (people move ballistically: the displacement grows like ``dt``, not like
``sqrt(dt)``), and the reach is cut where the device could not be (``v_max * dt`` per axis).
A mixture of a narrow and a wide Gaussian has the heavy tail a single Gaussian lacks (on a
device driving at 36 km/h with events 30 s apart, a single Gaussian that fits stays made the
HMM worse than independent events, the mixture better), and each Gaussian is separable,
``g(dx) g(dy)``: a step is a few small dense products over the footprints' own rows and
columns of tiles, ``Gy A Gx'``, whose cost depends on the footprints' extent, not on the
number of tile pairs (that grows as the square of the footprint; a pair-list kernel with
scipy ``cKDTree`` was about 40 times slower on city footprints of 450 tiles and 65 times on
rural ones of 2 750, ``docs/device-inference.md``); on the footprints of rural cells (tens
of thousands of tiles) a narrow component is a lattice convolution and a wide one goes
through blocks of tiles (:func:`_spread`). Moves faster than the travel component
(a train) are carried by the jump term, where the posterior is close to the event's own
emission times the prior.
``eps = 1`` is the model of independent events, whose posterior is the normalised
``e_k * pi``.

Scaled forward-backward (Rabiner 1989): ``alpha_k`` is normalised at each step by ``c_k``,
``log L = sum_k log c_k``, ``beta_k = T (e_(k+1) beta_(k+1)) / c_(k+1)`` and the posterior
``gamma_k = alpha_k beta_k`` sums to 1. The forward messages are all kept when they fit
``forward_memory_mb``; above it (a heavy device) only every ``ceil(sqrt(n))``-th is kept and
the others are recomputed block by block in the backward pass (checkpointing: memory grows
with ``sqrt(n)`` footprints, not ``n``, for one more forward pass). :func:`smooth` yields
each posterior as soon as it is known, so the caller keeps only what it needs.
Between events the posterior is the one of the nearest event (:func:`posterior_at`), as the
present population's nearest-event rule; the exact smoothed posterior at an instant between
events spreads over tiles no event covers, which the sparse state space does not hold.

This module is numpy and scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.ndimage import correlate1d

from rmf_spark.slayer.device.settings import HmmSettings

__all__ = [
    "GRID_SPACING_M",
    "HmmResult",
    "forward_backward",
    "kernel_components",
    "lattice_normaliser",
    "location_summary",
    "nearest_event",
    "posterior_at",
    "smallest_mass",
    "smooth",
]

#: spacing of the INSPIRE grid the states live on
GRID_SPACING_M = 100.0


class HmmResult(NamedTuple):
    """Per-event posteriors (csr, n_events x n_tiles, each row reduced to its fewest tiles
    holding the requested mass and renormalised to 1), the log-likelihood of the events, and
    the event times in seconds."""

    posterior: sparse.csr_matrix
    log_likelihood: float
    times_s: np.ndarray


def kernel_components(
    dt_s: np.ndarray, *, settings: HmmSettings
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """``(weight, sd(dt), R(dt))`` of the stay and travel components, in metres per axis.

    Examples
    --------
    >>> [(w, sd.tolist(), r.tolist())
    ...  for w, sd, r in kernel_components(np.array([0.0, 3600.0]), settings=HmmSettings())]
    [(0.8, [100.0, 1000.0], [500.0, 5000.0]), (0.2, [100.0, 28900.0], [500.0, 144500.0])]
    """
    dt = np.asarray(dt_s, dtype=float)
    s = settings
    out = []
    for weight, speed in (
        (1.0 - s.travel_share, s.stay_speed_m_s),
        (s.travel_share, s.travel_speed_m_s),
    ):
        sd = s.scale_m + speed * dt
        reach = np.minimum(s.min_reach_m + s.max_speed_m_s * dt, s.kernel_cutoff * sd)
        out.append((weight, sd, reach))
    return out


def lattice_normaliser(
    sd_m: np.ndarray, reach_m: np.ndarray, *, spacing_m: float = GRID_SPACING_M
) -> np.ndarray:
    """``Z = (sum_{|n| h <= R} exp(-(n h)^2 / (2 sd^2)))^2``: the kernel over the whole grid.

    Examples
    --------
    >>> lattice_normaliser(np.array([100.0, 1e-3]), np.array([0.0, 500.0])).tolist()
    [1.0, 1.0]
    """
    sd = np.atleast_1d(np.asarray(sd_m, dtype=float))
    reach = np.atleast_1d(np.asarray(reach_m, dtype=float))
    out = np.empty(len(sd))
    for k, (s, r) in enumerate(zip(sd, reach, strict=True)):
        n = np.arange(1, math.floor(r / spacing_m + 1e-9) + 1, dtype=float)
        out[k] = (1.0 + 2.0 * np.exp(-((n * spacing_m) ** 2) / (2 * s * s)).sum()) ** 2
    return out


def _validate(
    times: np.ndarray,
    emission: sparse.csr_matrix,
    observation: np.ndarray,
    xy: np.ndarray,
    initial: np.ndarray,
) -> None:
    n_obs, n_tiles = emission.shape
    n = len(observation)
    if times.shape != (n,):
        raise ValueError(f"times_s has shape {times.shape}, expected ({n},) (one per event)")
    if n and (not np.isfinite(times).all() or (np.diff(times) < 0).any()):
        raise ValueError("times_s must be finite and sorted in non-decreasing order")
    if n and (observation.min() < 0 or observation.max() >= n_obs):
        raise ValueError(f"observation indices must be rows of emission (0 .. {n_obs - 1})")
    if xy.shape != (n_tiles, 2):
        raise ValueError(f"xy_m has shape {xy.shape}, expected ({n_tiles}, 2)")
    if initial.shape != (n_tiles,) or not np.isfinite(initial).all() or (initial <= 0).any():
        raise ValueError(
            "initial must hold one positive, finite weight per tile (mix in a uniform share, "
            "device.hmm.prior_uniform_share, where a prior has zeros)"
        )
    if emission.nnz and ((emission.data < 0).any() or not np.isfinite(emission.data).all()):
        raise ValueError("emission probabilities must be finite and >= 0")
    row_sum = np.asarray(emission.sum(axis=1)).ravel()
    empty = np.flatnonzero(row_sum[observation] <= 0)
    if empty.size:
        raise ValueError(
            f"events {empty[:5].tolist()} have no tile with a positive emission probability: "
            "drop events whose cell has no footprint before the HMM"
        )


class _Layout(NamedTuple):
    """An event's tiles as a dense grid: distinct x and y centres, and each tile's place;
    ``memo`` keeps what the steps derive from them again and again (blocks of a width)."""

    ux: np.ndarray
    uy: np.ndarray
    ix: np.ndarray
    iy: np.ndarray
    memo: dict | None = None

    def remember(self, key: tuple, make):  # type: ignore[no-untyped-def]
        if self.memo is None:
            return make()
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    def dense(self, values: np.ndarray) -> np.ndarray:
        grid = np.zeros((len(self.uy), len(self.ux)))
        grid[self.iy, self.ix] = values
        return grid


class _Steps:
    """The transition between consecutive events, as separable dense products."""

    def __init__(
        self,
        emission: sparse.csr_matrix,
        observation: np.ndarray,
        xy: np.ndarray,
        times: np.ndarray,
        s: HmmSettings,
    ) -> None:
        self.e = emission
        self.obs = observation
        # (weight (1 - eps) w_c / Z_c, sd, reach) per component, each an array over the steps
        self.parts = [
            ((1.0 - s.jump_probability) * w / lattice_normaliser(sd, reach), sd, reach)
            for w, sd, reach in kernel_components(np.diff(times), settings=s)
            if w > 0
        ]
        self.block_sds = s.kernel_block_sds
        # one dense layout per distinct observation
        self._layouts: dict[int, _Layout] = {}
        self._xy = xy

    def cols(self, k: int) -> np.ndarray:
        o = self.obs[k]
        return self.e.indices[self.e.indptr[o] : self.e.indptr[o + 1]]

    def vals(self, k: int) -> np.ndarray:
        o = self.obs[k]
        return self.e.data[self.e.indptr[o] : self.e.indptr[o + 1]]

    def layout(self, k: int) -> _Layout:
        o = int(self.obs[k])
        if o not in self._layouts:
            cols = self.cols(k)
            ux, ix = np.unique(self._xy[cols, 0], return_inverse=True)
            uy, iy = np.unique(self._xy[cols, 1], return_inverse=True)
            self._layouts[o] = _Layout(ux, uy, ix, iy, {})
        return self._layouts[o]

    def _moved(self, k: int, grid: np.ndarray, *, backward: bool) -> np.ndarray:
        # the kernel is symmetric: backward is the same sum from event k + 1's tiles to k's
        src, dst = self.layout(k), self.layout(k + 1)
        into, out_of = (src, dst) if backward else (dst, src)
        moved = np.zeros((len(into.uy), len(into.ux)))
        for weight, sd, reach in self.parts:
            moved += weight[k] * _spread(
                grid, out_of, into, sd=sd[k], reach=reach[k], block_sds=self.block_sds
            )
        return moved

    def forward(self, k: int, a: np.ndarray) -> np.ndarray:
        """``(1 - eps) * sum_i a_i K(i, j)`` for the tiles j of event k + 1."""
        src, dst = self.layout(k), self.layout(k + 1)
        return self._moved(k, src.dense(a), backward=False)[dst.iy, dst.ix]

    def backward(self, k: int, u: np.ndarray) -> np.ndarray:
        """``(1 - eps) * sum_j K(i, j) u_j`` for the tiles i of event k."""
        src, dst = self.layout(k), self.layout(k + 1)
        return self._moved(k, dst.dense(u), backward=True)[src.iy, src.ix]


def _factor(to: np.ndarray, at: np.ndarray, sd: float, reach: float) -> np.ndarray:
    # g(to_a - at_b) on one axis, cut at the reach
    d = to[:, None] - at[None, :]
    return np.where(np.abs(d) <= reach * (1 + 1e-12), np.exp(-d * d / (2 * sd * sd)), 0.0)


def _blocks(coords: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Start index and mean coordinate of each run of ``width`` metres of sorted coordinates."""
    b = np.floor((coords - coords[0]) / width + 1e-9).astype(np.int64)
    starts = np.concatenate([[0], np.flatnonzero(b[1:] != b[:-1]) + 1])
    sizes = np.diff(np.append(starts, len(coords)))
    return starts, np.add.reduceat(coords, starts) / sizes


def _spread(
    grid: np.ndarray, src: _Layout, dst: _Layout, *, sd: float, reach: float, block_sds: float
) -> np.ndarray:
    """``sum_i grid_i g(x_j - x_i) g(y_j - y_i)`` at the tiles ``j`` of ``dst``, ``grid`` on the
    tiles ``i`` of ``src``: the separable product ``Gy grid Gx'``.

    A wide component (``sd >= 2 block_sds h``) is applied from blocks of ``m x m`` tiles,
    ``m = floor(sd / (block_sds h))``, each at its mean coordinate: the blocks' extent adds
    about ``(m h)^2 / 12`` to the variance, a share ``1 / (12 block_sds^2)`` of ``sd^2`` at most
    (0.5 % for 4), and the products shrink by ``m^2``. A narrow one, cut at a reach of fewer
    tiles than the footprints span, is a convolution on the 100 m lattice, one axis after the
    other (exact, and cheaper than the products by about the footprint's width over the
    kernel's).
    """
    if block_sds > 0 and sd >= 2 * block_sds * GRID_SPACING_M:
        width = math.floor(sd / (block_sds * GRID_SPACING_M)) * GRID_SPACING_M
        ys, cy = src.remember(("y", width), lambda: _blocks(src.uy, width))
        xs, cx = src.remember(("x", width), lambda: _blocks(src.ux, width))
        blocks = np.add.reduceat(np.add.reduceat(grid, ys, axis=0), xs, axis=1)
        return _spread_dense(blocks, cx, cy, dst, sd=sd, reach=reach)
    taps = 2 * math.floor(reach / GRID_SPACING_M + 1e-9) + 1
    _, _, ny, nx = _box(src, dst)
    # the box holds both footprints: not much more than their own tiles (else the products)
    compact = ny * nx <= 4 * (grid.size + len(dst.uy) * len(dst.ux))
    if compact and taps < min(len(src.uy), len(src.ux), len(dst.uy), len(dst.ux)):
        return _spread_lattice(grid, src, dst, sd=sd, reach=reach)
    return _spread_dense(grid, src.ux, src.uy, dst, sd=sd, reach=reach)


def _spread_dense(
    grid: np.ndarray, ux: np.ndarray, uy: np.ndarray, dst: _Layout, *, sd: float, reach: float
) -> np.ndarray:
    # grid at the points (uy x ux): the kernel factors between them and dst's tiles
    return _triple(_factor(dst.uy, uy, sd, reach), grid, _factor(dst.ux, ux, sd, reach).T)


def _box(src: _Layout, dst: _Layout) -> tuple[float, float, int, int]:
    # the lattice rectangle holding both layouts: its lower corner and its rows and columns
    h = GRID_SPACING_M
    y0, x0 = min(src.uy[0], dst.uy[0]), min(src.ux[0], dst.ux[0])
    ny = round((max(src.uy[-1], dst.uy[-1]) - y0) / h) + 1
    nx = round((max(src.ux[-1], dst.ux[-1]) - x0) / h) + 1
    return y0, x0, ny, nx


def _spread_lattice(
    grid: np.ndarray, src: _Layout, dst: _Layout, *, sd: float, reach: float
) -> np.ndarray:
    # src's grid placed on the lattice box holding both layouts, correlated with the kernel's
    # taps along y then x (the kernel is even), read at dst's rows and columns
    h = GRID_SPACING_M
    n = math.floor(reach / h + 1e-9)
    taps = np.exp(-((np.arange(-n, n + 1) * h) ** 2) / (2 * sd * sd))
    y0, x0, ny, nx = _box(src, dst)

    def place(coords: np.ndarray, origin: float) -> np.ndarray:
        return np.rint((coords - origin) / h).astype(np.int64)

    box = np.zeros((ny, nx))
    box[np.ix_(place(src.uy, y0), place(src.ux, x0))] = grid
    box = correlate1d(
        correlate1d(box, taps, axis=0, mode="constant"), taps, axis=1, mode="constant"
    )
    return box[np.ix_(place(dst.uy, y0), place(dst.ux, x0))]


def _triple(left: np.ndarray, mid: np.ndarray, right: np.ndarray) -> np.ndarray:
    # the cheaper association of left @ mid @ right
    a, b = left.shape
    c, d = right.shape
    if a * b * c + a * c * d <= b * c * d + a * b * d:
        return (left @ mid) @ right
    return left @ (mid @ right)


def smallest_mass(values: np.ndarray, *, mass: float) -> np.ndarray:
    """Indices (sorted) of the fewest values holding ``mass`` of their sum, largest first,
    ties to the lower index: the stored form of a posterior.

    Examples
    --------
    >>> smallest_mass(np.array([0.1, 0.6, 0.3]), mass=0.9).tolist()
    [1, 2]
    """
    order = np.argsort(-values, kind="stable")
    cum = np.cumsum(values[order])
    return np.sort(order[(cum - values[order]) < mass * cum[-1]])


def smooth(
    times_s: np.ndarray,
    emission: sparse.spmatrix,
    xy_m: np.ndarray,
    initial: np.ndarray,
    *,
    settings: HmmSettings,
    observation: np.ndarray | None = None,
) -> tuple[float, Iterator[tuple[int, np.ndarray, np.ndarray]]]:
    """The forward pass (the log-likelihood) and an iterator over the posteriors.

    Parameters
    ----------
    times_s
        Event times in seconds (any origin), sorted, length n.
    emission
        ``P(observation o | tile j)``, sparse (n_observations x n_tiles).
    xy_m
        Tile centres in metres (n_tiles x 2), on the 100 m grid.
    initial
        Prior weight of each tile (> 0; normalised here); also the jump target.
    settings
        ``[device.hmm]``: the kernel (``scale_m``, ``stay_speed_m_s``, ``travel_speed_m_s``,
        ``travel_share``, ``max_speed_m_s``, ``min_reach_m``, ``kernel_cutoff``) and
        ``jump_probability``.
    observation
        The emission row of each event (length n; by default event k is row k). Every event's
        row has a positive entry.

    Returns
    -------
    tuple
        ``(log_likelihood, posteriors)``: ``posteriors`` yields ``(k, tiles, probabilities)``
        for k = n - 1 down to 0, ``tiles`` the columns of event k's row and ``probabilities``
        its posterior on them (summing to 1). Consume it once, keeping what is needed.

    Notes
    -----
    Formulas and sources: module notes. Memory: every forward message (one float per tile of
    an event) up to ``settings.forward_memory_mb``, above it ``2 ceil(sqrt(n))`` of them,
    and, per step, the dense grids of two footprints (their distinct tile rows times
    columns); the emission is held once per distinct observation.
    """
    times = np.asarray(times_s, dtype=float)
    xy = np.asarray(xy_m, dtype=float)
    init = np.asarray(initial, dtype=float)
    e = sparse.csr_matrix(emission, dtype=float)
    e.eliminate_zeros()
    e.sort_indices()
    obs = np.arange(e.shape[0]) if observation is None else np.asarray(observation, np.int64)
    _validate(times, e, obs, xy, init)
    n = len(obs)
    if n == 0:
        return 0.0, iter(())
    pi = init / init.sum()
    eps = settings.jump_probability
    steps = _Steps(e, obs, xy, times, settings)
    scale = np.empty(n)

    def advance(k: int, a: np.ndarray | None) -> np.ndarray:
        # alpha_k from alpha_(k-1) (None for k = 0); records c_k
        prior_k = pi[steps.cols(k)]
        carried = prior_k if a is None else steps.forward(k - 1, a) + eps * prior_k
        out = steps.vals(k) * carried
        scale[k] = out.sum()
        return out / scale[k]

    # all forward messages when they fit the budget, else checkpoints (recomputed blocks)
    floats = int(np.diff(e.indptr)[obs].sum())
    keep_all = floats * 8 <= settings.forward_memory_mb * 2**20
    block = 1 if keep_all else math.ceil(math.sqrt(n))
    checkpoints: dict[int, np.ndarray] = {}
    a = None
    for k in range(n):
        a = advance(k, a)
        if k % block == 0:
            checkpoints[k] = a
    log_likelihood = float(np.log(scale).sum())

    def backward() -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        beta = np.ones(len(steps.cols(n - 1)))
        for start in range(((n - 1) // block) * block, -1, -block):
            alphas = [checkpoints.pop(start)]
            for k in range(start + 1, min(start + block, n)):
                alphas.append(advance(k, alphas[-1]))
            for k in range(min(start + block, n) - 1, start - 1, -1):
                gamma = alphas.pop() * beta
                yield k, steps.cols(k), gamma / gamma.sum()
                if k:
                    u = steps.vals(k) * beta
                    beta = (steps.backward(k - 1, u) + eps * float(pi[steps.cols(k)] @ u)) / scale[
                        k
                    ]

    return log_likelihood, backward()


def forward_backward(
    times_s: np.ndarray,
    emission: sparse.spmatrix,
    xy_m: np.ndarray,
    initial: np.ndarray,
    *,
    settings: HmmSettings,
    mass: float,
    observation: np.ndarray | None = None,
) -> HmmResult:
    """Posterior tile of each event of one device, and the log-likelihood of its events.

    Parameters
    ----------
    times_s, emission, xy_m, initial, settings, observation
        As :func:`smooth`.
    mass
        Each posterior keeps its fewest tiles holding this mass, renormalised (1: all).

    Returns
    -------
    HmmResult
        ``posterior`` (csr, n x n_tiles, each row sums to 1), ``log_likelihood``, ``times_s``.

    Examples
    --------
    >>> from scipy import sparse
    >>> e = sparse.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0]]))
    >>> r = forward_backward(np.array([0.0, 60.0]), e, np.array([[0.0, 0.0], [100.0, 0.0]]),
    ...                      np.ones(2), settings=HmmSettings(), mass=1.0)
    >>> r.posterior.toarray().round(3).tolist()
    [[0.592, 0.408], [1.0, 0.0]]
    """
    log_likelihood, posteriors = smooth(
        times_s, emission, xy_m, initial, settings=settings, observation=observation
    )
    n = len(np.asarray(times_s))
    n_tiles = sparse.csr_matrix(emission).shape[1]
    cols: list[np.ndarray] = [np.empty(0, np.int32)] * n
    vals: list[np.ndarray] = [np.empty(0)] * n
    for k, tiles, gamma in posteriors:
        keep = smallest_mass(gamma, mass=mass)
        cols[k], vals[k] = tiles[keep], gamma[keep] / gamma[keep].sum()
    counts = np.array([len(c) for c in cols], dtype=np.int64)
    post = sparse.csr_matrix(
        (
            np.concatenate([np.empty(0), *vals]),
            np.concatenate([np.empty(0, np.int32), *cols]),
            np.r_[0, np.cumsum(counts)],
        ),
        shape=(n, n_tiles),
    )
    return HmmResult(post, log_likelihood, np.asarray(times_s, dtype=float))


def nearest_event(times_s: np.ndarray, at_s: np.ndarray, *, tolerance_s: float) -> np.ndarray:
    """Index of the event nearest to each instant (a tie goes to the earlier event), -1 when
    none is within ``tolerance_s``.

    Examples
    --------
    >>> nearest_event(np.array([0.0, 100.0]), np.array([10.0, 50.0, 90.0, 500.0]),
    ...               tolerance_s=60).tolist()
    [0, 0, 1, -1]
    """
    times = np.asarray(times_s, dtype=float)
    at = np.asarray(at_s, dtype=float)
    if times.size == 0:
        return np.full(at.shape, -1, dtype=np.int64)
    later = np.clip(np.searchsorted(times, at, side="left"), 0, times.size - 1)
    earlier = np.clip(later - 1, 0, times.size - 1)
    pick = np.where(np.abs(times[earlier] - at) <= np.abs(times[later] - at), earlier, later)
    return np.where(np.abs(times[pick] - at) <= tolerance_s, pick, -1).astype(np.int64)


def posterior_at(result: HmmResult, at_s: np.ndarray, *, tolerance_s: float) -> sparse.csr_matrix:
    """The posterior at arbitrary instants: that of the nearest event (:func:`nearest_event`);
    an instant without an event within ``tolerance_s`` gets an empty row.

    Examples
    --------
    >>> from scipy import sparse
    >>> r = HmmResult(sparse.csr_matrix(np.eye(2)), 0.0, np.array([0.0, 100.0]))
    >>> posterior_at(r, np.array([10.0, 50.0, 90.0, 500.0]), tolerance_s=60).toarray().tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    pick = nearest_event(result.times_s, at_s, tolerance_s=tolerance_s)
    if result.times_s.size == 0:
        return sparse.csr_matrix((len(pick), result.posterior.shape[1]))
    rows = result.posterior[np.maximum(pick, 0)]
    return sparse.csr_matrix(sparse.diags((pick >= 0).astype(float)) @ rows)


def location_summary(
    distribution: np.ndarray, xy_m: np.ndarray, *, mass: float
) -> tuple[int, float]:
    """The most probable tile (index; ties to the lower one) and the radius in metres around
    its centre holding ``mass`` of ``distribution`` (centre-to-centre distances).

    Examples
    --------
    >>> location_summary(np.array([0.5, 0.3, 0.2]),
    ...                  np.array([[0.0, 0.0], [100.0, 0.0], [300.0, 0.0]]), mass=0.8)
    (0, 100.0)
    """
    w = np.asarray(distribution, dtype=float)
    xy = np.asarray(xy_m, dtype=float)
    best = int(np.argmax(w))
    d = np.hypot(xy[:, 0] - xy[best, 0], xy[:, 1] - xy[best, 1])
    order = np.argsort(d, kind="stable")
    cum = np.cumsum(w[order])
    hit = int(np.searchsorted(cum, mass * cum[-1] * (1 - 1e-12), side="left"))
    return best, float(d[order][min(hit, len(order) - 1)])
