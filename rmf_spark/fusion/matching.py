"""Cross-MNO duplicate matching on privacy-protected MinHash signatures.

People with phones on two networks must not be counted twice when the MNOs' statistics are
combined. Each MNO exports, per device, no pseudonym and no event, only (section "Duplicate
matching" of ``docs/fusion.md``):

* a MinHash signature of the device's keyed *stay tokens*, a token being (day, hourly slot,
  1 km tile) where the device stayed, hashed with a key shared by the MNOs
  (:func:`keyed_token_hash`);
* a second MinHash signature of its working-hours tokens only (weekdays, 09-17 by default);
* its numbers of tokens of both kinds, and its home zone (a code of the public zone list).

A party that holds no key (the statistical office, or a trusted third party) matches the two
exports (:func:`match_devices`) and keeps only duplicate counts per zone
(:func:`duplicate_counts_per_zone`); pairs never leave the matching.

Formulas
--------
*MinHash* (Broder 1997; Leskovec, Rajaraman and Ullman, *Mining of Massive Datasets*, ch. 3).
With ``h_i(x) = (a_i x + b_i) mod p``, ``p = 2^31 - 1`` (a Mersenne prime), ``a_i`` in
``[1, p)``, ``b_i`` in ``[0, p)`` and ``x`` the keyed token hash reduced mod p, the signature
of a token set A is ``sig_i(A) = min_{x in A} h_i(x)``, i = 1..k, and
``P[sig_i(A) = sig_i(B)] = J(A, B) = |A n B| / |A u B|``: the share of equal values estimates
the Jaccard similarity, with standard error ``sqrt(J (1 - J) / k)``. Only the low
``signature_bits`` (16) bits of each value are exported (b-bit minwise hashing, Li and Koenig
2010): two different minima then agree by chance with probability ``r = 2^-16``, so
``J = (share - r) / (1 - r)``.

*LSH banding* (MMDS 3.4). The first ``bands * rows`` values form ``bands`` bands of ``rows``
values; two devices are candidates if they agree on all values of at least one band:
``P[candidate | J = s] = 1 - (1 - s^rows)^bands`` (:func:`candidate_probability`), an S-curve
whose steepest point is near ``(1 / bands)^(1 / rows)``.

*Co-presence*. From the estimated Jaccard and the token counts, the estimated intersection is
``I = J / (1 + J) * (|A| + |B|)`` and the co-presence ``c = I * T / (|A| |B|)``, with T the
number of slots in the period (``T_w`` the working-hours slots for the second signature). If
each device records each slot of its owner's stays independently with its own rate, one person
on two devices gives ``c ~ (share of slots where both MNOs put the stay in the same 1 km
tile) * T / S`` (S: the person's slots with a stay), whatever the two rates, while the
Jaccard similarity falls with the rates (devices recording 50 % and 90 % of the slots, in the
same tiles, of a person who stays somewhere in every slot: J = 0.45 / 0.95 = 0.47, c = 1).
Two persons who share a tile in a share f of the slots give ``c ~ f`` times the same factor.
The decision uses c, not J: on the benchmark world (``bench/fusion.py``) c separates
duplicates from co-residents far better than J does (``docs/fusion.md``). The estimate
assumes about one token per slot (the slot's main tile).

Decision rule (household rule). A candidate pair is a duplicate if ``c >= threshold`` and, when
both devices have at least ``min_work_tokens`` working-hours tokens, ``c_w >= threshold_work``
too. Co-residents (household members, neighbours in the same 1 km tile) share the night tokens
but rarely the working-hours ones, which keeps them apart.

One-to-one assignment. A device is matched at most once: pairs are taken greedily by
co-presence (then working-hours co-presence, then row indices, a strict order). The greedy
result is computed in vectorised rounds: every round accepts every pair that is the best
remaining pair of both its devices (a *locally dominant* edge, Preis 1999), which gives the same
matching as the sequential greedy for a strict order; then drops the pairs of matched devices.

Choice of the defaults (:data:`DEFAULT_PARAMS`, ``docs/fusion.md``): 256 permutations (64 for
working hours), 64 bands of 3 rows (``P[candidate] = 0.06`` at J = 0.1, 0.40 at 0.2, 0.83 at
0.3, 0.985 at 0.4), co-presence thresholds 0.85 and 0.7, at least 24 tokens for a signature and
8 working-hours tokens for the household rule.

The keyed hash is SipHash-2-4 (Aumasson and Bernstein 2012) written in numpy; see
:func:`keyed_token_hash` for what it does and does not protect.

Example: person 1 is at home (tile 1) except on weekdays 09-17 (tile 2); MNO a has person 1
(home zone 0) and person 2 (tiles 101 and 102, zone 1), MNO b person 1 again::

    >>> import numpy as np
    >>> key = bytes(range(16))  # in practice secrets.token_bytes(16), shared by the MNOs
    >>> d, s = np.meshgrid(np.arange(19723, 19730), np.arange(24), indexing="ij")
    >>> day, slot = d.ravel(), s.ravel()  # the week of Monday 2024-01-01, hourly
    >>> tile = np.where(working_hours(day, slot), 2, 1)
    >>> ea, _ = export_signatures(np.repeat([0, 1], day.size), np.tile(day, 2),
    ...                           np.tile(slot, 2), np.concatenate([tile, tile + 100]),
    ...                           [0, 1], key=key, first_day=19723, n_zones=2)
    >>> eb, _ = export_signatures(np.zeros(day.size, int), day, slot, tile, [0],
    ...                           key=key, first_day=19723, n_zones=2)
    >>> m = match_devices(ea, eb)
    >>> duplicate_counts_per_zone(m, ea, n_zones=2).tolist()
    [1, 0]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from rmf_spark.errors import FusionError

__all__ = [
    "DEFAULT_PARAMS",
    "MERSENNE_P",
    "Matching",
    "MatchingParams",
    "MinHash",
    "SignatureExport",
    "candidate_probability",
    "copresence",
    "duplicate_counts_per_zone",
    "estimate_jaccard",
    "export_signatures",
    "key_check_value",
    "keyed_token_hash",
    "lsh_candidates",
    "match_devices",
    "minhash_signatures",
    "working_hours",
]

_U64 = np.uint64
MERSENNE_P = (1 << 31) - 1
"""The prime of the universal hashing: values fit 31 bits, so ``a * x + b`` fits 64."""
_P = _U64(MERSENNE_P)
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
_CHUNK = 1 << 16  # elements per pass: the temporaries of a pass stay in the CPU cache
_DAY_BITS, _SLOT_BITS, _TILE_BITS = 16, 8, 40
_PAIR_CHUNK_VALUES = 1 << 24  # signature values compared per chunk of pairs


# ---------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class MatchingParams:
    """Public parameters of the matching, the same for every MNO and the matching party.

    Attributes
    ----------
    num_perm, num_perm_work
        MinHash values per device over all tokens, and over working-hours tokens.
    signature_bits
        Low bits of each MinHash value that are exported (16 or 32).
    bands, rows
        LSH banding of the all-token signature (``bands * rows <= num_perm``).
    threshold, threshold_work
        Minimum co-presence over all tokens, and over working-hours tokens when both devices
        have at least ``min_work_tokens`` of them (the household rule).
    min_tokens, min_work_tokens
        Distinct tokens a device needs for a signature, and for the working-hours one.
    seed
        Seed of the universal hash coefficients (public: the key protects the tokens).
    slots_per_day, work_start_hour, work_end_hour, period_days
        The slots (24, 48 or 96 a day), the working hours (weekdays, local hours
        ``[start, end)``) and the length of the period the tokens cover.
    max_bucket_pairs
        An LSH bucket (same band values) that would give more pairs than this is skipped and
        counted: devices that agree with thousands of others carry no evidence of duplication,
        and the cap keeps the work linear in the worst case. ``None``: no cap.
    """

    num_perm: int = 256
    num_perm_work: int = 64
    signature_bits: int = 16
    bands: int = 64
    rows: int = 3
    threshold: float = 0.85
    threshold_work: float = 0.7
    min_tokens: int = 24
    min_work_tokens: int = 8
    seed: int = 19
    slots_per_day: int = 24
    work_start_hour: int = 9
    work_end_hour: int = 17
    period_days: int = 7
    max_bucket_pairs: int | None = 10_000

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.num_perm_work < 1:
            raise ValueError("num_perm and num_perm_work must be positive")
        if self.signature_bits not in (16, 32):
            raise ValueError("signature_bits must be 16 or 32")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands x rows = {self.bands} x {self.rows} must be positive and at most "
                f"num_perm = {self.num_perm}"
            )
        if self.threshold <= 0.0 or self.threshold_work < 0.0:
            raise ValueError("threshold must be positive and threshold_work non-negative")
        if self.min_tokens < 1 or self.min_work_tokens < 1:
            raise ValueError("min_tokens and min_work_tokens must be at least 1")
        if self.slots_per_day not in (24, 48, 96):
            raise ValueError("slots_per_day must be 24, 48 or 96")
        if not 0 <= self.work_start_hour < self.work_end_hour <= 24:
            raise ValueError("working hours must satisfy 0 <= start < end <= 24")
        if self.period_days < 1:
            raise ValueError("period_days must be at least 1")
        if self.max_bucket_pairs is not None and self.max_bucket_pairs < 1:
            raise ValueError("max_bucket_pairs must be positive or None")

    def fingerprint(self) -> str:
        """Hash of the parameters that shape a signature: exports made with other values
        cannot be compared (:func:`match_devices` checks it)."""
        shaping = {
            "num_perm",
            "num_perm_work",
            "signature_bits",
            "min_tokens",
            "min_work_tokens",
            "seed",
            "slots_per_day",
            "work_start_hour",
            "work_end_hour",
            "period_days",
        }
        values = {k: v for k, v in asdict(self).items() if k in shaping}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


DEFAULT_PARAMS = MatchingParams()


def candidate_probability(s: np.ndarray | float, bands: int, rows: int) -> np.ndarray:
    """The LSH S-curve ``1 - (1 - s^rows)^bands``: probability that two signatures of
    Jaccard similarity s agree on all rows of at least one band (MMDS 3.4.2)."""
    s = np.asarray(s, dtype=np.float64)
    return 1.0 - (1.0 - s**rows) ** bands


# ---------------------------------------------------------------------------------------------
# keyed token hash: SipHash-2-4 on one 64-bit word, vectorised


def _rotl(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    np.right_shift(x, _U64(64 - r), out=tmp)
    np.left_shift(x, _U64(r), out=x)
    np.bitwise_or(x, tmp, out=x)


def _sipround(
    v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray, t: np.ndarray
) -> None:
    v0 += v1
    _rotl(v1, 13, t)
    v1 ^= v0
    _rotl(v0, 32, t)
    v2 += v3
    _rotl(v3, 16, t)
    v3 ^= v2
    v0 += v3
    _rotl(v3, 21, t)
    v3 ^= v0
    v2 += v1
    _rotl(v1, 17, t)
    v1 ^= v2
    _rotl(v2, 32, t)


def _siphash24_words(m: np.ndarray, key: bytes) -> np.ndarray:
    """SipHash-2-4 of each 64-bit word of ``m`` taken as an 8-byte little-endian message."""
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    init = (
        _U64(k0 ^ 0x736F6D6570736575),
        _U64(k1 ^ 0x646F72616E646F6D),
        _U64(k0 ^ 0x6C7967656E657261),
        _U64(k1 ^ 0x7465646279746573),
    )
    last = _U64(8 << 56)  # the final block of an 8-byte message: its length, no data
    out = np.empty(m.size, _U64)
    for s in range(0, m.size, _CHUNK):
        w = m[s : s + _CHUNK]
        v0, v1, v2, v3 = (np.full(w.size, c) for c in init)
        t = np.empty(w.size, _U64)
        v3 ^= w
        for _ in range(2):
            _sipround(v0, v1, v2, v3, t)
        v0 ^= w
        v3 ^= last
        for _ in range(2):
            _sipround(v0, v1, v2, v3, t)
        v0 ^= last
        v2 ^= _U64(0xFF)
        for _ in range(4):
            _sipround(v0, v1, v2, v3, t)
        v0 ^= v1
        v0 ^= v2
        v0 ^= v3
        out[s : s + w.size] = v0
    return out


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != 16:
        raise ValueError("key must be 16 bytes (the 128-bit key of SipHash-2-4)")
    return bytes(key)


def keyed_token_hash(
    day: np.ndarray, slot: np.ndarray, tile_1km: np.ndarray, key: bytes
) -> np.ndarray:
    """Keyed 64-bit hash of stay tokens (day, slot, 1 km tile): SipHash-2-4 with a 128-bit key.

    Parameters
    ----------
    day
        Days since 1970-01-01 (``< 2^16``).
    slot
        Slot of the day (``< 2^8``).
    tile_1km
        ``tile_1km_id`` of the INSPIRE grid (``(E/1000) * 2^20 + N/1000``, ``< 2^40``;
        ``rmf_spark.clayer.grid``).
    key
        16 secret bytes shared by the MNOs and unknown to the matching party.

    Returns
    -------
    numpy.ndarray
        uint64, the shape of ``day``.

    Notes
    -----
    The token is packed into one 64-bit word ``day << 48 | slot << 40 | tile`` (exact, no
    collision before hashing) and hashed with SipHash-2-4, implemented here with numpy
    (about 40 ns a token on one core) and checked against the reference test vector of its
    authors. SipHash is a keyed pseudorandom function (PRF) designed by cryptographers for
    short inputs (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), not a
    non-cryptographic mix; Python, Rust and the Linux kernel use it (with 1-3 or 2-4 rounds)
    against hash flooding. It is lighter than HMAC-SHA-256 and has no security reduction to a
    standard primitive, only its cryptanalysis so far; blake2b keyed per token through
    ``hashlib`` would be the conservative choice but costs about 1.1 us a token in a Python
    loop (measured), 28 times more: an hour of one core for a month of 5 million devices
    (3 * 10^9 tokens).

    Why a key at all: the token space is small (a month of hourly slots over 100 000 tiles is
    7 * 10^7 tokens), so an unkeyed hash could be inverted by hashing every token. Without
    the key, the matching party cannot compute any token's hash, hence cannot test whether a
    signature comes from a device that stayed in a given tile at a given hour. This is
    pseudonymisation, not encryption: it protects only as long as the key stays with the
    MNOs. Whoever holds the key and sees signatures can test tokens (a MinHash value equals
    ``h_i`` of the device's token with the smallest ``h_i``), so signatures must never reach
    another MNO, and the matching party must not collude with one. 64-bit outputs collide with
    probability about ``n^2 / 2^65``: 1.4 * 10^-4 expected collisions among 7 * 10^7 distinct
    tokens.
    """
    key = _check_key(key)
    shape = np.shape(day)
    return _siphash24_words(_pack_tokens(day, slot, tile_1km), key).reshape(shape)


def _pack_tokens(day: np.ndarray, slot: np.ndarray, tile_1km: np.ndarray) -> np.ndarray:
    day = np.asarray(day, dtype=np.int64)
    slot = np.asarray(slot, dtype=np.int64)
    tile = np.asarray(tile_1km, dtype=np.int64)
    if not (day.shape == slot.shape == tile.shape):
        raise ValueError("day, slot and tile_1km must have the same shape")
    for name, v, bits in (
        ("day", day, _DAY_BITS),
        ("slot", slot, _SLOT_BITS),
        ("tile_1km", tile, _TILE_BITS),
    ):
        if v.size and (v.min() < 0 or v.max() >= 1 << bits):
            raise FusionError(
                f"token field {name} out of range [0, 2^{bits}): min {v.min()}, max {v.max()}",
                code="FUSION_TOKEN_RANGE",
            )
    packed = (day << (_SLOT_BITS + _TILE_BITS)) | (slot << _TILE_BITS) | tile
    return np.ascontiguousarray(packed.reshape(-1)).view(_U64)


def key_check_value(key: bytes) -> int:
    """SipHash of a word no token can take (all bits set): both MNOs' exports carry it, so the
    matching party can tell that they used the same key without learning anything about it
    (one PRF output on a fixed input)."""
    return int(_siphash24_words(np.array([np.iinfo(np.uint64).max], _U64), _check_key(key))[0])


def working_hours(
    day: np.ndarray,
    slot: np.ndarray,
    *,
    slots_per_day: int = DEFAULT_PARAMS.slots_per_day,
    start_hour: int = DEFAULT_PARAMS.work_start_hour,
    end_hour: int = DEFAULT_PARAMS.work_end_hour,
) -> np.ndarray:
    """True for tokens of a weekday (Monday to Friday) in local hours ``[start, end)``.
    Public holidays are not known here and count as weekdays."""
    day = np.asarray(day, dtype=np.int64)
    slot = np.asarray(slot, dtype=np.int64)
    per_hour = slots_per_day // 24
    weekday = (day + _EPOCH_WEEKDAY) % 7 < 5
    return weekday & (slot >= start_hour * per_hour) & (slot < end_hour * per_hour)


def _period_slots(first_day: int, params: MatchingParams) -> tuple[int, int]:
    """T and T_w: slots of the period, and working-hours slots among them."""
    days = np.arange(first_day, first_day + params.period_days)
    d, s = np.meshgrid(days, np.arange(params.slots_per_day), indexing="ij")
    work = working_hours(
        d,
        s,
        slots_per_day=params.slots_per_day,
        start_hour=params.work_start_hour,
        end_hour=params.work_end_hour,
    )
    return int(d.size), int(work.sum())


# ---------------------------------------------------------------------------------------------
# MinHash


class MinHash(NamedTuple):
    """Signatures of the devices with at least ``min_tokens`` distinct tokens.

    ``signatures[i]`` belongs to device ``np.flatnonzero(has_signature)[i]``; ``n_tokens``
    counts every device's distinct tokens, so ``(~has_signature).sum()`` devices have none."""

    signatures: np.ndarray  # (n with signature, num_perm) uint32
    has_signature: np.ndarray  # (n_devices,) bool
    n_tokens: np.ndarray  # (n_devices,) int64


def _coefficients(seed: int, stream: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, stream])
    a = rng.integers(1, MERSENNE_P, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, MERSENNE_P, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(
    device_index: np.ndarray,
    token_hash: np.ndarray,
    *,
    num_perm: int = DEFAULT_PARAMS.num_perm,
    seed: int = DEFAULT_PARAMS.seed,
    min_tokens: int = DEFAULT_PARAMS.min_tokens,
    n_devices: int | None = None,
    stream: int = 0,
) -> MinHash:
    """MinHash signatures from flat arrays of tokens (Broder 1997; MMDS 3.3).

    Parameters
    ----------
    device_index
        Device of each token, in ``[0, n_devices)``; any order, repeats allowed.
    token_hash
        The token's 64-bit keyed hash (:func:`keyed_token_hash`).
    num_perm
        Values per signature: ``h_i(x) = (a_i x + b_i) mod (2^31 - 1)``, ``x = hash mod p``.
    seed, stream
        The coefficients ``a_i, b_i`` come from ``numpy.random.default_rng([seed, stream])``;
        every MNO must use the same (a second signature uses another stream).
    min_tokens
        Devices with fewer distinct tokens get no signature (``has_signature`` False).
    n_devices
        Number of devices (default: largest index + 1); devices without tokens count too.

    Returns
    -------
    MinHash
        uint32 signatures, compact (rows only for devices that have one), the mask, and the
        distinct tokens per device.

    Notes
    -----
    ``P[sig_i(A) = sig_i(B)] = J(A, B)``. Tokens are sorted by device once; each of the
    ``num_perm`` passes hashes a cache-sized run of whole devices and takes the minimum per
    device with ``np.minimum.reduceat``: ``O(tokens * num_perm)`` with no loop over devices
    (about 2 ns per token and value on one core).
    """
    dev = np.asarray(device_index, dtype=np.int64).reshape(-1)
    h = np.asarray(token_hash, dtype=np.uint64).reshape(-1)
    if dev.size != h.size:
        raise ValueError("device_index and token_hash must have the same length")
    if dev.size and dev.min() < 0:
        raise ValueError("device_index must be non-negative")
    if n_devices is None:
        n_devices = int(dev.max()) + 1 if dev.size else 0
    elif dev.size and dev.max() >= n_devices:
        raise ValueError("device_index must be smaller than n_devices")
    order = np.lexsort((h, dev))
    dev, h = dev[order], h[order]
    if dev.size:  # a token repeated within a device (two rows of one slot) counts once
        distinct = np.ones(dev.size, bool)
        distinct[1:] = (dev[1:] != dev[:-1]) | (h[1:] != h[:-1])
        dev, h = dev[distinct], h[distinct]
    n_tokens = np.bincount(dev, minlength=n_devices).astype(np.int64)
    has = n_tokens >= min_tokens
    keep = has[dev]
    x = h[keep] % _P
    counts = n_tokens[has]
    ends = np.cumsum(counts)
    starts = ends - counts
    n_sig = counts.size
    a, b = _coefficients(seed, stream, num_perm)
    sig = np.empty((n_sig, num_perm), np.uint32)
    buf = np.empty(2 * _CHUNK, _U64)
    tmp = np.empty_like(buf)
    d0 = 0
    while d0 < n_sig:
        # whole devices, about _CHUNK tokens (one device may exceed it)
        d1 = max(int(np.searchsorted(ends, starts[d0] + _CHUNK, side="right")), d0 + 1)
        s, e = int(starts[d0]), int(ends[d1 - 1])
        xx = x[s:e]
        if xx.size > buf.size:
            buf, tmp = np.empty(xx.size, _U64), np.empty(xx.size, _U64)
        v, t = buf[: xx.size], tmp[: xx.size]
        local = starts[d0:d1] - s
        for i in range(num_perm):
            # a x + b < 2^62 + 2^31; two folds of the Mersenne reduction bring it to
            # [0, p + 1], the last subtraction (wrapping) picks the residue in [0, p)
            np.multiply(xx, a[i], out=v)
            v += b[i]
            for _ in range(2):
                np.right_shift(v, _U64(31), out=t)
                v &= _P
                v += t
            np.subtract(v, _P, out=t)
            np.minimum(v, t, out=v)
            sig[d0:d1, i] = np.minimum.reduceat(v, local)
        d0 = d1
    return MinHash(sig, has, n_tokens)


# ---------------------------------------------------------------------------------------------
# what an MNO exports


@dataclass(frozen=True)
class SignatureExport:
    """What one MNO gives the matching party: one row per device with a signature, rows in
    random order, no pseudonym, no token, no event.

    Attributes
    ----------
    signatures
        (n, num_perm) MinHash values of all tokens, low ``signature_bits`` bits.
    work_signatures
        (n, num_perm_work) of the working-hours tokens; rows with ``has_work`` False are 0.
    has_work
        The device has at least ``min_work_tokens`` working-hours tokens.
    n_tokens, n_work_tokens
        Distinct tokens of each kind (the co-presence needs them).
    home_zone
        Code of the device's home zone (index into the public zone list).
    without_signature
        Per zone code: devices with fewer than ``min_tokens`` tokens, which cannot be
        matched (counted, not exported).
    first_day, fingerprint, key_check
        The period's first day, :meth:`MatchingParams.fingerprint` and
        :func:`key_check_value`, checked by :func:`match_devices`.
    """

    signatures: np.ndarray
    work_signatures: np.ndarray
    has_work: np.ndarray
    n_tokens: np.ndarray
    n_work_tokens: np.ndarray
    home_zone: np.ndarray
    without_signature: np.ndarray
    first_day: int
    fingerprint: str
    key_check: int

    def __len__(self) -> int:
        return int(self.signatures.shape[0])


def _bits(sig: np.ndarray, bits: int) -> np.ndarray:
    return sig.astype(np.uint16) if bits == 16 else sig


def export_signatures(
    device_index: np.ndarray,
    day: np.ndarray,
    slot: np.ndarray,
    tile_1km: np.ndarray,
    home_zone: np.ndarray,
    *,
    key: bytes,
    first_day: int,
    n_zones: int,
    params: MatchingParams = DEFAULT_PARAMS,
    rng: np.random.Generator | None = None,
) -> tuple[SignatureExport, np.ndarray]:
    """An MNO's export from its stay tokens (one row per token) and its devices' home zones.

    Parameters
    ----------
    device_index
        Device of each token, in ``[0, len(home_zone))`` (the MNO's own numbering).
    day, slot, tile_1km
        The tokens (:func:`keyed_token_hash`); days in ``[first_day, first_day +
        period_days)``, slots in ``[0, slots_per_day)``.
    home_zone
        Per device, the code of its home zone in ``[0, n_zones)``.
    key
        The MNOs' shared secret key (16 bytes).
    first_day
        First day of the period (days since 1970-01-01), public.
    rng
        Source of the random row order (default: fresh OS entropy).

    Returns
    -------
    (SignatureExport, numpy.ndarray)
        The export, and the device of each of its rows. The second stays with the MNO: the
        row order is random so that it carries nothing of the MNO's device order.
    """
    home_zone = np.asarray(home_zone, dtype=np.int64).reshape(-1)
    n_devices = home_zone.size
    if n_devices and (home_zone.min() < 0 or home_zone.max() >= n_zones):
        raise ValueError("home_zone must hold zone codes in [0, n_zones)")
    day = np.asarray(day, dtype=np.int64).reshape(-1)
    slot = np.asarray(slot, dtype=np.int64).reshape(-1)
    if day.size and (day.min() < first_day or day.max() >= first_day + params.period_days):
        raise FusionError(
            f"token days {day.min()}..{day.max()} outside the period [{first_day}, "
            f"{first_day + params.period_days})",
            code="FUSION_TOKEN_RANGE",
        )
    if slot.size and (slot.min() < 0 or slot.max() >= params.slots_per_day):
        raise FusionError(
            f"token slots {slot.min()}..{slot.max()} outside [0, {params.slots_per_day})",
            code="FUSION_TOKEN_RANGE",
        )
    dev = np.asarray(device_index, dtype=np.int64).reshape(-1)
    h = keyed_token_hash(day, slot, np.asarray(tile_1km).reshape(-1), key)
    work = working_hours(
        day,
        slot,
        slots_per_day=params.slots_per_day,
        start_hour=params.work_start_hour,
        end_hour=params.work_end_hour,
    )
    main = minhash_signatures(
        dev,
        h,
        num_perm=params.num_perm,
        seed=params.seed,
        min_tokens=params.min_tokens,
        n_devices=n_devices,
    )
    wk = minhash_signatures(
        dev[work],
        h[work],
        num_perm=params.num_perm_work,
        seed=params.seed,
        min_tokens=params.min_work_tokens,
        n_devices=n_devices,
        stream=1,
    )
    devices = np.flatnonzero(main.has_signature)
    has_work = wk.has_signature[devices]
    work_row = np.cumsum(wk.has_signature) - 1
    work_sig = np.zeros((devices.size, params.num_perm_work), np.uint32)
    work_sig[has_work] = wk.signatures[work_row[devices[has_work]]]
    rng = rng if rng is not None else np.random.default_rng()
    perm = rng.permutation(devices.size)
    export = SignatureExport(
        signatures=_bits(main.signatures[perm], params.signature_bits),
        work_signatures=_bits(work_sig[perm], params.signature_bits),
        has_work=has_work[perm],
        n_tokens=main.n_tokens[devices[perm]],
        n_work_tokens=wk.n_tokens[devices[perm]],
        home_zone=home_zone[devices[perm]],
        without_signature=np.bincount(home_zone[~main.has_signature], minlength=n_zones).astype(
            np.int64
        ),
        first_day=int(first_day),
        fingerprint=params.fingerprint(),
        key_check=key_check_value(key),
    )
    return export, devices[perm]


# ---------------------------------------------------------------------------------------------
# LSH banding


def _band_keys(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One uint64 per device for its band: the values themselves when they fit 64 bits
    (exact), else a splitmix64-style mix of them (a chance collision only adds a pair to
    compare)."""
    bits = sig.dtype.itemsize * 8
    cols = range(band * rows, (band + 1) * rows)
    if rows * bits <= 64:
        key = np.zeros(sig.shape[0], _U64)
        for j, c in enumerate(cols):
            key |= sig[:, c].astype(_U64) << _U64(j * bits)
        return key
    key = np.full(sig.shape[0], _U64(0x9E3779B97F4A7C15), _U64)
    for c in cols:
        key ^= sig[:, c].astype(_U64)
        key ^= key >> _U64(30)
        key *= _U64(0xBF58476D1CE4E5B9)
        key ^= key >> _U64(27)
        key *= _U64(0x94D049BB133111EB)
        key ^= key >> _U64(31)
    return key


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys of a sorted array, where each starts, and how many there are."""
    if sorted_keys.size == 0:
        e = np.empty(0, np.int64)
        return sorted_keys, e, e
    first = np.ones(sorted_keys.size, bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(first)
    return sorted_keys[starts], starts, np.diff(np.append(starts, sorted_keys.size))


@dataclass
class _LshStats:
    bucket_pairs: int = 0  # pairs over all bands, a pair counted once per band it shares
    skipped_buckets: int = 0
    skipped_pairs: int = 0


def _band_pairs(
    sig_a: np.ndarray,
    sig_b: np.ndarray,
    bands: int,
    rows: int,
    max_bucket_pairs: int | None,
    stats: _LshStats,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per band, the pairs (row of a, row of b) with the same band key, in chunks.

    Each side's keys are sorted once per band; the buckets present on both sides are found
    with searchsorted, and each bucket's n_a x n_b pairs are spelled out with repeat and
    arange arithmetic: no dict and no loop over devices."""
    if sig_a.shape[1] != sig_b.shape[1] or sig_a.dtype != sig_b.dtype:
        raise ValueError("both sides need signatures of the same length and type")
    if bands * rows > sig_a.shape[1]:
        raise ValueError("bands x rows exceeds the signature length")
    if sig_a.shape[0] == 0 or sig_b.shape[0] == 0:
        return
    max_pairs = max(1, _PAIR_CHUNK_VALUES // sig_a.shape[1])
    group = max(1, 64 // (rows * sig_a.itemsize))  # bands whose values fill a 64-byte line
    for band in range(bands):
        if band % group == 0:
            # a contiguous copy of the next bands' columns: reading a column of the whole
            # signature matrix would pull one cache line per device for every value
            cols = slice(band * rows, min(band + group, bands) * rows)
            block_a = np.ascontiguousarray(sig_a[:, cols])
            block_b = np.ascontiguousarray(sig_b[:, cols])
        ka = _band_keys(block_a, band % group, rows)
        kb = _band_keys(block_b, band % group, rows)
        oa, ob = np.argsort(ka), np.argsort(kb)
        ua, sa, ca = _runs(ka[oa])
        ub, sb, cb = _runs(kb[ob])
        pos = np.minimum(np.searchsorted(ua, ub), ua.size - 1)
        hit = ua[pos] == ub
        ia, ib = pos[hit], np.flatnonzero(hit)
        na, nb = ca[ia], cb[ib]
        pairs = na * nb
        if max_bucket_pairs is not None:
            big = pairs > max_bucket_pairs
            if big.any():
                stats.skipped_buckets += int(big.sum())
                stats.skipped_pairs += int(pairs[big].sum())
                ia, ib, nb, pairs = ia[~big], ib[~big], nb[~big], pairs[~big]
        stats.bucket_pairs += int(pairs.sum())
        # buckets in groups of about max_pairs pairs, so the comparisons stay in memory
        group_end = np.cumsum(pairs)
        lo = 0
        while lo < pairs.size:
            hi = max(int(np.searchsorted(group_end, group_end[lo] - pairs[lo] + max_pairs)), lo + 1)
            hi = min(hi, pairs.size)
            p = pairs[lo:hi]
            n = int(p.sum())
            bucket = np.repeat(np.arange(p.size), p)
            offset = np.arange(n) - np.repeat(np.cumsum(p) - p, p)
            nb_rep = nb[lo:hi][bucket]
            dev_a = oa[sa[ia[lo:hi]][bucket] + offset // nb_rep]
            dev_b = ob[sb[ib[lo:hi]][bucket] + offset % nb_rep]
            yield band, dev_a, dev_b
            lo = hi


def _first_band(eq: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Per pair, the first band whose rows are all equal (-1: none). :func:`lsh_candidates`
    keeps a pair only in that band, which removes the repeats of pairs sharing several bands
    without a global sort of all candidates."""
    per_band = eq[:, : bands * rows].reshape(eq.shape[0], bands, rows)
    full = per_band[:, :, 0].copy()
    for r in range(1, rows):  # an and over a short last axis is slow as a reduction
        full &= per_band[:, :, r]
    first = full.argmax(axis=1)
    return np.where(full[np.arange(first.size), first], first, -1)


def lsh_candidates(
    sig_a: np.ndarray,
    sig_b: np.ndarray,
    *,
    bands: int = DEFAULT_PARAMS.bands,
    rows: int = DEFAULT_PARAMS.rows,
    max_bucket_pairs: int | None = DEFAULT_PARAMS.max_bucket_pairs,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs between two MNOs' signatures by LSH banding (MMDS 3.4).

    Returns ``(idx_a, idx_b)``, row indices into ``sig_a`` and ``sig_b``, each pair once,
    sorted by ``idx_a`` then ``idx_b``. A pair is a candidate if the two signatures agree on
    all ``rows`` values of at least one of the first ``bands`` bands:
    ``P[candidate | J = s] = 1 - (1 - s^rows)^bands``. Buckets with more than
    ``max_bucket_pairs`` pairs are skipped (:class:`MatchingParams`).
    """
    out_a, out_b = [], []
    for band, a, b in _band_pairs(sig_a, sig_b, bands, rows, max_bucket_pairs, _LshStats()):
        eq = sig_a[a, : bands * rows] == sig_b[b, : bands * rows]
        keep = _first_band(eq, bands, rows) == band
        out_a.append(a[keep])
        out_b.append(b[keep])
    if not out_a:
        e = np.empty(0, np.int64)
        return e, e
    a, b = np.concatenate(out_a), np.concatenate(out_b)
    order = np.lexsort((b, a))
    return a[order], b[order]


def _count_equal(rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Equal values per row pair (a byte sum of the comparison: faster than count_nonzero)."""
    return (rows_a == rows_b).view(np.uint8).sum(axis=1, dtype=np.int32)


def _equal_counts(
    sig_a: np.ndarray, sig_b: np.ndarray, idx_a: np.ndarray, idx_b: np.ndarray
) -> np.ndarray:
    out = np.empty(idx_a.size, np.int32)
    step = max(1, _PAIR_CHUNK_VALUES // max(sig_a.shape[1], 1))
    for s in range(0, idx_a.size, step):
        out[s : s + step] = _count_equal(sig_a[idx_a[s : s + step]], sig_b[idx_b[s : s + step]])
    return out


def _jaccard(n_equal: np.ndarray, num_perm: int, bits: int) -> np.ndarray:
    """Jaccard from the share of equal b-bit values: ``(share - r) / (1 - r)``, r = 2^-bits
    (Li and Koenig 2010), clipped at 0."""
    r = 2.0**-bits
    return np.clip((n_equal / num_perm - r) / (1.0 - r), 0.0, 1.0)


def estimate_jaccard(
    sig_a: np.ndarray, sig_b: np.ndarray, idx_a: np.ndarray, idx_b: np.ndarray
) -> np.ndarray:
    """Share of equal MinHash values of the pairs ``(sig_a[idx_a], sig_b[idx_b])``: the
    unbiased MinHash estimate of their Jaccard similarity, standard error
    ``sqrt(J (1 - J) / num_perm)`` (Broder 1997). With b-bit values it overestimates J by
    ``(1 - J) 2^-b`` (1.5e-5 for 16 bits); :func:`match_devices` corrects it."""
    idx_a = np.asarray(idx_a, dtype=np.int64)
    idx_b = np.asarray(idx_b, dtype=np.int64)
    if idx_a.shape != idx_b.shape:
        raise ValueError("idx_a and idx_b must have the same shape")
    if sig_a.shape[1] != sig_b.shape[1]:
        raise ValueError("both sides need signatures of the same length")
    return _equal_counts(sig_a, sig_b, idx_a.ravel(), idx_b.ravel()) / sig_a.shape[1]


def copresence(
    jaccard: np.ndarray, n_a: np.ndarray, n_b: np.ndarray, period_slots: int
) -> np.ndarray:
    """``c = J / (1 + J) * (n_a + n_b) * T / (n_a * n_b)``: the estimated intersection of the
    two token sets over the intersection expected if the two devices recorded the same
    stays independently (module docstring). About the share of slots the two devices spend in
    the same tile, whatever their recording rates."""
    j = np.asarray(jaccard, dtype=np.float64)
    n_a = np.asarray(n_a, dtype=np.float64)
    n_b = np.asarray(n_b, dtype=np.float64)
    return j / (1.0 + j) * (n_a + n_b) * period_slots / np.maximum(n_a * n_b, 1.0)


# ---------------------------------------------------------------------------------------------
# matching


@dataclass(frozen=True)
class Matching:
    """Result of :func:`match_devices`, for the matching party only (it holds row indices).

    ``pair_a, pair_b`` are the pairs that pass the rule, with their estimated Jaccard,
    co-presence and working-hours co-presence (NaN where the household rule did not apply);
    ``assigned_a, assigned_b`` the one-to-one assignment among them (sorted by
    ``assigned_a``). ``stats`` holds counts only."""

    pair_a: np.ndarray
    pair_b: np.ndarray
    jaccard: np.ndarray
    copresence: np.ndarray
    copresence_work: np.ndarray
    assigned_a: np.ndarray
    assigned_b: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)


def _unique_pairs(
    parts_a: list[np.ndarray], parts_b: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of the parts, sorted by (a, b); rows fit 32 bits each."""
    if not parts_a:
        e = np.empty(0, np.int64)
        return e, e
    a = np.concatenate(parts_a).astype(_U64)
    b = np.concatenate(parts_b).astype(_U64)
    codes = np.unique((a << _U64(32)) | b)
    return (codes >> _U64(32)).astype(np.int64), (codes & _U64(0xFFFFFFFF)).astype(np.int64)


def _one_to_one(
    a: np.ndarray, b: np.ndarray, score: np.ndarray, score2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy one-to-one assignment by (score, score2) descending, ties by (a, b)."""
    order = np.lexsort((b, a, -score2, -score))
    a, b = a[order], b[order]
    taken_a, taken_b = [], []
    rounds = 0
    while a.size:
        rounds += 1
        # in the sorted pairs, the first of each device is its best remaining pair
        best = np.zeros(a.size, bool)
        best[np.unique(a, return_index=True)[1]] = True
        best_b = np.zeros(a.size, bool)
        best_b[np.unique(b, return_index=True)[1]] = True
        best &= best_b
        taken_a.append(a[best])
        taken_b.append(b[best])
        alive = ~(np.isin(a, a[best]) | np.isin(b, b[best]))
        a, b = a[alive], b[alive]
    if not taken_a:
        e = np.empty(0, np.int64)
        return e, e, 0
    ra, rb = np.concatenate(taken_a), np.concatenate(taken_b)
    order = np.argsort(ra)
    return ra[order], rb[order], rounds


def _check_exports(a: SignatureExport, b: SignatureExport, params: MatchingParams) -> None:
    for name, ex in (("a", a), ("b", b)):
        if ex.fingerprint != params.fingerprint():
            raise FusionError(
                f"the signatures of MNO {name} were made with other parameters "
                f"(fingerprint {ex.fingerprint}, expected {params.fingerprint()})",
                code="FUSION_PARAMETERS_MISMATCH",
            )
    if a.first_day != b.first_day:
        raise FusionError(
            f"the exports cover different periods (first days {a.first_day} and {b.first_day})",
            code="FUSION_PARAMETERS_MISMATCH",
        )
    if a.key_check != b.key_check:
        raise FusionError(
            "the two MNOs hashed their tokens with different keys (key check values differ)",
            code="FUSION_KEY_MISMATCH",
        )


def match_devices(
    export_a: SignatureExport,
    export_b: SignatureExport,
    *,
    params: MatchingParams = DEFAULT_PARAMS,
) -> Matching:
    """Duplicates between two MNOs: LSH candidates, co-presence, household rule, one-to-one.

    Every pair that shares a band (:func:`lsh_candidates`) is compared on the whole
    signature in the band where it first appears; it is kept if its co-presence
    (:func:`copresence`) is at least ``threshold`` and, when both devices have working-hours
    signatures, its working-hours co-presence is at least ``threshold_work``. The kept pairs
    are assigned one to one, greedily by co-presence (module docstring). Linear in the
    devices for a fixed density of look-alike devices: one sort per band and side, and
    comparisons proportional to the candidates.

    Raises
    ------
    FusionError
        ``FUSION_PARAMETERS_MISMATCH`` when an export was made with other parameters or for
        another period, ``FUSION_KEY_MISMATCH`` when the MNOs used different keys.
    """
    _check_exports(export_a, export_b, params)
    t_all, t_work = _period_slots(export_a.first_day, params)
    sa, sb = export_a.signatures, export_b.signatures
    stats = _LshStats()
    kept_a, kept_b = [], []
    for _band, a, b in _band_pairs(
        sa, sb, params.bands, params.rows, params.max_bucket_pairs, stats
    ):
        # every pair is scored in each band it shares (no global sort of all candidates);
        # the few that pass are deduplicated below
        j = _jaccard(_count_equal(sa[a], sb[b]), params.num_perm, params.signature_bits)
        ok = copresence(j, export_a.n_tokens[a], export_b.n_tokens[b], t_all) >= params.threshold
        kept_a.append(a[ok])
        kept_b.append(b[ok])
    pa, pb = _unique_pairs(kept_a, kept_b)
    pj = _jaccard(_equal_counts(sa, sb, pa, pb), params.num_perm, params.signature_bits)
    pc = copresence(pj, export_a.n_tokens[pa], export_b.n_tokens[pb], t_all)
    over_threshold = pa.size
    both = export_a.has_work[pa] & export_b.has_work[pb]
    cw = np.full(pa.size, np.nan)
    n_eq = _equal_counts(export_a.work_signatures, export_b.work_signatures, pa[both], pb[both])
    cw[both] = copresence(
        _jaccard(n_eq, params.num_perm_work, params.signature_bits),
        export_a.n_work_tokens[pa[both]],
        export_b.n_work_tokens[pb[both]],
        t_work,
    )
    ok = ~both | (cw >= params.threshold_work)
    pa, pb, pj, pc, cw = pa[ok], pb[ok], pj[ok], pc[ok], cw[ok]
    asg_a, asg_b, rounds = _one_to_one(pa, pb, pc, np.nan_to_num(cw, nan=-1.0))
    info = {
        "devices_a": len(export_a),
        "devices_b": len(export_b),
        "pair_comparisons": stats.bucket_pairs,
        "skipped_buckets": stats.skipped_buckets,
        "skipped_bucket_pairs": stats.skipped_pairs,
        "over_threshold": over_threshold,
        "stopped_by_household_rule": int((~ok).sum()),
        "pairs_matched": int(pa.size),
        "assigned": int(asg_a.size),
        "assignment_rounds": rounds,
    }
    return Matching(pa, pb, pj, pc, cw, asg_a, asg_b, info)


def duplicate_counts_per_zone(
    matching: Matching, export_a: SignatureExport, *, n_zones: int
) -> np.ndarray:
    """Duplicates per zone: the assigned pairs counted in the home zone of MNO a's device.

    The only output of the matching. Convention: a person with devices on both MNOs is
    counted by each, so the combined count must subtract it once; it is attributed to MNO a
    (the first export), in the zone where MNO a puts the device's home, and MNO b reports no
    duplicate for the pair. In :mod:`rmf_spark.fusion.secure` these counts are MNO a's
    ``duplicates`` and MNO b's are zero. Returns int64 counts, one per zone code."""
    zones = export_a.home_zone[matching.assigned_a]
    return np.bincount(zones, minlength=n_zones).astype(np.int64)
