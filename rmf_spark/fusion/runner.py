"""The fusion stage as a job: several MNOs' exports in, the combined products out.

:func:`run_fusion` (``rmf fusion run``, ``jobs/fusion.py``) reads only the MNOs' export
directories (:func:`~rmf_spark.fusion.signatures.read_mno_export`) and the office's register,
never a lake table of an MNO:

1. **Checks**: every file of every export against its ``export.json`` (a missing or altered
   file is ``FUSION_EXPORT_INVALID``, naming the MNO and the file), and the exports against
   each other: the same period, grid, zone list and regions, matching parameters and keys
   (``FUSION_EXPORT_MISMATCH``, ``FUSION_PARAMETERS_MISMATCH``, ``FUSION_KEY_MISMATCH``, each
   naming the MNO and its ``export.json``).
2. **Duplicates** (:func:`count_duplicates`): every pair of MNOs is matched
   (:func:`~rmf_spark.fusion.matching.match_devices`, one to one within the pair); the matched
   devices of all pairs form a graph whose connected components are the persons seen by more
   than one MNO. A component of ``s`` devices with at most ``p`` from any one MNO holds at
   least ``p`` persons (an MNO's devices are distinct persons) and is taken to hold exactly
   ``p``: ``s - p`` is subtracted, once, in the home zone of its first MNO's device (first in
   the order of ``--export``). A person on three networks is one triangle (or a path of two
   matches), ``s = 3, p = 1``: subtracted twice, not three times as the sum of the three
   pairwise counts would.
3. **Roamers** (:func:`link_roamers`): exact linkage of the roamer hashes; per day, a roamer
   seen by ``c`` MNOs is counted ``c - 1`` times too often, attributed to the first of them.
4. **Products**, per zone of the calibration's level: ``naive_sum`` (the MNOs' resident devices
   summed), ``weighted_sum`` (MultiMNO's combination: each MNO's people, its devices expanded
   by its market share, times a scalar factor, summed; default factors ``1 / M``),
   ``deduplicated`` (naive sum minus duplicates) and ``calibrated`` (the deduplicated devices
   calibrated to the register: the ratio estimator of :mod:`~rmf_spark.fusion.secure` and
   the register-calibrated estimate with its interval,
   :func:`~rmf_spark.slayer.usual_environment.calibration.calibrate_zones`); per day of the
   period, ``inbound_roamers_naive`` and ``inbound_roamers`` (linked roamers counted once).
5. **Disclosure control**, the release's: a value under ``release.k`` is suppressed, and so is
   a zone whose region totals under k (:func:`~rmf_spark.fusion.secure.combine_in_clear`);
   then the secondary suppression of :func:`~rmf_spark.release.disclosure.suppress_values`
   on the zone -> region edge of ``deduplicated`` (whose region total the office knows from
   the calibration factor and the register), applied to ``calibrated`` too.

All sums, the subtraction, the ratio calibration and the threshold are one stacked
computation over every product's cells (:class:`Stack`): in the clear with numpy, or, with
``secure=True``, inside :mod:`~rmf_spark.fusion.secure`'s MPyC computation with every MNO and
the office as local parties, where only the released cells and the suppression pattern reach
the office. The secondary suppression runs on what the office sees in both modes, so both give
the same tables (to fixed-point precision). The register-calibrated estimate needs every
zone's value and is made in clear mode only.

Output in ``out_dir``: a Parquet table per product (``<product>.parquet``) and
``manifest.json`` naming every export (its directory, the SHA-256 of its ``export.json``,
which holds the digest of each of its files) and every product file with its digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rmf_spark.errors import FusionError, InputDataError
from rmf_spark.fusion.matching import DEFAULT_PARAMS, MatchingParams, match_devices
from rmf_spark.fusion.secure import (
    MNO,
    OFFICE,
    MnoInputs,
    OfficeInputs,
    PublicParameters,
    combine_in_clear,
    run_local_parties,
)
from rmf_spark.fusion.signatures import MnoExport, ZoneCounts, read_mno_export
from rmf_spark.release.disclosure import PRIMARY, SUPPRESSED, SUPPRESSION, suppress_values

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rmf_spark.config import RmfConfig

__all__ = [
    "PRODUCTS",
    "Duplicates",
    "FusionInputs",
    "Stack",
    "count_duplicates",
    "link_roamers",
    "load_exports",
    "read_register",
    "run_fusion",
]

log = logging.getLogger(__name__)

#: the products, in the order of the stacked computation
DEDUPLICATED, NAIVE, WEIGHTED, CALIBRATED = (
    "deduplicated",
    "naive_sum",
    "weighted_sum",
    "calibrated",
)
ROAMERS, ROAMERS_NAIVE = "inbound_roamers", "inbound_roamers_naive"
PRODUCTS = (NAIVE, WEIGHTED, DEDUPLICATED, CALIBRATED, ROAMERS_NAIVE, ROAMERS)
_ZONE, _REGION, _DATE = "zone_id", "region_id", "date"
_SEP = "|"  # public cell id: <block>|<zone or date>


# --- the exports -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FusionInputs:
    """The checked exports and what they share: the zones and their regions, the period and
    the matching parameters."""

    exports: tuple[MnoExport, ...]
    zones: ZoneCounts  # the first export's (devices and people are its own)
    first_day: int
    days: int
    params: MatchingParams
    grid: str

    @property
    def mnos(self) -> tuple[str, ...]:
        return tuple(e.mno for e in self.exports)

    @property
    def first_date(self) -> dt.date:
        return dt.date(1970, 1, 1) + dt.timedelta(days=self.first_day)


def _mismatch(export: MnoExport, what: str, ref: MnoExport, theirs: Any, ours: Any) -> FusionError:
    return FusionError(
        f"export of {export.mno} ({export.path / 'export.json'}): {what} {theirs} differs from "
        f"{ref.mno}'s {ours}: every export must come from the same period, grid and zones",
        code="FUSION_EXPORT_MISMATCH",
    )


def load_exports(dirs: Sequence[str | Path]) -> FusionInputs:
    """Read and check the exports (module notes, step 1).

    Raises
    ------
    FusionError
        ``FUSION_EXPORT_INVALID`` (a file missing or altered, no ``residents.json``),
        ``FUSION_EXPORT_MISMATCH`` (fewer than two MNOs, one MNO twice, another period, grid,
        zone set or regions), ``FUSION_PARAMETERS_MISMATCH`` and ``FUSION_KEY_MISMATCH``.
    """
    exports = [read_mno_export(d) for d in dirs]
    if len(exports) < 2:
        raise FusionError(
            f"the fusion needs the exports of at least two MNOs, got {len(exports)}",
            code="FUSION_EXPORT_MISMATCH",
        )
    names = [e.mno for e in exports]
    if len(set(names)) != len(names):
        raise FusionError(f"an MNO is given twice: {names}", code="FUSION_EXPORT_MISMATCH")
    for e in exports:
        if e.residents is None or "period" not in e.meta:
            raise FusionError(
                f"export of {e.mno} ({e.path / 'export.json'}) has no residents.json or period: "
                "make it with `rmf fusion export`",
                code="FUSION_EXPORT_INVALID",
            )
    ref = exports[0]
    shared = {
        "period": lambda e: e.meta["period"],
        "grid": lambda e: e.meta.get("grid"),
        "zone level": lambda e: (e.residents.zone_level, e.residents.region_level),
        "zone list": lambda e: e.residents.zones,
        "zone regions": lambda e: e.residents.regions,
        "matching parameters (fingerprint)": lambda e: e.signatures.fingerprint,
    }
    for e in exports[1:]:
        for what, get in shared.items():
            if get(e) != get(ref):
                theirs, ours = get(e), get(ref)
                if what.startswith("zone l") or what.startswith("zone r"):
                    diff = sorted(set(theirs) ^ set(ours))[:5]
                    theirs, ours = f"({len(theirs)} zones; differing: {diff})", f"({len(ours)})"
                raise _mismatch(e, what, ref, theirs, ours)
        if e.signatures.key_check != ref.signatures.key_check or (
            e.roamers is not None
            and ref.roamers is not None
            and e.roamers.key_check != ref.roamers.key_check
        ):
            raise FusionError(
                f"export of {e.mno} ({e.path / 'export.json'}) was keyed with another link key "
                f"than {ref.mno}'s (key check values differ): the MNOs must share RMF_LINK_KEY",
                code="FUSION_KEY_MISMATCH",
            )
    days = int(ref.meta["period"]["days"])
    params = dataclasses.replace(DEFAULT_PARAMS, period_days=days)
    if params.fingerprint() != ref.signatures.fingerprint:
        raise FusionError(
            f"the signatures were made with other matching parameters than this version's "
            f"defaults for {days} days (fingerprint {ref.signatures.fingerprint}, expected "
            f"{params.fingerprint()})",
            code="FUSION_PARAMETERS_MISMATCH",
        )
    return FusionInputs(
        exports=tuple(exports),
        zones=ref.residents,
        first_day=ref.signatures.first_day,
        days=days,
        params=params,
        grid=str(ref.meta.get("grid")),
    )


# --- duplicates and roamers ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Duplicates:
    """Duplicate persons per MNO and zone (``per_zone[m, z]``: counted in MNO m's zone z, m the
    first MNO of the person's devices), and what the matching saw (counts only)."""

    per_zone: np.ndarray
    pairs: tuple[dict[str, Any], ...]
    clusters: dict[int, int]  # devices per person -> persons

    @property
    def total(self) -> int:
        return int(self.per_zone.sum())


def count_duplicates(
    exports: Sequence[MnoExport], *, params: MatchingParams, n_zones: int
) -> Duplicates:
    """Match every pair of exports and count each person seen by several MNOs once (module
    notes, step 2)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sizes = np.array([len(e.signatures) for e in exports])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    ends_a, ends_b, pairs = [], [], []
    for i in range(len(exports)):
        for j in range(i + 1, len(exports)):
            m = match_devices(exports[i].signatures, exports[j].signatures, params=params)
            ends_a.append(offsets[i] + m.assigned_a)
            ends_b.append(offsets[j] + m.assigned_b)
            pairs.append({"a": exports[i].mno, "b": exports[j].mno, **m.stats})
    per_zone = np.zeros((len(exports), n_zones))
    a, b = np.concatenate(ends_a), np.concatenate(ends_b)
    if a.size == 0:
        return Duplicates(per_zone, tuple(pairs), {})
    nodes, pos = np.unique(np.concatenate([a, b]), return_inverse=True)
    edges = coo_matrix((np.ones(a.size), (pos[: a.size], pos[a.size :])), (nodes.size,) * 2)
    n_comp, label = connected_components(edges, directed=False)
    mno = np.searchsorted(offsets, nodes, side="right") - 1
    per_mno = np.zeros((n_comp, len(exports)), np.int64)
    np.add.at(per_mno, (label, mno), 1)
    size, most = per_mno.sum(axis=1), per_mno.max(axis=1)
    anchor = np.full(n_comp, nodes.size)
    np.minimum.at(anchor, label, np.arange(nodes.size))  # nodes are sorted: the first MNO's
    anchor_mno = mno[anchor]
    row = nodes[anchor] - offsets[anchor_mno]
    zone = np.zeros(n_comp, np.int64)
    for m, e in enumerate(exports):  # the home zone of each anchor, from its own export
        at = anchor_mno == m
        zone[at] = e.signatures.home_zone[row[at]]
    np.add.at(per_zone, (anchor_mno, zone), size - most)
    values, counts = np.unique(size, return_counts=True)
    clusters = {int(s): int(n) for s, n in zip(values, counts, strict=True)}
    return Duplicates(per_zone, tuple(pairs), clusters)


def link_roamers(exports: Sequence[MnoExport], *, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Roamers seen per MNO and day, and roamers counted too often per MNO and day (a roamer
    seen by c MNOs on a day: ``c - 1``, on the first of them), both ``(MNOs, days)``."""
    seen = np.zeros((len(exports), days))
    extra = np.zeros((len(exports), days))
    hashes = [e.roamers.link_hash if e.roamers else np.empty(0, np.uint64) for e in exports]
    masks = [e.roamers.days_seen if e.roamers else np.empty(0, np.uint64) for e in exports]
    h = np.concatenate(hashes)
    who = np.repeat(np.arange(len(exports)), [x.size for x in hashes])
    mask = np.concatenate(masks).astype(np.uint64)
    for d in range(days):
        on = ((mask >> np.uint64(d)) & np.uint64(1)).astype(bool)
        hd, wd = h[on], who[on]
        seen[:, d] = np.bincount(wd, minlength=len(exports))
        order = np.lexsort((wd, hd))
        hd, wd = hd[order], wd[order]
        first = np.r_[True, hd[1:] != hd[:-1]] if hd.size else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        count = np.diff(np.r_[starts, hd.size])
        extra[:, d] = np.bincount(wd[starts], weights=count - 1, minlength=len(exports))
    return seen, extra


# --- the stacked computation -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stack:
    """Every product's cells as one set of public zones (``<block>|<zone or date>``) with
    regions (``<block>|<region>``): per MNO its counts and duplicates, and the office's
    register (0 outside ``deduplicated``, whose factor is then 0 and reveals nothing)."""

    zones: tuple[str, ...]
    regions: tuple[str, ...]
    counts: np.ndarray  # (MNOs, cells)
    duplicates: np.ndarray  # (MNOs, cells)
    register: np.ndarray  # (cells,) integers
    blocks: dict[str, slice]


def _stack(
    inputs: FusionInputs,
    duplicates: Duplicates,
    register: np.ndarray,
    factors: np.ndarray,
    roamers: tuple[np.ndarray, np.ndarray],
) -> Stack:
    zc, n_mno = inputs.zones, len(inputs.exports)
    devices = np.stack([e.residents.devices for e in inputs.exports])
    people = np.stack([e.residents.population for e in inputs.exports])
    dates = [str(inputs.first_date + dt.timedelta(days=d)) for d in range(inputs.days)]
    none = np.zeros((n_mno, len(zc.zones)))
    no_days = np.zeros((n_mno, inputs.days))
    seen, extra = roamers
    parts = [  # block, cells, regions, counts, duplicates, register
        (DEDUPLICATED, zc.zones, zc.regions, devices, duplicates.per_zone, register),
        (NAIVE, zc.zones, zc.regions, devices, none, 0 * register),
        (WEIGHTED, zc.zones, zc.regions, people * factors[:, None], none, 0 * register),
        (ROAMERS, dates, ["all"] * len(dates), seen, extra, np.zeros(len(dates))),
        (ROAMERS_NAIVE, dates, ["all"] * len(dates), seen, no_days, np.zeros(len(dates))),
    ]
    blocks, at = {}, 0
    for name, cells, *_ in parts:
        blocks[name] = slice(at, at + len(cells))
        at += len(cells)
    return Stack(
        zones=tuple(f"{name}{_SEP}{c}" for name, cells, *_ in parts for c in cells),
        regions=tuple(f"{name}{_SEP}{r}" for name, _, regions, *_ in parts for r in regions),
        counts=np.concatenate([p[3] for p in parts], axis=1),
        duplicates=np.concatenate([p[4] for p in parts], axis=1),
        register=np.concatenate([p[5] for p in parts]).astype(float),
        blocks=blocks,
    )


@dataclasses.dataclass(frozen=True)
class _OfficeView:
    """What the office holds after the computation, per cell: released or not, the combined
    and ratio-calibrated values of the released cells (NaN elsewhere)."""

    released: np.ndarray
    combined: np.ndarray
    calibrated: np.ndarray
    seconds: float = 0.0


def _clear_view(stack: Stack, k: float) -> tuple[_OfficeView, np.ndarray]:
    """The office's view computed in the clear, and every cell's combined value."""
    res = combine_in_clear(stack.counts, stack.duplicates, stack.register, stack.regions, k)
    hide = np.where(res.released, 1.0, np.nan)
    return _OfficeView(res.released, res.combined * hide, res.calibrated * hide), res.combined


def _secure_view(stack: Stack, k: float, mnos: Sequence[str], timeout: float) -> _OfficeView:
    office = OFFICE if OFFICE not in mnos else "statistical_office"
    parties = [(m, MNO) for m in mnos] + [(office, OFFICE)]
    params = PublicParameters(stack.zones, stack.regions, k, parties)
    inputs: dict[str, MnoInputs | OfficeInputs] = {
        m: MnoInputs(stack.counts[i], stack.duplicates[i]) for i, m in enumerate(mnos)
    }
    inputs[office] = OfficeInputs(stack.register)
    t0 = time.perf_counter()
    res = run_local_parties(params, inputs, timeout=timeout)
    position = {z: i for i, z in enumerate(stack.zones)}
    at = np.array([position[z] for z in res.released], dtype=np.int64)
    released = np.zeros(len(stack.zones), bool)
    released[at] = True
    combined, calibrated = np.full(released.size, np.nan), np.full(released.size, np.nan)
    combined[at], calibrated[at] = res.combined, res.calibrated
    return _OfficeView(released, combined, calibrated, time.perf_counter() - t0)


def _region_totals(view: _OfficeView, stack: Stack, block: slice) -> dict[str, float]:
    """The office's region totals ``C_r = N_r / factor_r`` of a block: known for the regions
    with a released cell and a registered population (``factor_r`` is any released cell's
    calibrated over combined value)."""
    regions = np.asarray(stack.regions[block])
    register = stack.register[block]
    released = view.released[block]
    out = {}
    for r in np.unique(regions[released]):
        inside = regions == r
        n_r = register[inside].sum()
        cell = np.flatnonzero(inside & released)[0]
        factor = view.calibrated[block][cell] / view.combined[block][cell]
        if n_r > 0 and factor > 0:
            out[str(r)] = float(n_r / factor)
    return out


def _suppression(
    view: _OfficeView, stack: Stack, block: slice, *, k: float, secondary: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Suppressed flag and reason per cell of a block: the threshold rule of the computation
    (``primary``), then, if ``secondary``, the release's secondary suppression on the cell ->
    region edge, run on the office's view (a suppressed cell's value there is its region's
    suppressed sum shared out: the rule only reads that sum, their count and released
    values)."""
    released = view.released[block]
    primary = np.where(released, None, PRIMARY).astype(object)
    if not secondary or released.all():
        return ~released, primary
    regions = np.asarray(stack.regions[block])
    totals = _region_totals(view, stack, block)
    value = view.combined[block].copy()
    for r in np.unique(regions[~released]):
        hidden = (regions == r) & ~released
        rest = totals.get(str(r), np.nan) - np.nansum(value[(regions == r) & released])
        value[hidden] = rest / hidden.sum()
    region_ids = sorted(set(regions.tolist()))
    values = pd.DataFrame(
        {
            "level": ["cell"] * regions.size + ["region"] * len(region_ids),
            "area_id": [*stack.zones[block], *region_ids],
            "value": [*value, *(totals.get(r, np.nan) for r in region_ids)],
            SUPPRESSED: [*~released, *(r not in totals for r in region_ids)],
        }
    )
    links = pd.DataFrame(
        {
            "child_level": "cell",
            "child_id": list(stack.zones[block]),
            "parent_level": "region",
            "parent_id": regions,
        }
    )
    out = suppress_values(values, links, k=k, secondary=True).iloc[: regions.size]
    suppressed = out[SUPPRESSED].to_numpy(bool)
    reason = np.where(~released, PRIMARY, out[SUPPRESSION].to_numpy(object)).astype(object)
    return suppressed, np.where(suppressed, reason, None).astype(object)


# --- the register ----------------------------------------------------------------------------


def read_register(
    path: str | Path,
    *,
    zone_level: int,
    spark: SparkSession | None = None,
    cfg: RmfConfig | None = None,
) -> pd.DataFrame:
    """The office's register, ``zone_id, residents``, of ``zone_level``: a Delta table (read
    with Spark: ``spark``, or a session made from ``cfg``), a Parquet file or folder, or a CSV
    file; a ``zone_level`` column, if any, selects the level.

    Raises
    ------
    rmf_spark.errors.InputDataError
        ``REGISTER_INVALID``: not found, unreadable, or without ``zone_id`` and ``residents``.
    """
    p = Path(path)
    try:
        if (p / "_delta_log").is_dir():
            from rmf_spark import lake
            from rmf_spark.session import get_spark

            spark = spark if spark is not None else get_spark(cfg)
            df = lake.read_delta(spark, str(p)).toPandas()
        elif p.suffix.lower() == ".csv":
            df = pd.read_csv(p, dtype={_ZONE: str})
        else:
            df = pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        raise InputDataError(
            f"register {p}: cannot be read ({exc})", code="REGISTER_INVALID"
        ) from None
    missing = {_ZONE, "residents"} - set(df.columns)
    if missing:
        raise InputDataError(
            f"register {p}: no column {sorted(missing)} (needs zone_id, residents)",
            code="REGISTER_INVALID",
        )
    if "zone_level" in df.columns:
        df = df[df["zone_level"] == zone_level]
    return df.assign(**{_ZONE: df[_ZONE].astype(str)})[[_ZONE, "residents"]]


def _register_vector(
    register: pd.DataFrame, zones: ZoneCounts, cfg: RmfConfig
) -> tuple[np.ndarray, list[str]]:
    """The register in the zone order (0 where missing and the settings allow it) and the
    zones it lacks; the checks of the calibration (unknown, missing, duplicated zones)."""
    from rmf_spark.slayer.usual_environment.calibration import _with_register

    table = pd.DataFrame({_ZONE: list(zones.zones)})
    checked, _ = _with_register(table, register, cfg.usual_environment.calibration)
    values = checked["register"].to_numpy(float)
    lacking = [z for z, v in zip(zones.zones, values, strict=True) if not np.isfinite(v)]
    values = np.nan_to_num(values)
    if np.any(values != np.round(values)):
        raise InputDataError("register: residents must be integers", code="REGISTER_VALUE_INVALID")
    return values, lacking


# --- the products ----------------------------------------------------------------------------


def _table(keys: dict[str, Any], values: np.ndarray, sup: np.ndarray, why: np.ndarray):
    """A product's rows: its keys, the value (null where suppressed) and the suppression."""
    return pd.DataFrame(
        {**keys, "value": np.where(sup, np.nan, values), SUPPRESSED: sup, SUPPRESSION: why}
    )


def _calibrated_table(
    zc: ZoneCounts,
    ratio: np.ndarray,
    model: pd.DataFrame | None,
    sup: np.ndarray,
    why: np.ndarray,
) -> pd.DataFrame:
    keys = {_ZONE: list(zc.zones), _REGION: list(zc.regions)}
    out = _table(keys, ratio, sup, why).rename(columns={"value": "ratio_population"})
    cols = ("population", "population_sd", "population_lower", "population_upper")
    for c in cols:
        values = model[c].to_numpy(float) if model is not None else np.full(sup.size, np.nan)
        out.insert(out.columns.get_loc(SUPPRESSED), c, np.where(sup, np.nan, values))
    fallback = model["fallback"].to_numpy(object) if model is not None else [None] * sup.size
    out.insert(out.columns.get_loc(SUPPRESSED), "fallback", fallback)
    return out


def _write_parquet(df: pd.DataFrame, path: Path) -> str:
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _factors(mnos: Sequence[str], given: Mapping[str, float] | None) -> np.ndarray:
    given = dict(given or {})
    unknown = sorted(set(given) - set(mnos))
    if unknown:
        raise InputDataError(f"MNO factors for unknown MNOs {unknown} (exports: {list(mnos)})")
    bad = {m: f for m, f in given.items() if not 0 <= f <= 1}
    if bad:
        raise InputDataError(f"MNO factors must lie in [0, 1]: {bad}")
    return np.array([given.get(m, 1.0 / len(mnos)) for m in mnos])


def run_fusion(
    cfg: RmfConfig,
    *,
    exports: Sequence[str | Path],
    register: str | Path | pd.DataFrame,
    out_dir: str | Path,
    secure: bool = False,
    mno_factors: Mapping[str, float] | None = None,
    timeout: float = 120.0,
    spark: SparkSession | None = None,
) -> dict[str, Any]:
    """Combine the MNOs' exports into the fusion products (module notes).

    Parameters
    ----------
    cfg
        The profile: ``release.k`` and ``release.secondary_suppression``, and the
        ``usual_environment.calibration`` section.
    exports
        The MNOs' export directories (``rmf fusion export``); their order sets which MNO a
        duplicate is attributed to (the first).
    register
        The office's register (:func:`read_register`), or its rows as a DataFrame.
    out_dir
        Where the products and ``manifest.json`` go (a local directory).
    secure
        Run the combination as MPyC parties (each MNO and the office) on 127.0.0.1.
    mno_factors
        MultiMNO's scalar factor of each MNO for ``weighted_sum`` (default ``1 / M`` each).
    timeout
        Seconds the secure computation may take.
    spark
        A session, only to read a register stored as Delta (else one is made from ``cfg``).

    Returns
    -------
    dict
        The manifest (and, in clear mode, the totals the office would not see in secure
        mode: ``totals``).

    Raises
    ------
    rmf_spark.errors.FusionError
        An export is missing, altered or does not match the others (:func:`load_exports`); the
        secure computation failed (nothing is written then).
    rmf_spark.errors.InputDataError
        The register does not match the zones (the calibration's codes).
    """
    t0 = time.perf_counter()
    inputs = load_exports(exports)
    zc, mnos, k = inputs.zones, inputs.mnos, cfg.release.k
    if isinstance(register, str | Path):
        register = read_register(register, zone_level=zc.zone_level, spark=spark, cfg=cfg)
    reg, lacking = _register_vector(register, zc, cfg)
    factors = _factors(mnos, mno_factors)
    dups = count_duplicates(inputs.exports, params=inputs.params, n_zones=len(zc.zones))
    roamers = link_roamers(inputs.exports, days=inputs.days)
    stack = _stack(inputs, dups, reg, factors, roamers)
    if secure:
        view, every = _secure_view(stack, k, mnos, timeout), None
    else:
        view, every = _clear_view(stack, k)
    secondary = cfg.release.secondary_suppression

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    for name in (NAIVE, WEIGHTED, DEDUPLICATED, ROAMERS_NAIVE, ROAMERS):
        block = stack.blocks[name]
        sup, why = _suppression(
            view, stack, block, k=k, secondary=secondary and name == DEDUPLICATED
        )
        if name in (ROAMERS, ROAMERS_NAIVE):
            keys = {_DATE: [z.split(_SEP, 1)[1] for z in stack.zones[block]]}
        else:
            keys = {_ZONE: list(zc.zones), _REGION: list(zc.regions)}
        tables[name] = _table(keys, view.combined[block], sup, why)
    model, calibration = None, {"skipped": "secure mode: the model needs every zone's value"}
    if every is not None:
        from rmf_spark.slayer.usual_environment.calibration import calibrate_zones

        devices = every[stack.blocks[DEDUPLICATED]].clip(0)
        result = calibrate_zones(
            pd.DataFrame({_ZONE: zc.zones, _REGION: zc.regions, "devices": devices}),
            register=register,
            market_share=pd.DataFrame({_REGION: sorted(set(zc.regions)), "share": 1.0}),
            settings=cfg.usual_environment.calibration,
        )
        model, calibration = result.zones, result.summary()
    dedup = tables[DEDUPLICATED]
    tables[CALIBRATED] = _calibrated_table(
        zc,
        view.calibrated[stack.blocks[DEDUPLICATED]],
        model,
        dedup[SUPPRESSED].to_numpy(bool),
        dedup[SUPPRESSION].to_numpy(object),
    )

    products = {}
    for name in PRODUCTS:
        path = out / f"{name}.parquet"
        digest = _write_parquet(tables[name], path)
        sup = tables[name][SUPPRESSED].to_numpy(bool)
        products[name] = {
            "path": path.name,
            "sha256": digest,
            "rows": int(sup.size),
            "released": int((~sup).sum()),
            "suppressed": int(sup.sum()),
        }
    manifest: dict[str, Any] = {
        "stage": "fusion",
        "mode": "secure" if secure else "clear",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "period": {
            "start": str(inputs.first_date),
            "end": str(inputs.first_date + dt.timedelta(days=inputs.days - 1)),
            "days": inputs.days,
        },
        "zone_level": zc.zone_level,
        "region_level": zc.region_level,
        "zones": len(zc.zones),
        "grid": inputs.grid,
        "k": k,
        "secondary_suppression": secondary,
        "mno_factors": dict(zip(mnos, factors.tolist(), strict=True)),
        "exports": [
            {
                "mno": e.mno,
                "path": str(e.path.resolve()),
                "export_json_sha256": e.digest,
                "files": dict(e.meta["files"]),
            }
            for e in inputs.exports
        ],
        "duplicates_attributed_to": "the first export (in this order) of the person's devices",
        "register_zones_missing": lacking,
        "calibration": calibration,
        "products": products,
    }
    if secure:
        manifest["secure"] = {
            "parties": [*mnos, "office"],
            "cells": len(stack.zones),
            "seconds": round(view.seconds, 2),
        }
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(text)
    tmp.replace(out / "manifest.json")
    summary = {**manifest, "manifest_path": str(out / "manifest.json")}
    if not secure:
        naive = stack.counts[:, stack.blocks[DEDUPLICATED]].sum()
        summary["totals"] = {
            "naive_sum": float(naive),
            "duplicates": dups.total,
            "deduplicated": float(naive - dups.total),
            "clusters": dups.clusters,
            "pairs": list(dups.pairs),
            "roamer_days_naive": float(roamers[0].sum()),
            "roamer_days_linked": float(roamers[1].sum()),
        }
    log.info("fusion %s of %s: %s", manifest["mode"], list(mnos), products)
    return summary
