"""The sparse forward-backward against brute force, its limits, and its invariants."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from rmf_spark.slayer.device import hmm
from rmf_spark.slayer.device.hmm import (
    HmmResult,
    forward_backward,
    kernel_components,
    lattice_normaliser,
    location_summary,
    posterior_at,
)
from rmf_spark.slayer.device.settings import HmmSettings

# three tiles on the 100 m grid: two neighbours and one 300 m away
XY = np.array([[50.0, 50.0], [150.0, 50.0], [450.0, 50.0]])
PI = np.array([0.5, 0.3, 0.2])
E = np.array(
    [
        [0.6, 0.3, 0.0],
        [0.0, 0.5, 0.5],
        [0.2, 0.0, 0.9],
        [0.4, 0.4, 0.1],
    ]
)
TIMES = np.array([0.0, 0.0, 40.0, 7_200.0])  # a zero gap, a short and a long one
# a small reach at dt = 0 and a slow spread, so the toy's kernel matters at every step;
# tile by tile (no blocks for the wide component), as the brute force
TOY = HmmSettings(
    min_reach_m=150.0, scale_m=120.0, stay_speed_m_s=0.05, travel_speed_m_s=0.5,
    jump_probability=0.05, kernel_block_sds=0,
)  # fmt: skip


def _dense_transition(dt: float, s: HmmSettings, pi: np.ndarray) -> np.ndarray:
    dx = XY[None, :, 0] - XY[:, None, 0]
    dy = XY[None, :, 1] - XY[:, None, 1]
    kernel = np.zeros((len(XY), len(XY)))
    for weight, sd, reach in kernel_components(np.array([dt]), settings=s):
        inside = (np.abs(dx) <= reach[0]) & (np.abs(dy) <= reach[0])
        g = np.where(inside, np.exp(-(dx**2 + dy**2) / (2 * sd[0] ** 2)), 0.0)
        kernel += weight * g / lattice_normaliser(sd, reach)[0]
    return (1 - s.jump_probability) * kernel + s.jump_probability * pi[None, :]


def _brute_force(e: np.ndarray, times: np.ndarray, s: HmmSettings, pi: np.ndarray):
    """Every path of states, weighted: marginals per event and the likelihood."""
    n, m = e.shape
    trans = [_dense_transition(dt, s, pi) for dt in np.diff(times)]
    marg = np.zeros((n, m))
    total = 0.0
    for path in itertools.product(range(m), repeat=n):
        w = pi[path[0]] * e[0, path[0]]
        for k in range(1, n):
            w *= trans[k - 1][path[k - 1], path[k]] * e[k, path[k]]
        total += w
        for k, j in enumerate(path):
            marg[k, j] += w
    return marg / total, np.log(total)


def _fb(settings: HmmSettings, mass: float = 1.0, **kw):
    args = {"times_s": TIMES, "emission": sparse.csr_matrix(E), "xy_m": XY, "initial": PI}
    args.update(kw)
    return forward_backward(**args, settings=settings, mass=mass)


def test_forward_backward_equals_brute_force_enumeration():
    got = _fb(TOY)
    want, loglik = _brute_force(E, TIMES, TOY, PI)
    np.testing.assert_allclose(got.posterior.toarray(), want, rtol=1e-10, atol=1e-14)
    assert got.log_likelihood == pytest.approx(loglik, rel=1e-12)
    # the toy is informative: smoothing moves the first event away from its emission x prior
    independent = E[0] * PI / (E[0] * PI).sum()
    assert np.abs(want[0] - independent).max() > 0.03


def test_kept_or_checkpointed_forward_messages_give_the_same_posteriors():
    # 8 events of the 4 observations: blocks of 3, the last one short; 3^8 paths
    observation = np.array([0, 1, 2, 3, 3, 0, 1, 2])
    e = E[observation]
    times = np.cumsum([0.0, 0.0, 40.0, 7_200.0, 5.0, 300.0, 0.0, 60.0])
    want, loglik = _brute_force(e, times, TOY, PI)
    # every forward message kept (the default budget) or checkpoints only (a budget of 0)
    for budget in (TOY.forward_memory_mb, 0.0):
        settings = TOY.model_copy(update={"forward_memory_mb": budget})
        got = _fb(settings, times_s=times, observation=observation)
        np.testing.assert_allclose(got.posterior.toarray(), want, rtol=1e-9, atol=1e-14)
        assert got.log_likelihood == pytest.approx(loglik, rel=1e-12)


def test_flat_transition_gives_normalised_emission_times_prior():
    got = _fb(TOY.model_copy(update={"jump_probability": 1.0}))
    product = E * PI
    np.testing.assert_allclose(
        got.posterior.toarray(), product / product.sum(axis=1, keepdims=True), rtol=1e-12
    )
    assert got.log_likelihood == pytest.approx(np.log(product.sum(axis=1)).sum(), rel=1e-12)
    # with a kernel the same events are smoothed: the check can fail
    assert not np.allclose(_fb(TOY).posterior.toarray(), got.posterior.toarray(), atol=1e-3)


def _city_device(seed: int, n_events: int = 60):
    """Events on three overlapping footprints of 25 x 25 tiles, gaps of seconds to hours."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(40), np.arange(40))
    xy = np.column_stack([gx.ravel(), gy.ravel()]) * 100.0 + 50.0
    rows = []
    for cx, cy in [(12, 12), (27, 15), (18, 28)]:
        d = np.hypot(xy[:, 0] / 100 - cx, xy[:, 1] / 100 - cy)
        rows.append(np.where(np.abs(xy[:, 0] / 100 - cx) + np.abs(xy[:, 1] / 100 - cy) < 18,
                             np.exp(-d / 6), 0.0))  # fmt: skip
    e = sparse.csr_matrix(np.array(rows))
    gaps = rng.choice([5.0, 60.0, 600.0, 3_600.0, 10_800.0], size=n_events - 1)
    times = np.concatenate([[0.0], np.cumsum(gaps * rng.uniform(0.5, 1.5, n_events - 1))])
    observation = rng.integers(0, 3, n_events)
    return times, e, xy, rng.uniform(0.5, 1.5, len(xy)), observation


@pytest.mark.parametrize("seed", [1, 2])
def test_wide_kernel_from_blocks_stays_close_to_the_exact_one(seed):
    times, e, xy, prior, observation = _city_device(seed)
    exact_s = HmmSettings(kernel_block_sds=0)
    got = {
        name: forward_backward(times, e, xy, prior, settings=s, mass=1.0, observation=observation)
        for name, s in (("exact", exact_s), ("blocks", HmmSettings()))
    }
    a, b = got["exact"].posterior.toarray(), got["blocks"].posterior.toarray()
    # total variation per event, and the posterior means, stay close
    assert 0.5 * np.abs(a - b).sum(axis=1).max() < 0.02
    assert np.hypot(*((a - b) @ xy).T).max() < 25.0
    assert got["blocks"].log_likelihood == pytest.approx(got["exact"].log_likelihood, rel=1e-3)
    # the blocks are used: the products differ
    assert not np.array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.floats(50.0, 2_000.0),
    st.floats(100.0, 1_200.0),
)
def test_lattice_convolution_equals_the_dense_kernel_products(seed, sd, reach):
    # two footprints with holes, offset from each other, on the 100 m lattice
    rng = np.random.default_rng(seed)

    def layout(n: int, shift: tuple[int, int]) -> hmm._Layout:
        xs = np.sort(rng.choice(np.arange(60), size=n, replace=False)) + shift[0]
        ys = np.sort(rng.choice(np.arange(60), size=n, replace=False)) + shift[1]
        return hmm._Layout(xs * 100.0 + 50, ys * 100.0 + 50, None, None)

    src, dst = layout(30, (0, 0)), layout(25, (int(rng.integers(-20, 20)), 5))
    grid = rng.uniform(size=(len(src.uy), len(src.ux)))
    dense = hmm._spread_dense(grid, src.ux, src.uy, dst, sd=sd, reach=reach)
    lattice = hmm._spread_lattice(grid, src, dst, sd=sd, reach=reach)
    np.testing.assert_allclose(lattice, dense, rtol=1e-10, atol=1e-12)


def test_lattice_normaliser_matches_a_direct_sum_over_the_plane():
    def direct(sd: float, reach: float) -> float:
        n = int(reach // 100) + 1
        k = 100.0 * np.arange(-n, n + 1)
        dx, dy = np.meshgrid(k, k)
        inside = (np.abs(dx) <= reach) & (np.abs(dy) <= reach)
        return float(np.where(inside, np.exp(-(dx**2 + dy**2) / (2 * sd * sd)), 0.0).sum())

    for sd, reach in [(150.0, 1_200.0), (80.0, 250.0), (2_000.0, 10_000.0)]:
        got = lattice_normaliser(np.array([sd]), np.array([reach]))[0]
        assert got == pytest.approx(direct(sd, reach), rel=1e-12)


def test_posteriors_keep_their_fewest_tiles_holding_the_mass():
    full, part = _fb(TOY), _fb(TOY, mass=0.6)
    for k in range(len(TIMES)):
        p = full.posterior[[k]].toarray().ravel()
        kept = part.posterior[[k]].indices
        order = np.argsort(-p, kind="stable")
        n_keep = int(np.searchsorted(np.cumsum(p[order]), 0.6)) + 1
        assert sorted(kept) == sorted(order[:n_keep])
        np.testing.assert_allclose(part.posterior[[k]].data, p[kept] / p[kept].sum())
    assert part.log_likelihood == full.log_likelihood


def test_posterior_at_takes_the_nearest_event_and_the_earlier_on_a_tie():
    result = HmmResult(sparse.csr_matrix(np.eye(3)), 0.0, np.array([0.0, 100.0, 100.0]))
    got = posterior_at(result, np.array([-30.0, 50.0, 51.0, 100.0, 170.0]), tolerance_s=60.0)
    np.testing.assert_array_equal(
        got.toarray(),
        [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]],
    )


def test_location_summary_radius_grows_with_the_mass():
    w = np.array([0.5, 0.25, 0.25])
    assert location_summary(w, XY, mass=0.5) == (0, 0.0)
    assert location_summary(w, XY, mass=0.75) == (0, 100.0)
    assert location_summary(w, XY, mass=0.95) == (0, 400.0)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="sorted"):
        _fb(TOY, times_s=TIMES[::-1])
    with pytest.raises(ValueError, match="prior_uniform_share"):
        _fb(TOY, initial=np.array([0.5, 0.5, 0.0]))
    no_tile = sparse.csr_matrix(np.vstack([E[:3], np.zeros(3)]))
    with pytest.raises(ValueError, match=r"events \[3\]"):
        _fb(TOY, emission=no_tile)


@st.composite
def _devices(draw):
    n_tiles = draw(st.integers(1, 9))
    n = draw(st.integers(1, 12))
    cells = draw(st.lists(st.integers(0, 15), min_size=n_tiles, max_size=n_tiles, unique=True))
    xy = np.array([[100.0 * (c % 4) + 50, 100.0 * (c // 4) + 50] for c in cells])
    e = np.zeros((n, n_tiles))
    for k in range(n):
        support = draw(st.lists(st.integers(0, n_tiles - 1), min_size=1, max_size=n_tiles))
        for j in support:
            e[k, j] = draw(st.floats(1e-6, 1.0))
    gaps = draw(st.lists(st.floats(0, 20_000), min_size=n - 1, max_size=n - 1))
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    prior = np.array(draw(st.lists(st.floats(1e-6, 1.0), min_size=n_tiles, max_size=n_tiles)))
    s = HmmSettings(
        jump_probability=draw(st.floats(1e-9, 1.0)),
        scale_m=draw(st.floats(10.0, 5_000.0)),
        min_reach_m=draw(st.floats(0.0, 2_000.0)),
    )
    return times, sparse.csr_matrix(e), xy, prior, s


@settings(max_examples=150, deadline=None)
@given(_devices(), st.floats(0.05, 1.0), st.floats(0.0, 30_000.0))
def test_posteriors_sum_to_one_per_event_and_time_point(device, mass, tolerance):
    times, e, xy, prior, s = device
    got = forward_backward(times, e, xy, prior, settings=s, mass=mass)
    assert np.isfinite(got.log_likelihood) and got.log_likelihood <= 1e-9
    post = got.posterior.toarray()
    assert (post >= 0).all()
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-9)
    assert ((post > 0) <= (e.toarray() > 0)).all()  # only where the event can come from
    at_s = np.linspace(-5_000, times[-1] + 5_000, 13)
    row_sums = np.asarray(posterior_at(got, at_s, tolerance_s=tolerance).sum(axis=1)).ravel()
    assert np.all(np.isclose(row_sums, 1.0) | (row_sums == 0))
    near = np.abs(at_s[:, None] - times[None, :]).min(axis=1)
    np.testing.assert_array_equal(row_sums > 0, near <= tolerance)


def test_examples_in_docstrings_run():
    assert doctest.testmod(hmm, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
