"""Spatial blocks of the EM: a block with its whole context gives the EM of the whole matrix,
and a block with a partial context still reports every device once."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from rmf_spark.slayer.present_population.blocks import compute_cell_blocks
from rmf_spark.slayer.present_population.em import em_iterate
from rmf_spark.slayer.present_population.estimators import compute_em_tile_devices
from rmf_spark.slayer.present_population.settings import BlockSettings, PresentPopulationSettings
from tests.slayer import tiny_world as tw


@st.composite
def sparse_problems(draw):
    """A random sparse P of cells x tiles (columns summing to 1 over their cells), counts,
    and a random home group per cell."""
    n_cells, n_tiles = draw(st.integers(2, 12)), draw(st.integers(2, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.floats(0.05, 0.4))
    mask = rng.random((n_cells, n_tiles)) < density
    mask[rng.integers(0, n_cells, n_tiles), np.arange(n_tiles)] = True  # every tile has a cell
    p = np.where(mask, rng.random((n_cells, n_tiles)) + 0.01, 0.0)
    p /= p.sum(axis=0, keepdims=True)
    counts = rng.integers(0, 40, n_cells).astype(float)
    home = rng.integers(0, draw(st.integers(1, 4)), n_cells)
    return p, counts, home


def _em(p: np.ndarray, c: np.ndarray, iterations: int, own=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    m = sparse.csr_matrix(p)
    return em_iterate(
        c, m, m.T.tocsr(), max_iterations=iterations, relative_tolerance=1e-13, own=own
    ).density


@settings(max_examples=200, deadline=None)
@given(sparse_problems(), st.integers(1, 8))
def test_em_by_blocks_with_their_components_equals_em_on_the_whole_matrix(case, iterations):
    """Each group holds the connected components of its home cells (cells linked by shared
    tiles) and reports its home cells' devices: the sum over groups is the whole EM."""
    p, c, home = case
    _, component = sparse.csgraph.connected_components(
        sparse.csr_matrix((p > 0).astype(float) @ (p > 0).T.astype(float)), directed=False
    )
    whole = _em(p, c, iterations)
    total = np.zeros_like(whole)
    for g in np.unique(home):
        rows = np.isin(component, component[home == g])
        total += _em(p[rows], c[rows], iterations, own=(home == g)[rows])
    np.testing.assert_allclose(total, whole, rtol=1e-9, atol=1e-9 * max(c.sum(), 1.0))
    assert np.isclose(total.sum(), c[(p > 0).any(axis=1)].sum())


def test_cell_blocks_hold_every_cell_near_a_block_and_one_home(spark):
    # tiles of 100 m: a cell spread over x in [0, 2.5 km), one on a single tile at x = 5.05 km
    def tid(e, n):
        return (e << 20) + n

    rows = [("A", "v1", tid(e, 0), 0.5 + (e == 3) * 0.1) for e in range(25)]
    rows += [("B", "v1", tid(50, 0), 1.0)]
    cp = spark.createDataFrame(
        rows, "cell_id string, footprint_version string, tile_id long, p_cell_given_tile double"
    )
    keys = ["cell_id", "footprint_version"]

    def blocks_of(halo_km: float) -> list[tuple[str, int, bool]]:
        got = compute_cell_blocks(cp, keys=keys, blocks=BlockSettings(km=1, halo_km=halo_km))
        # a block id packs (bx, by) as bx * 2**24 + by; every home here has by = 0
        return sorted((r.cell_id, r.block // (1 << 24), r.home) for r in got.collect())

    # A's home is the tile x = 350 m (block 0), B's x = 5.05 km (block 5). A 0.5 km halo puts
    # A in the squares of blocks -1..2 and B in 4..5, but only home blocks make groups.
    assert blocks_of(0.5) == [("A", 0, True), ("B", 5, True)]
    # with a 3 km halo A (x up to 2.45 km) reaches block 5 and joins B's group as context;
    # B (x = 5.05 km) reaches blocks 2..8, not 0
    assert blocks_of(3) == [("A", 0, True), ("A", 5, False), ("B", 5, True)]


def _tiny_counts(spark):
    g = tw.grid()
    cp = tw.connection_probability(g)
    events, _ = tw.events_and_truth(g, cp, n_devices=300)
    counts = (
        events.assign(time_point=events["event_ts"].dt.floor("h"))
        .groupby(["time_point", "cell_id", "footprint_version"], as_index=False)["device_id"]
        .nunique()
        .rename(columns={"device_id": "devices"})
    )
    return spark.createDataFrame(counts), spark.createDataFrame(cp)


def _em_tiles(counts, cp, blocks: BlockSettings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    got = compute_em_tile_devices(
        counts,
        connection_probability=cp,
        settings=PresentPopulationSettings(blocks=blocks),
        dominance_steepness=0.2,
    ).toPandas()
    return got.set_index(["time_point", "tile_id"])["devices"].sort_index()


def test_em_in_blocks_with_a_wide_halo_equals_one_block_and_keeps_totals_without(spark):
    """The tiny world (3 km x 1 km) in 500 m blocks: with a 5 km halo every group holds every
    cell, so the result is the single block's; with none the cells beyond a block are
    missing from its group, which moves devices between tiles but keeps every total."""
    counts, cp = _tiny_counts(spark)
    one = _em_tiles(counts, cp, BlockSettings(km=0))
    blocks = compute_cell_blocks(
        cp, keys=["cell_id", "footprint_version", "date"], blocks=BlockSettings(km=0.5)
    )
    assert blocks.where("home").select("block").distinct().count() >= 4
    wide = _em_tiles(counts, cp, BlockSettings(km=0.5, halo_km=5))
    pd.testing.assert_index_equal(wide.index, one.index)
    np.testing.assert_allclose(wide.to_numpy(), one.to_numpy(), rtol=1e-9)
    narrow = _em_tiles(counts, cp, BlockSettings(km=0.5, halo_km=0))
    per_tp = one.groupby(level="time_point").sum()
    np.testing.assert_allclose(narrow.groupby(level="time_point").sum()[per_tp.index], per_tp)
    assert np.abs(narrow - one.reindex(narrow.index, fill_value=0.0)).max() > 1e-6
