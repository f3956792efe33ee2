"""A device with a very large number of events in one day (a modem, a faulty SIM) among
ordinary devices: compression, the day context and the per-device-day pandas groups in a
Spark of one executor with 1 GB (``local-cluster[1,1,1024]``), started in a subprocess.

The subprocess is this file run as a script: it builds the events with ``spark.range``,
runs ``compress_runs -> with_day_context -> compute_device_days`` as the stage runner does
and prints one ``RESULT`` line of counts and segments, which the test checks.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.subprocess_result import run_for_result

ROOT = Path(__file__).resolve().parents[3]

#: events of the heavy device on the day, alternating two overlapping cells (a run each)
N_HEAVY = 1_000_000
#: ordinary devices, one event every 10 minutes for 25 hours (the last hour is the next day)
N_NORMAL = 200
NORMAL_EVENTS = 150
D = datetime(2024, 3, 5)
MASTER = "local-cluster[1,1,1024]"


def _events(spark):  # type: ignore[no-untyped-def]
    """The heavy device and the ordinary ones, in the C-layer ``event_location`` contract."""
    from pyspark.sql import functions as F

    day0 = _utc_micros(D)
    common = [
        F.lit("v1").alias("footprint_version"),
        F.lit(True).alias("usable"),
        F.lit("4G").alias("technology"),
        F.lit(None).cast("int").alias("timing_advance"),
    ]
    step_us = 86_400 * 10**6 // N_HEAVY
    heavy = spark.range(N_HEAVY).select(
        F.lit("heavy").alias("device_id"),
        F.timestamp_micros(F.lit(day0) + F.col("id") * step_us).alias("event_ts"),
        F.when(F.col("id") % 2 == 0, "C2").otherwise("C3").alias("cell_id"),
        *common,
    )
    dev = F.floor(F.col("id") / NORMAL_EVENTS)
    k = F.col("id") % NORMAL_EVENTS
    normal = spark.range(N_NORMAL * NORMAL_EVENTS).select(
        F.concat(F.lit("n"), dev.cast("string")).alias("device_id"),
        F.timestamp_micros(F.lit(day0) + (k * 600 + dev * 7) * 10**6).alias("event_ts"),
        # a device moves one cell along the line every 50 events
        F.concat(F.lit("C"), ((dev + F.floor(k / 50)) % 6).cast("string")).alias("cell_id"),
        *common,
    )
    return heavy.unionByName(normal)


def _utc_micros(naive: datetime) -> int:
    return round((naive - datetime(1970, 1, 1)).total_seconds()) * 10**6


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident memory so far (Linux ``VmHWM``, MB) of the driver JVM (this process's
    child), the executor JVM (the driver's) and the largest Python worker (the executor's)."""
    import psutil

    def hwm(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
        return 0.0

    me = psutil.Process()
    out = {"driver_jvm_mb": 0.0, "executor_jvm_mb": 0.0, "python_worker_max_mb": 0.0}
    for p in me.children(recursive=True):
        try:
            if p.name() == "java":
                key = "driver_jvm_mb" if p.ppid() == me.pid else "executor_jvm_mb"
            elif p.name().startswith("python"):
                key = "python_worker_max_mb"
            else:  # a JVM's short-lived child (a shell command), showing the JVM's pages
                continue
            out[key] = max(out[key], hwm(p.pid))
        except (OSError, psutil.Error):  # a worker ended meanwhile
            continue
    return out


def run(max_rows_per_day: int) -> dict:
    """The chain in a ``MASTER`` session; counts, the heavy device's segments and timings."""
    import pandas as pd
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from rmf_spark.config import load_config
    from rmf_spark.session import get_spark
    from rmf_spark.slayer.device.compress import compress_runs
    from rmf_spark.slayer.device.device_days import (
        compute_device_days,
        device_day_of,
        posterior_tiles,
        posteriors_of,
        segments_of,
        with_day_context,
    )
    from rmf_spark.slayer.device.settings import DeviceSettings
    from tests.slayer.device import line_world as lw

    t0 = time.perf_counter()
    cfg = load_config(
        None,
        overrides={
            "spark.master": MASTER,
            "spark.driver_memory": "1g",
            "spark.shuffle_partitions": 4,
            "spark.ui_enabled": False,
        },
    )
    spark = get_spark(cfg)
    started = time.perf_counter() - t0
    settings = DeviceSettings(max_rows_per_day=max_rows_per_day)
    cp, grid = lw.spark_tables(spark)
    events = _events(spark)
    day = F.col("date") == F.lit(D.date())
    compressed = compress_runs(events, settings=settings, ta_step_m={"4G": 78.12}).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    t1 = time.perf_counter()
    compressed.count()
    t2 = time.perf_counter()
    rows = with_day_context(compressed).where(day)
    points = [D + timedelta(hours=h) for h in range(24)]
    inferred = compute_device_days(
        rows,
        connection_probability=cp,
        grid=grid,
        settings=settings,
        ta_buffer=1,
        time_points=points,
        tolerance_s=1800,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    days = device_day_of(inferred).toPandas()
    t3 = time.perf_counter()
    heavy_rows = (
        compressed.where(day & (F.col("device_id") == "heavy"))
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("n_events").alias("events"))
        .first()
    )
    seg = segments_of(inferred)
    heavy_seg = seg.where(F.col("device_id") == "heavy").orderBy("segment_index").toPandas()
    seg_events = seg.groupBy("device_id").agg(F.sum("n_events").alias("n")).toPandas()
    raw_events = (
        events.where(F.to_date("event_ts") == F.lit(D.date()))
        .groupBy("device_id")
        .count()
        .toPandas()
    )
    sums = (
        posterior_tiles(posteriors_of(inferred))
        .groupBy("device_id", "time_point")
        .agg(F.sum("probability").alias("p"))
        .agg(
            F.min("p").alias("lo"),
            F.max("p").alias("hi"),
            F.count_if(F.col("device_id") == "heavy").alias("heavy"),
        )
        .first()
    )
    memory = _peak_rss_mb()
    master = spark.sparkContext.master
    spark.stop()

    def iso(ts: pd.Series) -> list[str]:
        return [t.isoformat() for t in ts]

    return {
        "master": master,
        "max_rows_per_day": max_rows_per_day,
        "heavy_compressed_rows": heavy_rows["rows"],
        "heavy_compressed_events": heavy_rows["events"],
        "device_day": days[["device_id", "rows", "located_events", "status"]].to_dict("list"),
        "heavy_segments": {
            "state": heavy_seg["state"].tolist(),
            "start_ts": iso(heavy_seg["start_ts"]),
            "end_ts": iso(heavy_seg["end_ts"]),
            "n_events": heavy_seg["n_events"].tolist(),
        },
        "segment_events": seg_events.set_index("device_id")["n"].astype(int).to_dict(),
        "raw_events": raw_events.set_index("device_id")["count"].astype(int).to_dict(),
        "posterior_sums": {"min": sums["lo"], "max": sums["hi"], "heavy_points": sums["heavy"]},
        "seconds": {
            "start": round(started, 1),
            "compress": round(t2 - t1, 1),
            "device_days": round(t3 - t2, 1),
            "total": round(time.perf_counter() - t0, 1),
        },
        "peak_rss": memory,
    }


@pytest.mark.slow
@pytest.mark.cluster
def test_a_device_with_a_million_events_a_day_runs_in_a_1gb_executor(cli_env):
    env = {**cli_env, "PYTHONPATH": str(ROOT)}
    r = run_for_result([sys.executable, __file__, "20000"], env=env, timeout=600)
    print(json.dumps({k: r[k] for k in ("seconds", "peak_rss", "heavy_compressed_rows")}))
    assert r["master"] == MASTER

    # the bound holds and no event is lost in the bins
    assert 0 < r["heavy_compressed_rows"] <= r["max_rows_per_day"]
    assert r["heavy_compressed_events"] == N_HEAVY
    days = {d: i for i, d in enumerate(r["device_day"]["device_id"])}
    assert sorted(days) == sorted(r["raw_events"])  # one device_day row per device-day
    dd = r["device_day"]
    heavy = days["heavy"]
    assert dd["rows"][heavy] == r["heavy_compressed_rows"]
    assert all(s == "located" for s in dd["status"])
    # every event of the day in exactly one segment, for every device
    assert r["segment_events"] == r["raw_events"]
    assert r["raw_events"]["heavy"] == N_HEAVY

    # the heavy device's segments tile the day: two overlapping cells, one place all day
    s = r["heavy_segments"]
    assert s["start_ts"][0] == D.isoformat()
    assert s["end_ts"][-1] == (D + timedelta(days=1)).isoformat()
    assert s["start_ts"][1:] == s["end_ts"][:-1]
    assert "stay" in s["state"] and sum(s["n_events"]) == N_HEAVY
    # the heavy device answers the 24 hourly points; every posterior sums to 1
    p = r["posterior_sums"]
    assert p["heavy_points"] == 24
    assert abs(p["min"] - 1) < 1e-9 and abs(p["max"] - 1) < 1e-9


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(int(sys.argv[1])), default=str), flush=True)
