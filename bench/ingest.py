"""Benchmark: D-layer ingest throughput against a floor (plain read + Delta write), same run.

Generates (with Spark) one day of raw events in the mno_a format (``;``-separated CSV with a
header, local times, MSISDNs) unless ``--raw`` points at existing files, then times

* the floor: ``spark.read.csv`` of the same files (all columns as strings, no validation) and
  a Delta write, and
* the full ingest: :func:`rmf_spark.dlayer.runner.ingest_events` (validation, pseudonyms,
  dedup, quarantine, audit, quality),

``--reps`` times (default 3), floor and ingest alternating in the same Spark session (the
machine may be shared: alternating spreads the noise over both), and prints one JSON object
with every repetition's seconds, the throughputs of the medians (rows/s) and their ratio
(target >= 0.6). The first ingest creates the tables; the later ones replace the day
(``replaceWhere``), as a daily rerun would.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/ingest.py --rows 1000000 --reps 3
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

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2024, 1, 15)


def generate(spark, out: Path, *, rows: int, devices: int, files: int) -> None:
    """Raw mno_a events of DAY, ~0.2 % exact duplicates and ~0.1 % bad timestamps."""
    from pyspark.sql import functions as F

    ids = spark.range(rows, numPartitions=files)
    ts = F.timestamp_seconds(
        F.lit(int(dt.datetime(2024, 1, 14, 23, 0).timestamp())) + (F.col("id") * 86_399) % 86_399
    )
    local = F.date_format(F.from_utc_timestamp(ts, "Europe/Madrid"), "dd/MM/yyyy HH:mm:ss")
    df = ids.select(
        F.concat(F.lit("r"), F.col("id")).alias("record_id"),
        (F.lit(34_600_000_000) + F.xxhash64("id") % devices).cast("string").alias("msisdn"),
        F.when(F.col("id") % 1000 == 7, F.lit("99/99/2024 00:00:00"))
        .otherwise(local)
        .alias("event_time"),
        F.concat(F.lit("214-07-"), (F.col("id") % 997).cast("string")).alias("cgi"),
        F.element_at(
            F.array(*[F.lit(x) for x in ("call", "sms", "data")]), (F.col("id") % 3 + 1).cast("int")
        ).alias("event_type"),
        F.element_at(
            F.array(*[F.lit(x) for x in ("2G", "3G", "4G", "5G")]),
            (F.col("id") % 4 + 1).cast("int"),
        ).alias("rat"),
        F.lit("214").alias("mcc"),
        F.lit("07").alias("mnc"),
        F.when(F.col("id") % 5 != 0, (F.col("id") % 64).cast("string")).alias("ta"),
    )
    dups = df.where(F.col("record_id").endswith("13") & (F.length("record_id") > 4))
    (
        df.unionByName(dups.limit(max(rows // 500, 1)))
        .repartition(files)
        .write.mode("overwrite")
        .option("sep", ";")
        .option("header", True)
        .csv(str(out))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/ingest.py")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=4, help="part files of the raw day")
    parser.add_argument("--config", default=str(ROOT / "conf" / "local.toml"))
    parser.add_argument("--work", default=None, help="work dir (default: a temp dir)")
    parser.add_argument(
        "--reps", type=int, default=3, help="repetitions, floor and ingest alternating (>= 1)"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("RMF_PSEUDONYM_KEY", secrets.token_hex(32))
    from rmf_spark import lake
    from rmf_spark.config import load_config
    from rmf_spark.dlayer.runner import ingest_events
    from rmf_spark.session import get_spark

    work = Path(args.work or tempfile.mkdtemp(prefix="rmf-bench-ingest-"))
    raw = work / "raw" / "mno_a"
    events = raw / "events" / f"events_{DAY:%Y%m%d}.csv"
    cfg = load_config(
        args.config,
        overrides={
            "lake.root": str(work / "lake"),
            "ingest.mno": {
                "mno_a": {"raw_dir": str(raw), "profile": str(ROOT / "conf/inputs/mno_a.toml")}
            },
        },
    )
    spark = get_spark(cfg)
    t0 = time.perf_counter()
    generate(spark, events, rows=args.rows, devices=args.devices, files=args.files)
    gen_s = time.perf_counter() - t0

    floor_s, ingest_s = [], []
    for rep in range(args.reps):
        t0 = time.perf_counter()
        floor = spark.read.option("sep", ";").option("header", True).csv(str(events))
        floor.write.format("delta").mode("overwrite").save(str(work / f"floor_{rep}"))
        floor_s.append(time.perf_counter() - t0)
        n_floor = lake.read_delta(spark, str(work / f"floor_{rep}")).count()

        t0 = time.perf_counter()
        counts = ingest_events(cfg, mno_id="mno_a", date=DAY, spark=spark)
        ingest_s.append(time.perf_counter() - t0)
        print(
            f"rep {rep + 1}/{args.reps}: floor {floor_s[-1]:.1f} s, ingest {ingest_s[-1]:.1f} s",
            file=sys.stderr,
        )

    floor_rate = n_floor / statistics.median(floor_s)
    ingest_rate = counts.rows_read / statistics.median(ingest_s)
    result = {
        "rows_read": counts.rows_read,
        "rows_floor": n_floor,
        "rows_bronze": counts.rows_bronze,
        "rows_quarantined": counts.rows_quarantined,
        "duplicates_removed": counts.duplicates_removed,
        "reps": args.reps,
        "generate_s": round(gen_s, 2),
        "floor_s": [round(x, 2) for x in floor_s],
        "ingest_s": [round(x, 2) for x in ingest_s],
        "floor_s_median": round(statistics.median(floor_s), 2),
        "ingest_s_median": round(statistics.median(ingest_s), 2),
        "floor_rows_per_s": round(floor_rate),
        "ingest_rows_per_s": round(ingest_rate),
        "ratio": round(ingest_rate / floor_rate, 3),
        "master": spark.sparkContext.master,
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
