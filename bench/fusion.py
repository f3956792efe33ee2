"""Benchmark of the fusion stage's duplicate matching (MinHash signatures, LSH, household rule).

Generates, with a fixed seed, a synthetic week of stay tokens for two MNOs and turns them into
the MNOs' exports (``export_signatures``: keyed hash, MinHash, untimed), then times the
matching party's work (``match_devices`` and ``duplicate_counts_per_zone``) on them.

The world (``make_world``; every figure is a parameter):

* persons in households of 1 to 4 (35/33/15/17 %), homes uniform over a square torus of 1 km
  tiles sized for ``--persons-per-tile`` residents per tile (100: the same density at every
  scale, so that the look-alikes per device do not grow with the scale);
* 65 % workers: work place at a normal offset (6 km per axis) from home, snapped to a hub
  every ``--hub-spacing`` tiles per axis (2: 1 tile in 4 holds the jobs, so neighbours often
  work in the same tile); start at 7, 8 or 9 h (+-1 h some days), 8 or 9 h of work, a commute
  hour each way without a stay, lunch in a neighbouring tile one day in four, 10 % home
  office days; non-workers spend 3-hour blocks of the day at home or at one of 3 places near
  home; an evening outing 30 % of the days; at weekends 3-hour blocks with the household
  (50 %, one of 3 family places), alone at a place (30 %) or at home;
* a share ``--share-both`` (15 %) of persons has a device on both MNOs, the others one device
  on either (half and half);
* a device records each hourly slot of its owner's stays with its own rate (Beta(4, 1): mean
  0.8, 10 % of devices under 0.57), and puts one record in 20 (``--tile-error``) in a
  neighbouring tile; one token per recorded slot;
* home zones: blocks of 10 x 10 tiles.

Under about 20 000 devices per MNO the torus is not much wider than the commutes, so more
neighbours work in the same tile than at larger scales, and precision is lower.

Each scale is a world of its own with the same density. Prints one JSON object: per scale the
devices, tokens and export seconds (the MNOs' side), the matching seconds (median of
``--reps`` runs, and every run: another job may share the cores), the floor (one
``numpy.sort`` of as many random 64-bit values as there are signatures of both MNOs, in the
same process), the peak resident memory of the process during the matching and its increase
over the memory before it (psutil, sampled every 10 ms), the peak of the memory the matching
allocates (one more run under tracemalloc, to which numpy reports its buffers: the resident
size hides what the matching takes when it reuses memory the world freed), the matching's counts
(pair comparisons, pairs over the threshold, pairs stopped by the household rule, ...), and against
the planted truth: precision and recall of the assigned duplicates, the share of household
pairs (members of one household on the two MNOs) merged, and the error of the duplicate
counts per zone. Then the fitted exponents ``b`` of ``seconds ~ signatures^b`` (least squares
on the logs) for the matching (medians, and fastest runs) and the floor.

Usage::

    .venv/bin/python bench/fusion.py                           # 100 000 devices per MNO
    .venv/bin/python bench/fusion.py --devices 200000 --scales 0.25,0.5,1
    .venv/bin/python bench/fusion.py --devices 50000 --scales 1 --hub-spacing 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rmf_spark.fusion.matching import (
    DEFAULT_PARAMS,
    MatchingParams,
    SignatureExport,
    duplicate_counts_per_zone,
    export_signatures,
    match_devices,
)

FIRST_DAY = 19723  # 2024-01-01, a Monday
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4])
HOUSEHOLD_SHARES = np.array([0.35, 0.33, 0.15, 0.17])


@dataclass
class World:
    """Both MNOs' exports and the planted truth of each export row (its person and
    household); the truth never goes into the matching."""

    export_a: SignatureExport
    export_b: SignatureExport
    n_zones: int
    person_a: np.ndarray
    person_b: np.ndarray
    household_a: np.ndarray
    household_b: np.ndarray
    devices_a: int  # devices, with or without a signature
    devices_b: int
    tokens: int
    export_seconds: float


def _offset_tiles(tile: np.ndarray, sd: float, rng: np.random.Generator, g: int) -> np.ndarray:
    """Tiles at a normal offset (standard deviation ``sd`` tiles per axis) from ``tile``."""
    x = (tile // g + np.rint(rng.normal(0, sd, tile.shape)).astype(np.int64)) % g
    y = (tile % g + np.rint(rng.normal(0, sd, tile.shape)).astype(np.int64)) % g
    return x * g + y


def _neighbour(tile: np.ndarray, rng: np.random.Generator, g: int) -> np.ndarray:
    """A tile of the 3 x 3 block around ``tile`` (the tile itself excluded when possible)."""
    d = rng.integers(1, 9, tile.shape)  # one of the 8 neighbours
    d = d + (d >= 5)  # skip the centre (4)
    x = (tile // g + d // 3 - 1) % g
    y = (tile % g + d % 3 - 1) % g
    return x * g + y


def make_world(
    n_devices: int,
    *,
    seed: int,
    days: int = 7,
    share_both: float = 0.15,
    persons_per_tile: float = 100.0,
    hub_spacing: int = 2,
    commute_sd: float = 6.0,
    worker_share: float = 0.65,
    home_office: float = 0.1,
    tile_error: float = 0.05,
    detection: tuple[float, float] = (4.0, 1.0),
    zone_tiles: int = 10,
    params: MatchingParams = DEFAULT_PARAMS,
) -> World:
    """The world of the module docstring for ``n_devices`` per MNO (about), exported."""
    rng = np.random.default_rng(seed)
    # persons: on both MNOs (share_both), else on one of them with equal chances
    n = round(n_devices / (share_both + (1 - share_both) / 2))
    n_households = math.ceil(n / float(HOUSEHOLD_SIZES @ HOUSEHOLD_SHARES))
    sizes = rng.choice(HOUSEHOLD_SIZES, size=n_households, p=HOUSEHOLD_SHARES)
    household = np.repeat(np.arange(n_households), sizes)[:n]
    n = household.size
    g = max(hub_spacing, round(math.sqrt(n / persons_per_tile)))
    hh_home = rng.integers(0, g * g, n_households)
    home = hh_home[household]
    worker = rng.random(n) < worker_share
    # work places: hubs every hub_spacing tiles, the one nearest to a normal offset from home
    w = _offset_tiles(home, commute_sd, rng, g)
    work = (w // g) // hub_spacing * hub_spacing * g + (w % g) // hub_spacing * hub_spacing
    fav = _offset_tiles(np.repeat(home[:, None], 3, axis=1), 3.0, rng, g)  # personal places
    hh_fav = _offset_tiles(np.repeat(hh_home[:, None], 3, axis=1), 5.0, rng, g)  # family places
    start_hour = rng.choice([7, 8, 9], size=n, p=[0.3, 0.45, 0.25])
    duration = rng.choice([8, 9], size=n)
    hours = np.arange(24)
    rows = np.arange(n)

    def favourite() -> np.ndarray:
        return fav[rows, rng.integers(0, 3, n)]

    # true tile of each person in each hourly slot (-1: moving, no stay)
    loc = np.empty((n, days * 24), np.int32)
    for d in range(days):
        day = np.repeat(home[:, None], 24, axis=1)
        if (FIRST_DAY + d + 3) % 7 < 5:
            commuter = worker & (rng.random(n) >= home_office)
            start = start_hour + rng.choice([-1, 0, 1], size=n, p=[0.15, 0.7, 0.15])
            end = start + duration
            at_work = commuter[:, None] & (hours >= start[:, None]) & (hours < end[:, None])
            day = np.where(at_work, work[:, None], day)
            lunch = commuter & (rng.random(n) < 0.25)
            day[lunch, start[lunch] + 4] = _neighbour(work[lunch], rng, g)
            day[commuter, start[commuter] - 1] = -1
            day[commuter, end[commuter]] = -1
            for block in range(3):  # non-workers and home office: 3-hour blocks out or in
                out = ~commuter & (rng.random(n) < 0.5)
                place = favourite()
                day[out, 8 + 3 * block : 11 + 3 * block] = place[out, None]
            evening = rng.random(n) < 0.3
            h = np.maximum(19, np.where(commuter, end + 1, 19))
            h = np.minimum(h, 21)
            place = favourite()
            day[evening, h[evening]] = place[evening]
        else:
            for block in range(4):
                family = (rng.random(n_households) < 0.5)[household]
                place = np.where(
                    family,
                    hh_fav[household, rng.integers(0, 3, n_households)[household]],
                    np.where(rng.random(n) < 0.6, favourite(), home),
                )
                day[:, 9 + 3 * block : 12 + 3 * block] = place[:, None]
        loc[:, d * 24 : (d + 1) * 24] = day

    # devices: which persons each MNO has
    u = rng.random(n)
    both = u < share_both
    on_a = both | (rng.random(n) < 0.5)
    on_b = both | ~on_a
    per_side = -(-g // zone_tiles)
    n_zones = per_side * per_side
    tiles = np.arange(g * g)
    zone_of_tile = (tiles // g // zone_tiles) * per_side + tiles % g // zone_tiles
    key = rng.bytes(16)  # from the seed, so that a run can be repeated exactly
    tokens = 0
    export_seconds = 0.0
    out: dict[str, Any] = {}
    for name, on in (("a", on_a), ("b", on_b)):
        persons = np.flatnonzero(on)
        rate = rng.beta(*detection, persons.size)
        ploc = loc[persons]
        seen = (rng.random(ploc.shape) < rate[:, None]) & (ploc >= 0)
        dev, s = np.nonzero(seen)
        tile = ploc[dev, s].astype(np.int64)
        del ploc, seen
        err = rng.random(tile.size) < tile_error
        tile[err] = _neighbour(tile[err], rng, g)
        tokens += dev.size
        t0 = time.perf_counter()
        export, rows = export_signatures(
            dev,
            FIRST_DAY + s // 24,
            s % 24,
            (tile // g) * (1 << 20) + tile % g,  # tile_1km_id layout: E * 2^20 + N
            zone_of_tile[home[persons]],
            key=key,
            first_day=FIRST_DAY,
            n_zones=n_zones,
            params=params,
            rng=rng,
        )
        export_seconds += time.perf_counter() - t0
        out[name] = (export, persons[rows], persons.size)
    (ea, pa, na), (eb, pb, nb) = out["a"], out["b"]
    return World(
        ea, eb, n_zones, pa, pb, household[pa], household[pb], na, nb, tokens, export_seconds
    )


class PeakRss:
    """Peak resident memory of this process, sampled in a thread every 10 ms."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self.before = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def evaluate(
    world: World, assigned_a: np.ndarray, assigned_b: np.ndarray, counts: np.ndarray
) -> dict[str, Any]:
    """Precision, recall and household false merges of an assignment against the truth."""
    pa, pb = world.person_a, world.person_b
    true_dup = np.intersect1d(pa, pb).size  # persons with a signature on both MNOs
    tp = int((pa[assigned_a] == pb[assigned_b]).sum())
    # household pairs: a device on a and one on b of two different members of a household
    n_hh = int(max(world.household_a.max(initial=0), world.household_b.max(initial=0)) + 1)
    per_hh = np.bincount(world.household_a, minlength=n_hh) * np.bincount(
        world.household_b, minlength=n_hh
    )
    hh_pairs = int(per_hh.sum()) - true_dup
    hh_merged = int(
        (
            (world.household_a[assigned_a] == world.household_b[assigned_b])
            & (pa[assigned_a] != pb[assigned_b])
        ).sum()
    )
    # duplicates per zone against the true ones (zone of a's device)
    in_b = np.isin(pa, pb)
    true_counts = np.bincount(world.export_a.home_zone[in_b], minlength=world.n_zones)
    return {
        "true_duplicates": true_dup,
        "assigned": int(assigned_a.size),
        "precision": round(tp / max(assigned_a.size, 1), 4),
        "recall": round(tp / max(true_dup, 1), 4),
        "household_pairs": hh_pairs,
        "household_merged": hh_merged,
        "household_merge_rate": round(hh_merged / max(hh_pairs, 1), 5),
        "zone_counts_abs_error_share": round(
            float(np.abs(counts - true_counts).sum() / max(true_counts.sum(), 1)), 4
        ),
    }


def fit_exponent(x: list[float], y: list[float]) -> float | None:
    if len(x) < 2 or min(y) <= 0:  # a timer too coarse for a tiny run
        return None
    return round(float(np.polyfit(np.log(x), np.log(y), 1)[0]), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000, help="devices per MNO at scale 1")
    ap.add_argument("--scales", default="0.25,0.5,1", help="fractions of --devices")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reps", type=int, default=3, help="matching runs per scale (median)")
    ap.add_argument("--persons-per-tile", type=float, default=100.0)
    ap.add_argument("--hub-spacing", type=int, default=2, help="tiles between work hubs")
    ap.add_argument("--share-both", type=float, default=0.15)
    ap.add_argument("--tile-error", type=float, default=0.05)
    ap.add_argument("--detection", default="4,1", help="Beta(a, b) of the recording rates")
    ap.add_argument("--threshold", type=float, default=DEFAULT_PARAMS.threshold)
    ap.add_argument("--threshold-work", type=float, default=DEFAULT_PARAMS.threshold_work)
    args = ap.parse_args()
    params = dataclasses.replace(
        DEFAULT_PARAMS, threshold=args.threshold, threshold_work=args.threshold_work
    )
    detection = tuple(float(v) for v in args.detection.split(","))
    runs = []
    for scale in (float(v) for v in args.scales.split(",")):
        n = max(1000, int(args.devices * scale))
        t0 = time.perf_counter()
        world = make_world(
            n,
            seed=args.seed,
            persons_per_tile=args.persons_per_tile,
            hub_spacing=args.hub_spacing,
            share_both=args.share_both,
            tile_error=args.tile_error,
            detection=detection,  # type: ignore[arg-type]
            params=params,
        )
        prepare = time.perf_counter() - t0
        times = []
        with PeakRss() as mem:
            for _ in range(args.reps):
                t0 = time.perf_counter()
                matching = match_devices(world.export_a, world.export_b, params=params)
                counts = duplicate_counts_per_zone(matching, world.export_a, n_zones=world.n_zones)
                times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        # the same again under tracemalloc (numpy reports its buffers to it): the memory the
        # matching allocates, which the RSS hides when it reuses memory the world freed
        tracemalloc.start()
        match_devices(world.export_a, world.export_b, params=params)
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        values = np.random.default_rng(0).integers(
            0, 2**63, len(world.export_a) + len(world.export_b), dtype=np.uint64
        )
        t0 = time.perf_counter()
        np.sort(values)
        floor = time.perf_counter() - t0
        ea, eb = world.export_a, world.export_b
        export_mb = sum(
            x.nbytes
            for e in (ea, eb)
            for x in (e.signatures, e.work_signatures, e.n_tokens, e.n_work_tokens, e.home_zone)
        )
        runs.append(
            {
                "scale": scale,
                "devices_a": world.devices_a,
                "devices_b": world.devices_b,
                "signatures_a": len(ea),
                "signatures_b": len(eb),
                "without_signature": int(ea.without_signature.sum() + eb.without_signature.sum()),
                "tokens": world.tokens,
                "prepare_seconds": round(prepare, 1),
                "export_seconds": round(world.export_seconds, 2),
                "match_seconds": round(seconds, 3),
                "match_seconds_runs": [round(t, 3) for t in times],
                "floor_sort_seconds": round(floor, 6),
                "ratio_to_floor": round(seconds / floor, 1),
                "microseconds_per_signature": round(1e6 * seconds / (len(ea) + len(eb)), 2),
                "exports_mb": round(export_mb / 2**20, 1),
                "match_peak_rss_mb": round(mem.peak / 2**20, 1),
                "match_rss_increase_mb": round((mem.peak - mem.before) / 2**20, 1),
                "match_allocated_peak_mb": round(traced_peak / 2**20, 1),
                "stats": matching.stats,
                **evaluate(world, matching.assigned_a, matching.assigned_b, counts),
            }
        )
        del world, matching
    signatures = [r["signatures_a"] + r["signatures_b"] for r in runs]
    print(
        json.dumps(
            {
                "params": {
                    k: getattr(params, k)
                    for k in params.__dataclass_fields__  # the defaults of the module
                },
                "world": {
                    "persons_per_tile": args.persons_per_tile,
                    "hub_spacing": args.hub_spacing,
                    "share_both": args.share_both,
                    "tile_error": args.tile_error,
                    "detection_beta": detection,
                    "days": 7,
                    "seed": args.seed,
                },
                "floor": "numpy.sort of as many random uint64 values as signatures (a + b)",
                "runs": runs,
                "exponent_match": fit_exponent(signatures, [r["match_seconds"] for r in runs]),
                "exponent_match_fastest_run": fit_exponent(
                    signatures, [min(r["match_seconds_runs"]) for r in runs]
                ),
                "exponent_floor": fit_exponent(signatures, [r["floor_sort_seconds"] for r in runs]),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
