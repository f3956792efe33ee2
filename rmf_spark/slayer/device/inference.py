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

import numpy as np
import pandas as pd

from rmf_spark.clayer.schemas import TILE_ID
from rmf_spark.slayer.device._time import to_micros
from rmf_spark.slayer.device.emission import DeviceEmission, device_emission
from rmf_spark.slayer.device.hmm import location_summary, nearest_event, smallest_mass, smooth
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    BEST_TILE,
    FIRST_TS,
    LAST_TS,
    PROBABILITY,
    RADIUS_M,
    VISITED_PLMN,
)
from rmf_spark.slayer.device.segments import segment_device_day
from rmf_spark.slayer.device.settings import DeviceSettings
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = [
    "PRIOR",
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


def _locate_segments(
    segments: pd.DataFrame,
    row_segment: np.ndarray,
    rows: pd.DataFrame,
    model: DeviceEmission,
    footprints: pd.DataFrame,
    settings: DeviceSettings,
) -> pd.DataFrame:
    event_row, times = hmm_events(rows, model)
    if not len(event_row):
        return segments
    s = settings.hmm
    initial = prior_weights(footprints, model.tiles, uniform_share=s.prior_uniform_share)
    obs = model.observation[event_row]
    _, posteriors = smooth(times, model.emission, model.xy_m, initial, settings=s, observation=obs)
    seg_of_event = row_segment[event_row]
    per_row = np.bincount(event_row, minlength=len(rows))
    rows_in = np.bincount(row_segment[np.unique(event_row)] + 1, minlength=len(segments) + 1)[1:]
    # each segment accumulates over the union of its events' tiles
    union: dict[int, np.ndarray] = {}
    for g in np.unique(seg_of_event[seg_of_event >= 0]):
        own = np.unique(obs[seg_of_event == g])
        union[int(g)] = np.unique(
            np.concatenate(
                [model.emission.indices[model.emission.indptr[o] : model.emission.indptr[o + 1]]
                 for o in own]
            )
        )  # fmt: skip
    acc = {g: np.zeros(len(u)) for g, u in union.items()}
    for k, cols, gamma in posteriors:
        g = int(seg_of_event[k])
        if g >= 0:
            weight = 1.0 / (per_row[event_row[k]] * rows_in[g])
            acc[g][np.searchsorted(union[g], cols)] += weight * gamma
    best = pd.array([None] * len(segments), dtype="Int64")
    radius = np.full(len(segments), np.nan)
    for g, w in acc.items():
        b, radius[g] = location_summary(w, model.xy_m[union[g]], mass=s.radius_mass)
        best[g] = int(model.tiles[union[g][b]])
    return segments.assign(**{BEST_TILE: best, RADIUS_M: radius})


def infer_device_day(
    rows: pd.DataFrame,
    footprints: pd.DataFrame,
    *,
    day_start: pd.Timestamp,
    day_end: pd.Timestamp,
    settings: DeviceSettings,
    ta_buffer: int,
) -> pd.DataFrame:
    """The segments of one device-day, with HMM locations when ``settings.hmm.enabled``.

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

    Returns
    -------
    pandas.DataFrame
        As :func:`~rmf_spark.slayer.device.segments.segment_device_day`, with ``best_tile``
        and ``radius_m`` of the segments that have located events.
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
    if not settings.hmm.enabled:
        return segments
    return _locate_segments(segments, row_segment, rows, model, footprints, settings)


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
        ``time_point, tile_id, probability``: per time point with an HMM event within
        ``tolerance_s`` (the nearest, tie to the earlier), the fewest tiles holding
        ``device.hmm.posterior_mass`` of its posterior, renormalised to sum to 1.
    """
    rows = _with_defaults(rows)
    model = device_emission(rows, footprints, ta_buffer=ta_buffer)
    points = pd.to_datetime(pd.Series(time_points)).reset_index(drop=True)
    event_row, times = hmm_events(rows, model)
    pick = nearest_event(times, to_micros(points) / 1e6, tolerance_s=tolerance_s)
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if (pick >= 0).any():
        s = settings.hmm
        initial = prior_weights(footprints, model.tiles, uniform_share=s.prior_uniform_share)
        _, posteriors = smooth(
            times,
            model.emission,
            model.xy_m,
            initial,
            settings=s,
            observation=model.observation[event_row],
        )
        wanted = set(pick[pick >= 0].tolist())
        for k, cols, gamma in posteriors:
            if k in wanted:
                keep = smallest_mass(gamma, mass=s.posterior_mass)
                kept[k] = (cols[keep], gamma[keep] / gamma[keep].sum())
    answered = [(i, *kept[int(k)]) for i, k in enumerate(pick) if k >= 0]
    when = points.to_numpy().astype("datetime64[us]")
    return pd.DataFrame(
        {
            TIME_POINT: np.concatenate(
                [
                    np.zeros(0, "datetime64[us]"),
                    *[np.repeat(when[i], len(c)) for i, c, _ in answered],
                ]
            ),
            TILE_ID: np.concatenate(
                [np.zeros(0, np.int64), *[model.tiles[c].astype(np.int64) for _, c, _ in answered]]
            ),
            PROBABILITY: np.concatenate([np.zeros(0), *[p for _, _, p in answered]]),
        }
    )
