"""Device-level accuracy: pseudonym map, position errors and stay recovery on hand examples."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta

import numpy as np
import pytest

from rmf_spark.dlayer.pseudonymise import PseudonymKeyError, derive_period_key, hmac_hex
from rmf_spark.dlayer.settings import IngestSettings
from rmf_spark.evaluate.device_accuracy import (
    compute_position_errors,
    compute_stay_recovery,
    position_error_summary,
    truth_device_map,
)
from rmf_spark.slayer.device.schemas import SEGMENTS_SCHEMA

MASTER = "a-master-key-for-the-evaluation-01"
KEY_ENV = "RMF_TEST_EVAL_KEY"
T0 = datetime(2024, 3, 5)
GRID_SCHEMA = "tile_id long, x_ll double, y_ll double"
STAYS_SCHEMA = "person_id long, start_ts timestamp, end_ts timestamp, x double, y double"


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- device map ---------------------------------------------------------------------------------


def test_truth_device_map_uses_the_dlayer_pseudonym_of_each_key_period(spark, monkeypatch):
    monkeypatch.setenv(KEY_ENV, MASTER)
    devices = spark.createDataFrame(
        [
            ("34600000001", 1, "mno_a", 0, False),
            ("34600000002", 1, "mno_a", 1, False),
            ("44600000003", 9, "mno_a", 0, True),
            ("214070000000004", 2, "mno_b", 2, False),  # other MNO: not in the map
        ],
        "raw_id string, person_id long, mno_id string, device_index int, is_inbound boolean",
    )
    ingest = IngestSettings(key_env=KEY_ENV, key_rotation="month")
    dates = [dt.date(2024, 1, 30), dt.date(2024, 1, 31), dt.date(2024, 2, 1)]
    out = truth_device_map(devices, mno="mno_a", ingest=ingest, dates=dates)
    assert out.columns == [
        "device_id", "person_id", "device_index", "is_inbound", "key_period_start"
    ]  # fmt: skip
    got = {(r.key_period_start, r.person_id, r.device_index): r.device_id for r in out.collect()}
    raw = {(1, 0): "34600000001", (1, 1): "34600000002", (9, 0): "44600000003"}
    want = {
        (period, *k): hmac_hex(derive_period_key(MASTER.encode(), period), v.encode())
        for period in (dt.date(2024, 1, 1), dt.date(2024, 2, 1))
        for k, v in raw.items()
    }
    assert got == want
    # the key is nowhere in the plan, nor are the raw ids in the output
    plan = out._jdf.queryExecution().toString().lower()
    key = derive_period_key(MASTER.encode(), dt.date(2024, 1, 1))
    assert MASTER.encode().hex() not in plan and key.hex() not in plan
    assert MASTER.lower() not in plan


def test_truth_device_map_without_dates_or_key_fails(spark, monkeypatch):
    devices = spark.createDataFrame(
        [("34600000001", 1, "mno_a", 0, False)],
        "raw_id string, person_id long, mno_id string, device_index int, is_inbound boolean",
    )
    monkeypatch.setenv(KEY_ENV, MASTER)
    with pytest.raises(ValueError, match="no dates"):
        truth_device_map(devices, mno="mno_a", ingest=IngestSettings(key_env=KEY_ENV), dates=[])
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PseudonymKeyError, match=KEY_ENV):
        truth_device_map(
            devices, mno="mno_a", ingest=IngestSettings(key_env=KEY_ENV), dates=[T0.date()]
        )


# --- position errors ----------------------------------------------------------------------------

#: the posteriors one row per tile (posterior_tiles of the stored table)
POSTERIOR_TILES = "device_id string, time_point timestamp, tile_id long, probability double"


def test_position_errors_hand_example(spark):
    grid = spark.createDataFrame([(1, 0.0, 0.0), (2, 200.0, 0.0), (3, 1000.0, 1000.0)], GRID_SCHEMA)
    posterior = spark.createDataFrame(
        [
            ("d1", _h(0), 1, 0.5),  # mean (150, 50)
            ("d1", _h(0), 2, 0.5),
            ("d1", _h(1), 1, 1.0),  # mean (50, 50)
            ("d1", _h(2), 3, 1.0),  # the person has no position then
            ("d2", _h(0), 3, 1.0),  # device not in the map
            ("d3", _h(0), 3, 0.7),
            ("d3", _h(0), 99, 0.3),  # tile not in the grid
        ],
        POSTERIOR_TILES,
    )
    truth = spark.createDataFrame(
        [(10, _h(0), 150.0, 90.0), (10, _h(1), 350.0, 450.0), (30, _h(0), 0.0, 0.0)],
        "person_id long, time_point timestamp, x double, y double",
    )
    device_person = spark.createDataFrame(
        [("d1", 10), ("d1", 10), ("d3", 30)], "device_id string, person_id long"
    )
    errors = compute_position_errors(
        posterior, grid=grid, truth_positions=truth, device_person=device_person
    )
    got = {(r.device_id, r.time_point): r for r in errors.collect()}
    assert len(got) == errors.count() == 5  # one row per (device, time point)
    assert got["d1", _h(0)].error_m == pytest.approx(40.0)
    assert (got["d1", _h(0)].x, got["d1", _h(0)].y) == pytest.approx((150.0, 50.0))
    assert got["d1", _h(1)].error_m == pytest.approx(500.0)  # (300, 400) off
    assert got["d1", _h(2)].error_m is None and got["d1", _h(2)].true_x is None
    assert got["d2", _h(0)].person_id is None and got["d2", _h(0)].error_m is None
    assert got["d3", _h(0)].x is None and got["d3", _h(0)].error_m is None
    summary = position_error_summary(errors)
    assert summary == {
        "count": 2, "mean_m": pytest.approx(270.0), "p50_m": pytest.approx(40.0),
        "p90_m": pytest.approx(500.0), "no_person": 1, "no_truth": 1, "off_grid": 1,
    }  # fmt: skip


def test_position_error_is_the_distance_from_the_posterior_mean_random(spark):
    rng = np.random.default_rng(3)
    n_tiles, n_points = 40, 150
    x_ll = rng.integers(0, 100, n_tiles) * 100.0
    y_ll = rng.integers(0, 100, n_tiles) * 100.0
    grid = spark.createDataFrame(
        [(i, float(x_ll[i]), float(y_ll[i])) for i in range(n_tiles)], GRID_SCHEMA
    )
    rows, truth, want = [], [], {}
    for k in range(n_points):
        tiles = rng.choice(n_tiles, size=rng.integers(1, 6), replace=False)
        p = rng.dirichlet(np.ones(len(tiles)))
        mean = np.array([(p * (x_ll[tiles] + 50)).sum(), (p * (y_ll[tiles] + 50)).sum()])
        at = rng.uniform(0, 10_000, 2)
        t = _h(k % 24)
        device = f"d{k // 24}"
        rows += [(device, t, int(j), float(q)) for j, q in zip(tiles, p, strict=True)]
        truth.append((k // 24, t, float(at[0]), float(at[1])))
        want[device, t] = float(np.hypot(*(mean - at)))
    errors = compute_position_errors(
        spark.createDataFrame(rows, POSTERIOR_TILES),
        grid=grid,
        truth_positions=spark.createDataFrame(
            truth, "person_id long, time_point timestamp, x double, y double"
        ),
        device_person=spark.createDataFrame(
            [(f"d{i}", i) for i in range(n_points // 24 + 1)], "device_id string, person_id long"
        ),
    )
    got = {(r.device_id, r.time_point): r.error_m for r in errors.collect()}
    assert got.keys() == want.keys()
    assert np.allclose([got[k] for k in want], list(want.values()), rtol=0, atol=1e-6)
    summary = position_error_summary(errors)
    assert summary["count"] == n_points
    assert summary["p50_m"] == pytest.approx(np.quantile(list(want.values()), 0.5), rel=0.05)


# --- stay recovery ------------------------------------------------------------------------------


def _segments(spark, rows):
    """``(device, date, index, state, start, end, best_tile)`` -> SEGMENTS_SCHEMA rows."""
    return spark.createDataFrame(
        [
            (
                d,
                date,
                i,
                state,
                s,
                e,
                1,
                [],
                [],
                None,
                tile,
                None if tile is None else 100.0,
                None if tile is None else [tile],
                False,
            )
            for d, date, i, state, s, e, tile in rows
        ],
        SEGMENTS_SCHEMA,
    )


@pytest.fixture(scope="module")
def stay_grid(spark):
    # tile n has its centre at (n * 100 + 50, 1050)
    return spark.createDataFrame([(n, n * 100.0, 1000.0) for n in range(100)], GRID_SCHEMA)


@pytest.fixture(scope="module")
def stay_case(spark):
    stays = spark.createDataFrame(
        [
            (1, _h(8), _h(12), 1050.0, 1050.0),  # S1, 4 h
            (1, _h(12.5), _h(12.8), 5050.0, 1050.0),  # S2, 18 min: not asked for by recall
            (1, _h(13), _h(18), 3050.0, 1050.0),  # S3, 5 h
            (2, _h(8), _h(18), 1050.0, 1050.0),  # person without a device on this MNO
        ],
        STAYS_SCHEMA,
    )
    d = T0.date()
    segments = _segments(
        spark,
        [
            ("d1", d, 0, "stay", _h(8.5), _h(11), 13),  # S1, 300 m off: matched
            ("d1", d, 1, "stay", _h(12.55), _h(12.75), 50),  # S2: matched
            ("d1", d, 2, "stay", _h(13.5), _h(17), 45),  # S3 in time, 1.5 km off
            ("d1", d, 3, "stay", _h(18), _h(20), 30),  # S3's place, after it (touching)
            ("d1", d, 4, "stay", _h(8), _h(9), None),  # no location
            ("d1", d, 5, "move", _h(11), _h(12.5), 10),  # not a stay
            ("d1b", d, 0, "stay", _h(9), _h(10), 999),  # tile not in the grid
            ("dx", d, 0, "stay", _h(8), _h(12), 10),  # device not in the map
        ],
    )
    device_person = spark.createDataFrame(
        [("d1", 1), ("d1b", 1)], "device_id string, person_id long"
    )
    return stays, segments, device_person


def test_stay_recovery_matches_in_time_and_space(stay_grid, stay_case):
    stays, segments, device_person = stay_case
    got = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person
    )
    assert got == {
        "recall": 0.5, "precision": 0.5, "true_stays": 2, "true_stays_matched": 1,
        "stay_segments": 4, "stay_segments_matched": 2, "stay_segments_unlocated": 2,
        "stay_segments_unmapped": 1, "min_duration_s": 3600, "max_distance_m": 1000,
    }  # fmt: skip
    # 1.5 km is within a 2 km radius: S3 is found too
    wide = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person,
        max_distance_m=2000,
    )  # fmt: skip
    assert (wide["recall"], wide["precision"]) == (1.0, 0.75)
    # every true stay asked for: S2 (18 min) counts and is matched
    short = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person,
        min_duration_s=0,
    )  # fmt: skip
    assert (short["true_stays"], short["true_stays_matched"]) == (3, 2)


def test_stay_recovery_window_clips_true_stays(stay_grid, stay_case):
    stays, segments, device_person = stay_case
    one_hour = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person,
        window=(_h(8), _h(9)),
    )  # fmt: skip
    # S1 clipped to 8-9 h still lasts 1 h; segments 0 and 4 (unlocated) are in the window
    assert one_hour["true_stays"] == 1 and one_hour["recall"] == 1.0
    assert (one_hour["stay_segments"], one_hour["stay_segments_unlocated"]) == (1, 1)
    shorter = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person,
        window=(_h(8), _h(8.5)),
    )  # fmt: skip
    assert shorter["true_stays"] == 0 and shorter["recall"] is None


def test_stay_recovery_across_midnight(spark, stay_grid):
    stays = spark.createDataFrame(
        [(1, _h(-2), _h(7), 1050.0, 1050.0), (1, _h(25), _h(27), 2050.0, 1050.0)], STAYS_SCHEMA
    )
    d = T0.date()
    segments = _segments(
        spark,
        [
            ("d1", d, 0, "stay", _h(1), _h(6), 10),  # the next day's part of the night
            # a local day in another time zone: 23:00 to 02:00 UTC touches two UTC days
            ("d1", d, 1, "stay", _h(23), _h(26), 20),
        ],
    )
    device_person = spark.createDataFrame([("d1", 1)], "device_id string, person_id long")
    got = compute_stay_recovery(
        segments, grid=stay_grid, truth_stays=stays, device_person=device_person
    )
    assert (got["recall"], got["precision"]) == (1.0, 1.0)


def test_stay_recovery_equals_brute_force_on_random_cases(spark, stay_grid):
    rng = np.random.default_rng(11)
    stays, segs, persons = [], [], range(30)
    for q in persons:
        t = float(rng.uniform(0, 5))
        while t < 72:
            dur = float(rng.exponential(3))
            stays.append((q, _h(t), _h(t + dur), float(rng.integers(0, 100) * 100 + 50), 1050.0))
            t += dur + float(rng.exponential(1))
        for i in range(int(rng.integers(0, 12))):
            s = float(rng.uniform(0, 72))
            tile = None if rng.uniform() < 0.1 else int(rng.integers(0, 100))
            segs.append((f"d{q}", T0.date(), i, "stay", _h(s), _h(s + rng.exponential(2)), tile))
    max_d, min_s = 1500.0, 5400.0

    def match(seg, st):
        _, _, _, _, a, b, tile = seg
        _, s, e, x, _ = st
        return tile is not None and a < e and s < b and abs(tile * 100 + 50 - x) <= max_d

    by_person = {q: [st for st in stays if st[0] == q] for q in persons}
    long = [st for st in stays if (st[2] - st[1]).total_seconds() >= min_s]
    located = [g for g in segs if g[6] is not None]
    want_recall = np.mean([any(match(g, st) for g in segs if g[0] == f"d{st[0]}") for st in long])
    want_precision = np.mean(
        [any(match(g, st) for st in by_person[int(g[0][1:])]) for g in located]
    )
    got = compute_stay_recovery(
        _segments(spark, segs),
        grid=stay_grid,
        truth_stays=spark.createDataFrame(stays, STAYS_SCHEMA),
        device_person=spark.createDataFrame(
            [(f"d{q}", q) for q in persons], "device_id string, person_id long"
        ),
        min_duration_s=min_s,
        max_distance_m=max_d,
    )
    assert got["true_stays"] == len(long) and got["stay_segments"] == len(located)
    assert got["recall"] == pytest.approx(want_recall)
    assert got["precision"] == pytest.approx(want_precision)
    assert 0.05 < got["recall"] < 0.95 and 0.05 < got["precision"] < 0.95  # not trivial


def test_stay_recovery_rejects_bad_thresholds(spark, stay_grid, stay_case):
    stays, segments, device_person = stay_case
    with pytest.raises(ValueError, match="max_distance_m"):
        compute_stay_recovery(
            segments, grid=stay_grid, truth_stays=stays, device_person=device_person,
            max_distance_m=0,
        )  # fmt: skip
