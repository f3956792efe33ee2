"""The EM estimator on a case with a known answer, the naive baseline, and conservation."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from rmf_spark.slayer.present_population.em import em_density
from rmf_spark.slayer.present_population.estimators import (
    compute_em_tile_devices,
    compute_naive_tile_devices,
)
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings

# Three overlapping cells over three tiles; column j = P(cell | tile j), each column sums to 1.
P = np.array([[0.8, 0.2, 0.0], [0.2, 0.6, 0.2], [0.0, 0.2, 0.8]])
U_TRUE = np.array([100.0, 20.0, 60.0])
C = P @ U_TRUE  # expected devices per cell: [84, 44, 52]
T0 = datetime(2024, 3, 5, 10)


def _coo(p: np.ndarray):
    i, j = np.nonzero(p)
    return i, j, p[i, j]


def _dense_em_reference(c: np.ndarray, p: np.ndarray, iterations: int) -> np.ndarray:
    covered = (p[c > 0] > 0).any(axis=0)
    u = np.where(covered, c.sum() / covered.sum(), 0.0)
    for _ in range(iterations):
        u = u * (p.T @ (c / (p @ u)))
    return u


def test_em_density_recovers_known_density():
    i, j, v = _coo(P)
    got = em_density(C, i, j, v, n_tiles=3, max_iterations=5000, relative_tolerance=1e-10)
    assert got.converged
    np.testing.assert_allclose(got.density, np.linalg.solve(P, C), rtol=1e-5)
    np.testing.assert_allclose(got.density, U_TRUE, rtol=1e-5)
    assert got.density.sum() == C.sum() or np.isclose(got.density.sum(), C.sum())


def test_em_density_matches_numpy_reference_and_stops_at_cap():
    i, j, v = _coo(P)
    got = em_density(C, i, j, v, n_tiles=3, max_iterations=7, relative_tolerance=1e-12)
    assert got.iterations == 7 and not got.converged
    np.testing.assert_allclose(got.density, _dense_em_reference(C, P, 7), rtol=1e-12)
    np.testing.assert_allclose(got.density.sum(), C.sum())


def test_em_density_starts_uniform_over_covered_tiles_only():
    p = np.array([[1.0, 0.5, 0.0, 0.0], [0.0, 0.5, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    i, j, v = _coo(p)
    got = em_density(
        np.array([6.0, 0.0, 0.0]), i, j, v, n_tiles=4, max_iterations=1, relative_tolerance=1e-4
    )
    # tiles 0 and 1 are covered by the only counted cell; one step from [3, 3, 0, 0]
    np.testing.assert_allclose(got.density, [4.0, 2.0, 0.0, 0.0])


def _frames(spark):
    counts = spark.createDataFrame(
        [(T0, f"C{i}", "v1", int(c)) for i, c in enumerate(C)],
        "time_point timestamp, cell_id string, footprint_version string, devices long",
    )
    prior_post = P / P.sum(axis=1, keepdims=True)  # P(tile | cell) with a uniform prior
    i, j, v = _coo(P)
    cp = spark.createDataFrame(
        [
            (f"C{a}", "v1", int(b), float(p), float(prior_post[a, b]))
            for a, b, p in zip(i, j, v, strict=True)
        ],
        "cell_id string, footprint_version string, tile_id long, p_cell_given_tile double, "
        "p_tile_given_cell double",
    )
    return counts, cp


TILE_DEVICES = "time_point timestamp, tile_id long, devices double"


def _tile_devices(spark, devices: np.ndarray):
    return spark.createDataFrame([(T0, j, float(u)) for j, u in enumerate(devices)], TILE_DEVICES)


def test_compute_em_beats_naive_and_conserves_totals(spark):
    counts, cp = _frames(spark)
    em = compute_em_tile_devices(
        counts,
        connection_probability=cp,
        settings=PresentPopulationSettings(max_iterations=5000, relative_tolerance=1e-10),
        dominance_steepness=0.2,
    ).cache()
    naive = compute_naive_tile_devices(counts, connection_probability=cp)
    # each cell's most probable tile is its own tile: naive puts C on the tiles
    assert_df_equality(naive, _tile_devices(spark, C), ignore_row_order=True, ignore_nullable=True)
    # EM within 2e-3 of the true density on every tile: at least 100 times closer than naive
    # (|C - U_TRUE| sums to 48)
    assert_approx_df_equality(
        em,
        _tile_devices(spark, U_TRUE),
        precision=2e-3,
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert em.agg(F.sum("devices")).first()[0] == pytest.approx(C.sum(), rel=1e-9)
    em.unpersist()


def test_compute_naive_ties_go_to_smallest_tile(spark):
    counts = spark.createDataFrame(
        [(T0, "A", "v1", 5)],
        "time_point timestamp, cell_id string, footprint_version string, devices long",
    )
    cp = spark.createDataFrame(
        [("A", "v1", 9, 1.0, 0.5), ("A", "v1", 4, 1.0, 0.5)],
        "cell_id string, footprint_version string, tile_id long, p_cell_given_tile double, "
        "p_tile_given_cell double",
    )
    got = compute_naive_tile_devices(counts, connection_probability=cp)
    assert_df_equality(
        got, spark.createDataFrame([(T0, 4, 5.0)], TILE_DEVICES), ignore_nullable=True
    )


def test_each_time_point_uses_the_probabilities_of_its_own_date(spark):
    """Cell A covers tile 1 on the first day and tile 2 on the next (a new plan)."""
    t1 = T0.replace(day=T0.day + 1)
    counts = spark.createDataFrame(
        [(T0, "A", "v1", 5), (t1, "A", "v1", 7)],
        "time_point timestamp, cell_id string, footprint_version string, devices long",
    )
    cp = spark.createDataFrame(
        [("A", "v1", 1, 1.0, 1.0, T0.date()), ("A", "v1", 2, 1.0, 1.0, t1.date())],
        "cell_id string, footprint_version string, tile_id long, p_cell_given_tile double, "
        "p_tile_given_cell double, date date",
    )
    expected = spark.createDataFrame([(T0, 1, 5.0), (t1, 2, 7.0)], TILE_DEVICES)
    em = compute_em_tile_devices(
        counts,
        connection_probability=cp,
        settings=PresentPopulationSettings(),
        dominance_steepness=0.2,
    )
    naive = compute_naive_tile_devices(counts, connection_probability=cp)
    for got in (em, naive):
        assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
