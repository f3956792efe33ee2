"""Synthetic-world profiles: TOML files in ``conf/synth/`` validated by pydantic.

Every parameter is documented in ``docs/synthetic-world.md``. Unknown keys, wrong types and
out-of-range values stop the run with a message naming the file and the dotted key.

Examples
--------
>>> from rmf_spark.synth.profile import load_profile
>>> p = load_profile("tiny")
>>> p.population.n_persons, [m.mno_id for m in p.mnos]
(2000, ['mno_a', 'mno_b'])
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from rmf_spark.config_base import Section, load_toml

__all__ = [
    "FaultRates",
    "MnoParams",
    "OutboundDestination",
    "OutboundParams",
    "PopulationParams",
    "RadioTruthParams",
    "SubscriptionParams",
    "SynthProfile",
    "TerritoryParams",
    "input_profile_path",
    "load_profile",
    "profile_path",
]

PROFILE_DIR = Path(__file__).resolve().parents[2] / "conf" / "synth"
INPUT_PROFILE_DIR = Path(__file__).resolve().parents[2] / "conf" / "inputs"
TECHNOLOGIES = ("2G", "3G", "4G", "5G")
RawFormat = Literal["mno_a", "mno_b"]
#: the D-layer input profile (``conf/inputs/``) that reads each raw format of the world
#: (``writers.py`` writes them: docs/tables.md section 1)
INPUT_PROFILES: dict[str, str] = {"mno_a": "mno_a.toml", "mno_b": "mno_b.toml"}


def _check_plmn_keys(plmns: dict[str, Any], what: str) -> None:
    bad = sorted(k for k in plmns if not re.fullmatch(r"\d{5}", k))
    if bad or not plmns:
        raise ValueError(f"{what} keys must be MCC + 2-digit MNC (5 digits): {bad}")


def _foreign(plmns: dict[str, Any], home: set[int], what: str, why: str) -> None:
    own = sorted(p for p in plmns if int(p[:3]) in home)
    if own:
        raise ValueError(f"{what} {own} have the MNOs' own MCC: {why}")


class TerritoryParams(Section):
    """The land: a rectangle in EPSG:3035, zones, towns, land use."""

    x0_m: int = Field(3_500_000, ge=0, multiple_of=1000, description="west edge, EPSG:3035")
    y0_m: int = Field(2_000_000, ge=0, multiple_of=1000, description="south edge, EPSG:3035")
    width_km: int = Field(10, ge=2, le=400)
    height_km: int = Field(10, ge=2, le=400)
    n_regions: int = Field(3, ge=1, le=50)
    n_municipalities: int = Field(12, ge=1, le=2000)
    n_towns: int = Field(4, ge=1, le=500)
    town_radius_m: tuple[float, float] = (600.0, 2000.0)
    rural_density: float = Field(0.08, ge=0.0, description="rural density / largest town peak")
    zipf_exponent: float = Field(1.0, ge=0.0, description="town sizes ~ rank^-exponent")
    forest_share: float = Field(0.25, ge=0.0, le=0.9)
    water_share: float = Field(0.03, ge=0.0, le=0.3)

    @model_validator(mode="after")
    def _zones(self) -> TerritoryParams:
        if self.n_municipalities < self.n_regions:
            raise ValueError("n_municipalities must be >= n_regions")
        if self.width_km * self.height_km >= 9000:
            raise ValueError("area must be below 9 000 km2 (person ids are tile_idx * 1000 + k)")
        return self


class PopulationParams(Section):
    """The people: residents, workers, movers, travellers and visitors."""

    n_persons: int = Field(2000, ge=10, description="expected residents")
    worker_share: float = Field(0.55, ge=0.0, le=1.0)
    commute_length_m: float = Field(4000.0, gt=0, description="gravity model decay length L")
    other_activity_prob: float = Field(0.5, ge=0.0, le=1.0, description="per day")
    other_length_m: float = Field(2500.0, gt=0)
    walk_speed_m_s: float = Field(1.4, gt=0)
    drive_speed_m_s: float = Field(11.0, gt=0)
    walk_max_m: float = Field(1500.0, ge=0, description="trips shorter than this are walked")
    migrant_share: float = Field(0.01, ge=0.0, le=0.5)
    outbound_share: float = Field(0.02, ge=0.0, le=0.5)
    outbound_days: tuple[int, int] = (1, 3)
    n_tourists: int = Field(60, ge=0, description="inbound visitors over the period")
    tourist_nights: tuple[int, int] = (1, 3)
    register_noise_sd: float = Field(0.03, ge=0.0, le=0.5, description="relative, per zone")
    household_mean_size: float = Field(
        1.0,
        ge=1.0,
        le=10.0,
        description="residents per household (geometric sizes); members share the home point",
    )


class SubscriptionParams(Section):
    """Who carries which phones."""

    no_phone_rate: float = Field(0.08, ge=0.0, le=1.0)
    second_device_same_mno_rate: float = Field(0.05, ge=0.0, le=1.0)
    second_mno_rate: float = Field(0.06, ge=0.0, le=1.0, description="cross-MNO duplicates")
    share_jitter: float = Field(0.08, ge=0.0, le=0.5, description="regional share variation")
    roamer_plmns: dict[str, float] = Field(
        default_factory=lambda: {"23415": 1.0},
        description="inbound visitors' home networks, MCC + 2-digit MNC -> weight",
    )
    roamer_switch_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="visitors whose phone moves to a second simulated MNO during the stay",
    )

    @model_validator(mode="after")
    def _plmns(self) -> SubscriptionParams:
        _check_plmn_keys(self.roamer_plmns, "roamer_plmns")
        if any(not (w > 0 and math.isfinite(w)) for w in self.roamer_plmns.values()):
            raise ValueError("roamer_plmns weights must be positive")
        return self


class OutboundDestination(Section):
    """One visited network of the residents' trips abroad."""

    country: str = Field(..., pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code")
    weight: float = Field(..., gt=0.0, description="share of the trips (relative weight)")


def _default_destinations() -> dict[str, OutboundDestination]:
    return {
        "20801": OutboundDestination(country="FR", weight=0.30),
        "26801": OutboundDestination(country="PT", weight=0.20),
        "22201": OutboundDestination(country="IT", weight=0.20),
        "26201": OutboundDestination(country="DE", weight=0.15),
        "23415": OutboundDestination(country="GB", weight=0.15),
    }


class OutboundParams(Section):
    """What an MNO sees of its own subscribers abroad: roaming records on a visited network
    (the travellers themselves are ``population.outbound_share``, ``outbound_days``)."""

    destinations: dict[str, OutboundDestination] = Field(
        default_factory=_default_destinations,
        description="visited PLMN (MCC + 2-digit MNC) -> country and weight; one per trip",
    )
    activity: float = Field(
        0.5, gt=0.0, le=5.0, description="CDR events per device-day abroad / calls_per_day"
    )
    update_interval_min: float = Field(
        60.0,
        ge=5.0,
        le=1440.0,
        description="signalling: one data-session record of a device abroad per interval",
    )

    @model_validator(mode="after")
    def _plmns(self) -> OutboundParams:
        _check_plmn_keys(self.destinations, "destinations")
        return self


class MnoParams(Section):
    """One synthetic MNO: its share, network and data regime."""

    mno_id: str = Field(..., pattern=r"^mno_[a-z]$")
    raw_format: RawFormat = Field(
        ..., description="mno_a: CDR-like CSV, mno_b: signalling-like JSON lines (any MNO id)"
    )
    regime: Literal["cdr", "signalling"]
    market_share: float = Field(..., gt=0.0, lt=1.0)
    mcc: int = 214
    mnc: str = Field(..., pattern=r"^\d{2,3}$")
    calls_per_day: float = Field(12.0, gt=0, description="mean CDR events per device-day")
    periodic_update_min: float = Field(20.0, gt=0, description="signalling only")
    handover_interval_s: float = Field(90.0, gt=0, description="signalling, while moving")
    n_macro_sites: int = Field(16, ge=1)
    n_micro_cells: int = Field(8, ge=0)
    technology_mix: dict[str, float] = Field(
        default_factory=lambda: {"2G": 0.1, "3G": 0.2, "4G": 0.55, "5G": 0.15}
    )
    n_cells_added: int = Field(2, ge=0, description="cells switched on during the period")
    n_cells_removed: int = Field(2, ge=0, description="cells switched off during the period")
    missing_value_rate: float = Field(0.05, ge=0.0, le=0.5, description="physical fields")

    @model_validator(mode="after")
    def _mix(self) -> MnoParams:
        bad = sorted(set(self.technology_mix) - set(TECHNOLOGIES))
        if bad or not self.technology_mix or sum(self.technology_mix.values()) <= 0:
            raise ValueError(f"technology_mix keys must be among {TECHNOLOGIES}, got {bad}")
        return self


class RadioTruthParams(Section):
    """How the true radio world differs from the nominal model (and how cells are chosen)."""

    ple_macro: float = Field(3.75, gt=1.0)
    ple_micro: float = Field(6.0, gt=1.0)
    ple_sd: float = Field(0.25, ge=0.0, description="per-cell PLE perturbation")
    shadowing_sd_db: float = Field(6.0, ge=0.0, description="per (cell, tile) log-normal")
    azimuth_error_sd_deg: float = Field(5.0, ge=0.0, description="true vs planned azimuth")
    back_loss_db: float = Field(
        -30.0, lt=-3.0, description="sector antennas' loss behind the boresight (both planes)"
    )
    midpoint_dbm: float = -92.5
    steepness: float = 0.2
    top_k: int = Field(6, ge=1, le=30, description="cells kept per tile")
    max_distance_m: float = Field(6000.0, gt=0, description="candidate cells per tile")


class FaultRates(Section):
    """Per raw event row, the probability of each injected fault (docs/tables.md section 4)."""

    exact_duplicate: float = Field(0.002, ge=0.0, le=0.1)
    same_time_different_cell: float = Field(0.002, ge=0.0, le=0.1)
    null_mandatory: float = Field(0.001, ge=0.0, le=0.1)
    malformed_timestamp: float = Field(0.001, ge=0.0, le=0.1)
    out_of_day_timestamp: float = Field(0.001, ge=0.0, le=0.1)
    unknown_cell: float = Field(0.001, ge=0.0, le=0.1)
    cell_not_active: float = Field(0.001, ge=0.0, le=0.1)
    wrong_column_count: float = Field(0.001, ge=0.0, le=0.1)
    invalid_utf8: float = Field(0.001, ge=0.0, le=0.1)


class SynthProfile(Section):
    """A whole synthetic-world profile."""

    name: str
    seed: int = Field(42, ge=0, lt=2**31)
    start_date: dt.date = dt.date(2024, 1, 15)
    n_days: int = Field(2, ge=1, le=62)
    time_zone: str = "Europe/Madrid"
    truth_step_s: int = Field(3600, ge=300, le=86400, description="truth position spacing")
    holidays: dict[str, str] = Field(default_factory=dict, description="ISO date -> name")
    n_buckets: int = Field(4, ge=1, le=4096, description="fixed work split (determinism)")
    territory: TerritoryParams = Field(default_factory=TerritoryParams)
    population: PopulationParams = Field(default_factory=PopulationParams)
    subscriptions: SubscriptionParams = Field(default_factory=SubscriptionParams)
    mnos: list[MnoParams]
    radio: RadioTruthParams = Field(default_factory=RadioTruthParams)
    outbound: OutboundParams = Field(default_factory=OutboundParams)
    faults: FaultRates = Field(default_factory=FaultRates)
    source: str = Field("<defaults>", exclude=True)

    @model_validator(mode="after")
    def _mnos(self) -> SynthProfile:
        ids = [m.mno_id for m in self.mnos]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"mnos need distinct mno_id values, got {ids}")
        if sum(m.market_share for m in self.mnos) >= 1.0 + 1e-9:
            raise ValueError("market shares must sum to less than 1")
        home = {m.mcc for m in self.mnos}
        sims = self.subscriptions.roamer_plmns
        _foreign(sims, home, "subscriptions.roamer_plmns", "a visitor's SIM is foreign")
        visited = self.outbound.destinations
        _foreign(visited, home, "outbound.destinations", "a trip abroad visits a foreign network")
        return self

    @property
    def days(self) -> list[dt.date]:
        """The period's days (the MNO files' days)."""
        return [self.start_date + dt.timedelta(days=i) for i in range(self.n_days)]


def input_profile_path(raw_format: str) -> Path:
    """The D-layer input profile that reads raw files of ``raw_format`` (``conf/inputs/``).

    >>> input_profile_path("mno_b").name
    'mno_b.toml'
    """
    try:
        return INPUT_PROFILE_DIR / INPUT_PROFILES[raw_format]
    except KeyError:
        raise ValueError(
            f"unknown raw format {raw_format!r} (known: {sorted(INPUT_PROFILES)})"
        ) from None


def profile_path(name_or_path: str | Path) -> Path:
    """``conf/synth/<name>.toml`` for a bare name, else the path as given."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file():
        return p
    return PROFILE_DIR / f"{name_or_path}.toml"


def load_profile(
    name_or_path: str | Path, *, overrides: dict[str, Any] | None = None
) -> SynthProfile:
    """Load and validate a synthetic-world profile.

    Parameters
    ----------
    name_or_path
        ``tiny``, ``small``, ``bench`` (files in ``conf/synth/``) or a TOML path.
    overrides
        Dotted keys set after reading, e.g. ``{"population.n_persons": 500}``.

    Raises
    ------
    ConfigError
        Missing file, bad TOML, or an unknown / invalid key (the message names file and key).
    """
    return load_toml(
        profile_path(name_or_path),
        SynthProfile,
        what="synthetic-world profile",
        code_prefix="CONFIG",
        overrides=overrides,
    )
