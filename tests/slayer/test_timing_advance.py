"""Timing advance as a likelihood: bands cover every point of a tile, rows sum back to
P(cell | tile), the EM uses the ring, and an impossible TA loses no device."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from chispa import assert_df_equality
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.slayer.present_population.em import observation_matrix
from rmf_spark.slayer.present_population.estimators import compute_em_tile_devices
from rmf_spark.slayer.present_population.observations import compute_cell_counts
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings
from rmf_spark.slayer.present_population.timing_advance import TILE_HALF_DIAGONAL_M, ta_band_range

LTE = 78.12
T0 = datetime(2024, 3, 5, 10)


@settings(max_examples=200, deadline=None)
@given(
    d=st.floats(0.0, 20_000.0),
    step=st.sampled_from([LTE, 553.85, 39.06]),
    buffer=st.integers(0, 3),
    frac=st.floats(-1.0, 1.0),
)
def test_bands_hold_the_ta_of_every_point_of_the_tile(d, step, buffer, frac):
    lo, hi = ta_band_range(np.array([d]), step, buffer=buffer)
    r = max(d + frac * TILE_HALF_DIAGONAL_M, 0.0)  # a point of the tile
    assert 0 <= lo[0] <= np.floor(r / step) <= hi[0]
    assert hi[0] - lo[0] + 1 >= 2 * buffer + 1 or lo[0] == 0


def _cp(distances: list[float], p: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell_id": "c1",
            "footprint_version": "v1",
            "tile_id": np.arange(len(distances), dtype="int64"),
            "p_cell_given_tile": p,
            "distance_m": distances,
        }
    )


def _obs(tas: list[float | None], step: float = LTE) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell_id": "c1",
            "footprint_version": "v1",
            "timing_advance": pd.array(tas, dtype="Float64"),
            "ta_step_m": [step if t is not None else None for t in tas],
        }
    )


def test_rows_of_every_ta_sum_back_to_p_cell_given_tile():
    rng = np.random.default_rng(3)
    distances = rng.uniform(0, 3000, 50).tolist()
    p = rng.uniform(0.05, 1.0, 50).tolist()
    # every band some tile can produce, as observations (a band no tile can produce would
    # fall back to the cell's row: tested below)
    lo, hi = ta_band_range(np.array(distances), LTE, buffer=1)
    all_bands = sorted({k for a, b in zip(lo, hi, strict=True) for k in range(a, b + 1)})
    matrix, tiles = observation_matrix(_obs(all_bands), _cp(distances, p), ta_buffer=1)
    assert tiles.tolist() == list(range(50))
    np.testing.assert_allclose(np.asarray(matrix.sum(axis=0)).ravel(), p, rtol=1e-12)


def test_observation_without_ta_is_the_cell_row():
    matrix, _ = observation_matrix(_obs([None]), _cp([100.0, 900.0], [0.3, 0.7]), ta_buffer=1)
    np.testing.assert_allclose(matrix.toarray(), [[0.3, 0.7]])


def test_ta_no_tile_can_produce_falls_back_to_the_cell_row():
    matrix, _ = observation_matrix(_obs([200]), _cp([100.0, 900.0], [0.3, 0.7]), ta_buffer=1)
    np.testing.assert_allclose(matrix.toarray(), [[0.3, 0.7]])


def _counts(spark, rows):
    return spark.createDataFrame(
        [(T0, "c1", "v1", ta, LTE if ta is not None else None, n) for ta, n in rows],
        "time_point timestamp, cell_id string, footprint_version string, timing_advance int, "
        "ta_step_m double, devices long",
    )


def _tiles(spark, devices: dict[int, float]):
    """Expected EM output: devices per tile at T0."""
    return spark.createDataFrame(
        [(T0, t, d) for t, d in devices.items()],
        "time_point timestamp, tile_id long, devices double",
    )


def _em(counts, cp):
    return compute_em_tile_devices(
        counts,
        connection_probability=cp,
        settings=PresentPopulationSettings(),
        dominance_steepness=0.2,
    )


def test_em_puts_devices_in_the_ring_of_their_ta(spark):
    # one cell, two tiles the radio model cannot tell apart, 150 m and 1 km from the antenna
    cp = spark.createDataFrame(_cp([150.0, 1000.0], [1.0, 1.0]))
    far = int(1000.0 // LTE)
    with_ta = _em(_counts(spark, [(far, 10)]), cp)
    assert_df_equality(with_ta, _tiles(spark, {1: 10.0}), ignore_nullable=True)
    without = _em(_counts(spark, [(None, 10)]), cp)
    assert_df_equality(
        without, _tiles(spark, {0: 5.0, 1: 5.0}), ignore_row_order=True, ignore_nullable=True
    )
    # a TA beyond the footprint keeps its devices (cell row): totals are conserved
    mixed = _em(_counts(spark, [(far, 10), (200, 4), (None, 6)]), cp)
    assert np.isclose(sum(r["devices"] for r in mixed.collect()), 20.0)


def test_cell_counts_keep_ta_only_for_technologies_with_a_step(spark):
    points = spark.createDataFrame(
        [
            ("d1", T0, "c1", "v1", T0, "4G", 7),
            ("d2", T0, "c1", "v1", T0, "4G", 7),
            ("d3", T0, "c1", "v1", T0, "3G", 7),
            ("d4", T0, "c1", "v1", T0, "4G", None),
        ],
        "device_id string, time_point timestamp, cell_id string, footprint_version string, "
        "event_ts timestamp, technology string, timing_advance int",
    )
    counts = "time_point timestamp, cell_id string, footprint_version string, "
    counts += "timing_advance int, ta_step_m double, devices long"
    assert_df_equality(
        compute_cell_counts(points, ta_step_m={"4G": LTE}),
        spark.createDataFrame(
            [(T0, "c1", "v1", 7, LTE, 2), (T0, "c1", "v1", None, None, 2)], counts
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(
        compute_cell_counts(points, ta_step_m={}),
        spark.createDataFrame([(T0, "c1", "v1", None, None, 4)], counts),
        ignore_nullable=True,
    )
