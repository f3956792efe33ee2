"""Secure aggregation of several MNOs' per-zone counts, calibrated to the office's register.

The parties are M >= 2 MNOs and the statistical office. Every MNO m inputs, per statistical
zone z, a count ``count_{m,z}`` (e.g. residents estimated from its subscribers) and a count of
duplicates ``dup_{m,z}`` (persons it counts that another MNO counts too), non-negative floats.
The office inputs the register ``reg_z`` (population per zone, non-negative integers). The
zones, their regions ``r(z)``, the threshold k and the parties' roles are public. Inside the
secure computation (MPyC, Shamir secret sharing among all M + 1 parties):

    combined_z   = sum_m count_{m,z} - sum_m dup_{m,z}
    C_r          = sum_{z in r} combined_z                 (region total of the MNOs)
    N_r          = sum_{z in r} reg_z                      (region total of the register)
    released_z   = [combined_z >= k] * [C_{r(z)} >= k]
    factor_r     = N_r / max(C_r, k)                       (ratio estimator)
    calibrated_z = combined_z * factor_{r(z)}

For a released zone ``max(C_r, k) = C_r``, so ``factor_r = N_r / C_r``, the plain ratio
estimator. The second condition is a guard: a region total under k (which needs a zone with
more duplicates than counts, since otherwise ``C_r >= combined_z``) would make the factor
explode; its zones are suppressed instead.

Only the office learns anything, and only the release: ``released_z`` for every zone (the
suppression pattern) and ``combined_z`` for the released zones, with ``factor_r`` for the
regions that have a released zone, from which the office computes ``calibrated_z`` of the
released zones itself. That last product is done on opened values because it reveals nothing
more: ``factor_r`` is what any released zone's ``calibrated_z / combined_z`` gives anyway.
What the office receives for a suppressed zone is ``released_z * combined_z = 0``, and for a
region with no released zone a factor of 0, both computed before anything is opened, so no
value of a suppressed zone leaves the secure computation. The MNOs receive nothing. See
``docs/fusion.md`` for the threat model, and for what the release itself discloses.

Precision. Zone values are secure fixed-point numbers ``SecFxp(72, 32)`` (:data:`BIT_LENGTH`,
:data:`FRAC_BITS`): an input is rounded to the nearest multiple of 2^-32 (2.3e-10), so a
released ``combined_z`` is within ``M * 2^-32`` of the sum in floating point, and the
threshold test is exact on the rounded inputs. The 40 integral bits hold any sum of totals
bounded by :data:`MAX_TOTAL` (2^31 per party, more than any country). 32 fractional bits and
not more because each secure comparison costs one random bit per bit of the compared value,
fractional ones included, and the comparisons with k are most of the work. The division is
done on the regions only, in ``SecFxp(128, 64)`` (:data:`RATIO_BIT_LENGTH`,
:data:`RATIO_FRAC_BITS`; l = 2f is what MPyC's fixed-point division needs): the reciprocal of
``max(C_r, k)`` is kept to 2^-64 absolutely, so ``factor_r`` and ``calibrated_z`` have a
relative error of about ``C_r * 2^-64``, at most 2^-30 (1e-9), far below one person.

Files (JSON; see :func:`read_public`, :func:`read_inputs`, :func:`FusionResult.to_json`):

* public parameters, known to all::

    {"zones": ["z1", ...], "zone_region": ["r1", ...], "k": 10,
     "parties": [{"name": "mno_a", "role": "mno"}, ..., {"name": "office", "role": "office"}]}

  the party index is the position in ``parties`` (MPyC's party id);
* an MNO's inputs: ``{"party": "mno_a", "zones": [...], "counts": [...], "duplicates": [...]}``;
* the office's inputs: ``{"party": "office", "zones": [...], "register": [...]}`` (integers);
* the office's result: ``{"k": 10, "released": [{"zone", "combined", "calibrated"}, ...],
  "suppressed": ["z7", ...]}``;
* a party's report (every party, on success): seconds and the loopback addresses it used.

Running: one OS process per party, over 127.0.0.1 only (``python -m rmf_spark.fusion.secure
--help``), or all of them at once with :func:`run_local_parties`. MPyC keeps one runtime per
process, so :func:`run_party` runs once per process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rmf_spark.errors import FusionError, InputDataError

__all__ = [
    "BIT_LENGTH",
    "FRAC_BITS",
    "LOOPBACK",
    "MAX_TOTAL",
    "MNO",
    "OFFICE",
    "RATIO_BIT_LENGTH",
    "RATIO_FRAC_BITS",
    "ClearResult",
    "FusionResult",
    "MnoInputs",
    "OfficeInputs",
    "PartySpec",
    "PublicParameters",
    "combine_in_clear",
    "main",
    "read_inputs",
    "read_public",
    "run_local_parties",
    "run_party",
    "write_inputs",
    "write_public",
]

LOOPBACK = "127.0.0.1"
MNO, OFFICE = "mno", "office"
# Zone values: secure fixed point with 32 fractional bits and 40 integral ones (signed).
FRAC_BITS = 32
BIT_LENGTH = FRAC_BITS + 40
# The region factors: l = 2f as MPyC's fixed-point division wants (module docstring).
RATIO_FRAC_BITS = 64
RATIO_BIT_LENGTH = 2 * RATIO_FRAC_BITS
# Bound on each party's total (sum over zones of its counts, of its duplicates, of the
# register): it bounds every secret value, hence the bits a secure comparison must look at.
MAX_TOTAL = 2**31
# A party that exits with this code raised a FusionError (its message is on stderr).
_EXIT_FUSION = 3
_ERROR_PREFIX = "FUSION_ERROR "
# How often a party checks that its peers are still connected (seconds).
_WATCH_S = 0.05
#: how long a lost peer is reported after the program's own error (_watch_peers)
_LOST_GRACE_S = 1.0
# run_local_parties: time a party may take to start on top of the run's timeout, and to
# report its own error once another party failed (seconds).
_STARTUP_S = 15.0
_GRACE_S = 3.0


class PartySpec(NamedTuple):
    """One party of the computation: a name (unique) and a role, :data:`MNO` or
    :data:`OFFICE`."""

    name: str
    role: str


@dataclass(frozen=True)
class PublicParameters:
    """What every party knows: the zones (their order is the order of every array), each
    zone's region, the threshold k and the parties (a party's index is its MPyC id). Any
    sequences may be given; they are kept as tuples of str (and :class:`PartySpec`)."""

    zones: Sequence[str]
    zone_region: Sequence[str]
    k: float
    parties: Sequence[PartySpec | tuple[str, str]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "zones", tuple(str(z) for z in self.zones))
        object.__setattr__(self, "zone_region", tuple(str(r) for r in self.zone_region))
        object.__setattr__(self, "k", float(self.k))
        object.__setattr__(self, "parties", tuple(PartySpec(*p) for p in self.parties))
        _validate_public(self)

    @property
    def mno_indices(self) -> tuple[int, ...]:
        """MPyC ids of the MNOs."""
        return tuple(i for i, p in enumerate(self.parties) if p.role == MNO)

    @property
    def office_index(self) -> int:
        """MPyC id of the office."""
        return next(i for i, p in enumerate(self.parties) if p.role == OFFICE)

    def to_json(self) -> dict[str, Any]:
        """The public parameters' file content."""
        return {
            "zones": list(self.zones),
            "zone_region": list(self.zone_region),
            "k": self.k,
            "parties": [{"name": p.name, "role": p.role} for p in self.parties],
        }

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: the parties compare it before any input is shared."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _validate_public(p: PublicParameters) -> None:
    if not p.zones:
        raise InputDataError("public parameters: no zones")
    if len(set(p.zones)) != len(p.zones):
        raise InputDataError("public parameters: zone ids are not unique")
    if len(p.zone_region) != len(p.zones):
        raise InputDataError(
            f"public parameters: {len(p.zones)} zones but {len(p.zone_region)} regions in "
            "zone_region (one region per zone, in the order of zones)"
        )
    if not (math.isfinite(p.k) and 0 < p.k < MAX_TOTAL):
        raise InputDataError(f"public parameters: k = {p.k} must be positive and finite")
    roles = [q.role for q in p.parties]
    if any(r not in (MNO, OFFICE) for r in roles):
        raise InputDataError(f"public parameters: roles must be {MNO!r} or {OFFICE!r}: {roles}")
    # Shamir sharing among m parties tolerates t = (m - 1) // 2 of them; with fewer than 3
    # parties t = 0 and every share would be the secret itself.
    if roles.count(OFFICE) != 1 or roles.count(MNO) < 2:
        raise InputDataError(
            f"public parameters: need exactly one {OFFICE!r} and at least two {MNO!r} "
            f"parties, got {roles}"
        )
    # Every secret value (a zone's or region's combined total, less k) stays within
    # +-(MNOs * MAX_TOTAL + k), which the integral bits of the zone type must hold.
    if roles.count(MNO) * MAX_TOTAL + p.k >= 2 ** (BIT_LENGTH - FRAC_BITS - 1):
        raise InputDataError(f"public parameters: too many MNOs ({roles.count(MNO)})")
    names = [q.name for q in p.parties]
    if len(set(names)) != len(names):
        raise InputDataError(f"public parameters: party names are not unique: {names}")


@dataclass(frozen=True)
class MnoInputs:
    """An MNO's inputs, in the order of the public zones."""

    counts: np.ndarray
    duplicates: np.ndarray


@dataclass(frozen=True)
class OfficeInputs:
    """The office's input, in the order of the public zones: the register (integers)."""

    register: np.ndarray


@dataclass(frozen=True)
class FusionResult:
    """What the office learns: the released zones (public zone order) with their combined and
    calibrated values, and the suppressed zones (ids only)."""

    k: float
    released: tuple[str, ...]
    combined: np.ndarray
    calibrated: np.ndarray
    suppressed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The office's result file content."""
        return {
            "k": self.k,
            "released": [
                {"zone": z, "combined": float(c), "calibrated": float(v)}
                for z, c, v in zip(self.released, self.combined, self.calibrated, strict=True)
            ],
            "suppressed": list(self.suppressed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FusionResult:
        """Read back :meth:`to_json`."""
        rows = data["released"]
        return cls(
            k=float(data["k"]),
            released=tuple(r["zone"] for r in rows),
            combined=np.array([r["combined"] for r in rows], dtype=float),
            calibrated=np.array([r["calibrated"] for r in rows], dtype=float),
            suppressed=tuple(data["suppressed"]),
        )


class ClearResult(NamedTuple):
    """The computation in the clear, per zone (public zone order)."""

    combined: np.ndarray
    calibrated: np.ndarray
    released: np.ndarray


@dataclass(frozen=True)
class _Regions:
    """Public layout of the regions: sorted region ids, each zone's region index, the zones
    sorted by region and the position (in that order) of each region's last zone."""

    ids: np.ndarray
    index: np.ndarray
    order: np.ndarray
    ends: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, zone_region: Sequence[Any]) -> _Regions:
        ids, index = np.unique(np.asarray(zone_region, dtype=str), return_inverse=True)
        order = np.argsort(index, kind="stable")
        ends = np.cumsum(np.bincount(index, minlength=len(ids))) - 1
        return cls(ids=ids, index=index, order=order, ends=ends)


def combine_in_clear(
    counts: np.ndarray | Sequence[Sequence[float]],
    duplicates: np.ndarray | Sequence[Sequence[float]],
    register: np.ndarray | Sequence[float],
    zone_region: Sequence[Any],
    k: float,
) -> ClearResult:
    """The secure computation done in the clear with numpy (the reference).

    ``counts`` and ``duplicates`` are (MNOs, zones) arrays (a 1-d array is one MNO),
    ``register`` and ``zone_region`` one value per zone::

        combined_z   = sum_m counts[m, z] - sum_m duplicates[m, z]
        C_r = sum_{z in r} combined_z,   N_r = sum_{z in r} register_z
        calibrated_z = combined_z * N_r(z) / max(C_r(z), k)
        released_z   = combined_z >= k and C_r(z) >= k

    >>> res = combine_in_clear([[4, 20, 3], [6, 10, 1]], [[0, 2, 0], [0, 0, 0]],
    ...                        [12, 30, 5], ["a", "a", "b"], k=10)
    >>> res.combined.tolist(), res.released.tolist()
    ([10.0, 28.0, 4.0], [True, True, False])
    >>> res.calibrated[:2].round(4).tolist()  # region a: 42 registered for 38 counted
    [11.0526, 30.9474]
    """
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    d = np.atleast_2d(np.asarray(duplicates, dtype=float))
    reg = np.asarray(register, dtype=float)
    combined = c.sum(axis=0) - d.sum(axis=0)
    if not (combined.shape == reg.shape == (len(zone_region),)):
        raise InputDataError(
            f"combine_in_clear: counts {c.shape}, duplicates {d.shape}, register {reg.shape} "
            f"and zone_region ({len(zone_region)},) do not describe the same zones"
        )
    regions = _Regions.of(zone_region)
    n = len(regions.ids)
    combined_r = np.bincount(regions.index, weights=combined, minlength=n)
    register_r = np.bincount(regions.index, weights=reg, minlength=n)
    region_ok = combined_r >= k
    factor = register_r / np.where(region_ok, combined_r, k)
    calibrated = combined * factor[regions.index]
    released = (combined >= k) & region_ok[regions.index]
    return ClearResult(combined=combined, calibrated=calibrated, released=released)


# --- files -------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{what} {path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputDataError(f"{what} {path}: a JSON object is expected")
    return data


def _write_json(path: Path, data: Mapping[str, Any], *, private: bool = False) -> None:
    # Written under a temporary name and renamed, so that nobody ever reads half a file (the
    # office's result is there or it is not).
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def read_public(path: Path | str) -> PublicParameters:
    """Public parameters from their JSON file (module docstring)."""
    data = _read_json(Path(path), "public parameters")
    try:
        return PublicParameters(
            zones=data["zones"],
            zone_region=data["zone_region"],
            k=data["k"],
            parties=[(p["name"], p["role"]) for p in data["parties"]],
        )
    except (KeyError, TypeError) as exc:
        raise InputDataError(
            f"public parameters {path}: needs zones, zone_region, k and parties "
            f"[{{name, role}}] ({exc!r})"
        ) from exc


def write_public(path: Path | str, params: PublicParameters) -> None:
    """Write the public parameters' JSON file."""
    _write_json(Path(path), params.to_json())


def read_inputs(path: Path | str, params: PublicParameters, party: int) -> MnoInputs | OfficeInputs:
    """A party's inputs from its JSON file, checked and put in the public zone order."""
    data = _read_json(Path(path), "inputs")
    spec = params.parties[party]
    if data.get("party") != spec.name:
        raise InputDataError(f"inputs {path}: are for {data.get('party')!r}, not {spec.name!r}")
    zones = data.get("zones")
    if not isinstance(zones, list) or sorted(map(str, zones)) != sorted(params.zones):
        raise InputDataError(f"inputs {path}: zones must be exactly the public zones")
    pos = {str(z): i for i, z in enumerate(zones)}
    order = np.array([pos[z] for z in params.zones])
    keys = ("counts", "duplicates") if spec.role == MNO else ("register",)
    arrays = {}
    for key in keys:
        values = data.get(key)
        if not isinstance(values, list) or len(values) != len(zones):
            raise InputDataError(f"inputs {path}: {key} must be a list, one value per zone")
        try:
            arrays[key] = np.asarray(values, dtype=float)[order]
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"inputs {path}: {key} must be numbers ({exc})") from exc
    inputs: MnoInputs | OfficeInputs = (
        MnoInputs(**arrays) if spec.role == MNO else OfficeInputs(**arrays)
    )
    _validate_inputs(params, party, inputs)
    return inputs


def write_inputs(
    path: Path | str, params: PublicParameters, party: int, inputs: MnoInputs | OfficeInputs
) -> None:
    """Write a party's inputs file (readable by its owner only)."""
    _validate_inputs(params, party, inputs)
    data: dict[str, Any] = {"party": params.parties[party].name, "zones": list(params.zones)}
    if isinstance(inputs, MnoInputs):
        data["counts"] = np.asarray(inputs.counts, dtype=float).tolist()
        data["duplicates"] = np.asarray(inputs.duplicates, dtype=float).tolist()
    else:
        data["register"] = [int(v) for v in np.asarray(inputs.register)]
    _write_json(Path(path), data, private=True)


def _validate_inputs(
    params: PublicParameters, party: int, inputs: MnoInputs | OfficeInputs
) -> None:
    spec = params.parties[party]
    expected = MnoInputs if spec.role == MNO else OfficeInputs
    if not isinstance(inputs, expected):
        raise InputDataError(f"party {spec.name!r} ({spec.role}) needs {expected.__name__}")
    arrays = (
        {"counts": inputs.counts, "duplicates": inputs.duplicates}
        if isinstance(inputs, MnoInputs)
        else {"register": inputs.register}
    )
    for key, values in arrays.items():
        a = np.asarray(values, dtype=float)
        where = f"party {spec.name!r}: {key}"
        if a.shape != (len(params.zones),):
            raise InputDataError(f"{where} has shape {a.shape}, expected ({len(params.zones)},)")
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise InputDataError(f"{where} must be finite and non-negative")
        if a.sum() >= MAX_TOTAL:
            raise InputDataError(f"{where} totals {a.sum():.0f}, over the bound 2^31")
        if key == "register" and np.any(a != np.round(a)):
            raise InputDataError(f"{where} must hold integers")


# --- the secure computation --------------------------------------------------------------------


class _LoopbackEventLoop(asyncio.SelectorEventLoop):
    """MPyC opens its listening socket without a host, i.e. on every interface; the parties
    of this module only ever talk over loopback, so the listening socket is bound there."""

    def __init__(self) -> None:
        super().__init__()
        self.listening: list[tuple[str, int]] = []

    async def create_server(  # type: ignore[override]
        self, protocol_factory: Any, host: Any = None, port: Any = None, **kwargs: Any
    ) -> asyncio.Server:
        server = await super().create_server(protocol_factory, host or LOOPBACK, port, **kwargs)
        self.listening.extend(s.getsockname()[:2] for s in server.sockets)
        return server


def _mpyc_runtime(party: int, ports: Sequence[int]) -> Any:
    """MPyC's runtime for party ``party`` of ``len(ports)``, all on 127.0.0.1."""
    if "mpyc.runtime" in sys.modules:
        raise FusionError(
            "MPyC's runtime is already set up in this process: run one party per process",
            code="FUSION_RUNTIME",
        )
    loop = _LoopbackEventLoop()
    asyncio.set_event_loop(loop)
    # MPyC configures its one runtime from the command line when mpyc.runtime is imported
    # (-I: own id, -P: one address per party); give it exactly these options and nothing of
    # this process's own command line. --no-prss: the random bits of the comparisons are then
    # made from random values the parties share out, instead of from pre-shared keys and a
    # modular square root per bit, which is four times slower here (without gmpy2).
    argv = sys.argv
    sys.argv = [argv[0], "--no-log", "--no-prss", "-I", str(party)]
    for port in ports:
        sys.argv += ["-P", f"{LOOPBACK}:{int(port)}"]
    try:
        from mpyc.runtime import mpc
    except ImportError as exc:
        raise FusionError(f"MPyC could not start: {exc}", code="FUSION_RUNTIME") from exc
    finally:
        sys.argv = argv
    if mpc.pid != party or len(mpc.parties) != len(ports):
        raise FusionError("MPyC did not take the party's configuration", code="FUSION_RUNTIME")
    mpyc_handler = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # MPyC marks itself done when its last peer hangs up, which raises once a failed run
        # has already done so; the failure itself is reported as a FusionError.
        if not isinstance(context.get("exception"), asyncio.InvalidStateError):
            (mpyc_handler or asyncio.BaseEventLoop.default_exception_handler)(loop, context)

    loop.set_exception_handler(handler)
    return mpc


def _compare_bits(bound: float) -> int:
    # A secure comparison of x with |x| < bound needs this many bits (fractional ones
    # included) rather than the type's BIT_LENGTH: MPyC spends one random bit per bit.
    return FRAC_BITS + math.ceil(bound).bit_length() + 1


def _region_sums(mpc: Any, x: Any, regions: _Regions) -> Any:
    # One prefix sum over the zones sorted by region, read at each region's last zone: linear
    # in the zones whatever the number of regions, and without communication (sums are local).
    ends = mpc.np_cumsum(x[regions.order])[regions.ends]
    if len(regions.ends) == 1:
        return ends
    return mpc.np_concatenate([ends[:1], ends[1:] - ends[:-1]])


async def _secure_program(
    mpc: Any, params: PublicParameters, inputs: MnoInputs | OfficeInputs
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The computation shared by all parties (module docstring). Returns, for the office, the
    release mask and the released combined values per zone (0 where suppressed) and the
    factor per region (0 where no zone is released); None for the other parties."""
    secfxp = mpc.SecFxp(BIT_LENGTH, FRAC_BITS)
    ratio = mpc.SecFxp(RATIO_BIT_LENGTH, RATIO_FRAC_BITS)
    n = len(params.zones)
    k = params.k
    mnos, office = params.mno_indices, params.office_index
    regions = _Regions.of(params.zone_region)

    # A party configured differently would not fail, it would compute garbage or hang.
    digests = await mpc.transfer(params.digest())
    if len(set(digests)) != 1:
        bad = [params.parties[i].name for i, d in enumerate(digests) if d != params.digest()]
        raise FusionError(
            f"the public parameters differ between parties (not as here: {bad})",
            code="FUSION_PARAMETERS_MISMATCH",
        )

    # Every party calls input with an array of the same shape and integrality (non-senders
    # with zeros): MPyC takes type and shape from the caller's own array.
    if isinstance(inputs, MnoInputs):
        own = np.stack([inputs.counts, inputs.duplicates]).astype(float)
    else:
        own = np.zeros((2, n))
    mno_arrays = mpc.input(secfxp.array(own, integral=False), senders=list(mnos))
    reg = inputs.register if isinstance(inputs, OfficeInputs) else np.zeros(n)
    register = mpc.input(secfxp.array(np.asarray(reg, dtype=np.int64), integral=True), office)

    total = mno_arrays[0]
    for a in mno_arrays[1:]:
        total = total + a
    combined = total[0] - total[1]
    combined_r = _region_sums(mpc, combined, regions)
    register_r = _region_sums(mpc, register, regions)

    value_bits = _compare_bits(len(mnos) * MAX_TOTAL + k)
    region_low = mpc.np_sgn(combined_r - k, l=value_bits, LT=True)  # 1 where C_r < k
    zone_low = mpc.np_sgn(combined - k, l=value_bits, LT=True)  # 1 where combined_z < k
    released = (1 - zone_low) * (1 - region_low)[regions.index]
    # A region's factor is opened only if one of its zones is released; otherwise it would
    # give away C_r = N_r / factor_r, the sum of suppressed zones.
    n_released = _region_sums(mpc, released, regions)
    region_shown = 1 - mpc.np_sgn(n_released - 0.5, l=_compare_bits(n + 1), LT=True)

    # Products of a 0/1 value are exact (no truncation), and so are the conversions.
    numerator = region_shown * register_r
    denominator = combined_r + region_low * (k - combined_r)  # max(C_r, k)
    # The division needs more fractional bits than the zones (module docstring); it is done
    # on the regions only, so the zones keep the cheaper type.
    fractions = mpc.convert(mpc.np_tolist(mpc.np_concatenate([numerator, denominator])), ratio)
    m = len(regions.ids)
    factor = mpc.np_fromlist(fractions[:m]) / mpc.np_fromlist(fractions[m:])

    # Suppressed values are zeroed before anything is opened, and opened to the office only.
    zones_out = mpc.output(mpc.np_stack([released, released * combined]), receivers=office)
    factor_out = mpc.output(factor, receivers=office)
    zone_values, factors = await zones_out, await factor_out
    if zone_values is None:
        return None
    return zone_values[0], zone_values[1], factors


async def _watch_peers(mpc: Any) -> None:
    # MPyC (passive security) waits forever for a peer that is gone; fail instead.
    while True:
        for peer in mpc.parties:
            if peer.pid == mpc.pid:
                continue
            proto = peer.protocol
            if proto is None or proto.transport is None or proto.transport.is_closing():
                # A peer that found an error of its own (parameters that differ) closes its
                # connections as soon as it has every message it needs, while this party may
                # still be reading the others' (all sent before anyone waits): its own, more
                # telling error must win the race, so the loss is reported a moment later.
                await asyncio.sleep(_LOST_GRACE_S)
                raise FusionError(
                    f"lost the connection to party {peer.pid}", code="FUSION_PARTY_LOST"
                )
        await asyncio.sleep(_WATCH_S)


def _close_connections(mpc: Any) -> None:
    for peer in mpc.parties:
        proto = peer.protocol
        if peer.pid != mpc.pid and proto is not None and getattr(proto, "transport", None):
            proto.transport.close()


async def _session(
    mpc: Any,
    params: PublicParameters,
    inputs: MnoInputs | OfficeInputs,
    timeout: float,
    fault: str,
) -> tuple[Any, dict[str, Any]]:
    """Connect, run the program while watching the peers, shut down; the office's output (None
    elsewhere) and the party's report. Every step is bounded by ``timeout`` in all."""
    deadline = time.monotonic() + timeout
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(mpc.start(), timeout)
    except TimeoutError as exc:
        _close_connections(mpc)
        raise FusionError(
            f"not all {len(mpc.parties)} parties connected within {timeout:.0f} s",
            code="FUSION_TIMEOUT",
        ) from exc
    t1 = time.perf_counter()
    if fault == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "stall":
        await asyncio.sleep(deadline - time.monotonic() + 3600)

    program = asyncio.ensure_future(_secure_program(mpc, params, inputs))
    watch = asyncio.ensure_future(_watch_peers(mpc))
    try:
        done, _ = await asyncio.wait(
            {program, watch},
            timeout=max(0.0, deadline - time.monotonic()),
            return_when=asyncio.FIRST_COMPLETED,
        )
        if program not in done:
            if watch in done:
                watch.result()  # raises the FusionError of the lost peer
            raise FusionError(
                f"the secure computation did not finish within {timeout:.0f} s",
                code="FUSION_TIMEOUT",
            )
        out = program.result()
    except BaseException:
        program.cancel()
        _close_connections(mpc)
        raise
    finally:
        watch.cancel()
    t2 = time.perf_counter()
    sockets = [
        {
            "peer": p.pid,
            "local": list(p.protocol.transport.get_extra_info("sockname")[:2]),
            "remote": list(p.protocol.transport.get_extra_info("peername")[:2]),
        }
        for p in mpc.parties
        if p.pid != mpc.pid
    ]
    try:
        # MPyC's shutdown waits for every party, so the office returns (and writes) its
        # result only once all parties are through.
        await asyncio.wait_for(mpc.shutdown(), max(1.0, deadline - time.monotonic()))
    except TimeoutError as exc:
        _close_connections(mpc)
        raise FusionError("the parties did not all finish", code="FUSION_TIMEOUT") from exc
    t3 = time.perf_counter()
    report = {
        "seconds": {"connect": t1 - t0, "compute": t2 - t1, "shutdown": t3 - t2},
        "sockets": sockets,
        "listening": [list(a) for a in mpc._loop.listening],
    }
    return out, report


def run_party(
    party: int,
    params: PublicParameters,
    inputs: MnoInputs | OfficeInputs,
    ports: Sequence[int],
    *,
    timeout: float = 120.0,
    report: dict[str, Any] | None = None,
    fault: str = "",
) -> FusionResult | None:
    """Run party ``party`` (its MPyC id, the index in ``params.parties``) of the secure
    computation, with its own ``inputs``, the others at ``127.0.0.1:ports[i]``.

    Returns the office's result for the office and None for an MNO. Raises
    :class:`FusionError` when a peer drops out, the parties disagree on ``params``, or the run
    takes longer than ``timeout`` seconds (connection included); nothing is released then.
    ``report``, if given, receives the party's timings and socket addresses. ``fault`` is for
    tests only: ``"die"`` kills this process once connected, ``"stall"`` hangs it. One call
    per process (MPyC's runtime is per process).
    """
    if len(ports) != len(params.parties):
        raise FusionError(
            f"{len(ports)} ports for {len(params.parties)} parties", code="FUSION_RUNTIME"
        )
    _validate_inputs(params, party, inputs)
    mpc = _mpyc_runtime(party, ports)
    try:
        out, rep = mpc.run(_session(mpc, params, inputs, timeout, fault))
    except OSError as exc:  # e.g. the port was taken meanwhile, or a peer reset the connection
        raise FusionError(f"network error: {exc}", code="FUSION_NETWORK") from exc
    if report is not None:
        report.update(rep, party=party, name=params.parties[party].name)
    if out is None:
        return None
    mask, combined, factor = (np.asarray(a, dtype=float) for a in out)
    released = mask > 0.5
    zones = np.asarray(params.zones, dtype=object)
    # The last product of the ratio estimator, on opened values only: the office could
    # equally divide any released zone's calibrated value by its combined one to get factor_r.
    calibrated = combined * factor[_Regions.of(params.zone_region).index]
    return FusionResult(
        k=params.k,
        released=tuple(zones[released]),
        combined=combined[released],
        calibrated=calibrated[released],
        suppressed=tuple(zones[~released]),
    )


# --- processes -------------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    # Bound together so that the n ports differ; another process could still take one
    # before the party does, which then fails to listen and the run fails cleanly.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _party_command(
    party: int,
    ports: Sequence[int],
    public: Path,
    inputs: Path,
    out: Path,
    report: Path,
    timeout: float,
    fault: str,
) -> list[str]:
    cmd = [sys.executable, "-m", "rmf_spark.fusion.secure", "--party", str(party)]
    cmd += ["--ports", ",".join(map(str, ports)), "--public", str(public)]
    cmd += ["--inputs", str(inputs), "--report", str(report), "--timeout", str(timeout)]
    if out is not None:
        cmd += ["--out", str(out)]
    if fault:
        cmd += ["--fault", fault]
    return cmd


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)


def _party_state(
    params: PublicParameters, i: int, proc: subprocess.Popen, log: Path, stopped: bool
) -> tuple[str, str | None]:
    """How party i ended, in words, and the error code it reported (if any)."""
    name = f"party {i} ({params.parties[i].name})"
    if stopped:
        return f"{name} had not finished and was stopped", None
    code = proc.returncode
    if code < 0:
        return f"{name} was killed by signal {-code}", "FUSION_PARTY_LOST"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    said = [ln[len(_ERROR_PREFIX) :] for ln in lines if ln.startswith(_ERROR_PREFIX)]
    if said:
        reported = re.match(r"\[([A-Z_]+)\]", said[-1])
        return f"{name} stopped: {said[-1]}", reported.group(1) if reported else None
    if code:
        return f"{name} exited with code {code}" + (f": {lines[-1]}" if lines else ""), None
    return f"{name} finished", None


def run_local_parties(
    params: PublicParameters,
    inputs: Mapping[str, MnoInputs | OfficeInputs],
    *,
    timeout: float = 120.0,
    workdir: Path | str | None = None,
    faults: Mapping[str, str] | None = None,
) -> FusionResult:
    """Run every party as its own OS process on this machine, over 127.0.0.1 on free ports,
    and return the office's result.

    ``inputs`` maps each party's name to its inputs. Each party reads only its own inputs
    file; this helper writes them all, so it is for tests, benchmarks and demonstrations (in
    production each party starts ``python -m rmf_spark.fusion.secure`` on its side). The
    files (public.json, <party>.inputs.json, <party>.report.json, <party>.log and the office's
    result.json) go to ``workdir``, a temporary directory removed afterwards if None.

    Raises :class:`FusionError` if any party fails, is killed or has not finished after
    ``timeout`` seconds: all parties are then stopped and no result is returned (nor left in
    ``workdir``). ``faults`` maps party names to a test fault (:func:`run_party`).
    """
    missing = [p.name for p in params.parties if p.name not in inputs]
    if missing:
        raise InputDataError(f"no inputs for parties {missing}")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="rmf-fusion-"))
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
        public = work / "public.json"
        result = work / "result.json"
        result.unlink(missing_ok=True)
        write_public(public, params)
        ports = _free_ports(len(params.parties))
        env = dict(os.environ)
        # The parties import this package from where this process found it.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        procs: list[subprocess.Popen] = []
        logs: list[Path] = []
        try:
            for i, spec in enumerate(params.parties):
                own = work / f"{spec.name}.inputs.json"
                write_inputs(own, params, i, inputs[spec.name])
                logs.append(work / f"{spec.name}.log")
                cmd = _party_command(
                    i,
                    ports,
                    public,
                    own,
                    result if spec.role == OFFICE else None,
                    work / f"{spec.name}.report.json",
                    timeout,
                    (faults or {}).get(spec.name, ""),
                )
                with open(logs[-1], "wb") as log:
                    procs.append(
                        subprocess.Popen(
                            cmd,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                            env=env,
                            cwd=work,
                        )
                    )
            # The parties enforce `timeout` themselves; the margin covers their start-up.
            deadline = time.monotonic() + timeout + _STARTUP_S
            failed_at = None
            while None in [p.poll() for p in procs]:  # a list: poll every one of them
                now = time.monotonic()
                if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
                    failed_at = now  # the others notice within a moment: let them say what
                if now > deadline or (failed_at is not None and now > failed_at + _GRACE_S):
                    break
                time.sleep(0.05)
            stopped = [p.poll() is None for p in procs]
        finally:
            _stop(procs)
        if any(p.returncode != 0 for p in procs) or not result.exists():
            result.unlink(missing_ok=True)
            states = [_party_state(params, i, p, logs[i], stopped[i]) for i, p in enumerate(procs)]
            codes = [c for _, c in states if c is not None]
            # A party killed from outside is the cause of the others' lost connections; a
            # party that timed out is the cause of the others' lost connections too (it
            # closes them), so it comes next.
            if any(p.returncode < 0 and not stop for p, stop in zip(procs, stopped, strict=True)):
                code = "FUSION_PARTY_LOST"
            elif "FUSION_TIMEOUT" in codes or (failed_at is None and any(stopped)):
                code = "FUSION_TIMEOUT"
            else:
                code = codes[0] if codes else "FUSION_FAILED"
            raise FusionError(
                "secure aggregation failed, nothing released: "
                + "; ".join(text for text, _ in states),
                code=code,
            )
        return FusionResult.from_json(_read_json(result, "result"))


# --- command line ----------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rmf_spark.fusion.secure",
        description="Run one party of the fusion stage's secure aggregation (MPyC, over "
        "127.0.0.1). Start one process per party, each with the same --public and ports.",
    )
    parser.add_argument("--party", "-I", type=int, required=True, help="own index in parties")
    ports = parser.add_mutually_exclusive_group(required=True)
    ports.add_argument("--ports", help="comma-separated port of each party, in party order")
    ports.add_argument("--parties", type=int, help="number of parties (with --base-port)")
    parser.add_argument("--base-port", type=int, default=11365, help="party i uses port b+i")
    parser.add_argument("--public", required=True, type=Path, help="public parameters JSON")
    parser.add_argument("--inputs", required=True, type=Path, help="this party's inputs JSON")
    parser.add_argument("--out", type=Path, help="office: where to write the result JSON")
    parser.add_argument("--report", type=Path, help="where to write this party's report JSON")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--fault", choices=["die", "stall"], default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of one party; returns the exit code (3 on a FusionError)."""
    args = _parse_args(argv)
    try:
        params = read_public(args.public)
        if args.ports:
            ports = [int(p) for p in args.ports.split(",")]
        else:
            ports = [args.base_port + i for i in range(args.parties)]
        if not 0 <= args.party < len(params.parties):
            raise InputDataError(f"--party {args.party}: there are {len(params.parties)}")
        inputs = read_inputs(args.inputs, params, args.party)
        report: dict[str, Any] = {}
        res = run_party(
            args.party,
            params,
            inputs,
            ports,
            timeout=args.timeout,
            report=report,
            fault=args.fault,
        )
    except (FusionError, InputDataError) as exc:
        print(f"{_ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        return _EXIT_FUSION
    if res is not None:
        if args.out is None:
            print(json.dumps(res.to_json()))
        else:
            _write_json(args.out, res.to_json(), private=True)
    if args.report is not None:
        _write_json(args.report, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
