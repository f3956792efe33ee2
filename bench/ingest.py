"""Benchmark: D-layer ingest throughput against a floor (plain read + Delta write), same run.

Generates (with Spark) one day of raw events in the format of ``--format`` unless ``--raw``
points at an existing synthetic world:

* ``mno_b`` (default, the bench profile's signalling MNO, its largest load at more than 10
  million events a day): one JSON-lines file, epoch milliseconds, IMSI identifiers;
* ``mno_a`` (the CDR MNO): ``;``-separated CSV with a header, local times, MSISDNs;

both with ~0.2 % exact duplicates and ~0.1 % bad timestamps. ``--raw DIR --date D --mno ID``
benches the raw files of a world made by ``rmf synth --profile bench --out DIR`` instead
(``DIR/raw/<ID>`` or the MNO's raw folder itself). Then it times

* the floor: a plain Spark read of the same files and a Delta write, no validation. CSV:
  ``spark.read.csv`` (header, the profile's delimiter, every column a string); JSON lines:
  ``spark.read.json`` with an explicit schema of the profile's columns and optional columns,
  every one a string (the same parse the ingest does with ``from_json``);
* the full ingest: :func:`rmf_spark.dlayer.runner.run_ingest` (validation, pseudonyms,
  dedup, quarantine, audit, quality),
* the required minimum (``--minimum``): what any ingest meeting the bronze layout and the
  pseudonymisation of ``docs/bronze.md`` must do at least: the floor's read, the keyed HMAC of
  the identifier, the UTC event time, the device bucket and the bronze write (partitioned by
  date and device bucket, bronze's table properties); no validation, row numbers, dedup,
  quarantine, audit or quality. Its ratio to the floor bounds what the full ingest can reach
  on this machine;

``--reps`` times (default 3), floor and ingest alternating in the same Spark session (the
machine may be shared: alternating spreads the noise over both), and prints one JSON object
with every repetition's seconds, the throughputs of the medians (rows/s), their ratio (the
project's target is >= 0.6) and the median seconds of each phase of the ingest (the runner's
``ingest ... : <phase> <s> s`` log records; some phases run concurrently, so their seconds
overlap and may add up to more than the ingest's). The first ingest creates the tables; the
later ones replace the day (``replaceWhere``), as a daily rerun would.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/ingest.py --rows 1000000 --reps 3
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/ingest.py --format mno_a --rows 1000000
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/ingest.py --raw world --mno mno_b \
        --date 2024-01-15 --reps 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
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


def _pick(i, values):
    from pyspark.sql import functions as F

    n = len(values)
    return F.element_at(F.array(*[F.lit(x) for x in values]), (F.col(i) % n + 1).cast("int"))


def _with_faults(df, *, rows: int, files: int):
    """``df`` plus ~0.2 % exact copies of some lines, in ``files`` shuffled part files."""
    from pyspark.sql import functions as F

    dups = df.where((F.col("id") % 1000 == 13) & (F.col("id") > 1000))
    return df.unionByName(dups.limit(max(rows // 500, 1))).repartition(files).drop("id")


def generate_mno_a(spark, out: Path, *, rows: int, devices: int, files: int) -> None:
    """Raw mno_a events of DAY, ~0.2 % exact duplicates and ~0.1 % bad timestamps."""
    from pyspark.sql import functions as F

    ids = spark.range(rows, numPartitions=files)
    ts = F.timestamp_seconds(
        F.lit(int(dt.datetime(2024, 1, 14, 23, 0).timestamp())) + (F.col("id") * 86_399) % 86_399
    )
    local = F.date_format(F.from_utc_timestamp(ts, "Europe/Madrid"), "dd/MM/yyyy HH:mm:ss")
    df = ids.select(
        "id",
        F.concat(F.lit("r"), F.col("id")).alias("record_id"),
        (F.lit(34_600_000_000) + F.xxhash64("id") % devices).cast("string").alias("msisdn"),
        F.when(F.col("id") % 1000 == 7, F.lit("99/99/2024 00:00:00"))
        .otherwise(local)
        .alias("event_time"),
        F.concat(F.lit("214-07-"), (F.col("id") % 997).cast("string")).alias("cgi"),
        _pick("id", ("call", "sms", "data")).alias("event_type"),
        _pick("id", ("2G", "3G", "4G", "5G")).alias("rat"),
        F.lit("214").alias("mcc"),
        F.lit("07").alias("mnc"),
        F.when(F.col("id") % 5 != 0, (F.col("id") % 64).cast("string")).alias("ta"),
    )
    (
        _with_faults(df, rows=rows, files=files)
        .write.mode("overwrite")
        .option("sep", ";")
        .option("header", True)
        .csv(str(out))
    )


def generate_mno_b(spark, out: Path, *, rows: int, devices: int, files: int) -> None:
    """Raw mno_b JSON lines of DAY (as ``rmf_spark.synth.writers.lines_mno_b`` writes them),
    ~0.2 % exact duplicates and ~0.1 % timestamps written as text (BAD_TIMESTAMP)."""
    from pyspark.sql import functions as F

    ids = spark.range(rows, numPartitions=files)
    start_ms = int(dt.datetime(2024, 1, 15, tzinfo=dt.UTC).timestamp()) * 1000
    ts_ms = F.lit(start_ms) + (F.col("id") * 86_399_017) % 86_399_000
    ts = F.when(F.col("id") % 1000 == 7, F.lit('"15/01/2024 10:00"')).otherwise(
        ts_ms.cast("string")
    )
    imsi = (F.lit(214_070_000_000_000) + F.pmod(F.xxhash64("id"), F.lit(devices))).cast("string")
    ta = F.when(F.col("id") % 5 != 0, F.concat(F.lit(',"ta":'), (F.col("id") % 64).cast("string")))
    line = F.concat(
        F.lit('{"seq":'), F.col("id").cast("string"),
        F.lit(',"imsi":"'), imsi,
        F.lit('","ts_ms":'), ts,
        F.lit(',"cell":"'), F.format_string("5%06d", F.col("id") % 997),
        F.lit('","type":"'), _pick("id", ("CALL", "SMS", "DATA", "PERIODIC_LU", "HO")),
        F.lit('","tech":"'), _pick("id", ("GSM", "UMTS", "LTE", "NR")),
        F.lit('","plmn":"21407"'), F.coalesce(ta, F.lit("")), F.lit("}"),
    )  # fmt: skip
    df = ids.select("id", line.alias("value"))
    _with_faults(df, rows=rows, files=files).write.mode("overwrite").text(str(out))


class _Phases(logging.Handler):
    """Collects the runner's per-phase timings (log records with ``phase`` and ``seconds``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "phase"):
            name = record.phase
            self.seconds[name] = self.seconds.get(name, 0.0) + record.seconds


def _floor(spark, files: list[str], spec):
    """The plain read of the module docstring (no validation)."""
    from pyspark.sql.types import StringType, StructField, StructType

    if spec.format == "csv":
        return spark.read.option("sep", spec.delimiter).option("header", spec.header).csv(files)
    names = list(dict.fromkeys(spec.columns + spec.optional_columns))
    schema = StructType([StructField(n, StringType(), True) for n in names])
    return spark.read.schema(schema).json(files)


def _minimum(spark, files: list[str], spec, *, master: bytes, day: dt.date, buckets: int):
    """The required minimum of the module docstring, ready to write."""
    from pyspark.sql import functions as F

    from rmf_spark.dlayer.pseudonymise import drop_keys, period_keys, with_device_id
    from rmf_spark.dlayer.validate import RAW_PREFIX, event_time

    raw = _floor(spark, files, spec)
    df = raw.select(*[raw[c].alias(RAW_PREFIX + c) for c in raw.columns]).transform(
        with_device_id,
        keys=period_keys(spark, master, day),
        identifier=RAW_PREFIX + spec.identifier,
        pseudonymised=spec.identifier_pseudonymised,
    )
    df = df.withColumn("event_ts", event_time(spec))  # bronze's UTC time, its stats column
    bucket = F.pmod(F.xxhash64("device_id"), F.lit(buckets)).cast("int")
    return (
        drop_keys(df)
        .drop("_raw_id")
        .withColumn("date", F.lit(day))
        .withColumn("device_bucket", bucket)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/ingest.py")
    parser.add_argument(
        "--format", choices=("mno_a", "mno_b"), default="mno_b", help="raw format to generate"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument(
        "--files", type=int, default=None, help="raw part files (default: mno_b 1, mno_a 4)"
    )
    parser.add_argument("--raw", default=None, help="bench the raw files of this synth world")
    parser.add_argument("--mno", default=None, help="with --raw: the MNO (default: --format)")
    parser.add_argument("--date", default=None, help="with --raw: the day (YYYY-MM-DD)")
    parser.add_argument("--config", default=str(ROOT / "conf" / "local.toml"))
    parser.add_argument("--work", default=None, help="work dir (default: a temp dir)")
    parser.add_argument(
        "--reps", type=int, default=3, help="repetitions, floor and ingest alternating (>= 1)"
    )
    parser.add_argument(
        "--minimum", action="store_true", help="also time the required minimum (see above)"
    )
    args = parser.parse_args(argv)
    if args.raw and not args.date:
        parser.error("--raw needs --date")

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("RMF_PSEUDONYM_KEY", secrets.token_hex(32))
    from rmf_spark import lake
    from rmf_spark.config import load_config
    from rmf_spark.dlayer import schemas as S
    from rmf_spark.dlayer.pseudonymise import load_master_key
    from rmf_spark.dlayer.readers import list_input_files
    from rmf_spark.dlayer.runner import mno_profile, run_ingest
    from rmf_spark.session import get_spark

    mno_id = args.mno or args.format
    day = dt.date.fromisoformat(args.date) if args.date else DAY
    work = Path(args.work or tempfile.mkdtemp(prefix="rmf-bench-ingest-"))
    if args.raw:
        raw = Path(args.raw).resolve()
        raw = raw / "raw" / mno_id if (raw / "raw" / mno_id).is_dir() else raw
    else:
        raw = work / "raw" / mno_id
    profile = ROOT / "conf" / "inputs" / f"{args.format if not args.raw else mno_id}.toml"
    cfg = load_config(
        args.config,
        overrides={
            "lake.root": str(work / "lake"),
            "ingest.mno": {mno_id: {"raw_dir": str(raw), "profile": str(profile)}},
        },
    )
    spec = mno_profile(cfg, mno_id)[1].events
    spark = get_spark(cfg)
    target = Path(spec.file_path(str(raw), day))
    gen_s = 0.0
    if not args.raw:
        t0 = time.perf_counter()
        files = args.files or (1 if spec.format == "jsonl" else 4)
        gen = generate_mno_b if spec.format == "jsonl" else generate_mno_a
        tmp = work / "gen"
        gen(spark, tmp, rows=args.rows, devices=args.devices, files=files)
        parts = sorted(tmp.glob("part-*"))
        if len(parts) == 1:  # one file, named as the profile expects (as rmf synth writes it)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(parts[0]), target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            for p in parts:
                shutil.move(str(p), target / p.name)
        shutil.rmtree(tmp)
        gen_s = time.perf_counter() - t0
    files = list_input_files(spark, str(target), what=f"{mno_id} events")

    phases = _Phases()
    runner_log = logging.getLogger("rmf_spark.dlayer.runner")
    runner_log.addHandler(phases)
    runner_log.setLevel(logging.INFO)
    floor_s, ingest_s, phase_s, minimum_s = [], [], [], []
    for rep in range(args.reps):
        if args.minimum:
            t0 = time.perf_counter()
            minimum = _minimum(
                spark,
                files,
                spec,
                master=load_master_key(cfg.ingest),
                day=day,
                buckets=cfg.ingest.n_device_buckets,
            )
            lake.write_delta(
                minimum,
                str(work / f"minimum_{rep}"),
                partition_by=S.EVENTS_PARTITION_COLS,
                properties=S.EVENTS_PROPERTIES,
            )
            minimum_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _floor(spark, files, spec).write.format("delta").mode("overwrite").save(
            str(work / f"floor_{rep}")
        )
        floor_s.append(time.perf_counter() - t0)
        n_floor = lake.read_delta(spark, str(work / f"floor_{rep}")).count()

        phases.seconds = {}
        t0 = time.perf_counter()
        counts = run_ingest(spark, cfg, mno=mno_id, date=day)
        ingest_s.append(time.perf_counter() - t0)
        phase_s.append(phases.seconds)
        shown = f", minimum {minimum_s[-1]:.1f} s" if minimum_s else ""
        print(
            f"rep {rep + 1}/{args.reps}: floor {floor_s[-1]:.1f} s{shown}, "
            f"ingest {ingest_s[-1]:.1f} s "
            + " ".join(f"{k}={v:.1f}" for k, v in phases.seconds.items()),
            file=sys.stderr,
        )

    floor_rate = n_floor / statistics.median(floor_s)
    ingest_rate = counts.rows_read / statistics.median(ingest_s)
    result = {
        "format": spec.format,
        "mno": mno_id,
        "raw": str(target) if args.raw else None,
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
        "ingest_phases_s_median": {
            k: round(statistics.median(p.get(k, 0.0) for p in phase_s), 2) for k in phase_s[-1]
        },
        "floor_rows_per_s": round(floor_rate),
        "ingest_rows_per_s": round(ingest_rate),
        "ratio": round(ingest_rate / floor_rate, 3),
        **(
            {
                "minimum_s": [round(x, 2) for x in minimum_s],
                "minimum_s_median": round(statistics.median(minimum_s), 2),
                "minimum_ratio": round(
                    statistics.median(floor_s) / statistics.median(minimum_s), 3
                ),
                "ingest_to_minimum": round(
                    statistics.median(minimum_s) / statistics.median(ingest_s), 3
                ),
            }
            if minimum_s
            else {}
        ),
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
