"""The Spark side on tiny frames: run compression and its bound, and one device over two days."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from pyspark.sql import functions as F

from rmf_spark.slayer.device import device_days
from rmf_spark.slayer.device.compress import compress_runs
from rmf_spark.slayer.device.device_days import (
    compute_daily_permanence,
    compute_device_days,
    compute_segments,
    compute_time_point_posteriors,
    device_day_of,
    permanence_of,
    posteriors_of,
    release_footprints,
    segments_of,
    with_day_context,
)
from rmf_spark.slayer.device.inference import infer_device_day
from rmf_spark.slayer.device.settings import DeviceSettings
from tests.slayer.device import line_world as lw

EVENTS = (
    "device_id string, event_ts timestamp, cell_id string, footprint_version string, "
    "usable boolean, technology string, timing_advance int, domain string, abroad boolean, "
    "visited_plmn string, date date"
)
TA = {"4G": 78.12}
D = datetime(2024, 3, 5)


def _event(dev, ts, cell, tech="4G", ta=None, usable=True, abroad=False, plmn=None):
    version = None if abroad else "v1"
    return (dev, ts, cell, version, usable, tech, ta, "domestic", abroad, plmn, D.date())


def test_compress_keeps_counts_and_times_and_bounds_a_device_day(spark):
    t = D + timedelta(hours=8)
    s = timedelta(seconds=1)
    one = [
        _event("d1", t, "C1", ta=3),
        _event("d1", t + 10 * s, "C1", ta=3),
        _event("d1", t + 15 * s, "C9", usable=False),  # dropped: not usable
        _event("d1", t + 20 * s, "C1", ta=3),
        _event("d1", t + 30 * s, "C1", ta=4),  # another TA band: a new run
        _event("d1", t + 60 * s, "C2", tech="3G", ta=7),  # 3G has no TA step: TA ignored
        _event("d1", t + 120 * s, "C2", tech="3G"),
        _event("d1", t + 9000 * s, "C2", tech="3G"),  # 2.5 h of silence: a new run
        _event("d1", t + 4 * 3600 * s, "F7", usable=False, abroad=True, plmn="20801"),
        _event("d1", t + 4 * 3600 * s + 300 * s, "F7", usable=False, abroad=True, plmn="20801"),
    ]
    # 100 events alternating two cells every 10 minutes: 100 runs, over the bound of 24
    busy = [
        _event("d2", D + timedelta(minutes=10 * k), "C1" if k % 3 else "C2") for k in range(100)
    ]
    settings = DeviceSettings(max_rows_per_day=24)
    got = (
        compress_runs(spark.createDataFrame(one + busy, EVENTS), settings=settings, ta_step_m=TA)
        .orderBy("device_id", "first_ts")
        .toPandas()
    )
    d1 = got[got["device_id"] == "d1"]
    assert d1["n_events"].tolist() == [3, 1, 2, 1, 2]
    assert d1["cell_id"].tolist() == ["C1", "C1", "C2", "C2", "F7"]
    assert d1["timing_advance"].tolist()[:2] == [3, 4]
    assert d1["timing_advance"].iloc[2:].isna().all()
    assert d1["first_ts"].tolist()[:3] == [t, t + 30 * s, t + 60 * s]
    assert d1["last_ts"].tolist()[:3] == [t + 20 * s, t + 30 * s, t + 120 * s]
    assert d1["abroad"].tolist() == [False] * 4 + [True]
    assert d1["visited_plmn"].iloc[4] == "20801" and not d1["inbound"].any()
    d2 = got[got["device_id"] == "d2"]
    assert len(d2) <= 24 and d2["n_events"].sum() == 100
    assert d2["first_ts"].min() == D and d2["last_ts"].max() == D + timedelta(minutes=990)
    # a bin keeps its most frequent cell: C1 holds two of every three events
    assert (d2["cell_id"] == "C1").sum() > len(d2) / 2

    # the segments of the compressed rows are those of the raw events
    names = [c.split()[0] for c in EVENTS.split(", ")]
    raw = pd.DataFrame([e for e in one if e[4]], columns=names)
    raw_rows = raw.assign(first_ts=raw["event_ts"], last_ts=raw["event_ts"], n_events=1)
    no_hmm = DeviceSettings(hmm={"enabled": False})
    fp = lw.footprints()
    day = {"day_start": pd.Timestamp(D), "day_end": pd.Timestamp(D + timedelta(days=1))}
    cols = ["state", "start_ts", "end_ts", "n_events", "cells", "tiles"]
    from_runs = infer_device_day(
        d1[~d1["abroad"]], fp, settings=no_hmm, ta_buffer=1, **day
    ).segments[cols]
    from_raw = infer_device_day(raw_rows, fp, settings=no_hmm, ta_buffer=1, **day).segments[cols]
    pd.testing.assert_frame_equal(from_runs, from_raw)


def test_one_device_over_two_days_in_spark(spark):
    evening = [_event("d1", D + timedelta(hours=20, minutes=m), "C3") for m in range(0, 121, 20)]
    morning = [
        _event("d1", D + timedelta(days=1, hours=6, minutes=m), "C3") for m in range(0, 61, 20)
    ]
    events = spark.createDataFrame(evening + morning, EVENTS)
    settings = DeviceSettings()
    rows = with_day_context(compress_runs(events, settings=settings, ta_step_m=TA))
    cp, grid = lw.spark_tables(spark)
    segments = compute_segments(
        rows, connection_probability=cp, grid=grid, settings=settings, ta_buffer=1
    ).cache()
    seg = segments.orderBy("date", "segment_index").toPandas()
    first_day = seg[seg["date"] == D.date()]
    second_day = seg[seg["date"] == (D + timedelta(days=1)).date()]
    # the night at home continues across midnight on both sides
    assert first_day["state"].tolist() == ["unknown", "stay"]
    assert first_day["end_ts"].iloc[-1] == pd.Timestamp(D + timedelta(days=1))
    assert first_day["n_events"].tolist() == [0, 7]
    assert second_day["state"].tolist() == ["stay", "unknown"]
    assert second_day["start_ts"].iloc[0] == pd.Timestamp(D + timedelta(days=1))
    assert second_day["n_events"].tolist() == [4, 0]
    assert second_day["best_tile"].iloc[0] in second_day["tiles"].iloc[0]

    perm = compute_daily_permanence(segments, settings=settings).toPandas()
    assert perm.groupby("date").size().tolist() == [24, 24]
    night = perm[(perm["date"] == second_day["date"].iloc[0]) & (perm["slot_index"] < 7)]
    assert night["id_type"].eq("grid").all()
    # the night's slots hold the stay's location tiles (permanence.tiles = 'location')
    located = list(second_day["location_tiles"].iloc[0])
    assert set(located) < set(second_day["tiles"].iloc[0])
    assert all(list(t) == located for t in night["tiles"])

    points = [D + timedelta(hours=h) for h in (19, 21, 23)] + [D + timedelta(days=1, hours=6)]
    post = compute_time_point_posteriors(
        rows,
        connection_probability=cp,
        grid=grid,
        time_points=points,
        tolerance_s=3600,
        settings=settings,
        ta_buffer=1,
    ).toPandas()
    sums = post.groupby("time_point")["probabilities"].agg(lambda ps: sum(p.sum() for p in ps))
    # 23:00 is 1 h after the last evening event: still within the tolerance
    assert sorted(sums.index) == [pd.Timestamp(p) for p in points]
    assert ((sums - 1).abs() < 1e-9).all()
    segments.unpersist()


def test_footprints_with_every_device_day_or_once_per_worker_give_the_same_tables(spark):
    # two devices on the line, one also abroad, one on a day with probabilities of two dates
    events = [
        _event("d1", D + timedelta(hours=h), c) for h, c in ((8, "C0"), (9, "C1"), (12, "C3"))
    ]
    events += [_event("d2", D + timedelta(hours=h, minutes=5), "C4") for h in (7, 8, 20)]
    events += [_event("d2", D + timedelta(hours=14), "F7", usable=False, abroad=True, plmn="20801")]
    frame = spark.createDataFrame(events, EVENTS)
    cp, grid = lw.spark_tables(spark)
    dated = cp.withColumn("date", F.lit(D.date())).unionByName(
        cp.withColumn("date", F.lit((D + timedelta(days=1)).date()))
    )
    points = [D + timedelta(hours=h) for h in range(24)]
    out = {}
    for limit in (0, 10_000_000):
        settings = DeviceSettings(broadcast_footprints_max_rows=limit)
        rows = with_day_context(compress_runs(frame, settings=settings, ta_step_m=TA))
        got = compute_device_days(
            rows, connection_probability=dated, grid=grid, settings=settings, ta_buffer=1,
            time_points=points, tolerance_s=43_200,
        )  # fmt: skip
        out[limit] = {
            "segments": segments_of(got).toPandas(),
            "posteriors": posteriors_of(got).toPandas(),
            "permanence": permanence_of(got).toPandas(),
            "days": device_day_of(got).toPandas(),
            # the permanence of the second pass over the segments, as the first version did
            "second_pass": compute_daily_permanence(segments_of(got), settings=settings).toPandas(),
        }
        shared = device_days._SHARED.get(id(got))
        assert (shared is not None) == (limit > 0)  # broadcast only under the limit
        release_footprints(got)
        assert id(got) not in device_days._SHARED
    pairs = [(out[0][n], out[10_000_000][n]) for n in ("segments", "posteriors", "days")]
    pairs += [(out[k]["permanence"], out[k]["second_pass"]) for k in out]
    for a, b in pairs:
        key = [
            c for c in ("device_id", "date", "segment_index", "time_point", "slot_index") if c in a
        ]
        for frame in (a, b):
            for col in ("tiles", "cells", "tile_ids", "probabilities", "location_tiles"):
                if col in frame:
                    frame[col] = frame[col].map(lambda v: None if v is None else list(v))
        pd.testing.assert_frame_equal(
            a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        )
    assert len(out[0]["posteriors"]) > 0 and set(out[0]["days"]["status"]) == {"located"}
