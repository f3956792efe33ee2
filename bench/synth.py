"""Benchmark of the synthetic-world generator: events per second on the bench profile.

Generates ``conf/synth/bench.toml`` (or a reduced variant) into a scratch directory and prints
JSON: events written, seconds (total and per stage), events per second. The full bench
profile writes more than 20 million events; ``--scale f`` keeps a fraction ``f`` of the
population and of the territory's area (same density, same networks' per-person load is not
kept: the cell counts stay) and reports the projected time of the full profile;
``--persons``, ``--km`` and ``--days`` set those values directly.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/synth.py                      # full bench
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/synth.py --scale 0.25
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/synth.py --persons 20000 --km 20 --days 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_profiles import add_reduction_arguments, reduced_profile

from rmf_spark.config import load_config
from rmf_spark.session import get_spark
from rmf_spark.synth import generate_world, load_profile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduction_arguments(ap)
    ap.add_argument("--out", help="output directory (default: a temporary one, removed)")
    args = ap.parse_args()
    full = load_profile(args.profile)
    prof, overrides = reduced_profile(args)
    quiet = {"spark.ui.showConsoleProgress": "false"}
    cfg = load_config(
        overrides={"spark.master": args.master, "spark.ui_enabled": False, "spark.conf": quiet}
    )
    spark = get_spark(cfg)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rmf_synth_bench_"))
    try:
        m = generate_world(spark, prof, out)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    events = m["counts"]["events_total"]
    # the events scale with person-days: project the full profile at the measured rate
    full_events = (
        events
        * (full.population.n_persons / prof.population.n_persons)
        * (full.n_days / prof.n_days)
    )
    print(
        json.dumps(
            {
                "profile": prof.name,
                "overrides": overrides,
                "master": spark.sparkContext.master,
                "persons": m["counts"]["persons"],
                "devices": m["counts"]["devices"],
                "events": events,
                "events_per_day": {
                    k: sum(v.values()) / prof.n_days for k, v in m["counts"]["events"].items()
                },
                "seconds": m["seconds"],
                "stage_seconds": m["stage_seconds"],
                "events_per_second": round(events / m["seconds"], 1),
                "projected_full_events": round(full_events),
                "projected_full_seconds": round(full_events / (events / m["seconds"]), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
