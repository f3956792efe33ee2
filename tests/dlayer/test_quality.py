"""Quality metrics of a load, and warnings: a metric outside mean +/- 3 sd of the trailing
loads is flagged."""

from __future__ import annotations

import datetime as dt

from rmf_spark.dlayer.quality import bronze_day_metrics, compute_quality_warnings
from rmf_spark.dlayer.schemas import QUALITY_METRICS_SCHEMA

# the band of the [ingest] defaults: 7 trailing loads, at least 3, mean +/- 3 sd
_BAND = {"trailing_loads": 7, "min_loads": 3, "sd_band": 3.0}

D0 = dt.date(2024, 1, 1)


def _metrics(spark, rows):
    return spark.createDataFrame(
        [("mno_a", m, v, D0 + dt.timedelta(days=d)) for d, m, v in rows], QUALITY_METRICS_SCHEMA
    )


def test_compute_quality_warnings_flags_outliers_over_trailing_loads(spark):
    # 10 earlier loads; only the last 7 (days 3..9) form the band: rows ~100 +/- 1
    hist = [(d, "rows_read", 1000.0 if d < 3 else 100.0 + (d % 2)) for d in range(10)]
    hist += [(d, "distinct_devices", 50.0) for d in range(10)]
    hist += [(d, "few_loads", 1.0) for d in (8, 9)]
    current = _metrics(
        spark, [(10, "rows_read", 150.0), (10, "distinct_devices", 50.0), (10, "few_loads", 99.0)]
    )
    out = compute_quality_warnings(current, history=_metrics(spark, hist), **_BAND).collect()
    assert [r["metric"] for r in out] == ["rows_read"]
    w = out[0]
    assert w["trailing_loads"] == 7 and 100.0 < w["trailing_mean"] < 101.0
    assert w["upper"] < 150.0


def test_compute_quality_warnings_quiet_inside_band(spark):
    hist = [(d, "rows_read", 100.0 + (d % 3)) for d in range(7)]
    current = _metrics(spark, [(7, "rows_read", 101.0)])
    assert compute_quality_warnings(current, history=_metrics(spark, hist), **_BAND).count() == 0


def test_bronze_day_metrics_counts_per_device_cell_and_hour(spark):
    # device d<i> has i events (1..5), all in cell c<i % 2>, at hour i
    rows = [
        (f"d{i}", f"c{i % 2}", dt.datetime(2024, 1, 1, i, k)) for i in range(1, 6) for k in range(i)
    ]
    day = spark.createDataFrame(rows, "device_id string, cell_id string, event_ts timestamp")
    m = bronze_day_metrics(day)
    assert m["distinct_devices"] == 5 and m["distinct_cells"] == 2
    assert m["events_per_device_p50"] == 3 and m["events_per_device_max"] == 5
    assert m["events_per_cell_max"] == 9  # c1: devices 1, 3 and 5
    assert [m[f"events_hour_{h:02d}"] for h in range(7)] == [0, 1, 2, 3, 4, 5, 0]
    assert m["outbound_records"] == 0


def test_bronze_day_metrics_count_outbound_records_apart_from_cells(spark):
    # two events in cell c1 and three roaming records without a cell (a subscriber abroad)
    t = dt.datetime(2024, 1, 1, 10)
    rows = [("d1", "c1", t), ("d1", "c1", t), ("d2", None, t), ("d2", None, t), ("d3", None, t)]
    day = spark.createDataFrame(rows, "device_id string, cell_id string, event_ts timestamp")
    m = bronze_day_metrics(day)
    assert m["distinct_cells"] == 1 and m["events_per_cell_max"] == 2
    assert m["outbound_records"] == 3 and m["distinct_devices"] == 3
