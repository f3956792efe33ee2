"""Benchmark of the synthetic-world generator: events per second on the bench profile.

Generates ``conf/synth/bench.toml`` (or a reduced variant) into a scratch directory and prints
JSON: events written, seconds (total and per stage), events per second. The full bench
profile writes more than 20 million events; ``--persons`` shrinks the population (and the
territory with ``--km``) for a quick figure.

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/synth.py                      # full bench
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/synth.py --persons 20000 --km 20 --days 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rmf_spark.config import load_config
from rmf_spark.session import get_spark
from rmf_spark.synth import generate_world, load_profile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="bench")
    ap.add_argument("--persons", type=int, help="override population.n_persons")
    ap.add_argument("--km", type=int, help="override territory width and height (km)")
    ap.add_argument("--days", type=int, help="override n_days")
    ap.add_argument("--out", help="output directory (default: a temporary one, removed)")
    ap.add_argument("--master", default="local[*]")
    args = ap.parse_args()
    overrides: dict[str, object] = {}
    if args.persons:
        overrides["population.n_persons"] = args.persons
        overrides["population.n_tourists"] = max(1, args.persons // 50)
    if args.km:
        overrides["territory.width_km"] = overrides["territory.height_km"] = args.km
    if args.days:
        overrides["n_days"] = args.days
    prof = load_profile(args.profile, overrides=overrides)
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
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
