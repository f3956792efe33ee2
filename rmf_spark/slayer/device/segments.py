"""Continuous time segmentation of one device-day: stay, move, undetermined, unknown, abroad.

Notes
-----
The rules of MultiMNO's continuous time segmentation (Eurostat ``multimno``,
``ContinuousTimeSegmentation``), restated over tile sets. Rows are events, or runs of identical
events (``first_ts`` to ``last_ts``), sorted in time.

1. *Places.* Consecutive domestic rows stay in one place while the common intersection of
   their cell footprints is not empty and the silence before each row is at most
   ``max_gap_stay_s`` (12 h). Consecutive abroad rows in the same visited country (MCC)
   stay in one abroad place while each silence is at most ``max_gap_abroad_s`` (72 h).
2. *Stay or short.* A domestic place lasting at least ``min_stay_s`` (from its first to its
   last event) is a ``stay``; a shorter one is ``move`` when the device arrived and left it
   by moves (it was seen passing), otherwise ``undetermined``.
3. *Between places.* A silence of at most ``max_gap_move_s`` (2 h) is a ``move`` from the end
   of one place to the start of the next; a longer one is ``unknown``, with both places
   extended into it by ``pad_s`` (300 s). Before the first row and after the last the
   device is ``unknown`` (the caller adds the last row of the previous day and the first of
   the next as context rows, so a stay crossing midnight continues).
4. Consecutive moves are one segment; segments are clipped to ``[day_start, day_end)``.

Where this differs from MultiMNO, and why: the footprint test is the common tile intersection
of all the place's footprints (MultiMNO looks the set of cells up in precomputed intersection
groups: the same test, without the group table); a move between two places is one segment
rather than two halves split at the midpoint (the midpoint carries no information); and a
short place between two moves is a ``move`` (MultiMNO labels the lone event by the move it
splits), while one next to an unknown gap stays ``undetermined``, as in MultiMNO.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from rmf_spark.clayer.schemas import CELL_ID
from rmf_spark.slayer.device._time import to_micros
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    ABROAD_STATE,
    BEST_TILE,
    CELLS,
    CONTEXT,
    END_TS,
    FIRST_TS,
    LAST_TS,
    LOCATION_TILES,
    MOVE,
    N_EVENTS,
    RADIUS_M,
    SEGMENT_INDEX,
    START_TS,
    STATE,
    STAY,
    TILES,
    UNDETERMINED,
    UNKNOWN,
    VISITED_PLMN,
)
from rmf_spark.slayer.device.settings import SegmentSettings

__all__ = ["SEGMENT_COLUMNS", "Segmentation", "segment_device_day"]

SEGMENT_COLUMNS = [
    SEGMENT_INDEX, STATE, START_TS, END_TS, N_EVENTS, CELLS, TILES, VISITED_PLMN, BEST_TILE,
    RADIUS_M, LOCATION_TILES,
]  # fmt: skip
_US = 1_000_000


@dataclass
class _Place:
    abroad: bool
    first: int
    last: int
    rows: list[int]
    shared: np.ndarray
    country: str | None = None
    plmn: str | None = None
    state: str = ""


@dataclass
class _Segment:
    state: str
    start: int
    end: int
    rows: list[int] = field(default_factory=list)
    shared: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    plmn: str | None = None


def _places(
    rows: pd.DataFrame, footprint: sparse.csr_matrix, cell: np.ndarray, s: SegmentSettings
) -> list[_Place]:
    first, last = to_micros(rows[FIRST_TS]), to_micros(rows[LAST_TS])
    abroad = rows[ABROAD].fillna(False).to_numpy(dtype=bool)
    plmn = rows[VISITED_PLMN].astype(object).where(rows[VISITED_PLMN].notna(), None).to_numpy()
    places: list[_Place] = []
    for k in range(len(rows)):
        cur = places[-1] if places else None
        gap = first[k] - cur.last if cur is not None else 0
        if abroad[k]:
            country = plmn[k][:3] if plmn[k] else None
            joins = (
                cur is not None
                and cur.abroad
                and cur.country == country
                and gap <= s.max_gap_abroad_s * _US
            )
            shared = np.zeros(0, dtype=np.int64)
        else:
            c = cell[k]
            # sorted and unique: segment_device_day canonicalised the matrix
            tiles = footprint.indices[footprint.indptr[c] : footprint.indptr[c + 1]]
            joins = cur is not None and not cur.abroad and gap <= s.max_gap_stay_s * _US
            if joins and cur is not None:
                shared = np.intersect1d(cur.shared, tiles, assume_unique=True)
            else:
                shared = tiles
            joins = joins and shared.size > 0
            country = None
        if joins and cur is not None:
            cur.last = max(cur.last, last[k])
            cur.rows.append(k)
            cur.shared = shared
        else:
            own = np.zeros(0, dtype=np.int64) if abroad[k] else tiles
            places.append(_Place(bool(abroad[k]), first[k], last[k], [k], own, country, plmn[k]))
    return places


def _timeline(places: list[_Place], s: SegmentSettings) -> list[_Segment]:
    pad = s.pad_s * _US
    # the link after place r: a move, or an unknown silence (also before the first place)
    moves = [
        places[r + 1].first - places[r].last <= s.max_gap_move_s * _US
        for r in range(len(places) - 1)
    ]
    before = [False, *moves]
    after = [*moves, False]
    out: list[_Segment] = [_Segment(UNKNOWN, np.iinfo(np.int64).min // 2, places[0].first - pad)]
    for r, p in enumerate(places):
        if p.abroad:
            state = ABROAD_STATE
        elif p.last - p.first >= s.min_stay_s * _US:
            state = STAY
        else:
            state = MOVE if before[r] and after[r] else UNDETERMINED
        start = p.first if before[r] else p.first - pad
        end = p.last if after[r] else p.last + pad
        out.append(_Segment(state, start, end, p.rows, p.shared, p.plmn))
        if r + 1 < len(places):
            if after[r]:
                out.append(_Segment(MOVE, p.last, places[r + 1].first))
            else:
                out.append(_Segment(UNKNOWN, p.last + pad, places[r + 1].first - pad))
    out.append(_Segment(UNKNOWN, places[-1].last + pad, np.iinfo(np.int64).max // 2))
    merged: list[_Segment] = []
    for seg in out:
        if merged and seg.state == MOVE and merged[-1].state == MOVE:
            merged[-1].end, merged[-1].rows = seg.end, merged[-1].rows + seg.rows
        else:
            merged.append(seg)
    for prev, seg in itertools.pairwise(merged):
        # rows that overlap in time (a bounded device-day's bins) must not overlap segments
        seg.start = max(seg.start, prev.end)
        seg.end = max(seg.end, seg.start)
    for seg in merged:
        if seg.state == MOVE:
            seg.shared = np.zeros(0, dtype=np.int64)
    return merged


class Segmentation(NamedTuple):
    """The segments of a device-day and, for each input row, the index of its segment (-1 for
    a row that is not in any: a domestic row without footprint)."""

    segments: pd.DataFrame
    row_segment: np.ndarray


def segment_device_day(
    rows: pd.DataFrame,
    footprint: sparse.csr_matrix,
    cell: np.ndarray,
    tiles: np.ndarray,
    *,
    day_start: pd.Timestamp,
    day_end: pd.Timestamp,
    settings: SegmentSettings,
) -> Segmentation:
    """The segments of one device-day, covering ``[day_start, day_end)`` without overlap.

    Parameters
    ----------
    rows
        ``first_ts, last_ts, n_events, cell_id, abroad, visited_plmn`` and optionally
        ``context`` (a row of a neighbouring day: continues a segment, its events are not
        counted), sorted by ``first_ts``. Domestic rows with an empty footprint are skipped.
    footprint, cell
        csr (distinct cells x tiles, non-zero on a cell's tiles) and each row's cell in it
        (:class:`~rmf_spark.slayer.device.emission.DeviceEmission`).
    tiles
        Tile ids of the columns.
    day_start, day_end
        The device-day (naive UTC).
    settings
        ``[device.segments]``.

    Returns
    -------
    Segmentation
        ``segments``: ``segment_index, state, start_ts, end_ts, n_events, cells, tiles,
        visited_plmn, best_tile, radius_m`` (the last two null: the HMM fills them), and
        the segment of each row (formulas: module notes).
    """
    s = settings
    day0, day1 = int(to_micros(day_start)[0]), int(to_micros(day_end)[0])
    footprint = sparse.csr_matrix(footprint, copy=True)
    footprint.sum_duplicates()  # also sorts the indices of each row
    cell = np.asarray(cell, dtype=np.int64)
    abroad = rows[ABROAD].fillna(False).to_numpy(dtype=bool)
    located = abroad | (np.diff(footprint.indptr)[cell] > 0)
    keep = np.flatnonzero(located)
    kept = rows.iloc[keep].reset_index(drop=True)
    if kept.empty:
        segs = [_Segment(UNKNOWN, day0, day1)]
    else:
        segs = _timeline(_places(kept, footprint, cell[keep], s), s)
    counted = kept[N_EVENTS].to_numpy(dtype=np.int64) * (
        ~kept[CONTEXT].fillna(False).to_numpy(dtype=bool)
        if CONTEXT in kept.columns
        else np.ones(len(kept), dtype=bool)
    )
    cells = kept[CELL_ID].astype(object).to_numpy()
    row_segment = np.full(len(rows), -1, dtype=np.int64)
    records = []
    for seg in segs:
        start, end = max(seg.start, day0), min(seg.end, day1)
        # an instant's segment (a lone event with pad_s = 0) is kept when it is in the day
        instant = bool(seg.rows) and seg.start == seg.end and day0 <= seg.start < day1
        if end <= start and not instant:
            continue
        row_segment[keep[seg.rows]] = len(records)
        records.append(
            {
                STATE: seg.state,
                START_TS: start,
                END_TS: end,
                N_EVENTS: int(counted[seg.rows].sum()),
                CELLS: sorted({c for c in cells[seg.rows] if c is not None}),
                TILES: [int(t) for t in np.sort(tiles[seg.shared])],
                VISITED_PLMN: seg.plmn,
                BEST_TILE: None,
                RADIUS_M: None,
                LOCATION_TILES: None,
            }
        )
    out = pd.DataFrame.from_records(records, columns=SEGMENT_COLUMNS[1:])
    out.insert(0, SEGMENT_INDEX, np.arange(len(out), dtype=np.int32))
    out[BEST_TILE] = out[BEST_TILE].astype("Int64")
    out[RADIUS_M] = out[RADIUS_M].astype("float64")
    for col in (START_TS, END_TS):
        out[col] = pd.to_datetime(out[col].to_numpy(dtype=np.int64), unit="us")
    return Segmentation(out, row_segment)
