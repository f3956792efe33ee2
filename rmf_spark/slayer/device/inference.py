"""One device-day from its compressed rows: observation model, HMM, segments, time points.

Notes
-----
A compressed row (a run of ``n`` identical observations from ``first_ts`` to ``last_ts``)
enters the HMM as one event at ``first_ts`` and, when ``last_ts > first_ts``, a second one at
``last_ts`` with the same emission: the ends carry when the device was seen; the middle events
repeat the same observation, and with the device still they would multiply the same emission
``n`` times (independent events in destim's model), an overconfidence the compression avoids.
A row's posterior is the mean of its HMM events'. Abroad rows and rows whose cell has no
footprint are not located.

The prior is ``(1 - u) * w / sum(w) + u / n_tiles`` over the device's tiles, ``w`` the
``prior`` column of the footprints (uniform without it) and ``u`` the
``prior_uniform_share``, so that it is positive on every tile the device's cells cover.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from rmf_spark.clayer.schemas import TILE_ID
from rmf_spark.slayer.device._time import to_micros
from rmf_spark.slayer.device.emission import DeviceEmission, device_emission
from rmf_spark.slayer.device.hmm import (
    HmmResult,
    forward_backward,
    posterior_at,
)
from rmf_spark.slayer.device.schemas import ABROAD, FIRST_TS, LAST_TS, PROBABILITY, VISITED_PLMN
from rmf_spark.slayer.device.segments import RowLocations, segment_device_day
from rmf_spark.slayer.device.settings import DeviceSettings, HmmSettings
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = [
    "PRIOR",
    "DeviceHmm",
    "device_hmm",
    "infer_device_day",
    "prior_weights",
    "time_point_posteriors",
]

#: optional footprints column: prior weight of the tile (e.g. an EM density), any scale
PRIOR = "prior"


class DeviceHmm(NamedTuple):
    """The HMM of one device-day: its result, the compressed row of each HMM event, and the
    posterior of each row (csr, rows x tiles; empty for rows not located)."""

    result: HmmResult
    event_row: np.ndarray
    row_posterior: sparse.csr_matrix


def _seconds(values: pd.Series) -> np.ndarray:
    return to_micros(values) / 1e6


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


def device_hmm(
    rows: pd.DataFrame,
    model: DeviceEmission,
    initial: np.ndarray,
    *,
    settings: HmmSettings,
) -> DeviceHmm:
    """Forward-backward over the located rows (both ends of a run, module notes); each
    posterior is kept on its fewest tiles holding ``settings.posterior_mass``."""
    n_rows = model.emission.shape[0]
    located = ~rows[ABROAD].to_numpy(dtype=bool) & (np.diff(model.emission.indptr) > 0)
    first, last = _seconds(rows[FIRST_TS]), _seconds(rows[LAST_TS])
    idx = np.flatnonzero(located)
    both = last[idx] > first[idx]
    event_row = np.repeat(idx, np.where(both, 2, 1))
    times = np.where(
        np.r_[False, event_row[1:] == event_row[:-1]], last[event_row], first[event_row]
    )
    order = np.argsort(times, kind="stable")  # rows of a device do not overlap; be safe
    event_row, times = event_row[order], times[order]
    result = forward_backward(
        times,
        model.emission[event_row],
        model.xy_m,
        initial,
        settings=settings,
        mass=settings.posterior_mass,
    )
    weight = sparse.csr_matrix(
        (1.0 / np.bincount(event_row, minlength=n_rows)[event_row],
         (event_row, np.arange(len(event_row)))),
        shape=(n_rows, len(event_row)),
    )  # fmt: skip
    return DeviceHmm(result, event_row, sparse.csr_matrix(weight @ result.posterior))


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
        As :func:`~rmf_spark.slayer.device.segments.segment_device_day`.
    """
    rows = _with_defaults(rows)
    model = device_emission(rows, footprints, ta_buffer=ta_buffer)
    locations = None
    if settings.hmm.enabled and model.emission.nnz:
        initial = prior_weights(
            footprints, model.tiles, uniform_share=settings.hmm.prior_uniform_share
        )
        hmm = device_hmm(rows, model, initial, settings=settings.hmm)
        locations = RowLocations(hmm.row_posterior, model.xy_m, settings.hmm.radius_mass)
    return segment_device_day(
        rows,
        model.footprint,
        model.tiles,
        day_start=day_start,
        day_end=day_end,
        settings=settings.segments,
        locations=locations,
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
        ``time_point, tile_id, probability``: per time point with an HMM event within
        ``tolerance_s`` (the nearest, tie to the earlier), the fewest tiles holding
        ``device.hmm.posterior_mass`` of it, renormalised to sum to 1.
    """
    rows = _with_defaults(rows)
    model = device_emission(rows, footprints, ta_buffer=ta_buffer)
    points = pd.to_datetime(pd.Series(time_points)).reset_index(drop=True)
    empty = pd.DataFrame(
        {
            TIME_POINT: pd.Series([], dtype="datetime64[us]"),
            TILE_ID: pd.Series([], dtype="int64"),
            PROBABILITY: pd.Series([], dtype="float64"),
        }
    )
    if not model.emission.nnz or points.empty:
        return empty
    initial = prior_weights(footprints, model.tiles, uniform_share=settings.hmm.prior_uniform_share)
    hmm = device_hmm(rows, model, initial, settings=settings.hmm)
    kept = posterior_at(hmm.result, _seconds(points), tolerance_s=tolerance_s).tocoo()
    return pd.DataFrame(
        {
            TIME_POINT: points.to_numpy()[kept.row],
            TILE_ID: model.tiles[kept.col].astype("int64"),
            PROBABILITY: kept.data,
        }
    )
