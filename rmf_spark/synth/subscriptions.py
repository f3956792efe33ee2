"""Subscriptions: who carries which devices on which MNO, and the devices' raw identifiers.

Notes
-----
Regional shares ``p_r(m) = S * s_m f_rm / sum_m' s_m' f_rm'`` with ``s_m`` the profile's
market share, ``S = sum_m s_m`` (the rest of the market is MNOs not simulated) and
``f_rm = exp(share_jitter * z_rm)``, ``z_rm ~ N(0, 1)``. A resident has no phone with
probability ``no_phone_rate``; otherwise the primary MNO is drawn from ``p_r`` (or "other"),
a second device on the same MNO is added with ``second_device_same_mno_rate`` and one on a
different simulated MNO (drawn ``~ p_r``) with ``second_mno_rate``. Visitors carry one foreign
SIM roaming on a simulated MNO drawn ``~ s_m``; with ``roamer_switch_share`` (and at least two
MNOs) the phone moves, at the start of a local day ``s`` of the stay, to another simulated MNO
(drawn ``~ s_m`` among the others): the first device row is active on days ``first..s-1``,
a second row (``device_index`` 2) on days ``s..last`` (``from_day``, ``to_day``; null: no
bound). ``s`` is uniform in ``first+1 .. max(first+1, min(last, n_days-1))``, so that the
switch falls inside the period's files whenever the stay allows it.

``device_key = 4 person_id + index``. A domestic raw identifier is the affine permutation
``(a * device_key + b) mod 10^10`` (``a`` odd and not a multiple of 5, so unique) behind the
MNO's prefix. A visitor's identifier is its SIM's IMSI, the same on every network it visits:
its home PLMN (MCC + MNC, ``roamer_plmns``) and the same permutation of the SIM key
``4 person_id``. The home PLMN is drawn with the weights of ``roamer_plmns`` from
``u = ((c * sim_key + b') mod 10^10) / 10^10`` with ``c / 10^10`` near the golden ratio (a
Weyl sequence over the visitors' consecutive keys): integer arithmetic that numpy and Spark
compute alike, so the events get the identifier without a join with the devices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.synth.profile import MnoParams, SubscriptionParams
from rmf_spark.synth.rng import normal, uniform

__all__ = [
    "DEVICE_SCHEMA",
    "domestic_prefix",
    "expected_device_share",
    "regional_shares",
    "spark_device_ids",
    "to_devices",
]

DEVICE_SCHEMA = (
    "device_key long, person_id long, mno_id string, device_index int, raw_id string, "
    "is_inbound boolean, mcc int, mnc string, from_day int, to_day int"
)
_PERM_A = 987_654_323
_ORIGIN_A = 1_545_084_987  # 4 * _ORIGIN_A / 10^10 = 0.618...: consecutive visitors spread
_SWITCH, _SWITCH_DAY = 30, 31  # streams of the visitors' network switch


def regional_shares(
    mnos: list[MnoParams], *, n_regions: int, jitter: float, seed: int
) -> np.ndarray:
    """``p_r(m)``, shape ``(n_regions, n_mnos)`` (module notes)."""
    s = np.array([m.market_share for m in mnos])
    key = np.arange(n_regions * len(mnos), dtype=np.uint64).reshape(n_regions, len(mnos))
    f = s * np.exp(jitter * normal(key, 1, seed))
    return s.sum() * f / f.sum(axis=1, keepdims=True)


def expected_device_share(p: np.ndarray, *, no_phone: float, second_mno: float) -> np.ndarray:
    """Expected share of residents with a device on each MNO, for one region's ``p``.

    ``E_m = (1 - no_phone) [p_m + second_mno sum_{j != m} P(primary=j) p_m / sum_{k != j} p_k]``
    with ``j`` running over the simulated MNOs and "other" (``1 - sum p``).
    """
    e = p.copy()
    for j in range(len(p)):
        others = p.sum() - p[j]
        if others > 0:
            mask = np.arange(len(p)) != j
            e[mask] += second_mno * p[j] * p[mask] / others
    e += second_mno * (1.0 - p.sum()) * p / p.sum()
    return (1.0 - no_phone) * e


def domestic_prefix(mno: MnoParams) -> str:
    """What a subscriber's raw id starts with: mno_a's format ``34`` (an MSISDN), mno_b's
    the MNO's PLMN (an IMSI). Visitors' ids are IMSIs of their home PLMN on every network."""
    return "34" if mno.raw_format == "mno_a" else f"{mno.mcc}{mno.mnc}"


def _origin_thresholds(roamer_plmns: dict[str, float]) -> tuple[list[str], list[int]]:
    """The home PLMNs and the integer cut points of ``u * 10^10`` between them."""
    plmns = list(roamer_plmns)
    w = np.array([roamer_plmns[p] for p in plmns], dtype=np.float64)
    cuts = np.round(np.cumsum(w)[:-1] / w.sum() * 10**10).astype(np.int64)
    return plmns, [int(c) for c in cuts]


def _origin_b(seed: int) -> int:
    return (seed * 104_729 + 12_345) % 10**10


def _sim_key(device_key: np.ndarray, inbound: np.ndarray) -> np.ndarray:
    """The key of the SIM: a visitor's one SIM whatever the network (``4 person_id``)."""
    return np.where(inbound, device_key - device_key % 4, device_key)


def _raw_ids(keys: np.ndarray, prefix: np.ndarray, seed: int) -> np.ndarray:
    b = seed * 7_919 % 10**10
    digits = (keys.astype(np.int64) * _PERM_A + b) % 10**10
    return np.char.add(prefix.astype(str), np.char.zfill(digits.astype(str), 10))


def spark_device_ids(
    device_key: Column,
    is_inbound: Column,
    mno: MnoParams,
    seed: int,
    roamer_plmns: dict[str, float],
) -> tuple[Column, Column, Column]:
    """``raw_id, mcc, mnc`` of a device on ``mno`` as Spark columns: the same values as
    :func:`to_devices` (no join with the devices, no string made in Python per event)."""
    b = seed * 7_919 % 10**10
    sim_key = F.when(is_inbound, device_key - F.pmod(device_key, F.lit(4))).otherwise(device_key)
    digits = F.pmod(sim_key * F.lit(_PERM_A) + F.lit(b), F.lit(10**10))
    plmns, cuts = _origin_thresholds(roamer_plmns)
    u = F.pmod(sim_key * F.lit(_ORIGIN_A) + F.lit(_origin_b(seed)), F.lit(10**10))
    index = sum((F.when(u >= F.lit(c), 1).otherwise(0) for c in cuts), F.lit(0))
    plmn = F.element_at(F.array(*[F.lit(p) for p in plmns]), index + 1)
    prefix = F.when(is_inbound, plmn).otherwise(F.lit(domestic_prefix(mno)))
    raw_id = F.concat(prefix, F.lpad(digits.cast("string"), 10, "0"))
    mcc = F.when(is_inbound, F.substring(plmn, 1, 3).cast("int")).otherwise(F.lit(mno.mcc))
    mnc = F.when(is_inbound, F.substring(plmn, 4, 2)).otherwise(F.lit(mno.mnc))
    return raw_id, mcc, mnc


def devices_pandas(
    pdf: pd.DataFrame,
    *,
    mnos: list[MnoParams],
    shares: np.ndarray,
    sub: SubscriptionParams,
    seed: int,
    n_days: int,
) -> pd.DataFrame:
    """Devices of a batch of persons (``person_id, home_region_id, is_tourist, first_day,
    last_day``; module notes)."""
    pid = pdf["person_id"].to_numpy()
    key = pid.astype(np.uint64)
    region = pdf["home_region_id"].str.slice(1).astype(int).to_numpy()
    tourist = pdf["is_tourist"].to_numpy()
    n_m = len(mnos)
    base = np.array([m.market_share for m in mnos])
    p = np.where(tourist[:, None], base / base.sum(), shares[region])
    cum = np.cumsum(p, axis=1)
    primary = (cum < uniform(key, 1, seed)[:, None]).sum(axis=1)  # n_m = "other"
    has_phone = tourist | (uniform(key, 2, seed) >= sub.no_phone_rate)
    same = ~tourist & (primary < n_m) & (uniform(key, 3, seed) < sub.second_device_same_mno_rate)
    q = np.where(np.arange(n_m)[None, :] == primary[:, None], 0.0, p)
    cq = np.cumsum(q, axis=1)
    second = np.minimum((cq < (uniform(key, 4, seed) * cq[:, -1])[:, None]).sum(axis=1), n_m - 1)
    cross = ~tourist & (n_m > 1) & (uniform(key, 5, seed) < sub.second_mno_rate)
    switch = tourist & (n_m > 1) & (uniform(key, _SWITCH, seed) < sub.roamer_switch_share)
    first = pdf["first_day"].to_numpy().astype(np.int64)
    latest = np.maximum(first + 1, np.minimum(pdf["last_day"].to_numpy(), n_days - 1))
    day = first + 1 + np.floor(uniform(key, _SWITCH_DAY, seed) * (latest - first)).astype(np.int64)
    none = np.full(len(pid), -1)
    rows = [  # (who, MNO index, device_index, from_day, to_day); -1: no bound
        (has_phone & (primary < n_m), primary, 0, none, np.where(switch, day - 1, -1)),
        (has_phone & same, primary, 1, none, none),
        (has_phone & (cross | switch), second, 2, np.where(switch, day, -1), none),
    ]
    parts = []
    for ok, m_idx, idx, lo, hi in rows:
        sel = np.flatnonzero(ok)
        parts.append(
            pd.DataFrame(
                {"i": sel, "m": m_idx[sel], "device_index": idx, "lo": lo[sel], "hi": hi[sel]}
            )
        )
    d = pd.concat(parts, ignore_index=True)
    i = d["i"].to_numpy()
    pids = pid[i]
    inbound = tourist[i]
    m_arr = d["m"].to_numpy()
    dkey = pids * 4 + d["device_index"].to_numpy()
    sim = _sim_key(dkey, inbound)
    plmns, cuts = _origin_thresholds(sub.roamer_plmns)
    u = (sim.astype(np.int64) * _ORIGIN_A + _origin_b(seed)) % 10**10
    origin = np.searchsorted(np.array(cuts, dtype=np.int64), u, side="right")
    plmn = np.array(plmns)[origin]
    home = np.array([domestic_prefix(m) for m in mnos])[m_arr]
    mcc = np.where(inbound, np.array([int(p[:3]) for p in plmns])[origin],
                   np.array([m.mcc for m in mnos])[m_arr])  # fmt: skip
    mnc = np.where(inbound, np.array([p[3:] for p in plmns])[origin],
                   np.array([m.mnc for m in mnos])[m_arr])  # fmt: skip
    return pd.DataFrame(
        {
            "device_key": dkey,
            "person_id": pids,
            "mno_id": np.array([m.mno_id for m in mnos])[m_arr],
            "device_index": d["device_index"].to_numpy().astype(np.int32),
            "raw_id": _raw_ids(sim, np.where(inbound, plmn, home), seed),
            "is_inbound": inbound,
            "mcc": mcc.astype(np.int32),
            "mnc": mnc,
            "from_day": pd.array(np.where(d["lo"] < 0, None, d["lo"]), dtype="Int32"),
            "to_day": pd.array(np.where(d["hi"] < 0, None, d["hi"]), dtype="Int32"),
        }
    )


def to_devices(
    persons: DataFrame,
    *,
    mnos: list[MnoParams],
    shares: np.ndarray,
    sub: SubscriptionParams,
    seed: int,
    n_days: int,
) -> DataFrame:
    """Devices of all persons (schema :data:`DEVICE_SCHEMA`)."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield devices_pandas(pdf, mnos=mnos, shares=shares, sub=sub, seed=seed, n_days=n_days)

    return persons.select(
        "person_id", "home_region_id", "is_tourist", "first_day", "last_day"
    ).mapInPandas(batches, DEVICE_SCHEMA)
