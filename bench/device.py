"""Benchmark of the device-level stage (``run_device``) for one day against a floor.

Prepares, untimed, a world of the bench profile (or a reduced variant, as ``bench/synth.py``,
but with the networks reduced too: the density of cells of the full profile, since the
stage's work per device-day grows with the tiles of the cells it sees) through the C-layer
(synth, ingest, convergence of every day, for the MNOs asked) and the present population of
the day (the HMM's EM prior; skipped with ``--uniform-prior``), in ``--out`` (reused when it
is already there) or a temporary directory. Then, alternating the order on every repetition,
times per MNO:

* ``stage``: ``run_device`` for ``--date`` (default: the profile's first day), everything it
  reads, computes and writes (five Delta commits);
* ``floor``: one plain scan of that day's ``event_location`` plus one shuffle by device
  (``repartition(device_id)`` into Spark's no-op sink).

Prints one JSON object: per MNO the median seconds of the stage and of the floor (and every
run), ``ratio`` = stage / floor, the day's ``event_location`` rows (``events_in``) and
events per second, device-days, compressed rows, posterior rows (one per device and time
point) and the tiles they hold, the time points a device-day answers on average, and the
peak memory during the stage and the floor runs.

Memory is the resident set size (RSS) of this process and all its descendants, sampled
every 0.2 s: in local mode the driver JVM (which holds the executor) and the Python workers.
The sum counts the pages the forked workers share with their daemon more than once, so it is
an upper bound; ``python_worker_max_mb`` is the largest single worker (a pandas group lives in
one). A JVM's RSS hardly ever shrinks: its peak is the largest heap it touched so far.

``--scales 0.02,0.05,0.1`` runs several scales in one process (a world each) and adds the
fitted exponent ``b`` of ``seconds ~ events_in ** b`` (least squares on the logs), for the
stage and the floor: ``b`` near 1 is linear.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/device.py --scale 0.05
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/device.py --scale 0.05 --mno mno_b \\
        --out /tmp/device-bench       # world and lake kept, reused by the next run
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/device.py --scales 0.02,0.05,0.1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_profiles import add_reduction_arguments, reduced_profile
from pipeline import scan_and_shuffle
from present_population import prepare

PP_DONE = "present_population_{mno}_{date}.done"


class PeakMemory:
    """Peak RSS (MB) of this process and its descendants while the block runs, sampled in a
    thread: ``total_mb``, ``jvm_mb`` (java processes), ``python_workers_mb`` (the python
    descendants: PySpark's daemon and workers), ``python_worker_max_mb`` (the largest one).

    Other descendants are left out: they are the JVM's short-lived children (Hadoop's shell
    commands on the local file system), which until they exec show the JVM's own pages."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[str, float]:
        import psutil

        me = psutil.Process()
        jvm = workers = largest = 0
        for p in me.children(recursive=True):
            try:
                rss, name = p.memory_info().rss, p.name()
                if name == "java":
                    jvm += rss
                elif name.startswith("python"):
                    workers += rss
                    largest = max(largest, rss)
            except psutil.Error:  # a worker ended between the listing and the read
                continue
        mb = 2.0**20
        own = me.memory_info().rss
        return {
            "total_mb": (own + jvm + workers) / mb,
            "jvm_mb": jvm / mb,
            "python_workers_mb": workers / mb,
            "python_worker_max_mb": largest / mb,
            "driver_python_mb": own / mb,
        }

    def _run(self) -> None:
        while True:
            for k, v in self._sample().items():
                self.peak[k] = max(self.peak.get(k, 0.0), v)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def merge_peaks(peaks: list[dict[str, float]]) -> dict[str, float]:
    """The largest value of each measure over several runs."""
    return {k: max(p[k] for p in peaks) for k in peaks[0]} if peaks else {}


def present_population_for(spark, cfg, mno: str, day: dt.date, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The day's present population (the EM prior of the HMM), once per ``out``."""
    from rmf_spark.slayer.present_population.runner import run_present_population

    done = out / PP_DONE.format(mno=mno, date=day)
    if done.exists():
        return
    start = dt.datetime.combine(day, dt.time(0))
    run_present_population(spark, cfg, mno=mno, start=start, end=start + dt.timedelta(hours=23))
    done.write_text("")


def timed(fn) -> tuple[float, dict[str, float], Any]:  # type: ignore[no-untyped-def]
    """Seconds, peak memory and result of ``fn()``."""
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    return seconds, mem.peak, result


def bench_mno(spark, cfg, mno: str, day: dt.date, reps: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Stage and floor runs for one MNO and day, alternating which goes first."""
    from pyspark.sql import functions as F

    from rmf_spark import tables
    from rmf_spark.slayer.device.runner import day_time_points, run_device

    def day_events():  # type: ignore[no-untyped-def]
        return tables.EVENT_LOCATION.read(spark, cfg, mno=mno).where(F.col("date") == F.lit(day))

    def stage() -> dict[str, Any]:
        return run_device(spark, cfg, mno=mno, date=day)

    def floor() -> None:
        scan_and_shuffle(day_events())

    runs: dict[str, list[float]] = {"stage": [], "floor": []}
    peaks: dict[str, list[dict[str, float]]] = {"stage": [], "floor": []}
    summary: dict[str, Any] = {}
    for rep in range(reps):
        for name in ("stage", "floor") if rep % 2 == 0 else ("floor", "stage"):
            seconds, peak, result = timed(stage if name == "stage" else floor)
            sys.stderr.write(f"device bench: {mno} {day} {name} run {rep + 1}: {seconds:.1f} s\n")
            runs[name].append(seconds)
            peaks[name].append(peak)
            summary = result if name == "stage" else summary
    events = day_events().count()
    rows = (
        tables.DEVICE_DAY.read(spark, cfg, mno=mno)
        .where(F.col("date") == F.lit(day))
        .agg(F.sum("rows").alias("rows"), F.count(F.lit(1)).alias("device_days"))
        .first()
    )
    answered, posterior_tiles = (
        tables.LOCATION_POSTERIOR.read(spark, cfg, mno=mno)
        .where(F.col("date") == F.lit(day))
        .agg(F.count(F.lit(1)), F.sum(F.size("tile_ids")))
        .first()
    )
    s, f = statistics.median(runs["stage"]), statistics.median(runs["floor"])
    metrics = summary["metrics"]
    return {
        "events_in": events,
        "device_days": rows["device_days"],
        "device_days_by_status": {
            k.removeprefix("device_days_"): v
            for k, v in metrics.items()
            if k.startswith("device_days_")
        },
        "compressed_rows": rows["rows"],
        "posterior_rows": summary["posterior_rows"],
        "posterior_tiles": int(posterior_tiles or 0),
        "time_points_per_day": len(
            day_time_points(
                day, time_zone=cfg.device.time_zone, step_s=cfg.present_population.time_step_s
            )
        ),
        "time_points_answered_per_device_day": round(answered / rows["device_days"], 2),
        "prior": summary["prior"],
        "seconds": round(s, 2),
        "floor_seconds": round(f, 2),
        "ratio": round(s / f, 2),
        "events_per_s": round(events / s),
        "seconds_runs": [round(x, 2) for x in runs["stage"]],
        "floor_seconds_runs": [round(x, 2) for x in runs["floor"]],
        "peak_memory_mb": {
            "stage": {k: round(v) for k, v in merge_peaks(peaks["stage"]).items()},
            "floor": {k: round(v) for k, v in merge_peaks(peaks["floor"]).items()},
        },
    }


def bench_scale(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Prepare the world of ``args`` in ``out`` and benchmark every MNO asked."""
    from rmf_spark.demo import demo_config
    from rmf_spark.session import get_spark

    prof, overrides = reduced_profile(args, scale_network=True)
    all_mnos = [m.mno_id for m in prof.mnos]
    mnos = all_mnos if args.mno == "all" else args.mno.split(",")
    unknown = sorted(set(mnos) - set(all_mnos))
    if unknown:
        raise SystemExit(f"--mno: {unknown} not in profile '{prof.name}' ({all_mnos})")
    user: dict[str, Any] = {"spark.master": args.master, "spark.ui_enabled": False}
    if args.uniform_prior:
        user["device.hmm.prior"] = "uniform"
    cfg = demo_config(None, user, out, all_mnos)
    os.environ.setdefault(cfg.ingest.key_env, secrets.token_hex(32))
    spark = get_spark(cfg)
    day = dt.date.fromisoformat(args.date) if args.date else prof.start_date
    dates = [prof.start_date + dt.timedelta(days=i) for i in range(prof.n_days)]
    if day not in dates:
        raise SystemExit(f"--date {day}: not a day of the world ({dates[0]} .. {dates[-1]})")
    t0 = time.perf_counter()
    info = prepare(spark, cfg, prof, out, mnos=mnos, world=args.world)
    for mno in mnos if not args.uniform_prior else ():
        present_population_for(spark, cfg, mno, day, out)
    setup = time.perf_counter() - t0
    per_mno = {mno: bench_mno(spark, cfg, mno, day, args.reps) for mno in mnos}
    seconds = sum(m["seconds"] for m in per_mno.values())
    floor = sum(m["floor_seconds"] for m in per_mno.values())
    events = sum(m["events_in"] for m in per_mno.values())
    return {
        "benchmark": "device",
        "profile": prof.name,
        "overrides": overrides,
        "scale": args.scale,
        "master": spark.sparkContext.master,
        "cores": spark.sparkContext.defaultParallelism,
        "date": str(day),
        "days_prepared": info["dates"],
        "setup_seconds": round(setup, 1),
        "max_rows_per_day": cfg.device.max_rows_per_day,
        "events_in": events,
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor, 2),
        "ratio": round(seconds / floor, 2),
        "events_per_s": round(events / seconds),
        "device_days": sum(m["device_days"] for m in per_mno.values()),
        "mno": per_mno,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``log y`` against ``log x`` over ``(x, y)`` points."""
    logs = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(logs) < 2:
        return None
    mx = statistics.fmean(x for x, _ in logs)
    my = statistics.fmean(y for _, y in logs)
    sxx = sum((x - mx) ** 2 for x, _ in logs)
    return round(sum((x - mx) * (y - my) for x, y in logs) / sxx, 3) if sxx else None


def fitted_exponents(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Exponents of stage and floor seconds against the events, overall and per MNO."""
    out: dict[str, Any] = {
        "stage": exponent([(r["events_in"], r["seconds"]) for r in results]),
        "floor": exponent([(r["events_in"], r["floor_seconds"]) for r in results]),
    }
    for mno in results[0]["mno"]:
        per = [r["mno"][mno] for r in results]
        out[mno] = {
            "stage": exponent([(m["events_in"], m["seconds"]) for m in per]),
            "floor": exponent([(m["events_in"], m["floor_seconds"]) for m in per]),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduction_arguments(ap)
    ap.add_argument("--scales", help="several scales, comma-separated: fits the exponent")
    ap.add_argument("--world", help="reuse a world generated with the same profile and options")
    ap.add_argument("--out", help="world and lake (kept, reused); default: temporary, removed")
    ap.add_argument("--mno", default="all", help="MNO ids, comma-separated, or 'all'")
    ap.add_argument("--date", help="the device-day (default: the profile's first day)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--uniform-prior", action="store_true", help="flat HMM prior: no present population"
    )
    args = ap.parse_args()
    scales = [float(x) for x in args.scales.split(",")] if args.scales else [args.scale]
    if len(scales) > 1 and args.world:
        raise SystemExit("--world serves one scale; --scales generates a world per scale")

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rmf_device_bench_"))
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
    else:
        doc = {"benchmark": "device", "scales": results, "exponent": fitted_exponents(results)}
        print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
