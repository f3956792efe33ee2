"""Duplicate matching of the fusion stage: the keyed hash against SipHash's reference, MinHash
against brute force and the Jaccard similarity, LSH against its S-curve, a planted duplicate
and a planted household pair, the one-to-one assignment, the counts per zone, and what an
export holds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.errors import FusionError
from rmf_spark.fusion.matching import (
    DEFAULT_PARAMS,
    MERSENNE_P,
    MatchingParams,
    SignatureExport,
    _coefficients,
    _one_to_one,
    candidate_probability,
    copresence,
    duplicate_counts_per_zone,
    estimate_jaccard,
    export_signatures,
    key_check_value,
    keyed_token_hash,
    lsh_candidates,
    match_devices,
    minhash_signatures,
    working_hours,
)

KEY = bytes(range(16))
MONDAY = 19723  # 2024-01-01
MASK = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# keyed token hash


def _siphash24_ref(m: int, key: bytes) -> int:
    """SipHash-2-4 of one 8-byte little-endian word, in plain Python integers."""

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & MASK

    def rounds(v: list[int], n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & MASK
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D]
    v += [k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    for block in (m, 8 << 56):
        v[3] ^= block
        rounds(v, 2)
        v[0] ^= block
    v[2] ^= 0xFF
    rounds(v, 4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def test_keyed_hash_is_siphash24_reference_vector():
    # The authors' vector for key 00..0f and the 8-byte message 00..07 (the word
    # 0x0706050403020100: day 0x0706, slot 0x05, tile 0x0403020100).
    h = keyed_token_hash(np.array([0x0706]), np.array([0x05]), np.array([0x0403020100]), KEY)
    assert h.dtype == np.uint64
    assert int(h[0]) == 0x93F5F5799A932462
    assert _siphash24_ref(0x0706050403020100, KEY) == 0x93F5F5799A932462


@settings(max_examples=20, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    day=st.integers(0, 2**16 - 1),
    slot=st.integers(0, 255),
    tile=st.integers(0, 2**40 - 1),
)
def test_keyed_hash_equals_reference_for_any_key(key, day, slot, tile):
    got = keyed_token_hash(np.array([day, 1]), np.array([slot, 2]), np.array([tile, 3]), key)
    assert int(got[0]) == _siphash24_ref((day << 48) | (slot << 40) | tile, key)


def test_keyed_hash_needs_key_and_fields_in_range():
    day, slot, tile = np.array([MONDAY]), np.array([3]), np.array([4000 * 2**20 + 3000])
    other_key = bytes(range(1, 17))
    assert keyed_token_hash(day, slot, tile, KEY) != keyed_token_hash(day, slot, tile, other_key)
    assert key_check_value(KEY) != key_check_value(other_key)
    with pytest.raises(ValueError, match="16 bytes"):
        keyed_token_hash(day, slot, tile, b"short")
    with pytest.raises(FusionError) as err:
        keyed_token_hash(day, np.array([256]), tile, KEY)
    assert err.value.code == "FUSION_TOKEN_RANGE"


def test_working_hours():
    days = np.array([MONDAY, MONDAY, MONDAY, MONDAY + 4, MONDAY + 5, MONDAY + 6])
    slots = np.array([9, 8, 17, 16, 12, 12])
    assert working_hours(days, slots).tolist() == [True, False, False, True, False, False]
    # half-hour slots: 09:00 is slot 18, 17:00 slot 34
    assert working_hours(days[:3], np.array([18, 17, 34]), slots_per_day=48).tolist() == [
        True,
        False,
        False,
    ]


# ---------------------------------------------------------------------------------------------
# MinHash


def test_minhash_equals_brute_force_and_masks_small_devices():
    rng = np.random.default_rng(1)
    sizes = [5, 40, 0, 30]  # device 2 has no token at all
    dev = np.repeat(np.arange(4), sizes)
    h = rng.integers(0, 2**64, dev.size, dtype=np.uint64)
    # a repeated token counts once
    dev, h = np.append(dev, 1), np.append(h, h[sizes[0]])
    mh = minhash_signatures(dev, h, num_perm=8, seed=3, min_tokens=10, n_devices=5)
    assert mh.has_signature.tolist() == [False, True, False, True, False]
    assert mh.n_tokens.tolist() == [5, 40, 0, 30, 0]
    assert mh.signatures.shape == (2, 8) and mh.signatures.dtype == np.uint32
    a, b = _coefficients(3, 0, 8)
    for row, device in enumerate([1, 3]):
        xs = [int(v) % MERSENNE_P for v in h[dev == device]]
        want = [min((int(a[i]) * x + int(b[i])) % MERSENNE_P for x in xs) for i in range(8)]
        assert mh.signatures[row].tolist() == want


@settings(max_examples=25, deadline=None)
@given(
    n_common=st.integers(0, 300),
    n_only_a=st.integers(0, 300),
    n_only_b=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_minhash_estimates_jaccard(n_common, n_only_a, n_only_b, seed):
    if n_common + n_only_a == 0 or n_common + n_only_b == 0:
        return
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 2**64, n_common + n_only_a + n_only_b, dtype=np.uint64)  # distinct
    a = tokens[: n_common + n_only_a]
    b = np.concatenate([tokens[:n_common], tokens[n_common + n_only_a :]])
    dev = np.repeat([0, 1], [a.size, b.size])
    k = 256
    sig = minhash_signatures(dev, np.concatenate([a, b]), num_perm=k, seed=seed, min_tokens=1)
    est = float(estimate_jaccard(sig.signatures, sig.signatures, [0], [1])[0])
    jac = n_common / (n_common + n_only_a + n_only_b)
    # 5 standard errors, and a floor for J near 0 or 1 where the error vanishes
    assert abs(est - jac) <= 5 * np.sqrt(jac * (1 - jac) / k) + 0.02


def test_lsh_candidates_follow_the_s_curve():
    # 400 pairs of sets with J = 0.3 (60 common tokens, 70 of each alone); any two sets of
    # different pairs share nothing.
    rng = np.random.default_rng(7)
    n, bands, rows = 400, 64, 3
    sigs = []
    common = rng.integers(0, 2**63, (n, 60), dtype=np.uint64)
    for _ in range(2):
        own = rng.integers(0, 2**63, (n, 70), dtype=np.uint64)
        toks = np.concatenate([common, own], axis=1)
        dev = np.repeat(np.arange(n), toks.shape[1])
        mh = minhash_signatures(dev, toks.ravel(), num_perm=256, min_tokens=1)
        sigs.append(mh.signatures.astype(np.uint16))  # as exported: 16 bits
    ia, ib = lsh_candidates(sigs[0], sigs[1], bands=bands, rows=rows)
    assert (ia == ib).all()  # no pair across different sets
    assert np.unique(ia).size == ia.size  # each candidate once
    want = float(candidate_probability(60 / 200, bands, rows))
    assert want == pytest.approx(1 - (1 - 0.3**3) ** 64)
    assert abs(ia.size / n - want) < 4 * np.sqrt(want * (1 - want) / n)  # about 0.83


def test_lsh_skips_and_counts_oversized_buckets():
    sig = np.zeros((30, 6), np.uint16)  # 30 identical signatures on each side: 900 pairs
    ia, _ = lsh_candidates(sig, sig, bands=2, rows=3, max_bucket_pairs=None)
    assert ia.size == 900
    ia, _ = lsh_candidates(sig, sig, bands=2, rows=3, max_bucket_pairs=899)
    assert ia.size == 0


def test_copresence_formula():
    # |A| = 50, |B| = 100, |A n B| = 40: J = 40 / 110; 40 * T / (50 * 100) with T = 168
    assert copresence(40 / 110, 50, 100, 168) == pytest.approx(40 * 168 / 5000)


# ---------------------------------------------------------------------------------------------
# planted persons


def _week(home: int, work: int | None, rng: np.random.Generator, outing: int):
    """(day, slot, tile) of a week: nights and evenings at home, weekday 08-17 at work (or
    home), weekend afternoons at a tile of one's own."""
    day, slot = (a.ravel() for a in np.meshgrid(np.arange(7), np.arange(24), indexing="ij"))
    tile = np.full(day.size, home)
    if work is not None:
        tile[(day < 5) & (slot >= 8) & (slot < 17)] = work
    weekend = (day >= 5) & (slot >= 13) & (slot < 18)
    tile[weekend] = outing + rng.integers(0, 3, weekend.sum())
    return MONDAY + day, slot, tile


def _device(week, rate: float, rng: np.random.Generator):
    keep = rng.random(week[0].size) < rate
    return tuple(x[keep] for x in week)


def _export(devices, zones, n_zones, params=DEFAULT_PARAMS, key=KEY):
    dev = np.concatenate([np.full(d[0].size, i) for i, d in enumerate(devices)])
    day, slot, tile = (np.concatenate([d[k] for d in devices]) for k in range(3))
    return export_signatures(
        dev,
        day,
        slot,
        tile,
        zones,
        key=key,
        first_day=MONDAY,
        n_zones=n_zones,
        params=params,
        rng=np.random.default_rng(0),
    )


@pytest.fixture(scope="module")
def planted():
    """MNO a: person P (zone 0), a stranger S (zone 1), R (zone 2); MNO b: P again, Q who
    lives with P (same home, other work place), S's neighbour N, R on two devices."""
    rng = np.random.default_rng(11)
    p = _week(home=100, work=500, rng=rng, outing=900)
    q = _week(home=100, work=700, rng=rng, outing=950)
    s = _week(home=200, work=600, rng=rng, outing=1000)
    n = _week(home=200, work=800, rng=rng, outing=1100)
    r = _week(home=300, work=None, rng=rng, outing=1200)
    a = [_device(p, 0.9, rng), _device(s, 0.9, rng), _device(r, 0.9, rng)]
    b = [_device(p, 0.8, rng), _device(q, 0.9, rng), _device(n, 0.9, rng)]
    b += [_device(r, 0.9, rng), _device(r, 0.85, rng)]
    ea, rows_a = _export(a, [0, 1, 2], 3)
    eb, rows_b = _export(b, [0, 0, 1, 2, 2], 3)
    return a, b, ea, rows_a, eb, rows_b


def test_planted_duplicate_found_household_kept_apart(planted):
    _, _, ea, rows_a, eb, rows_b = planted
    m = match_devices(ea, eb)
    pairs = {
        (int(rows_a[i]), int(rows_b[j])) for i, j in zip(m.assigned_a, m.assigned_b, strict=True)
    }
    assert (0, 0) in pairs  # P on a with P on b
    assert (0, 1) not in pairs  # P with Q, who lives with P
    assert (1, 2) not in pairs  # S with the neighbour N
    assert len(pairs) == 2 and ((2, 3) in pairs or (2, 4) in pairs)  # R matched once


def test_household_rule_is_what_keeps_them_apart():
    # Q shares every token of P except weekdays 08-17: with a low enough threshold, only the
    # working-hours signature keeps them apart.
    rng = np.random.default_rng(5)
    p = _week(home=100, work=500, rng=rng, outing=900)
    q = (p[0], p[1], np.where((p[0] < MONDAY + 5) & (p[1] >= 8) & (p[1] < 17), 700, p[2]))
    ea, _ = _export([_device(p, 0.95, rng)], [0], 1)
    eb, _ = _export([_device(q, 0.95, rng)], [0], 1)
    low = dataclasses.replace(DEFAULT_PARAMS, threshold=0.5)
    without_rule = dataclasses.replace(low, threshold_work=0.0)
    assert match_devices(ea, eb, params=without_rule).assigned_a.size == 1
    m = match_devices(ea, eb, params=low)
    assert m.assigned_a.size == 0
    assert m.stats["stopped_by_household_rule"] == 1


def test_one_to_one_assignment(planted):
    _, _, ea, rows_a, eb, _ = planted
    m = match_devices(ea, eb)
    # R's two devices on b both pass the rule with R's device on a, which is assigned once
    r_a = int(np.flatnonzero(rows_a == 2)[0])
    assert np.sum(m.pair_a == r_a) == 2
    assert np.sum(m.assigned_a == r_a) == 1
    assert np.unique(m.assigned_a).size == m.assigned_a.size
    assert np.unique(m.assigned_b).size == m.assigned_b.size


def _greedy_reference(a, b, score):
    order = sorted(range(len(a)), key=lambda i: (-score[i], a[i], b[i]))
    used_a, used_b, out = set(), set(), []
    for i in order:
        if a[i] not in used_a and b[i] not in used_b:
            used_a.add(a[i])
            used_b.add(b[i])
            out.append((a[i], b[i]))
    return sorted(out)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 5)),
        max_size=40,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_one_to_one_equals_sequential_greedy(edges):
    a = np.array([e[0] for e in edges], np.int64)
    b = np.array([e[1] for e in edges], np.int64)
    score = np.array([e[2] for e in edges], float)  # many ties on purpose
    ra, rb, _ = _one_to_one(a, b, score, np.zeros(a.size))
    assert sorted(zip(ra.tolist(), rb.tolist(), strict=True)) == _greedy_reference(a, b, score)


def test_duplicate_counts_per_zone(planted):
    _, _, ea, _, eb, _ = planted
    m = match_devices(ea, eb)
    counts = duplicate_counts_per_zone(m, ea, n_zones=3)
    # P (zone 0 at MNO a) and R (zone 2), counted in the zone of MNO a's device
    assert counts.tolist() == [1, 0, 1]
    assert counts.dtype == np.int64


def test_device_with_few_tokens_has_no_signature_and_is_counted():
    rng = np.random.default_rng(3)
    week = _week(home=100, work=500, rng=rng, outing=900)
    few = tuple(x[:10] for x in week)  # 10 tokens < min_tokens = 24
    export, rows = _export([week, few, week], [0, 1, 1], 2)
    assert len(export) == 2
    assert sorted(rows.tolist()) == [0, 2]
    assert export.without_signature.tolist() == [0, 1]


def test_export_holds_no_raw_tokens(planted):
    a, _, ea, _, eb, _ = planted
    fields = {f.name for f in dataclasses.fields(SignatureExport)}
    assert fields == {
        "signatures",
        "work_signatures",
        "has_work",
        "n_tokens",
        "n_work_tokens",
        "home_zone",
        "without_signature",
        "first_day",
        "fingerprint",
        "key_check",
    }
    day, slot, tile = (np.concatenate([d[k] for d in a]) for k in range(3))
    packed = (day.astype(np.uint64) << 48) | (slot.astype(np.uint64) << 40) | tile.astype(np.uint64)
    hashes = keyed_token_hash(day, slot, tile, KEY)
    assert ea.signatures.dtype == np.uint16 and ea.work_signatures.dtype == np.uint16
    for values in (ea.signatures, ea.work_signatures, ea.n_tokens, ea.n_work_tokens):
        v = values.astype(np.uint64).ravel()
        assert not np.isin(hashes, v).any()
        assert not np.isin(packed, v).any()
    # what leaves the matching: one count per zone
    counts = duplicate_counts_per_zone(match_devices(ea, eb), ea, n_zones=3)
    assert counts.shape == (3,) and counts.dtype == np.int64


def test_mismatched_exports_are_refused(planted):
    _, b, ea, _, eb, _ = planted
    other_key, _ = _export(b, [0, 0, 1, 2, 2], 3, key=bytes(16))
    with pytest.raises(FusionError) as err:
        match_devices(ea, other_key)
    assert err.value.code == "FUSION_KEY_MISMATCH"
    params = dataclasses.replace(DEFAULT_PARAMS, num_perm=200)
    other_params, _ = _export(b, [0, 0, 1, 2, 2], 3, params=params)
    with pytest.raises(FusionError) as err:
        match_devices(ea, other_params)
    assert err.value.code == "FUSION_PARAMETERS_MISMATCH"
    # a parameter of the matching only (not of the signatures) may differ
    m = match_devices(ea, eb, params=dataclasses.replace(DEFAULT_PARAMS, threshold=0.9))
    assert m.stats["devices_a"] == 3


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="bands x rows"):
        MatchingParams(bands=100, rows=3)
    with pytest.raises(ValueError, match="signature_bits"):
        MatchingParams(signature_bits=8)
    rng = np.random.default_rng(0)
    week = _week(home=1, work=2, rng=rng, outing=3)
    with pytest.raises(FusionError) as err:
        export_signatures(
            np.zeros(week[0].size, int),
            week[0] + 7,  # the week after the period
            week[1],
            week[2],
            [0],
            key=KEY,
            first_day=MONDAY,
            n_zones=1,
        )
    assert err.value.code == "FUSION_TOKEN_RANGE"
