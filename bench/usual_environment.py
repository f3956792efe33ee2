"""Benchmark of the usual-environment stage (``run_usual_environment``) against a floor.

Writes, untimed, a lake holding what the stage reads, generated with numpy and Spark (no
pipeline run): a square territory of 100 m tiles at ``--density`` devices per km2 (the C-layer
``grid``; ``tile_zone`` with two levels: 4 regions, the quadrants, at level 1 and 1 km
municipalities at level 2), the reference ``holidays`` (one in the period) and ``register``
(every municipality: the devices living there over the market share, 3 % noise), and
``slayer/daily_permanence`` for ``--devices x --scale`` devices over the ``--days`` days of the
period plus the next one (the stage reads it: a night after midnight belongs to its evening),
24 hourly slots a day:

* every device has a home, 65 % a work place (at a normal offset of 3 km per axis, a start
  at 7, 8 or 9 h, 8 or 9 hours, a commute hour each way with no tile; home office 10 % of the
  workdays) and 3 other places (2 km around home); out of work it spends 3-hour blocks from
  9 to 21 h at home or at one of its places, and the evening at one of them 30 % of the days;
* a ``grid`` slot holds the place's location tiles, a square block of 1 to ``--cluster-side``
  tiles a side whose corner moves by a tile from slot to slot (the HMM's fewest most probable
  tiles); a device misses a slot (``unknown``) at its own rate, Beta(2, 5) (mean 0.29), and
  3 % of its days entirely; 2 % of the devices spend 2 to 4 days ``abroad``.

Then, alternating the order on every repetition (``--reps``), times:

* ``stage``: ``run_usual_environment`` for the period, as ``rmf statistics
  usual-environment`` calls it (mid-term permanence, observation totals, labels, status,
  residents, calibration: six Delta commits), with the labels' minimum observation of the demo
  (seen on 40 % of the days, 8 grid slots per such day: MultiMNO's 1500 slots and 50 days are
  for months) and an inline market share;
* ``floor``: one plain scan of the daily permanence rows the stage reads plus one shuffle by
  device (``repartition(device_id)`` into Spark's no-op sink).

Prints one JSON object: the rows in, the median seconds of the stage and of the floor and
every run, ``ratio`` = stage / floor (issue 17's target: at most 4), rows per second, what the
stage wrote (rows per table, devices per status), the peak memory of the stage and floor runs,
and the load average. ``--scales 0.1,0.2,0.4`` runs several scales in one process (a lake
each) and adds the fitted exponent ``b`` of ``seconds ~ rows_in ** b`` (least squares on the logs,
for the stage and the floor: near 1 is linear). ``--jobs N`` runs the
stage once more with Spark's UI on and adds its N longest jobs and stages (from the UI's REST
API: the call site in the runner, seconds, tasks, shuffle bytes): where the time goes.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/usual_environment.py     # 200 devices
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/usual_environment.py --scales 0.01,0.02,0.04
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/usual_environment.py --scale 0.02 \\
        --out /tmp/ue-bench --jobs 12      # lake kept (reused by the next run), jobs listed
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device import exponent, merge_peaks, timed
from pipeline import scan_and_shuffle

ROOT = Path(__file__).resolve().parent.parent

#: the C-layer's tile id of 100 m tile (E, N) in EPSG:3035 metres: (E / 100) * 2**20 + N / 100
E0, N0 = 40_000, 30_000  # the territory's south-west tile (E / 100, N / 100)
MNO = "mno_bench"
#: market share of the four regions (the quadrants)
SHARES = {"R1": 0.30, "R2": 0.25, "R3": 0.35, "R4": 0.28}
FIRST_DAY = dt.date(2024, 3, 4)  # a Monday
PARAMS_FILE = "bench_params.json"
#: kinds of slots (``id_type``) in the generated arrays
GRID_KIND, UNKNOWN_KIND, ABROAD_KIND = 0, 1, 2
ID_TYPES = ("grid", "unknown", "abroad")


# --- the territory: grid, zones, reference tables ------------------------------------------
def territory_side(devices: int, density: float) -> int:
    """Tiles per side of the square territory holding ``devices`` at ``density`` per km2."""
    return max(10, math.ceil(10 * math.sqrt(devices / density)))


def tile_id_expr(x: str, y: str) -> str:
    """SQL of the tile id of the columns ``x, y`` (tile offsets in the territory)."""
    return f"shiftleft(CAST({E0} + {x} AS BIGINT), 20) + {N0} + {y}"


def block_tiles_expr(x: str, y: str, side: str) -> str:
    """SQL of the sorted tile ids of the square block of ``side`` tiles with corner ``x, y``
    (``array<bigint>``; empty when ``side`` is 0)."""
    inner = f"transform(sequence(0, {side} - 1), j -> {tile_id_expr(f'{x} + i', f'{y} + j')})"
    # array_compact: elements declared not null, as the tables' schemas have them
    return (
        f"array_compact(CASE WHEN {side} > 0 THEN flatten(transform(sequence(0, {side} - 1), "
        f"i -> {inner})) ELSE CAST(array() AS ARRAY<BIGINT>) END)"
    )


def region_of(x: np.ndarray, y: np.ndarray, side: int) -> np.ndarray:
    """Region index 0..3 (R1..R4, the quadrants) of tile offsets ``x, y``."""
    half = side // 2
    return (x >= half).astype(np.int64) * 2 + (y >= half)


def municipality_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Municipality id (the 1 km block) of tile offsets ``x, y``."""
    return np.char.add(
        np.char.add("M", (x // 10).astype(str)), np.char.add("_", (y // 10).astype(str))
    )


def write_territory(spark, cfg, side: int, homes: tuple[np.ndarray, np.ndarray], *, seed: int):  # type: ignore[no-untyped-def]
    """``grid``, ``tile_zone`` and the reference ``holidays`` and ``register`` (module notes);
    ``homes``: the tile offsets of the devices' homes."""
    import pandas as pd

    from rmf_spark import tables

    x, y = (a.ravel() for a in np.meshgrid(np.arange(side), np.arange(side), indexing="ij"))
    e, n = (E0 + x) * 100, (N0 + y) * 100
    grid = pd.DataFrame(
        {
            "tile_id": ((E0 + x).astype(np.int64) << 20) + N0 + y,
            "inspire_100m": [f"100mN{b // 100}E{a // 100}" for a, b in zip(e, n, strict=True)],
            "inspire_1km": [f"1kmN{b // 1000}E{a // 1000}" for a, b in zip(e, n, strict=True)],
            "tile_1km_id": (e // 1000) * 100_000 + n // 1000,
            "x_ll": e.astype(float),
            "y_ll": n.astype(float),
        }
    )
    regions = np.array(list(SHARES))[region_of(x, y, side)]
    zones = pd.concat(
        [
            pd.DataFrame({"tile_id": grid["tile_id"], "zone_level": 1, "zone_id": regions}),
            pd.DataFrame(
                {"tile_id": grid["tile_id"], "zone_level": 2, "zone_id": municipality_of(x, y)}
            ),
        ],
        ignore_index=True,
    )
    # the register: devices at home per municipality over the region's share, 3 % noise
    hx, hy = homes
    share = np.array(list(SHARES.values()))[region_of(hx, hy, side)]
    per_zone = pd.Series(1.0 / share).groupby(municipality_of(hx, hy)).sum()
    every = pd.Index(np.unique(municipality_of(x, y)))
    expected = per_zone.reindex(every, fill_value=0.0).to_numpy()
    noise = np.random.default_rng(seed + 1).normal(1.0, 0.03, expected.size)
    register = pd.DataFrame(
        {
            "zone_id": every,
            "zone_level": 2,
            "residents": np.rint(expected * noise).clip(0).astype(np.int64),
        }
    )
    holiday = pd.DataFrame({"date": [FIRST_DAY + dt.timedelta(days=10)], "name": ["bench day"]})
    for spec, pdf in (
        (tables.GRID, grid),
        (tables.TILE_ZONE, zones),
        (tables.REGISTER, register),
        (tables.HOLIDAYS, holiday),
    ):
        df = spark.createDataFrame(pdf, spec.schema)
        spec.write(df, cfg, mno=MNO)


def write_frame(spark, arrays: dict[str, np.ndarray], where: Path):  # type: ignore[no-untyped-def]
    """``arrays`` as a Parquet file in ``where`` (pyarrow), read back by Spark."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), where / "part-0.parquet")
    return spark.read.parquet(str(where))


def bench_config(lake_root: Path, args: argparse.Namespace, **overrides: Any):  # type: ignore[no-untyped-def]
    """The local profile pointed at the bench's lake and reference tables, with the inline
    market share and ``overrides`` (dotted keys)."""
    from rmf_spark.config import load_config

    return load_config(
        ROOT / "conf" / "local.toml",
        overrides={
            "lake.root": str(lake_root / "lake"),
            "convergence.reference_dir": str(lake_root / "lake" / "shared" / "reference"),
            "spark.master": args.master,
            "spark.ui_enabled": bool(args.jobs),
            "present_population.market_share": SHARES,
            **overrides,
        },
    )


# --- the devices ----------------------------------------------------------------------------
def places(n: int, side: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per device: ``home`` (n, 2), ``worker``, ``work`` (n, 2), ``others`` (n, 3, 2) tile
    offsets in the territory, ``start`` and ``hours`` of work."""

    def near(centre: np.ndarray, sd_tiles: float) -> np.ndarray:
        return np.clip(np.rint(rng.normal(centre, sd_tiles)), 0, side - 1).astype(np.int64)

    home = rng.integers(0, side, (n, 2))
    return {
        "home": home,
        "worker": rng.random(n) < 0.65,
        "work": near(home, 30.0),
        "others": near(np.repeat(home[:, None, :], 3, axis=1), 20.0),
        "start": rng.choice([7, 8, 9], n),
        "hours": rng.choice([8, 9], n),
    }


def permanence_arrays(
    n: int, days: int, side: int, cluster_side: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The daily permanence of ``n`` devices over ``days`` days from :data:`FIRST_DAY`, one
    entry per (device, day, hour) slot (module notes), and the devices' places."""
    rng = np.random.default_rng(seed)
    p = places(n, side, rng)
    shape = (n, days, 24)
    hour = np.broadcast_to(np.arange(24), shape)
    weekday = np.array([(FIRST_DAY + dt.timedelta(days=d)).weekday() for d in range(days)])
    holiday = np.arange(days) == 10
    workday = ((weekday < 5) & ~holiday)[None, :, None]
    # place per slot: 0 home, 1 work, 2..4 other places, -1 moving (a grid slot with no tile)
    block = rng.integers(0, 6, (n, days, 4))  # 9-12, 12-15, 15-18, 18-21 h: home (<3) or 2..4
    blocks = np.where(block < 3, 0, block - 1)
    slot_place = np.zeros(shape, dtype=np.int64)
    day_hours = (hour >= 9) & (hour < 21)
    free = np.take_along_axis(blocks, np.clip((hour - 9) // 3, 0, 3), axis=2)
    slot_place = np.where(day_hours, free, slot_place)
    at_work_today = p["worker"][:, None, None] & workday & (rng.random((n, days, 1)) >= 0.1)
    start, end = p["start"][:, None, None], (p["start"] + p["hours"])[:, None, None]
    working = at_work_today & (hour >= start) & (hour < end)
    commuting = at_work_today & ((hour == start - 1) | (hour == end))
    slot_place = np.where(working, 1, np.where(commuting, -1, slot_place))
    evening = (rng.random((n, days, 1)) < 0.3) & (hour >= 19) & (hour < 22)
    slot_place = np.where(evening & ~working, rng.integers(2, 5, (n, days, 1)), slot_place)
    # where each place is (the home, work and other places of the device)
    centres = np.concatenate([p["home"][:, None], p["work"][:, None], p["others"]], axis=1)
    dev = np.broadcast_to(np.arange(n)[:, None, None], shape)
    centre = centres[dev, np.maximum(slot_place, 0)]  # (n, days, 24, 2)
    # kinds: unknown at the device's rate, whole unknown days, abroad trips
    kind = np.where(rng.random(shape) < rng.beta(2, 5, n)[:, None, None], UNKNOWN_KIND, 0)
    kind = np.where(rng.random((n, days, 1)) < 0.03, UNKNOWN_KIND, kind)
    away = rng.random(n) < 0.02
    first = rng.integers(0, days, n)[:, None]
    abroad = (
        away[:, None]
        & (np.arange(days) >= first)
        & (np.arange(days) < first + rng.integers(2, 5, n)[:, None])
    )
    kind = np.where(abroad[:, :, None], ABROAD_KIND, kind)
    # location tiles: a block of 1 .. cluster_side tiles a side, its corner moving by a tile
    block_side = rng.integers(1, cluster_side + 1, shape)
    corner = centre - block_side[..., None] // 2 + rng.integers(-1, 2, (*shape, 2))
    corner = np.clip(corner, 0, side - block_side[..., None])
    grid_tiles = (kind == GRID_KIND) & (slot_place >= 0)
    arrays = {
        "dev": dev.ravel().astype(np.int32),
        "day": np.broadcast_to(np.arange(days)[None, :, None], shape).ravel().astype(np.int32),
        "hour": hour.ravel().astype(np.int32),
        "kind": kind.ravel().astype(np.int32),
        "x": corner[..., 0].ravel().astype(np.int32),
        "y": corner[..., 1].ravel().astype(np.int32),
        "side": np.where(grid_tiles, block_side, 0).ravel().astype(np.int32),
    }
    return arrays, p


def device_columns(df, n_buckets: int):  # type: ignore[no-untyped-def]
    """``df`` (integer ``dev``, ``day``) with ``device_id`` (a 64-hex-digit pseudonym, as the
    D-layer's), ``date`` and ``device_bucket``."""
    from pyspark.sql import functions as F

    from rmf_spark.buckets import device_bucket

    return (
        df.withColumn(
            "device_id", F.sha2(F.concat(F.lit("bench-"), F.col("dev").cast("string")), 256)
        )
        .withColumn("date", F.date_add(F.lit(FIRST_DAY), F.col("day")))
        .withColumn("device_bucket", device_bucket(n_buckets))
    )


def write_permanence(spark, cfg, arrays: dict[str, np.ndarray], tmp: Path, days: int) -> None:  # type: ignore[no-untyped-def]
    """``slayer/daily_permanence`` from :func:`permanence_arrays`' slots."""
    from pyspark.sql import functions as F

    from rmf_spark import tables

    raw = device_columns(write_frame(spark, arrays, tmp), cfg.ingest.n_device_buckets)
    kinds = F.element_at(F.array(*[F.lit(k) for k in ID_TYPES]), F.col("kind") + 1)
    df = (
        raw.withColumn("slot_index", F.col("hour"))
        .withColumn(
            "slot_start", F.timestamp_seconds(F.unix_date("date") * 86400 + F.col("hour") * 3600)
        )
        .withColumn("id_type", kinds)
        .withColumn("tiles", F.expr(block_tiles_expr("x", "y", "side")))
        .withColumn("visited_plmn", F.when(F.col("kind") == ABROAD_KIND, F.lit("20801")))
    )
    spec = tables.DAILY_PERMANENCE
    out = df.select(*[F.col(f.name).cast(f.dataType) for f in spec.schema.fields])
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    spec.write(out, cfg, mno=MNO, replace_where=f"date BETWEEN DATE'{FIRST_DAY}' AND DATE'{last}'")


# --- timing -----------------------------------------------------------------------------------
def alternate(
    name: str, stage: Callable[[], Any], floor: Callable[[], Any], reps: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]], Any]:
    """``stage`` and ``floor`` run ``reps`` times each, alternating which goes first: every
    run's seconds, the peak memory of each and the stage's last result."""
    runs: dict[str, list[float]] = {"stage": [], "floor": []}
    peaks: dict[str, list[dict[str, float]]] = {"stage": [], "floor": []}
    result = None
    for rep in range(reps):
        for which in ("stage", "floor") if rep % 2 == 0 else ("floor", "stage"):
            seconds, peak, out = timed(stage if which == "stage" else floor)
            sys.stderr.write(f"{name} bench: {which} run {rep + 1}: {seconds:.1f} s\n")
            runs[which].append(seconds)
            peaks[which].append(peak)
            result = out if which == "stage" else result
    peak_mb = {k: {m: round(v) for m, v in merge_peaks(p).items()} for k, p in peaks.items()}
    return runs, peak_mb, result


def timing_summary(runs: dict[str, list[float]], rows_in: int) -> dict[str, Any]:
    """Medians, ratio, rows per second and every run."""
    s, f = statistics.median(runs["stage"]), statistics.median(runs["floor"])
    return {
        "seconds": round(s, 2),
        "floor_seconds": round(f, 2),
        "ratio": round(s / f, 2),
        "rows_per_s": round(rows_in / s),
        "seconds_runs": [round(x, 2) for x in runs["stage"]],
        "floor_seconds_runs": [round(x, 2) for x in runs["floor"]],
    }


def _gmt(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%Z").timestamp()


def profile_jobs(spark, run: Callable[[], Any], top: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``run()`` once more in a job group of its own; its ``top`` longest jobs and stages as
    Spark's UI REST API reports them (the UI must be on), and the seconds of its jobs summed
    per step: every ``TableSpec.write`` of the run sets the description of its jobs to the
    table it writes (``write slayer/...``), and the jobs between two writes (a ``collect``, a
    ``toPandas``) are ``after write ...`` of the one before."""
    from rmf_spark import tables

    sc = spark.sparkContext
    group = f"bench-profile-{time.time_ns()}"
    write = tables.TableSpec.write

    def described(spec: tables.TableSpec, *a: Any, **kw: Any) -> None:
        # the jobs of a table's write (Delta's own jobs included) name the table
        sc.setJobDescription(f"write {spec.id}")
        try:
            write(spec, *a, **kw)
        finally:
            sc.setJobDescription(f"after write {spec.id}")

    sc.setJobGroup(group, "start")
    tables.TableSpec.write = described  # type: ignore[method-assign]
    t0 = time.perf_counter()
    try:
        run()
    finally:
        tables.TableSpec.write = write  # type: ignore[method-assign]
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setJobDescription(None)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    api = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"

    def get(path: str) -> Any:
        with urllib.request.urlopen(f"{api}/{path}") as r:  # the local UI
            return json.load(r)

    jobs = [j for j in get("jobs") if j.get("jobGroup") == group]
    stage_ids = {s for j in jobs for s in j["stageIds"]}
    stages = [s for s in get("stages") if s["stageId"] in stage_ids and s["status"] == "COMPLETE"]
    mb = 2.0**20
    job_rows = sorted(
        (
            {
                "job": j["jobId"],
                "call_site": j["name"],
                "description": j.get("description"),
                "seconds": round(_gmt(j["completionTime"]) - _gmt(j["submissionTime"]), 2),
                "tasks": j["numTasks"],
            }
            for j in jobs
            if "completionTime" in j
        ),
        key=lambda r: -r["seconds"],
    )
    stage_rows = sorted(
        (
            {
                "stage": s["stageId"],
                "name": s["name"],
                "executor_run_s": round(s["executorRunTime"] / 1000, 2),
                "tasks": s["numTasks"],
                "input_mb": round(s["inputBytes"] / mb, 1),
                "shuffle_read_mb": round(s["shuffleReadBytes"] / mb, 1),
                "shuffle_write_mb": round(s["shuffleWriteBytes"] / mb, 1),
                "spill_mb": round(s["diskBytesSpilled"] / mb, 1),
            }
            for s in stages
        ),
        key=lambda r: -r["executor_run_s"],
    )
    per_step: dict[str, float] = {}
    for r in job_rows:
        step = (r["description"] or "").removeprefix("Delta: ").split(": ")[0]
        per_step[step] = round(per_step.get(step, 0.0) + r["seconds"], 2)
    return {
        "wall_seconds": round(wall, 2),
        "jobs": len(jobs),
        "jobs_seconds_sum": round(sum(r["seconds"] for r in job_rows), 2),
        "jobs_seconds_by_step": dict(sorted(per_step.items(), key=lambda kv: -kv[1])),
        "longest_jobs": job_rows[:top],
        "stages_executor_s_sum": round(sum(r["executor_run_s"] for r in stage_rows), 2),
        "longest_stages": stage_rows[:top],
    }


def measure(
    name: str,
    args: argparse.Namespace,
    out: Path,
    spark,  # type: ignore[no-untyped-def]
    *,
    generate: Callable[[Path], None],
    read_in: Callable[[], Any],
    stage: Callable[[], Any],
    devices: int,
    side: int,
    period: tuple[dt.date, dt.date],
) -> tuple[dict[str, Any], Any]:
    """Generate the lake in ``out`` (``generate(tmp)``; skipped when ``out`` holds one made
    with the same arguments: ``--out`` reuse), then time ``stage`` against the floor (one
    scan of ``read_in()`` and one shuffle by device). The JSON's common part and the stage's
    last result."""
    params = {k: getattr(args, k) for k in ("devices", "days", "density", "cluster_side", "seed")}
    params = {**params, "scale": args.scale}
    done = out / PARAMS_FILE
    t0 = time.perf_counter()
    if not (done.exists() and json.loads(done.read_text()) == params):
        generate(out / "_generated")
        shutil.rmtree(out / "_generated", ignore_errors=True)
        done.write_text(json.dumps(params))
    setup = time.perf_counter() - t0
    runs, peaks, summary = alternate(name, stage, lambda: scan_and_shuffle(read_in()), args.reps)
    rows_in = read_in().count()
    result = {
        "benchmark": name.replace(" ", "_"),
        "scale": args.scale,
        "devices": devices,
        "days": args.days,
        "period": [str(d) for d in period],
        "territory_km": side / 10,
        "master": spark.sparkContext.master,
        "cores": spark.sparkContext.defaultParallelism,
        "setup_seconds": round(setup, 1),
        "rows_in": rows_in,
        **timing_summary(runs, rows_in),
        "peak_memory_mb": peaks,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.jobs:
        result["profile"] = profile_jobs(spark, stage, args.jobs)
    return result, summary


def run_scales(
    args: argparse.Namespace,
    bench_scale: Callable[[argparse.Namespace, Path], dict[str, Any]],
    name: str,
) -> None:
    """Each of ``--scales`` (or ``--scale``) in its own lake under ``--out`` (or a temporary
    directory, removed); prints the JSON of one scale, or of all with their exponents."""
    scales = [float(x) for x in args.scales.split(",")] if args.scales else [args.scale]
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"rmf_{name}_bench_"))
    results = []
    try:
        for scale in scales:
            out = root / f"scale_{scale}" if len(scales) > 1 else root
            out.mkdir(parents=True, exist_ok=True)
            results.append(bench_scale(argparse.Namespace(**{**vars(args), "scale": scale}), out))
    finally:
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)
    if len(results) == 1:
        print(json.dumps(results[0], indent=1))
        return
    doc = {
        "benchmark": name,
        "scales": results,
        "exponent": {
            which: exponent([(r["rows_in"], r[key]) for r in results])
            for which, key in (("stage", "seconds"), ("floor", "floor_seconds"))
        },
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(doc, indent=1))


def main_for(
    doc: str,
    bench_scale: Callable[[argparse.Namespace, Path], dict[str, Any]],
    name: str,
    *,
    devices: int,
    scale: float,
    days: int,
) -> None:
    """The command line of a bench of this kind (``doc``: its module docstring)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--devices", type=int, default=devices, help="devices at scale 1")
    ap.add_argument("--scale", type=float, default=scale, help="fraction of --devices")
    ap.add_argument("--scales", help="several scales, comma-separated: fits the exponent")
    ap.add_argument("--days", type=int, default=days, help="days of the period")
    ap.add_argument("--density", type=float, default=100.0, help="devices per km2")
    ap.add_argument("--cluster-side", type=int, default=3, help="largest location block side")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--out", help="lake kept (and reused); default: temporary, removed")
    ap.add_argument("--jobs", type=int, default=0, help="list the N longest jobs of one more run")
    run_scales(ap.parse_args(), bench_scale, name)


# --- the usual environment --------------------------------------------------------------------
def bench_scale(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Generate (or reuse) the lake of one scale in ``out`` and time stage and floor."""
    from pyspark.sql import functions as F

    from rmf_spark import tables
    from rmf_spark.session import get_spark
    from rmf_spark.slayer.usual_environment.runner import run_usual_environment

    n = max(10, round(args.devices * args.scale))
    side = territory_side(n, args.density)
    days = args.days
    start, end = FIRST_DAY, FIRST_DAY + dt.timedelta(days=days - 1)
    min_days = max(1, math.ceil(0.4 * days))  # the demo's minimum observation
    cfg = bench_config(
        out,
        args,
        **{
            "usual_environment.labels.min_days": min_days,
            "usual_environment.labels.min_slots": 8 * min_days,
            "usual_environment.calibration.missing_register": "zero",
        },
    )
    spark = get_spark(cfg)

    def generate(tmp: Path) -> None:
        arrays, p = permanence_arrays(n, days + 1, side, args.cluster_side, args.seed)
        write_territory(spark, cfg, side, (p["home"][:, 0], p["home"][:, 1]), seed=args.seed)
        write_permanence(spark, cfg, arrays, tmp, days + 1)

    def read_in():  # type: ignore[no-untyped-def]
        window = F.col("date").between(F.lit(start), F.lit(end + dt.timedelta(days=1)))
        return tables.DAILY_PERMANENCE.read(spark, cfg, mno=MNO).where(window)

    def stage() -> dict[str, Any]:
        return run_usual_environment(spark, cfg, mno=MNO, start=start, end=end)

    result, summary = measure(
        "usual environment",
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
    where = f"period_start = DATE'{start}'"
    specs = (
        tables.MIDTERM_PERMANENCE,
        tables.MIDTERM_OBSERVATION,
        tables.UE_LABELS,
        tables.UE_LABEL_STATUS,
        tables.RESIDENTS,
        tables.CALIBRATED_RESIDENTS,
    )
    grid_slots = (
        read_in()
        .where(F.col("id_type") == "grid")
        .agg(F.count(F.lit(1)).alias("slots"), F.sum(F.size("tiles")).alias("tiles"))
        .first()
    )
    return {
        **result,
        "target_ratio": 4,
        "tiles_per_grid_slot": round(grid_slots["tiles"] / grid_slots["slots"], 2),
        "written_rows": {s.name: s.read(spark, cfg, mno=MNO).where(where).count() for s in specs},
        "devices_by_status": summary["devices"],
        "fallbacks": summary["fallbacks"],
    }


def main() -> None:
    main_for(__doc__, bench_scale, "usual_environment", devices=10_000, scale=0.02, days=28)


if __name__ == "__main__":
    main()
