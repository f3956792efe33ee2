"""Benchmark of the mobility products (``run_od``: trips and OD matrices) against a floor.

Writes, untimed, a lake holding what the stage reads, generated with numpy and Spark (no
pipeline run): the territory of ``bench/usual_environment.py`` (``grid``, ``tile_zone`` with
regions at level 1 and 1 km municipalities at level 2) and ``slayer/time_segments`` for
``--devices x --scale`` devices over the ``--days`` days of the period and the day either side
(the stage reads them: a stay across midnight, a late trip). The devices have the places of
that benchmark (home, a work place for 65 %, 3 other places); each device-day is, in time
order:

* a stay at home from midnight, a path, a stay at the main place (work on its workdays, 90 %
  of them; else one of its places, or home all day 40 % of those days), a path, an evening
  outing at one of its places 30 % of the days (stay and path), a stay at home to midnight;
* a path is a ``move`` (10 to 50 minutes), or, at the device's own rate (uniform 0 to 0.3),
  ``unknown`` (a silence), or 10 % ``undetermined``, or 15 % a move with a short stop (5 to
  14 minutes: a stay shorter than ``mobility.min_stay_s``) in the middle;
* a stay of three hours or more is split by a silence (``stay``, ``unknown``, ``stay`` at the
  same place) at the device's rate (uniform 0.1 to 0.6): no trip;
* 3 % of the device-days are one ``unknown`` segment (the phone off), and 2 % of the devices
  spend 2 to 4 days ``abroad`` (one segment a day);
* a stay (or undetermined segment) carries its footprint intersection ``tiles`` (a square block
  of 4 to 12 tiles a side), ``location_tiles`` (a block of 1 to ``--cluster-side`` tiles a
  side around the place, moving by a tile from stay to stay), ``best_tile`` (the place) and 1 to
  4 ``cells``; a move has no tiles and no location.

Then, alternating the order on every repetition (``--reps``), times:

* ``stage``: ``run_od`` for the period, as ``rmf statistics od`` calls it (trips, expansion by
  the inline market share, OD matrices at the levels zone_1, zone_2 and 1km: two Delta
  commits);
* ``floor``: one plain scan of the time segments the stage reads plus one shuffle by device
  (``repartition(device_id)`` into Spark's no-op sink).

Prints one JSON object as ``bench/usual_environment.py`` does (rows in, medians, every run,
``ratio``, rows per second, peak memory, load average; ``--scales`` adds the fitted exponent,
``--jobs N`` the longest jobs and stages of one more run), with the trips and OD rows written.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/mobility.py      # 1000 devices
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/mobility.py --scales 0.05,0.1,0.2
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/mobility.py --scale 0.1 --out /tmp/od-bench \\
        --jobs 12
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from usual_environment import (
    FIRST_DAY,
    MNO,
    bench_config,
    block_tiles_expr,
    device_columns,
    main_for,
    measure,
    places,
    territory_side,
    tile_id_expr,
    write_frame,
    write_territory,
)

STATES = ("stay", "move", "undetermined", "unknown", "abroad")
STAY, MOVE, UNDETERMINED, UNKNOWN, ABROAD = range(len(STATES))
DAY_S, HOUR_S = 86_400, 3_600


def _stay_pieces(
    start: np.ndarray, end: np.ndarray, silence: np.ndarray, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Three pieces ``(state, start, end)`` of a stay: one stay, or stay, unknown, stay where
    ``silence`` and it lasts three hours or more; unused pieces are empty (start = end)."""
    length = end - start
    split = silence & (length >= 3 * HOUR_S)
    u1 = np.where(split, start + length * rng.uniform(0.1, 0.3, start.size), end)
    u2 = np.where(split, end - length * rng.uniform(0.1, 0.3, start.size), end)
    return [
        (np.full(start.size, STAY), start, u1),
        (np.full(start.size, UNKNOWN), u1, u2),
        (np.full(start.size, STAY), u2, end),
    ]


def _path_pieces(
    start: np.ndarray, end: np.ndarray, unknown_rate: np.ndarray, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Three pieces of a path: a move, an unknown or undetermined segment, or a move, a short
    stop (a stay under 15 minutes) and a move (module notes)."""
    r = rng.random(start.size)
    kind = np.select(
        [r < unknown_rate, r < unknown_rate + 0.10, r < unknown_rate + 0.25],
        [UNKNOWN, UNDETERMINED, STAY],
        MOVE,
    )
    stop = kind == STAY
    length = end - start
    halt = np.minimum(rng.uniform(300, 840, start.size), length / 2)
    m1 = np.where(stop, start + (length - halt) / 2, end)
    m2 = np.where(stop, m1 + halt, end)
    return [
        (np.where(stop, MOVE, kind), start, m1),
        (np.full(start.size, STAY), m1, m2),
        (np.full(start.size, MOVE), m2, end),
    ]


def segment_arrays(
    n: int, days: int, side: int, cluster_side: int, seed: int
) -> dict[str, np.ndarray]:
    """The time segments of ``n`` devices over ``days`` days from :data:`FIRST_DAY`, one
    entry per segment (module notes)."""
    rng = np.random.default_rng(seed)
    p = places(n, side, rng)
    nd = n * days
    dev, day = np.repeat(np.arange(n), days), np.tile(np.arange(days), n)
    weekday = np.array([(FIRST_DAY + dt.timedelta(days=d)).weekday() for d in range(days)])
    at_work = p["worker"][dev] & (weekday[day] < 5) & (rng.random(nd) >= 0.1)
    home_day = ~at_work & (rng.random(nd) < 0.4)
    main = np.where(at_work, 1, np.where(home_day, 0, rng.integers(2, 5, nd)))
    outing = rng.random(nd) < 0.3
    out_place = rng.integers(2, 5, nd)
    # the day's instants (seconds from midnight): leave home, arrive, leave the main place, ...
    leave = np.where(
        at_work,
        p["start"][dev] * HOUR_S - rng.uniform(600, 3000, nd),
        rng.uniform(9 * HOUR_S, 12 * HOUR_S, nd),
    )
    a1 = np.where(home_day, np.where(outing, rng.uniform(10, 18, nd) * HOUR_S, DAY_S), leave)
    a2 = np.where(home_day, a1, a1 + rng.uniform(600, 3000, nd))
    main_s = np.where(at_work, p["hours"][dev] * HOUR_S, rng.uniform(1, 4, nd) * HOUR_S)
    a3 = np.where(home_day, a1, a2 + main_s)
    a4 = np.where(outing, a3 + rng.uniform(600, 2400, nd), a3)
    a5 = np.where(outing, a4 + rng.uniform(1, 3, nd) * HOUR_S, a3)
    a6 = np.where(home_day & ~outing, a3, a5 + rng.uniform(600, 3000, nd))
    t = np.minimum.accumulate(np.minimum([a6, a5, a4, a3, a2, a1], DAY_S), axis=0)[::-1]
    t = np.rint(np.maximum.accumulate(t, axis=0)).astype(np.int64)
    a1, a2, a3, a4, a5, a6 = t
    silence = rng.uniform(0.1, 0.6, n)[dev]
    unknown_rate = rng.uniform(0.0, 0.3, n)[dev]

    def stay(s, e):  # type: ignore[no-untyped-def]
        return _stay_pieces(s, e, rng.random(nd) < silence, rng)

    def path(s, e):  # type: ignore[no-untyped-def]
        return _path_pieces(s, e, unknown_rate, rng)

    zero, midnight = np.zeros(nd, np.int64), np.full(nd, DAY_S)
    parts = [
        (stay(zero, a1), 0, 0),
        (path(a1, a2), 0, main),
        (stay(a2, a3), main, main),
        (path(a3, a4), main, out_place),
        (stay(a4, a5), out_place, out_place),
        (path(a5, a6), np.where(outing, out_place, main), 0),
        (stay(a6, midnight), 0, 0),
    ]
    state = np.stack([s for pieces, _, _ in parts for s, _, _ in pieces], axis=1)
    start = np.stack([b for pieces, _, _ in parts for _, b, _ in pieces], axis=1)
    start = np.rint(start).astype(np.int64)  # whole seconds: a piece ends where the next starts
    end = np.rint(np.stack([e for pieces, _, _ in parts for _, _, e in pieces], axis=1))
    end = end.astype(np.int64)
    # where a piece is: its stay's place, or half way between a path's two places
    centres = np.concatenate([p["home"][:, None], p["work"][:, None], p["others"]], axis=1)
    devs = np.arange(n)[dev]

    def at(place) -> np.ndarray:  # type: ignore[no-untyped-def]
        return centres[devs, np.broadcast_to(place, nd)]

    where = (
        np.stack([(at(a) + at(b)) / 2 for _, a, b in parts for _ in range(3)], axis=1)
        .round()
        .astype(np.int64)
    )  # (nd, 21, 2)
    # whole days: the phone off (one unknown segment), abroad (one abroad segment)
    off = rng.random(nd) < 0.03
    first = rng.integers(0, days, n)
    away = (rng.random(n) < 0.02)[dev] & (day >= first[dev])
    away &= day < first[dev] + rng.integers(2, 5, n)[dev]
    whole = off | away
    state[whole, 0] = np.where(away, ABROAD, UNKNOWN)[whole]
    start[whole, 0], end[whole, 0] = 0, DAY_S
    end[whole, 1:] = start[whole, 1:]
    valid = end > start
    index = np.cumsum(valid, axis=1) - 1
    rows = np.nonzero(valid)
    dd, st = rows[0], state[rows]
    seconds = end[rows] - start[rows]
    m = dd.size
    located = np.isin(st, (STAY, UNDETERMINED))
    loc_side = np.where(located, rng.integers(1, cluster_side + 1, m), 0)
    fp_side = np.where(located, rng.integers(4, 13, m), 0)
    centre = where[rows]
    jitter = rng.integers(-1, 2, (m, 2))
    loc = np.clip(centre - loc_side[:, None] // 2 + jitter, 0, side - loc_side[:, None])
    fp = np.clip(centre - fp_side[:, None] // 2 + 2 * jitter, 0, side - fp_side[:, None])
    n_events = np.select(
        [st == STAY, st == MOVE, st == UNDETERMINED, st == ABROAD],
        [
            1 + rng.poisson(seconds / 1800),
            1 + rng.poisson(2, m),
            1 + rng.poisson(1, m),
            1 + rng.poisson(5, m),
        ],
        0,
    )
    n_cells = np.select(
        [located, st == MOVE, st == ABROAD], [rng.integers(1, 5, m), rng.integers(1, 4, m), 1], 0
    )
    inbound = (rng.random(n) < 0.01)[dev]
    return {
        "dev": dev[dd].astype(np.int32),
        "day": day[dd].astype(np.int32),
        "seg": index[rows].astype(np.int32),
        "state": st.astype(np.int32),
        "start_s": start[rows],
        "end_s": end[rows],
        "n_events": n_events.astype(np.int64),
        "n_cells": n_cells.astype(np.int32),
        "cell_base": (centre[:, 0] // 20 * 1000 + centre[:, 1] // 20).astype(np.int64),
        "cx": centre[:, 0].astype(np.int32),
        "cy": centre[:, 1].astype(np.int32),
        "loc_x": loc[:, 0].astype(np.int32),
        "loc_y": loc[:, 1].astype(np.int32),
        "loc_side": loc_side.astype(np.int32),
        "fp_x": fp[:, 0].astype(np.int32),
        "fp_y": fp[:, 1].astype(np.int32),
        "fp_side": fp_side.astype(np.int32),
        "inbound": inbound[dd],
    }


def write_segments(spark, cfg, arrays: dict[str, np.ndarray], tmp: Path, days: int) -> None:  # type: ignore[no-untyped-def]
    """``slayer/time_segments`` from :func:`segment_arrays`' segments."""
    from pyspark.sql import functions as F

    from rmf_spark import tables

    raw = device_columns(write_frame(spark, arrays, tmp), cfg.ingest.n_device_buckets)
    midnight = F.unix_date("date") * 86400
    located = F.col("loc_side") > 0
    cells = (
        "array_compact(CASE WHEN n_cells > 0 THEN transform(sequence(1, n_cells), "
        "k -> concat('c', CAST(cell_base + k AS STRING))) "
        "ELSE CAST(array() AS ARRAY<STRING>) END)"
    )
    df = (
        raw.withColumn("segment_index", F.col("seg"))
        .withColumn("state", F.element_at(F.array(*map(F.lit, STATES)), F.col("state") + 1))
        .withColumn("start_ts", F.timestamp_seconds(midnight + F.col("start_s")))
        .withColumn("end_ts", F.timestamp_seconds(midnight + F.col("end_s")))
        .withColumn("cells", F.expr(cells))
        .withColumn("tiles", F.expr(block_tiles_expr("fp_x", "fp_y", "fp_side")))
        .withColumn("visited_plmn", F.when(F.col("state") == "abroad", F.lit("20801")))
        .withColumn("best_tile", F.when(located, F.expr(tile_id_expr("cx", "cy"))))
        .withColumn("radius_m", F.when(located, F.col("fp_side") * 50.0))
        .withColumn(
            "location_tiles",
            F.when(located, F.expr(block_tiles_expr("loc_x", "loc_y", "loc_side"))),
        )
    )
    spec = tables.TIME_SEGMENTS
    out = df.select(*[F.col(f.name).cast(f.dataType) for f in spec.schema.fields])
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    spec.write(out, cfg, mno=MNO, replace_where=f"date BETWEEN DATE'{FIRST_DAY}' AND DATE'{last}'")


def bench_scale(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Generate (or reuse) the lake of one scale in ``out`` and time stage and floor."""
    from pyspark.sql import functions as F

    from rmf_spark import tables
    from rmf_spark.session import get_spark
    from rmf_spark.slayer.mobility.runner import run_od

    n = max(10, round(args.devices * args.scale))
    side = territory_side(n, args.density)
    days = args.days
    start, end = FIRST_DAY + dt.timedelta(days=1), FIRST_DAY + dt.timedelta(days=days)
    cfg = bench_config(out, args)
    spark = get_spark(cfg)

    def generate(tmp: Path) -> None:
        arrays = segment_arrays(n, days + 2, side, args.cluster_side, args.seed)
        homes = places(n, side, np.random.default_rng(args.seed))["home"]  # the same homes
        write_territory(spark, cfg, side, (homes[:, 0], homes[:, 1]), seed=args.seed)
        write_segments(spark, cfg, arrays, tmp, days + 2)

    def read_in():  # type: ignore[no-untyped-def]
        window = F.col("date").between(
            F.lit(start - dt.timedelta(days=1)), F.lit(end + dt.timedelta(days=1))
        )
        return tables.TIME_SEGMENTS.read(spark, cfg, mno=MNO).where(window)

    def stage() -> dict[str, Any]:
        return run_od(spark, cfg, mno=MNO, start=start, end=end)

    result, summary = measure(
        "mobility",
        args,
        out,
        spark,
        generate=generate,
        read_in=read_in,
        stage=stage,
        devices=n,
        side=side,
        period=(start, end),
    )
    by_state = read_in().groupBy("state").count().collect()
    device_days = read_in().select("device_id", "date").distinct().count()
    return {
        **result,
        "segments_by_state": {r["state"]: r["count"] for r in by_state},
        "segments_per_device_day": round(result["rows_in"] / device_days, 2),
        "trips": summary["trips"],
        "trips_per_device_day": round(summary["trips"] / (n * days), 2),
        "od_rows": summary["od_rows"],
    }


def main() -> None:
    main_for(__doc__, bench_scale, "mobility", devices=20_000, scale=0.05, days=7)


if __name__ == "__main__":
    main()
