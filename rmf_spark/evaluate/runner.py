"""Stage runner of the evaluation: lake estimates + truth directory -> accuracy and report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from rmf_spark import lake
from rmf_spark.config import RmfConfig
from rmf_spark.evaluate.accuracy import compute_accuracy, to_truth_devices, to_truth_population
from rmf_spark.evaluate.report import write_report
from rmf_spark.timerange import time_range_predicate

__all__ = ["run_evaluate"]


def run_evaluate(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    truth_dir: str | Path,
    out: str | Path,
    zone_level: int = 2,
) -> dict[str, Any]:
    """Compare ``<mno>/slayer/present_population`` in [start, end] with the synthetic truth.

    Parameters
    ----------
    cfg
        The profile.
    mno
        MNO id.
    truth_dir
        The synthetic world's ``truth`` directory (``present_devices``,
        ``present_population`` Delta tables).
    start, end
        Time points compared.
    out
        HTML report path.
    zone_level
        Zone level of ``nae_zone`` (default 2, municipalities).

    Returns
    -------
    dict
        ``{"accuracy": <summary.json accuracy block>, "report": <path>}``.
    """
    paths = {
        "present_population": lake.table_path(cfg, "slayer", "present_population", mno=mno),
        "grid": lake.table_path(cfg, "clayer", "grid"),
        "tile_zone": lake.table_path(cfg, "clayer", "tile_zone"),
        "truth/present_devices": str(Path(truth_dir) / "present_devices"),
        "truth/present_population": str(Path(truth_dir) / "present_population"),
    }
    lake.require_tables(spark, paths)
    t = {n: lake.read_delta(spark, p) for n, p in paths.items()}
    window = time_range_predicate(start, end)
    estimates = t["present_population"].where(window).cache()
    truth_devices = to_truth_devices(
        t["truth/present_devices"].where(window), mno=mno, grid=t["grid"], tile_zone=t["tile_zone"]
    ).cache()
    accuracy = compute_accuracy(
        estimates,
        truth_devices=truth_devices,
        truth_population=to_truth_population(t["truth/present_population"].where(window)),
        zone_level=zone_level,
    )
    report = write_report(
        out, estimates=estimates, truth_devices=truth_devices, accuracy=accuracy, mno=mno
    )
    estimates.unpersist()
    truth_devices.unpersist()
    return {"accuracy": accuracy, "report": str(report)}
