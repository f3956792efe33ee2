"""Benchmark of the release stage: disclosure control and exports against a floor.

Prepares, untimed, a world of the bench profile (or a reduced variant, as ``bench/synth.py``)
through present population (synth, ingest, convergence, the EM and naive estimates) in
``--out``, or reuses the one found there. Then, for every repetition and MNO, times:

* ``release``: the whole stage as ``rmf release`` runs it (:func:`run_release`: inputs pinned,
  disclosure control, the released Delta table, CSV and GeoParquet exports, the manifest);
* ``disclosure``: :func:`release_estimates` alone into Spark's no-op sink;
* ``floor``: what any release must do at least: read the released method's estimates of the
  range, shuffle them once by (time point, area) and write them as Delta.

Prints one JSON object: medians and runs (seconds), the ratio of each to the floor, and the
rows released and suppressed.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/release.py --profile tiny --days 1
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/release.py --scale 0.05 --out /tmp/rel
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_profiles import add_reduction_arguments, add_world_arguments, reduced_profile
from present_population import prepare

ESTIMATED = "estimated.json"


def estimate(spark, cfg, info: dict[str, Any], out: Path) -> tuple[dt.datetime, dt.datetime]:  # type: ignore[no-untyped-def]
    """The EM and naive present population of every prepared MNO (once per ``out``)."""
    from rmf_spark.demo import COUNTS
    from rmf_spark.slayer.present_population.runner import run_present_population

    days = [dt.date.fromisoformat(d) for d in info["dates"]]
    start = dt.datetime.combine(days[0], dt.time(0))
    end = dt.datetime.combine(days[-1], dt.time(23))
    if not (out / ESTIMATED).exists():
        for mno in info["mnos"]:
            run_present_population(spark, cfg, mno=mno, start=start, end=end, methods=COUNTS)
        (out / ESTIMATED).write_text(json.dumps({"start": str(start), "end": str(end)}))
    return start, end


def floor_seconds(spark, cfg, mno: str, start, end, scratch: Path) -> float:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    from rmf_spark import tables
    from rmf_spark.lake import write_delta
    from rmf_spark.timerange import time_range_predicate

    t0 = time.perf_counter()
    estimates = (
        tables.PRESENT_POPULATION.read(spark, cfg, mno=mno)
        .where(time_range_predicate(start, end, column="time_point"))
        .where(F.col("method") == cfg.release.method)
    )
    write_delta(estimates.repartition("time_point", "area_id"), str(scratch / mno))
    return time.perf_counter() - t0


def release_seconds(spark, cfg, mno: str, start, end, out: Path) -> tuple[float, dict[str, Any]]:  # type: ignore[no-untyped-def]
    from rmf_spark.release.runner import run_release

    t0 = time.perf_counter()
    manifest = run_release(spark, cfg, mno=mno, start=start, end=end, out_dir=out / mno)
    return time.perf_counter() - t0, {k: manifest[k] for k in ("rows", "suppressed")}


def disclosure_seconds(spark, cfg, mno: str, start, end) -> float:  # type: ignore[no-untyped-def]
    from rmf_spark import tables
    from rmf_spark.release.hierarchy import build_hierarchy
    from rmf_spark.release.runner import release_estimates
    from rmf_spark.timerange import time_range_predicate

    t0 = time.perf_counter()
    product = tables.product("present_population")
    hierarchy = build_hierarchy(
        grid=tables.GRID.read(spark, cfg), tile_zone=tables.TILE_ZONE.read(spark, cfg)
    )
    released = release_estimates(
        tables.PRESENT_POPULATION.read(spark, cfg, mno=mno).where(
            time_range_predicate(start, end, column="time_point")
        ),
        product=product,
        hierarchy=hierarchy,
        settings=cfg.release,
    )
    released.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduction_arguments(ap)
    add_world_arguments(ap)
    args = ap.parse_args()

    from rmf_spark.demo import demo_config
    from rmf_spark.session import get_spark

    prof, overrides = reduced_profile(args)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rmf_release_bench_"))
    out.mkdir(parents=True, exist_ok=True)
    mnos = [m.mno_id for m in prof.mnos]
    cfg = demo_config(None, {"spark.master": args.master, "spark.ui_enabled": False}, out, mnos)
    os.environ.setdefault(cfg.ingest.key_env, secrets.token_hex(32))
    spark = get_spark(cfg)
    runs: dict[str, list[float]] = {"release": [], "disclosure": [], "floor": []}
    counts: dict[str, Any] = {}
    try:
        info = prepare(spark, cfg, prof, out)
        start, end = estimate(spark, cfg, info, out)
        for rep in range(args.reps):
            total = dict.fromkeys(runs, 0.0)
            for mno in mnos:
                # alternate the order, so that neither always runs first (caches, JIT)
                order = ("floor", "release", "disclosure")
                for what in order if rep % 2 == 0 else order[::-1]:
                    if what == "floor":
                        total[what] += floor_seconds(
                            spark, cfg, mno, start, end, out / "floor" / str(rep)
                        )
                    elif what == "release":
                        secs, counts[mno] = release_seconds(
                            spark, cfg, mno, start, end, out / "exports"
                        )
                        total[what] += secs
                    else:
                        total[what] += disclosure_seconds(spark, cfg, mno, start, end)
            for k, v in total.items():
                runs[k].append(round(v, 2))
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)

    med = {k: round(statistics.median(v), 2) for k, v in runs.items()}
    print(
        json.dumps(
            {
                "benchmark": "release",
                "profile": prof.name,
                "overrides": overrides,
                "mnos": mnos,
                "time_points": len(info["dates"]) * 24,
                "seconds": med,
                "runs": runs,
                "release_to_floor": round(med["release"] / med["floor"], 2),
                "disclosure_to_floor": round(med["disclosure"] / med["floor"], 2),
                "rows": counts,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
