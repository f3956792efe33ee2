"""One device-day from its compressed rows: observation model, segments, HMM locations.

Notes
-----
A compressed row (a run of ``n`` identical observations from ``first_ts`` to ``last_ts``)
enters the HMM as one event at ``first_ts`` and, when ``last_ts > first_ts``, a second one at
``last_ts`` with the same emission: the ends carry when the device was seen; the middle events
repeat the same observation, and with the device still they would multiply the same emission
``n`` times (independent events in destim's model), an overconfidence the compression avoids.
Abroad rows and rows whose cell has no footprint are not located.

A segment's location is the mean of its rows' posteriors (a row's: the mean of its HMM
events'); ``best_tile`` is its most probable tile and ``radius_m`` the distance from that
tile's centre holding ``device.hmm.radius_mass`` of it. The segmentation itself does not use
the HMM, so the posteriors are accumulated per segment as the backward pass yields them.

The prior is ``(1 - u) * w / sum(w) + u / n_tiles`` over the device's tiles, ``w`` the
``prior`` column of the footprints (uniform without it) and ``u`` the
``prior_uniform_share``, so that it is positive on every tile the device's cells cover.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from rmf_spark.clayer.schemas import TILE_ID
from rmf_spark.slayer.device._time import to_micros
from rmf_spark.slayer.device.emission import DeviceEmission, device_emission
from rmf_spark.slayer.device.hmm import location_summary, nearest_event, smallest_mass, smooth
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    BEST_TILE,
    CONTEXT,
    FIRST_TS,
    LAST_TS,
    LOCATION_TILES,
    PROBABILITIES,
    RADIUS_M,
    TILE_IDS,
    VISITED_PLMN,
)
from rmf_spark.slayer.device.segments import segment_device_day
from rmf_spark.slayer.device.settings import DeviceSettings
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = [
    "PRIOR",
    "DeviceDay",
    "hmm_events",
    "infer_device_day",
    "prior_weights",
    "time_point_posteriors",
]

#: optional footprints column: prior weight of the tile (e.g. an EM density), any scale
PRIOR = "prior"


def _with_defaults(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.sort_values(FIRST_TS, kind="stable").reset_index(drop=True)
    if ABROAD not in out.columns:
        out[ABROAD] = False
    if VISITED_PLMN not in out.columns:
        out[VISITED_PLMN] = None
    out[ABROAD] = out[ABROAD].fillna(False).astype(bool)
    return out


def prior_weights(
    footprints: pd.DataFrame, tiles: np.ndarray, *, uniform_share: float
) -> np.ndarray:
    """The HMM's initial distribution over ``tiles`` (module notes)."""
    n = len(tiles)
    if n == 0:
        return np.zeros(0)
    w = np.ones(n)
    if PRIOR in footprints.columns:
        per_tile = footprints.groupby(TILE_ID)[PRIOR].max()
        w = per_tile.reindex(tiles).fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)
    base = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    return (1.0 - uniform_share) * base + uniform_share / n


def hmm_events(rows: pd.DataFrame, model: DeviceEmission) -> tuple[np.ndarray, np.ndarray]:
    """The HMM events of the located rows: the row of each and its time in seconds, sorted
    (both ends of a run, module notes)."""
    located = ~rows[ABROAD].to_numpy(dtype=bool) & (
        np.diff(model.emission.indptr)[model.observation] > 0
    )
    first, last = to_micros(rows[FIRST_TS]) / 1e6, to_micros(rows[LAST_TS]) / 1e6
    idx = np.flatnonzero(located)
    event_row = np.repeat(idx, np.where(last[idx] > first[idx], 2, 1))
    second = np.r_[False, event_row[1:] == event_row[:-1]]
    times = np.where(second, last[event_row], first[event_row])
    order = np.argsort(times, kind="stable")  # rows of a device do not overlap; be safe
    return event_row[order], times[order]


def answering_events(
    times_s: np.ndarray, event_row: np.ndarray, at_s: np.ndarray, *, tolerance_s: float
) -> np.ndarray:
    """The HMM event that answers each instant of ``at_s`` (-1: none).

    The event nearest within ``tolerance_s`` (tie to the earlier, as the EM), or, for an
    instant between the two ends of one run, the nearer end: the device was seen on that
    cell throughout the run (its silences are at most ``device.run_max_gap_s``), so the raw
    event nearest to the instant is within ``run_max_gap_s / 2`` whatever the run's length.

    >>> answering_events(np.array([0.0, 9000.0, 20000.0]), np.array([0, 0, 1]),
    ...                  np.array([4000.0, 14000.0, 20500.0]), tolerance_s=3600).tolist()
    [0, -1, 2]
    """
    pick = nearest_event(times_s, at_s, tolerance_s=tolerance_s)
    times = np.asarray(times_s, dtype=float)
    at = np.asarray(at_s, dtype=float)
    missing = np.flatnonzero(pick < 0)
    before = np.searchsorted(times, at[missing], side="right") - 1
    ok = (before >= 0) & (before + 1 < len(times))
    missing, before = missing[ok], before[ok]
    inside = event_row[before] == event_row[before + 1]
    missing, before = missing[inside], before[inside]
    later = times[before + 1] - at[missing] < at[missing] - times[before]
    pick[missing] = np.where(later, before + 1, before)
    return pick


class DeviceDay(NamedTuple):
    """What the device stage keeps of one device-day (:func:`infer_device_day`)."""

    #: :func:`~rmf_spark.slayer.device.segments.segment_device_day` rows, located by the HMM
    segments: pd.DataFrame
    #: ``time_point, tile_ids, probabilities`` (:func:`time_point_posteriors`'s form)
    posteriors: pd.DataFrame
    #: log P(observations) under the HMM (NaN without located event): a device's fit
    log_likelihood: float
    #: compressed rows (own day, context rows excluded), those without a footprint, HMM events
    rows: int
    rows_without_footprint: int
    located_events: int


def _segment_union(
    seg_of_event: np.ndarray, obs: np.ndarray, model: DeviceEmission
) -> dict[int, np.ndarray]:
    """Per segment, the union of its events' tiles (column indices), where it accumulates."""
    e = model.emission
    union: dict[int, np.ndarray] = {}
    for g in np.unique(seg_of_event[seg_of_event >= 0]):
        own = np.unique(obs[seg_of_event == g])
        union[int(g)] = np.unique(
            np.concatenate([e.indices[e.indptr[o] : e.indptr[o + 1]] for o in own])
        )
    return union


def _posterior_frame(
    answered: list[tuple[np.datetime64, np.ndarray, np.ndarray]], tiles: np.ndarray
) -> pd.DataFrame:
    # one row per time point, its tiles and probabilities as arrays (the stored form)
    return pd.DataFrame(
        {
            TIME_POINT: np.array([t for t, _, _ in answered], dtype="datetime64[us]"),
            TILE_IDS: pd.Series([tiles[c].astype(np.int64) for _, c, _ in answered], dtype=object),
            PROBABILITIES: pd.Series([p for _, _, p in answered], dtype=object),
        }
    )


def infer_device_day(
    rows: pd.DataFrame,
    footprints: pd.DataFrame,
    *,
    day_start: pd.Timestamp,
    day_end: pd.Timestamp,
    settings: DeviceSettings,
    ta_buffer: int,
    time_points: pd.Series | None = None,
    tolerance_s: float = 0.0,
) -> DeviceDay:
    """Segments, time-point posteriors and fit of one device-day, from one HMM pass.

    Parameters
    ----------
    rows
        Compressed rows of the device (:func:`~rmf_spark.slayer.device.compress.compress_runs`),
        ``context`` rows of the neighbouring days included.
    footprints
        Connection probabilities of its cells with tile corners: ``cell_id,
        footprint_version, tile_id, p_cell_given_tile, x_ll, y_ll``, optionally ``distance_m``
        (TA) and ``prior``.
    day_start, day_end
        The device-day (naive UTC).
    settings
        ``[device]``.
    ta_buffer
        TA bands added either side (``present_population.timing_advance_buffer``).
    time_points
        Instants (naive UTC) at which to keep the posterior: each answered by the HMM event
        nearest to it within ``tolerance_s`` (tie to the earlier) or by the nearer end of the
        run it falls in (:func:`answering_events`), stored on the fewest tiles holding
        ``device.hmm.posterior_mass``, renormalised. None or empty: no posteriors.
    tolerance_s
        Largest distance from a time point to its event (``present_population.tolerance_s``).

    Returns
    -------
    DeviceDay
        The segments (``best_tile``, ``radius_m`` of the segments with located events when
        ``settings.hmm.enabled``), the posteriors, the log-likelihood and row counts.
    """
    rows = _with_defaults(rows)
    model = device_emission(rows, footprints, ta_buffer=ta_buffer)
    segments, row_segment = segment_device_day(
        rows,
        model.footprint,
        model.cell,
        model.tiles,
        day_start=day_start,
        day_end=day_end,
        settings=settings.segments,
    )
    own = ~rows[CONTEXT].fillna(False).to_numpy(dtype=bool) if CONTEXT in rows else None
    own = np.ones(len(rows), dtype=bool) if own is None else own
    no_fp = ~rows[ABROAD].to_numpy(dtype=bool) & (
        np.diff(model.emission.indptr)[model.observation] == 0
    )
    event_row, times = hmm_events(rows, model)
    points = pd.to_datetime(pd.Series([] if time_points is None else time_points))
    pick = answering_events(times, event_row, to_micros(points) / 1e6, tolerance_s=tolerance_s)
    empty = _posterior_frame([], model.tiles)
    result = DeviceDay(
        segments, empty, float("nan"), int(own.sum()), int((no_fp & own).sum()), len(event_row)
    )
    if not len(event_row) or not settings.hmm.enabled:
        return result
    s = settings.hmm
    initial = prior_weights(footprints, model.tiles, uniform_share=s.prior_uniform_share)
    obs = model.observation[event_row]
    loglik, posteriors = smooth(
        times, model.emission, model.xy_m, initial, settings=s, observation=obs
    )
    # a segment's location: the mean over its rows of each row's mean over its events
    seg_of_event = row_segment[event_row]
    per_row = np.bincount(event_row, minlength=len(rows))
    rows_in = np.bincount(row_segment[np.unique(event_row)] + 1, minlength=len(segments) + 1)[1:]
    union = _segment_union(seg_of_event, obs, model)
    acc = {g: np.zeros(len(u)) for g, u in union.items()}
    wanted: dict[int, list[int]] = {}
    for i, k in enumerate(pick):
        if k >= 0:
            wanted.setdefault(int(k), []).append(i)
    when = points.to_numpy().astype("datetime64[us]")
    answered: list[tuple[np.datetime64, np.ndarray, np.ndarray]] = []
    for k, cols, gamma in posteriors:
        g = int(seg_of_event[k])
        if g >= 0:
            weight = 1.0 / (per_row[event_row[k]] * rows_in[g])
            acc[g][np.searchsorted(union[g], cols)] += weight * gamma
        if k in wanted:
            keep = smallest_mass(gamma, mass=s.posterior_mass)
            p = gamma[keep] / gamma[keep].sum()
            answered.extend((when[i], cols[keep], p) for i in wanted[k])
    best = pd.array([None] * len(segments), dtype="Int64")
    radius = np.full(len(segments), np.nan)
    located = np.full(len(segments), None, dtype=object)
    for g, w in acc.items():
        b, radius[g] = location_summary(w, model.xy_m[union[g]], mass=s.radius_mass)
        best[g] = int(model.tiles[union[g][b]])
        located[g] = model.tiles[union[g][smallest_mass(w, mass=s.location_mass)]]
    answered.sort(key=lambda a: a[0])
    return result._replace(
        segments=segments.assign(**{BEST_TILE: best, RADIUS_M: radius, LOCATION_TILES: located}),
        posteriors=_posterior_frame(answered, model.tiles),
        log_likelihood=float(loglik),
    )


def time_point_posteriors(
    rows: pd.DataFrame,
    footprints: pd.DataFrame,
    time_points: pd.Series,
    *,
    tolerance_s: float,
    settings: DeviceSettings,
    ta_buffer: int,
) -> pd.DataFrame:
    """The device's location posterior at each time point, stored sparse.

    Returns
    -------
    pandas.DataFrame
        ``time_point, tile_ids, probabilities``: per time point with an HMM event within
        ``tolerance_s`` (the nearest, tie to the earlier), the fewest tiles holding
        ``device.hmm.posterior_mass`` of its posterior (arrays, in tile order), renormalised
        to sum to 1.
    """
    # the segments are not kept: any bounds holding the rows and the time points do
    instants = pd.concat([pd.to_datetime(pd.Series(time_points)), rows[FIRST_TS], rows[LAST_TS]])
    return infer_device_day(
        rows,
        footprints,
        day_start=instants.min().floor("D"),
        day_end=instants.max().floor("D") + pd.Timedelta(days=1),
        settings=settings,
        ta_buffer=ta_buffer,
        time_points=time_points,
        tolerance_s=tolerance_s,
    ).posteriors
