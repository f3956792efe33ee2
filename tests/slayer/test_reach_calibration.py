"""Reach calibration: per-cell path-loss offsets fitted to the timing advance."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from chispa import assert_approx_df_equality, assert_df_equality
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.clayer.radio import log_distance_strength_dbm, signal_dominance
from rmf_spark.slayer.present_population.estimators import compute_em_tile_devices
from rmf_spark.slayer.present_population.reach_calibration import (
    apply_reach_offsets,
    calibrate_reach,
    compute_reach_offsets,
    compute_ta_event_counts,
)
from rmf_spark.slayer.present_population.settings import (
    BlockSettings,
    PresentPopulationSettings,
    ReachCalibrationSettings,
)

STEP = 78.12
STEEPNESS = 0.2
# 80 tiles of 100 m on a line between two omni cells 8 km apart, 1.5 km off the line
TILE_X = 50.0 + 100.0 * np.arange(80)
CELLS = {"A": 0.0, "B": 8000.0}


def _distance(cell: str) -> np.ndarray:
    return np.hypot(TILE_X - CELLS[cell], 1500.0)


def _dominance(ple: dict[str, float]) -> dict[str, np.ndarray]:
    return {
        c: signal_dominance(
            log_distance_strength_dbm(10.0, _distance(c), ple[c]),
            midpoint_dbm=-92.5,
            steepness=STEEPNESS,
        )
        for c in CELLS
    }


def _cp(dom: dict[str, np.ndarray]) -> pd.DataFrame:
    total = sum(dom.values())
    return pd.concat(
        pd.DataFrame(
            {
                "cell_id": c,
                "footprint_version": "v1",
                "tile_id": np.arange(len(TILE_X), dtype=np.int64),
                "p_cell_given_tile": dom[c] / total,
                "distance_m": _distance(c),
                "signal_dominance": dom[c],
            }
        )
        for c in CELLS
    ).reset_index(drop=True)


def _ta_events(p_true: pd.DataFrame, devices_per_tile: np.ndarray) -> pd.DataFrame:
    """Expected events per (cell, TA band) of devices spread as given, under the true model."""
    ev = p_true.assign(
        devices=devices_per_tile[p_true["tile_id"].to_numpy()] * p_true["p_cell_given_tile"],
        timing_advance=np.floor(p_true["distance_m"] / STEP).astype(int),
        ta_step_m=STEP,
    )
    keys = ["cell_id", "footprint_version", "timing_advance", "ta_step_m"]
    return ev.groupby(keys, as_index=False)["devices"].sum()


def _p(frame: pd.DataFrame) -> np.ndarray:
    return frame.sort_values(["cell_id", "tile_id"])["p_cell_given_tile"].to_numpy()


NOMINAL = _cp(_dominance({"A": 3.75, "B": 3.75}))
TRUE = _cp(_dominance({"A": 4.25, "B": 3.75}))  # cell A really reaches less far


def test_calibration_recovers_a_shorter_reach_and_moves_p_towards_the_truth():
    devices = np.where(np.arange(80) % 7 == 0, 300.0, 100.0)  # uneven, unknown to the method
    got = calibrate_reach(
        NOMINAL,
        _ta_events(TRUE, devices),
        settings=ReachCalibrationSettings(rounds=8, min_events=10),
        steepness=STEEPNESS,
        ta_buffer=1,
    )
    off = got.offsets.set_index("cell_id")["ple_offset"]
    assert 0.35 < off["A"] < 0.65, off.to_dict()  # true offset +0.5
    assert off["A"] - off["B"] > 0.3
    before = np.abs(_p(NOMINAL) - _p(TRUE)).sum()
    after = np.abs(_p(got.connection_probability) - _p(TRUE)).sum()
    assert after < 0.1 * before, (before, after)
    # the calibrated model's mean distance of A's devices is close to the observed one
    row = got.offsets.set_index("cell_id").loc["A"]
    assert abs(row["model_mean_m"] - row["observed_mean_m"]) < 150.0


def test_no_ta_events_or_too_few_leave_the_model_unchanged():
    empty = _ta_events(TRUE, np.ones(80)).iloc[0:0]
    got = calibrate_reach(
        NOMINAL, empty, settings=ReachCalibrationSettings(), steepness=STEEPNESS, ta_buffer=1
    )
    np.testing.assert_allclose(_p(got.connection_probability), _p(NOMINAL), rtol=1e-9)
    assert (got.offsets["ple_offset"] == 0).all()
    few = _ta_events(TRUE, np.full(80, 0.1))  # 8 events in all, under min_events
    got = calibrate_reach(
        NOMINAL, few, settings=ReachCalibrationSettings(), steepness=STEEPNESS, ta_buffer=1
    )
    np.testing.assert_allclose(_p(got.connection_probability), _p(NOMINAL), rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    ple_a=st.floats(3.0, 5.0),
    ple_b=st.floats(3.0, 5.0),
    scale=st.floats(1.0, 1000.0),
    rounds=st.integers(1, 4),
)
def test_calibrated_p_cell_given_tile_sums_to_one_and_offsets_stay_on_the_grid(
    ple_a, ple_b, scale, rounds
):
    cfg = ReachCalibrationSettings(rounds=rounds, min_events=1, max_offset=0.5)
    truth = _cp(_dominance({"A": ple_a, "B": ple_b}))
    got = calibrate_reach(
        NOMINAL,
        _ta_events(truth, np.full(80, scale)),
        settings=cfg,
        steepness=STEEPNESS,
        ta_buffer=1,
    )
    sums = got.connection_probability.groupby("tile_id")["p_cell_given_tile"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=1e-9)
    assert (got.offsets["ple_offset"].abs() <= 0.5 + 1e-12).all()


def test_ta_event_counts_per_date_cell_and_band(spark):
    rows = [
        # usable 4G events: two in band 3 on the 13th, one in band 5 on the 14th
        ("d1", datetime(2024, 5, 13, 8), "A", "v1", "4G", 3, True, date(2024, 5, 13)),
        ("d2", datetime(2024, 5, 13, 9), "A", "v1", "4G", 3, True, date(2024, 5, 13)),
        ("d1", datetime(2024, 5, 14, 1), "A", "v1", "4G", 5, True, date(2024, 5, 14)),
        # left out: 3G (no step), no TA, not usable, outside the dates
        ("d1", datetime(2024, 5, 13, 10), "B", "v1", "3G", 2, True, date(2024, 5, 13)),
        ("d1", datetime(2024, 5, 13, 11), "A", "v1", "4G", None, True, date(2024, 5, 13)),
        ("d3", datetime(2024, 5, 13, 12), "A", "v1", "4G", 3, False, date(2024, 5, 13)),
        ("d3", datetime(2024, 5, 16, 12), "A", "v1", "4G", 3, True, date(2024, 5, 16)),
    ]
    events = spark.createDataFrame(
        rows,
        "device_id string, event_ts timestamp, cell_id string, footprint_version string, "
        "technology string, timing_advance int, usable boolean, date date",
    )
    got = compute_ta_event_counts(
        events,
        start=datetime(2024, 5, 13),
        end=datetime(2024, 5, 14, 23),
        ta_step_m={"4G": STEP},
    )
    expected = spark.createDataFrame(
        [
            (date(2024, 5, 13), "A", "v1", 3, STEP, 2.0),
            (date(2024, 5, 14), "A", "v1", 5, STEP, 1.0),
        ],
        "date date, cell_id string, footprint_version string, timing_advance int, "
        "ta_step_m double, devices double",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_offsets_table_reproduces_the_calibration_and_em_conserves_devices(spark):
    """The per-date offsets table (one row per cell, ``calibrated`` flag) applied to the
    nominal model gives calibrate_reach's P(cell | tile); with it the EM keeps, per time
    point, every device it was given."""
    t0, t1 = datetime(2024, 5, 13, 4), datetime(2024, 5, 13, 16)
    truth = _ta_events(TRUE, np.full(80, 50.0))
    day = date(2024, 5, 13)
    cfg = ReachCalibrationSettings(min_events=10)
    cp = spark.createDataFrame(NOMINAL.assign(date=day))
    ta_events = spark.createDataFrame(truth.assign(date=day))
    table = compute_reach_offsets(
        cp, ta_events, settings=cfg, steepness=STEEPNESS, ta_buffer=1, blocks=BlockSettings()
    ).cache()
    direct = calibrate_reach(NOMINAL, truth, settings=cfg, steepness=STEEPNESS, ta_buffer=1)
    # one row per cell of the date, calibrated, with calibrate_reach's offset
    assert_approx_df_equality(
        table.select("date", "cell_id", "calibrated", "ple_offset"),
        spark.createDataFrame(
            direct.offsets.assign(date=day, calibrated=True)[
                ["date", "cell_id", "calibrated", "ple_offset"]
            ]
        ),
        precision=1e-9,
        ignore_row_order=True,
        ignore_nullable=True,
    )
    offsets = table.toPandas()
    table.unpersist()
    applied = apply_reach_offsets(
        NOMINAL.merge(offsets[["cell_id", "footprint_version", "ple_offset"]]),
        steepness=STEEPNESS,
    )
    np.testing.assert_allclose(_p(applied), _p(direct.connection_probability), rtol=1e-9)

    counts = spark.createDataFrame(
        [
            (t, r.cell_id, "v1", int(r.timing_advance), STEP, int(np.rint(r.devices * f)))
            for t, f in ((t0, 0.2), (t1, 0.1))
            for r in truth.itertuples()
        ],
        "time_point timestamp, cell_id string, footprint_version string, timing_advance int, "
        "ta_step_m double, devices long",
    )
    got = (
        compute_em_tile_devices(
            counts,
            connection_probability=cp,
            settings=PresentPopulationSettings(),
            reach_offsets=spark.createDataFrame(offsets),
            dominance_steepness=STEEPNESS,
        )
        .groupBy("time_point")
        .sum("devices")
        .collect()
    )
    expected_totals = {
        t: float(sum(int(np.rint(r.devices * f)) for r in truth.itertuples()))
        for t, f in ((t0, 0.2), (t1, 0.1))
    }
    assert {r[0]: round(r[1], 6) for r in got} == expected_totals
