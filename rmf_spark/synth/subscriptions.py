"""Subscriptions: who carries which devices on which MNO, and the devices' raw identifiers.

Notes
-----
Regional shares ``p_r(m) = S * s_m f_rm / sum_m' s_m' f_rm'`` with ``s_m`` the profile's
market share, ``S = sum_m s_m`` (the rest of the market is MNOs not simulated) and
``f_rm = exp(share_jitter * z_rm)``, ``z_rm ~ N(0, 1)``. A resident has no phone with
probability ``no_phone_rate``; otherwise the primary MNO is drawn from ``p_r`` (or "other"),
a second device on the same MNO is added with ``second_device_same_mno_rate`` and one on a
different simulated MNO (drawn ``~ p_r``) with ``second_mno_rate``. Visitors carry one foreign
device roaming on a simulated MNO drawn ``~ s_m``. ``device_key = 4 person_id + index``; the
raw identifier is the affine permutation ``(a * device_key + b) mod 10^10`` (``a`` odd and not
a multiple of 5, so unique) behind the MNO's prefix.
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
    "FOREIGN_MCC",
    "FOREIGN_MNC",
    "expected_device_share",
    "raw_id_prefix",
    "regional_shares",
    "spark_device_ids",
    "to_devices",
]

FOREIGN_MCC, FOREIGN_MNC = 234, "15"
DEVICE_SCHEMA = (
    "device_key long, person_id long, mno_id string, device_index int, raw_id string, "
    "is_inbound boolean, mcc int, mnc string"
)
_PERM_A = 987_654_323


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


def raw_id_prefix(mno: MnoParams, *, inbound: bool) -> str:
    """What the MNO's raw id starts with: mno_a ``34`` (visitors ``44``), mno_b the PLMN."""
    if mno.raw_format == "mno_a":
        return "44" if inbound else "34"
    return f"{FOREIGN_MCC}{FOREIGN_MNC}" if inbound else f"{mno.mcc}{mno.mnc}"


def _raw_ids(keys: np.ndarray, prefix: np.ndarray, seed: int) -> np.ndarray:
    b = seed * 7_919 % 10**10
    digits = (keys.astype(np.int64) * _PERM_A + b) % 10**10
    return np.char.add(prefix.astype(str), np.char.zfill(digits.astype(str), 10))


def spark_device_ids(
    device_key: Column, is_inbound: Column, mno: MnoParams, seed: int
) -> tuple[Column, Column, Column]:
    """``raw_id, mcc, mnc`` of a device on ``mno`` as Spark columns: the same values as
    :func:`to_devices` (no join with the devices, no string made in Python per event)."""
    b = seed * 7_919 % 10**10
    digits = F.pmod(device_key * F.lit(_PERM_A) + F.lit(b), F.lit(10**10))
    prefix = F.when(is_inbound, F.lit(raw_id_prefix(mno, inbound=True))).otherwise(
        F.lit(raw_id_prefix(mno, inbound=False))
    )
    raw_id = F.concat(prefix, F.lpad(digits.cast("string"), 10, "0"))
    mcc = F.when(is_inbound, F.lit(FOREIGN_MCC)).otherwise(F.lit(mno.mcc))
    mnc = F.when(is_inbound, F.lit(FOREIGN_MNC)).otherwise(F.lit(mno.mnc))
    return raw_id, mcc, mnc


def devices_pandas(
    pdf: pd.DataFrame,
    *,
    mnos: list[MnoParams],
    shares: np.ndarray,
    sub: SubscriptionParams,
    seed: int,
) -> pd.DataFrame:
    """Devices of a batch of persons (module notes)."""
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
    second = (cq < (uniform(key, 4, seed) * cq[:, -1])[:, None]).sum(axis=1)
    cross = ~tourist & (n_m > 1) & (uniform(key, 5, seed) < sub.second_mno_rate)
    rows = [
        (has_phone & (primary < n_m), primary, 0),
        (has_phone & same, primary, 1),
        (has_phone & cross, np.minimum(second, n_m - 1), 2),
    ]
    parts = []
    for ok, m_idx, idx in rows:
        sel = np.flatnonzero(ok)
        parts.append(pd.DataFrame({"i": sel, "m": m_idx[sel], "device_index": idx}))
    d = pd.concat(parts, ignore_index=True)
    pids = pid[d["i"].to_numpy()]
    inbound = tourist[d["i"].to_numpy()]
    m_arr = d["m"].to_numpy()
    mcc = np.where(inbound, FOREIGN_MCC, np.array([m.mcc for m in mnos])[m_arr])
    mnc = np.where(inbound, FOREIGN_MNC, np.array([m.mnc for m in mnos])[m_arr])
    prefixes = np.array([[raw_id_prefix(m, inbound=b) for b in (False, True)] for m in mnos])
    prefix = prefixes[m_arr, inbound.astype(np.int64)]
    dkey = pids * 4 + d["device_index"].to_numpy()
    return pd.DataFrame(
        {
            "device_key": dkey,
            "person_id": pids,
            "mno_id": np.array([m.mno_id for m in mnos])[m_arr],
            "device_index": d["device_index"].to_numpy().astype(np.int32),
            "raw_id": _raw_ids(dkey, prefix, seed),
            "is_inbound": inbound,
            "mcc": mcc.astype(np.int32),
            "mnc": mnc,
        }
    )


def to_devices(
    persons: DataFrame,
    *,
    mnos: list[MnoParams],
    shares: np.ndarray,
    sub: SubscriptionParams,
    seed: int,
) -> DataFrame:
    """Devices of all persons (schema :data:`DEVICE_SCHEMA`)."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield devices_pandas(pdf, mnos=mnos, shares=shares, sub=sub, seed=seed)

    return persons.select("person_id", "home_region_id", "is_tourist").mapInPandas(
        batches, DEVICE_SCHEMA
    )
