"""Benchmark of the whole chain against a floor: seconds and events per second per stage.

Runs ``rmf demo``'s chain (synth -> ingest -> convergence -> present population -> release ->
evaluate) on the bench profile (or a reduced variant, as ``bench/synth.py``), then times, in the
same Spark session, the floor: one plain scan of the same bronze events plus one shuffle
(``repartition(device_id)`` into Spark's no-op sink), repeated ``--floor-runs`` times (median).
Prints one JSON object:

* ``stages``: seconds and raw events per second of every stage;
* ``pipeline_seconds``: ingest + convergence + present population + release (the MNO-side
  production chain; synth makes the input and evaluate needs the truth, so they are reported
  but not counted);
* ``floor_seconds`` (median) and ``ratio = pipeline_seconds / floor_seconds``.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/pipeline.py                   # full bench
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/pipeline.py --scale 0.1
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/pipeline.py --profile small --world DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_profiles import add_reduction_arguments, reduced_profile

PRODUCTION_STAGES = ("ingest", "convergence", "present_population", "release")


def scan_and_shuffle(events) -> None:  # type: ignore[no-untyped-def]
    """The floor's work: ``events`` scanned once and shuffled by device into the no-op sink."""
    from pyspark.sql import functions as F

    events.repartition(F.col("device_id")).write.format("noop").mode("overwrite").save()


def floor_seconds(spark, paths: list[str], *, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds of one plain scan plus one shuffle by device of the bronze events, per run."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for path in paths:
            scan_and_shuffle(spark.read.format("delta").load(path))
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduction_arguments(ap)
    ap.add_argument("--world", help="reuse a world generated with the same profile and options")
    ap.add_argument("--out", help="output directory (default: a temporary one, removed)")
    ap.add_argument("--floor-runs", type=int, default=3)
    args = ap.parse_args()

    from rmf_spark import tables
    from rmf_spark.demo import demo_config, run_demo
    from rmf_spark.session import get_spark

    prof, overrides = reduced_profile(args)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rmf_pipeline_bench_"))
    log = sys.stderr.write
    try:
        summary = run_demo(
            prof,
            out,
            world_dir=args.world,
            overrides={"spark.master": args.master},
            echo=lambda line: log(line + "\n"),
        )
        mnos = list(summary["mno"])
        cfg = demo_config(None, {"spark.master": args.master}, out, mnos)
        spark = get_spark(cfg)
        paths = [tables.EVENTS.path(cfg, mno=m) for m in mnos]
        floors = floor_seconds(spark, paths, runs=args.floor_runs)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    events = summary["world"]["events_total"]
    stages = {
        name: {
            "seconds": s["seconds"],
            "events_per_s": round(events / s["seconds"]) if s["seconds"] else None,
        }
        for name, s in summary["stages"].items()
    }
    pipeline = sum(summary["stages"][s]["seconds"] for s in PRODUCTION_STAGES)
    floor = statistics.median(floors)
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "profile": prof.name,
                "overrides": overrides,
                "master": spark.sparkContext.master,
                "cores": spark.sparkContext.defaultParallelism,
                "events": events,
                "bronze_rows": sum(m["bronze_rows"] for m in summary["mno"].values()),
                "stages": stages,
                "pipeline_seconds": round(pipeline, 2),
                "pipeline_events_per_s": round(events / pipeline),
                "floor_seconds_runs": [round(x, 2) for x in floors],
                "floor_seconds": round(floor, 2),
                "ratio": round(pipeline / floor, 2),
                "accuracy": summary["accuracy"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
