"""Daily permanence of one device-day: where the device stayed in each time slot.

Notes
-----
The day ``[day_start, day_end)`` is cut into slots of ``slot_s`` seconds from ``day_start``
(24 an ordinary day by default; 23 or 25 on a daylight-saving change, the last one shorter if
the day is not a multiple of the slot). For slot ``s`` of length ``L_s`` and a tile ``j``

    stay_s(j) = sum over stay and undetermined segments g with j in tiles(g) of |g  ∩  s|,

the overlap in seconds of the segment with the slot, counted on the segment's tiles. Which
tiles (``permanence.tiles``): by default (``location``) its ``location_tiles``, the fewest most
probable tiles of the HMM's location of the segment holding ``hmm.location_mass`` (half) of it,
or, for a segment the HMM did not locate, the common intersection of its footprints;
``footprint`` takes the intersection always, as MultiMNO does. The intersection is where the
device could have been throughout: on the small world's large cells, thousands of tiles a
slot (about 40 000 tile entries per device-day), several kilometres across; the location
tiles are where it most probably was (a median of about 100 tiles for a CDR-like device, 30
for a signalling one), which usual-environment and home detection need. The slot is

- ``abroad`` if abroad segments hold at least ``min_share * L_s`` of it (``visited_plmn`` the
  one holding most);
- else ``unknown`` if unknown segments hold at least ``min_share * L_s``;
- else ``grid``, with the tiles where ``stay_s(j) >= min_share * L_s`` (none when the device
  moved through most of it).

This is MultiMNO's daily permanence score (``DailyPermanenceScore``: a tile scores 1 in a slot
when the device stayed at least half of it in cells covering the tile; ``score_interval = 2``)
computed from the continuous time segments instead of its own stay intervals around each
event: a move segment carries no stay time (MultiMNO drops events faster than 50 km/h) and an
unknown slot is one that is mostly unobserved (MultiMNO: a slot without any stay).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from rmf_spark.slayer.device._time import to_micros
from rmf_spark.slayer.device.schemas import (
    ABROAD_SLOT,
    ABROAD_STATE,
    END_TS,
    GRID,
    ID_TYPE,
    LOCATION_TILES,
    SLOT_INDEX,
    SLOT_START,
    START_TS,
    STATE,
    STAY,
    TILES,
    UNDETERMINED,
    UNKNOWN,
    UNKNOWN_SLOT,
    VISITED_PLMN,
)
from rmf_spark.slayer.device.settings import PermanenceSettings

__all__ = ["PERMANENCE_COLUMNS", "daily_permanence", "slot_bounds"]

PERMANENCE_COLUMNS = [SLOT_INDEX, SLOT_START, ID_TYPE, TILES, VISITED_PLMN]


def slot_bounds(
    day_start: pd.Timestamp, day_end: pd.Timestamp, *, slot_s: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each slot, as ``datetime64[us]`` arrays.

    Examples
    --------
    >>> a, b = slot_bounds(pd.Timestamp("2024-03-31"), pd.Timestamp("2024-03-31 23:00"),
    ...                    slot_s=3600)
    >>> len(a), str(b[-1])
    (23, '2024-03-31T23:00:00.000000')
    """
    t0 = np.datetime64(pd.Timestamp(day_start), "us")
    t1 = np.datetime64(pd.Timestamp(day_end), "us")
    if t1 <= t0:
        raise ValueError(f"day_end {day_end} is not after day_start {day_start}")
    step = np.timedelta64(slot_s, "s").astype("timedelta64[us]")
    starts = np.arange(t0, t1, step)
    return starts, np.minimum(starts + step, t1)


def _stay_tiles(segments: pd.DataFrame, g: int, settings: PermanenceSettings) -> np.ndarray:
    # the location tiles when asked for and known, else the footprint intersection
    if settings.tiles == "location" and LOCATION_TILES in segments.columns:
        tiles = segments[LOCATION_TILES].iloc[g]
        if tiles is not None and not (np.isscalar(tiles) and pd.isna(tiles)):
            return np.asarray(tiles, dtype=np.int64)
    return np.asarray(segments[TILES].iloc[g], dtype=np.int64)


def daily_permanence(
    segments: pd.DataFrame,
    *,
    day_start: pd.Timestamp,
    day_end: pd.Timestamp,
    settings: PermanenceSettings,
) -> pd.DataFrame:
    """One row per slot of the day: its ``id_type`` and the tiles where the device stayed.

    Parameters
    ----------
    segments
        The day's segments (:func:`~rmf_spark.slayer.device.inference.infer_device_day`):
        ``state, start_ts, end_ts, tiles, visited_plmn`` and, optionally, ``location_tiles``.
    day_start, day_end
        The device-day (naive UTC).
    settings
        ``[device.permanence]``: ``slot_s``, ``min_share`` and ``tiles``.

    Returns
    -------
    pandas.DataFrame
        ``slot_index, slot_start, id_type, tiles, visited_plmn`` (rules: module notes).
    """
    starts, ends = slot_bounds(day_start, day_end, slot_s=settings.slot_s)
    n_slots = len(starts)
    a = starts.astype("int64")[None, :]
    b = ends.astype("int64")[None, :]
    lo = np.maximum(to_micros(segments[START_TS])[:, None], a)
    hi = np.minimum(to_micros(segments[END_TS])[:, None], b)
    overlap = np.clip(hi - lo, 0, None).astype(float)  # (segments x slots), microseconds
    need = settings.min_share * (b - a).ravel().astype(float)
    state = segments[STATE].to_numpy()
    abroad_time = overlap[state == ABROAD_STATE].sum(axis=0)
    unknown_time = overlap[state == UNKNOWN].sum(axis=0)
    # stay time per (slot, tile): overlaps of located segments times their tile sets
    located = np.flatnonzero(np.isin(state, [STAY, UNDETERMINED]))
    tile_lists = [_stay_tiles(segments, g, settings) for g in located]
    all_tiles = np.unique(np.concatenate([np.zeros(0, np.int64), *tile_lists]))
    member = sparse.csr_matrix(
        (
            np.ones(sum(len(t) for t in tile_lists)),
            (
                np.repeat(np.arange(len(located)), [len(t) for t in tile_lists]),
                np.searchsorted(all_tiles, np.concatenate([np.zeros(0, np.int64), *tile_lists])),
            ),
        ),
        shape=(len(located), len(all_tiles)),
    )
    stay = sparse.csr_matrix(sparse.csr_matrix(overlap[located].T) @ member)  # slots x tiles
    plmn = segments[VISITED_PLMN].to_numpy(dtype=object)
    abroad_rows = np.flatnonzero(state == ABROAD_STATE)
    kinds = np.where(
        abroad_time >= need, ABROAD_SLOT, np.where(unknown_time >= need, UNKNOWN_SLOT, GRID)
    )
    visited = np.full(n_slots, None, dtype=object)
    tiles = np.empty(n_slots, dtype=object)
    for s in range(n_slots):
        # arrays, not lists of Python ints: a rural slot holds thousands of tiles
        tiles[s] = np.zeros(0, np.int64)
        if kinds[s] == ABROAD_SLOT:
            visited[s] = plmn[abroad_rows[np.argmax(overlap[abroad_rows, s])]]
        elif kinds[s] == GRID:
            a0, a1 = stay.indptr[s], stay.indptr[s + 1]
            cols = stay.indices[a0:a1][stay.data[a0:a1] >= need[s]]
            tiles[s] = np.sort(all_tiles[cols])
    records = {
        SLOT_INDEX: np.arange(n_slots, dtype=np.int32),
        SLOT_START: starts,
        ID_TYPE: kinds.astype(object),
        TILES: tiles,
        VISITED_PLMN: visited,
    }
    return pd.DataFrame(records, columns=PERMANENCE_COLUMNS)
