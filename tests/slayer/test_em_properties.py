"""Properties of the EM on random sparse P(cell | tile): devices are conserved, the density is
non-negative, and it is zero on every tile that no counted cell covers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.slayer.present_population.em import em_density, em_iterate, observation_matrix

LTE = 78.12


@st.composite
def sparse_problems(draw):
    """Counts per cell and a sparse P in coordinate form. Each tile's column is spread over a
    few cells and sums to a value near 1 (rounding, pruning); some cells have no footprint and
    some tiles no cell."""
    n_cells = draw(st.integers(1, 8))
    n_tiles = draw(st.integers(1, 25))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for j in range(n_tiles):
        if rng.random() < 0.2:
            continue  # a tile no cell reaches
        cells = rng.choice(n_cells, size=rng.integers(1, n_cells + 1), replace=False)
        w = rng.uniform(0.01, 1.0, len(cells))
        w *= rng.uniform(0.9, 1.1) / w.sum()
        rows += cells.tolist()
        cols += [j] * len(cells)
        vals += w.tolist()
    counts = rng.integers(0, 50, n_cells).astype(float)
    counts[rng.random(n_cells) < 0.3] = 0.0
    return counts, np.array(rows, dtype=int), np.array(cols, dtype=int), np.array(vals), n_tiles


def _check(density: np.ndarray, counts: np.ndarray, p: np.ndarray) -> None:
    located = p.sum(axis=1) > 0  # cells with a footprint
    covered = (p[(counts > 0) & located] > 0).any(axis=0)  # tiles a counted cell reaches
    assert (density >= 0).all()
    assert np.isclose(density.sum(), counts[located].sum(), rtol=1e-9, atol=1e-9)
    assert (density[~covered] == 0).all()


@settings(max_examples=200, deadline=None)
@given(problem=sparse_problems(), iterations=st.integers(1, 60))
def test_em_density_conserves_devices_and_stays_non_negative(problem, iterations):
    counts, i, j, v, n_tiles = problem
    got = em_density(
        counts, i, j, v, n_tiles=n_tiles, max_iterations=iterations, relative_tolerance=1e-12
    )
    dense = np.zeros((len(counts), n_tiles))
    dense[i, j] = v
    assert got.density.shape == (n_tiles,)
    assert 0 <= got.iterations <= iterations
    _check(got.density, counts, dense)


@st.composite
def ta_problems(draw):
    """One footprint (cell, tile, P, distance) per cell, and observations with and without a
    timing advance, some with a TA no tile of the cell can produce, some of unknown cells."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_cells = draw(st.integers(1, 5))
    n_tiles = draw(st.integers(1, 20))
    cp = []
    for c in range(n_cells):
        tiles = rng.choice(n_tiles, size=rng.integers(1, n_tiles + 1), replace=False)
        cp += [(f"c{c}", "v1", int(t), rng.uniform(0.01, 1.0), rng.uniform(0, 3000)) for t in tiles]
    cp = pd.DataFrame(
        cp, columns=["cell_id", "footprint_version", "tile_id", "p_cell_given_tile", "distance_m"]
    )
    obs = []
    for c in range(n_cells + 1):  # c == n_cells: a cell without footprint
        for ta in {None, *rng.integers(0, 45, rng.integers(0, 4)).tolist()}:
            obs.append((f"c{c}", "v1", ta, None if ta is None else LTE))
    obs = pd.DataFrame(obs, columns=["cell_id", "footprint_version", "timing_advance", "ta_step_m"])
    obs["timing_advance"] = obs["timing_advance"].astype("Float64")
    counts = rng.integers(0, 30, len(obs)).astype(float)
    return obs, cp, counts, draw(st.integers(0, 2))


@settings(max_examples=100, deadline=None)
@given(problem=ta_problems(), iterations=st.integers(1, 40))
def test_em_on_ta_observations_conserves_devices_of_cells_with_a_footprint(problem, iterations):
    obs, cp, counts, buffer = problem
    p, tiles = observation_matrix(obs, cp, ta_buffer=buffer)
    got = em_iterate(counts, p, p.T.tocsr(), max_iterations=iterations, relative_tolerance=1e-12)
    dense = p.toarray()
    # every observation of a cell with a footprint has a row (TA band or the cell's fallback)
    has_footprint = obs["cell_id"].isin(cp["cell_id"]).to_numpy()
    assert ((dense.sum(axis=1) > 0) == has_footprint).all()
    assert sorted(tiles.tolist()) == sorted(cp["tile_id"].unique().tolist())
    _check(got.density, counts, dense)
