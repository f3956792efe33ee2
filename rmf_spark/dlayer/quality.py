"""Quality metrics of one load and warnings when they leave the band of the trailing loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from rmf_spark.dlayer.schemas import QUALITY_METRICS_SCHEMA, QUALITY_WARNINGS_SCHEMA

__all__ = [
    "bronze_day_metrics",
    "compute_quality_warnings",
    "quality_metrics_frame",
]


def quality_metrics_frame(
    spark: SparkSession, metrics: Mapping[str, float | None], *, mno_id: str, date: dt.date
) -> DataFrame:
    """``metrics`` as rows of :data:`QUALITY_METRICS_SCHEMA` (sorted by metric name)."""
    rows = [(mno_id, k, v, date) for k, v in sorted(metrics.items())]
    return spark.createDataFrame(rows, QUALITY_METRICS_SCHEMA)


def bronze_day_metrics(bronze_day: DataFrame) -> dict[str, float | None]:
    """The metrics computed from the bronze rows of one load (one Spark job, collected).

    Returns
    -------
    dict
        ``distinct_devices``, ``distinct_cells``, ``events_per_device_{p50,p90,p99,max}``,
        ``events_per_cell_{p50,p90,max}``, ``outbound_records`` (rows without a cell: the
        MNO's subscribers abroad, left out of the per-cell figures) and ``events_hour_00`` ..
        ``events_hour_23`` (hour of ``event_ts`` in UTC). Quantiles are
        ``percentile_approx`` (accuracy 10 000). The runner computes them while the quarantine
        pass runs: they need no load count.

    Notes
    -----
    One scan: the three groupings are grouping sets of one aggregation, and devices are
    grouped by the 64-bit hash of their pseudonym, half the cost of grouping the 64-character
    strings (with 10 million devices the chance that two share a hash is about 3e-6; they
    would then count as one).
    """
    q = [0.5, 0.9, 0.99]
    keyed = bronze_day.select(
        F.xxhash64("device_id").alias("device"), "cell_id", F.hour("event_ts").alias("hour")
    )
    per_key = keyed.groupingSets(
        [["device"], ["cell_id"], ["hour"]], "device", "cell_id", "hour"
    ).agg(F.grouping_id().alias("_g"), F.count(F.lit(1)).alias("count"))
    # grouping_id bits, first column highest: 0b011 = by device, 0b101 = by cell
    kind = (
        F.when(F.col("_g") == 3, F.lit("device"))
        .when((F.col("_g") == 5) & F.col("cell_id").isNull(), F.lit("outbound"))
        .when(F.col("_g") == 5, F.lit("cell"))
        .otherwise(F.format_string("hour_%02d", "hour"))
    )
    stats = {
        r["k"]: r
        for r in per_key.groupBy(kind.alias("k"))
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.percentile_approx("count", q, 10_000).alias("q"),
            F.max("count").alias("mx"),
            F.sum("count").alias("total"),
        )
        .collect()
    }
    empty = {"n": 0, "q": None, "mx": None, "total": 0}
    dev, cell = stats.get("device", empty), stats.get("cell", empty)
    hours = {h: stats[f"hour_{h:02d}"]["total"] for h in range(24) if f"hour_{h:02d}" in stats}
    metrics: dict[str, float | None] = {}
    metrics["distinct_devices"] = float(dev["n"])
    metrics["distinct_cells"] = float(cell["n"])
    metrics["outbound_records"] = float(stats.get("outbound", empty)["total"])
    for name, row, labels in (
        ("device", dev, ("p50", "p90", "p99")),
        ("cell", cell, ("p50", "p90")),
    ):
        qs = row["q"] or [None, None, None]
        for label, value in zip(labels, qs, strict=False):
            metrics[f"events_per_{name}_{label}"] = None if value is None else float(value)
        metrics[f"events_per_{name}_max"] = None if row["mx"] is None else float(row["mx"])
    for h in range(24):
        metrics[f"events_hour_{h:02d}"] = float(hours.get(h, 0))
    return metrics


def compute_quality_warnings(
    current: DataFrame,
    *,
    history: DataFrame,
    trailing_loads: int,
    min_loads: int,
    sd_band: float,
) -> DataFrame:
    """Metrics of ``current`` outside mean +/- ``sd_band`` sd of the trailing loads.

    Parameters
    ----------
    current
        One load's metrics (:data:`QUALITY_METRICS_SCHEMA`, one date).
    history
        Earlier loads' metrics of the same MNO (dates before the current one).
    trailing_loads
        How many of the latest earlier loads form the band (``ingest.quality_trailing_loads``).
    min_loads
        No warning for a metric with fewer earlier loads than this
        (``ingest.quality_min_loads``).
    sd_band
        Width of the band in sample standard deviations (``ingest.quality_sd_band``).

    Returns
    -------
    DataFrame
        :data:`QUALITY_WARNINGS_SCHEMA`: one row per metric outside
        ``[mean - sd_band * sd, mean + sd_band * sd]`` (with sd = 0 any change is outside).

    Notes
    -----
    A Shewhart-style control band: ``|x - mean_k| > c * sd_k`` with the mean and sample
    standard deviation of the last ``k`` loads (k = 7, c = 3 by default).
    """
    rank = F.dense_rank().over(Window.partitionBy("mno_id").orderBy(F.col("date").desc()))
    recent = history.withColumn("_rank", rank).where(F.col("_rank") <= trailing_loads)
    band = recent.groupBy("mno_id", "metric").agg(
        F.mean("value").alias("trailing_mean"),
        F.coalesce(F.stddev_samp("value"), F.lit(0.0)).alias("trailing_sd"),
        F.count("value").cast("int").alias("trailing_loads"),
    )
    out = (
        current.join(band, on=["mno_id", "metric"], how="inner")
        .where(F.col("trailing_loads") >= min_loads)
        .withColumn("lower", F.col("trailing_mean") - sd_band * F.col("trailing_sd"))
        .withColumn("upper", F.col("trailing_mean") + sd_band * F.col("trailing_sd"))
        .where((F.col("value") < F.col("lower")) | (F.col("value") > F.col("upper")))
    )
    return out.select(*[F.col(f.name).cast(f.dataType) for f in QUALITY_WARNINGS_SCHEMA.fields])
