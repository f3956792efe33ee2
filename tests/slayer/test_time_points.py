"""Nearest event per device and time point; devices per cell; conservation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from chispa import assert_df_equality

from rmf_spark.slayer.present_population.observations import (
    compute_cell_counts,
    time_points,
    to_device_time_points,
)

T0 = datetime(2024, 3, 5, 10, 0, 0)
SCHEMA = (
    "device_id string, event_ts timestamp, cell_id string, footprint_version string, usable boolean"
)


def _ev(device: str, offset_s: int, cell: str, usable: bool = True) -> tuple:
    return (device, T0 + timedelta(seconds=offset_s), cell, "v1", usable)


def _points(spark, rows: list[tuple], *, with_event_ts: bool = True):
    """Expected ``device_id, time_point, cell_id[, event_ts]`` rows."""
    ddl = "device_id string, time_point timestamp, cell_id string"
    return spark.createDataFrame(rows, ddl + (", event_ts timestamp" if with_event_ts else ""))


def test_time_points_inclusive_at_step():
    got = time_points(start=T0, end=T0 + timedelta(hours=2, minutes=30), step_s=3600)
    assert got == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    with pytest.raises(ValueError):
        time_points(start=T0, end=T0 - timedelta(seconds=1), step_s=60)


def test_to_device_time_points_nearest_event_and_tie_to_earlier(spark):
    events = spark.createDataFrame(
        [
            _ev("tie", -600, "EARLY"),
            _ev("tie", 600, "LATE"),
            _ev("near", -1000, "FAR"),
            _ev("near", 500, "NEAR"),
            _ev("unusable", 10, "BAD", usable=False),
            _ev("unusable", 3000, "OK"),
            _ev("outside", -3601, "X"),
        ],
        SCHEMA,
    )
    got = to_device_time_points(events, start=T0, end=T0, step_s=3600, tolerance_s=3600)
    # a tie goes to the earlier event; an unusable event is skipped; "outside" has none in range
    expected = [("tie", "EARLY", -600), ("near", "NEAR", 500), ("unusable", "OK", 3000)]
    assert_df_equality(
        got.select("device_id", "time_point", "cell_id", "event_ts"),
        _points(spark, [(d, T0, c, T0 + timedelta(seconds=s)) for d, c, s in expected]),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_to_device_time_points_one_row_per_device_and_time_point(spark):
    events = spark.createDataFrame([_ev("d1", s, f"C{s}") for s in range(-4000, 8000, 700)], SCHEMA)
    got = to_device_time_points(
        events, start=T0, end=T0 + timedelta(hours=1), step_s=3600, tolerance_s=1800
    )
    # events at ..., -500, 200, ..., 2900, 3700, ...: nearest to 0 is 200, to 3600 is 3700
    expected = [("d1", T0, "C200"), ("d1", T0 + timedelta(hours=1), "C3700")]
    assert_df_equality(
        got.select("device_id", "time_point", "cell_id"),
        _points(spark, expected, with_event_ts=False),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_compute_cell_counts_conserves_devices_in_window(spark):
    import random

    rnd = random.Random(3)
    raw = [
        (f"d{d}", rnd.randint(-9000, 9000), f"C{rnd.randint(0, 4)}", rnd.random() > 0.2)
        for d in range(60)
        for _ in range(rnd.randint(1, 6))
    ]
    events = spark.createDataFrame([_ev(*r) for r in raw], SCHEMA)
    tolerance, step = 1200, 3600
    pts = time_points(start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=2), step_s=step)
    counts = compute_cell_counts(
        to_device_time_points(events, start=pts[0], end=pts[-1], step_s=step, tolerance_s=tolerance)
    )
    got = {
        r["time_point"]: r["n"]
        for r in counts.groupBy("time_point")
        .agg({"devices": "sum"})
        .withColumnRenamed("sum(devices)", "n")
        .collect()
    }
    for tp in pts:
        offset = (tp - T0).total_seconds()
        expected = {d for d, s, _, ok in raw if ok and abs(s - offset) <= tolerance}
        assert got.get(tp, 0) == len(expected)


@pytest.mark.parametrize("tolerance", [900, 5400, 43200])
def test_to_device_time_points_matches_brute_force_argmin(spark, tolerance):
    """The per-device sweep picks argmin (|ts - t|, ts, cell_id) over the window, incl. ties."""
    import random

    rnd = random.Random(tolerance)
    raw = []
    for d in range(40):
        n = rnd.randint(1, 8)
        offsets = [rnd.choice([-1800, 0, 1800, 3600]) if rnd.random() < 0.3 else
                   rnd.randint(-60_000, 60_000) for _ in range(n)]  # fmt: skip
        # same-instant pairs with different cells exercise the tie on cell_id
        offsets += offsets[:1] if rnd.random() < 0.3 else []
        raw += [(f"d{d}", s, f"C{rnd.randint(0, 9)}", rnd.random() > 0.1) for s in offsets]
    events = spark.createDataFrame([_ev(*r) for r in raw], SCHEMA)
    step = 1800
    pts = time_points(start=T0 - timedelta(hours=6), end=T0 + timedelta(hours=6), step_s=step)
    got = to_device_time_points(
        events, start=pts[0], end=pts[-1], step_s=step, tolerance_s=tolerance
    ).select("device_id", "time_point", "cell_id")
    expected = []
    for tp in pts:
        t = (tp - T0).total_seconds()
        for d in {r[0] for r in raw}:
            cands = [(abs(s - t), s, c) for dd, s, c, ok in raw if dd == d and ok]
            cands = [x for x in cands if x[0] <= tolerance]
            if cands:
                expected.append((d, tp, min(cands)[2]))
    assert_df_equality(
        got,
        _points(spark, expected, with_event_ts=False),
        ignore_row_order=True,
        ignore_nullable=True,
    )
