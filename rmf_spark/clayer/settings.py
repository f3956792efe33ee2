"""The ``[convergence]`` section of a profile: grid, radio defaults, pruning, prior, cleaning.

Defaults follow mobloc (``mobloc_param``) and MultiMNO (``default_cell_physical_properties``,
the cell-footprint and cleaning examples). The per-type radio defaults are the only source of a
cell's missing radio parameters: the C-layer applies them (``rmf_spark.clayer.cells``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rmf_spark.cellplan import DEFAULTED, PLAUSIBLE
from rmf_spark.config_base import Section

__all__ = [
    "CellTypeDefaults",
    "CleaningSettings",
    "ConvergenceSettings",
    "GridSettings",
    "PriorSettings",
    "PruningSettings",
    "RadioSettings",
]


class GridSettings(Section):
    """The INSPIRE grid (EPSG:3035) generated over the territory polygon."""

    tile_m: Literal[100] = Field(100, description="tile side in metres (INSPIRE 100 m)")
    buffer_m: float = Field(0.0, ge=0, le=50_000, description="buffer around the territory")


class CellTypeDefaults(Section):
    """Radio parameters used where a cell's plan leaves them empty or implausible (the only
    source of per-type defaults; each lies in the plan's plausible range,
    :data:`rmf_spark.cellplan.PLAUSIBLE`)."""

    power_w: float = 10.0
    range_m: float = 10_000.0
    path_loss_exponent: float = 3.75
    antenna_height_m: float = 30.0
    tilt_deg: float = 5.0
    beam_h_deg: float = 65.0
    beam_v_deg: float = 9.0
    azim_db_back: float = Field(-30.0, lt=-3)
    elev_db_back: float = Field(-30.0, lt=-3)
    frequency_mhz: float = 1800.0
    environment: Literal["metropolitan", "urban", "suburban", "open"] = "urban"

    @field_validator(*DEFAULTED)
    @classmethod
    def _plausible(cls, value: float, info: ValidationInfo) -> float:
        allowed = PLAUSIBLE[str(info.field_name)]
        if not allowed.holds(value):
            raise ValueError(f"must lie in {allowed}")
        return value


def _macro() -> CellTypeDefaults:
    return CellTypeDefaults()


def _micro() -> CellTypeDefaults:
    return CellTypeDefaults(
        power_w=5.0, range_m=1_000.0, path_loss_exponent=6.0, antenna_height_m=8.0
    )


def _other() -> CellTypeDefaults:
    return CellTypeDefaults(power_w=5.0, range_m=5_000.0, antenna_height_m=8.0)


class RadioSettings(Section):
    """The nominal radio model (see :mod:`rmf_spark.clayer.radio`)."""

    path_loss_model: Literal["log_distance", "empirical"] = Field(
        "log_distance",
        description="log_distance (mobloc) or empirical: Okumura-Hata < 1500 MHz, else COST-231",
    )
    midpoint_dbm: float = Field(-92.5, description="logistic signal-dominance midpoint")
    steepness: float = Field(0.2, gt=0, description="logistic steepness per dB")
    mobile_height_m: float = Field(1.5, gt=0, le=10, description="empirical models only")
    max_range_m: float = Field(
        30_000.0, gt=0, description="cap on a cell's range (candidate tiles lie within it)"
    )
    macro: CellTypeDefaults = Field(default_factory=_macro)
    micro: CellTypeDefaults = Field(default_factory=_micro)
    other: CellTypeDefaults = Field(default_factory=_other, description="any other cell_type")


class PruningSettings(Section):
    """Which (cell, tile) pairs are kept (MultiMNO defaults)."""

    dominance_threshold: float = Field(
        0.01, ge=0, lt=1, description="drop pairs with signal dominance below this"
    )
    best_share: float = Field(
        0.0, ge=0, le=1, description="keep pairs with dominance >= share x the tile's best; 0 off"
    )
    max_cells_per_tile: int = Field(
        100, ge=1, le=1_000, description="mobloc max_overlapping_cells (MultiMNO ships 10)"
    )


class PriorSettings(Section):
    """Prior over tiles for P(tile | cell)."""

    kind: Literal["uniform", "network", "land_use"] = "uniform"
    land_use_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "residential": 1.0,
            "other_builtup": 1.0,
            "roads": 0.5,
            "forest": 0.1,
            "water": 0.0,
            "open_land": 0.0,
        }
    )
    missing_weight: float = Field(
        0.001, ge=0, description="weight of a tile without land use (keeps its posterior > 0)"
    )

    @model_validator(mode="after")
    def _weights_non_negative(self) -> PriorSettings:
        bad = {k: v for k, v in self.land_use_weights.items() if v < 0}
        if bad:
            raise ValueError(f"land_use_weights must be >= 0, got {bad}")
        return self


class CleaningSettings(Section):
    """Semantic cleaning thresholds (MultiMNO example config)."""

    min_distance_m: float = Field(
        10_000.0, ge=0, description="hops shorter than this are never impossible"
    )
    max_speed_m_s: float = Field(55.0, gt=0, description="faster hops are impossible")


class ConvergenceSettings(Section):
    """``[convergence]``: everything ``rmf convergence`` reads."""

    reference_dir: str | None = Field(
        None,
        description=(
            "directory with the Delta reference tables territory/, zones/, land_use/ "
            "(a synthetic world's DIR/reference); default <lake>/shared/reference"
        ),
    )
    home_mcc: int = Field(
        214,
        ge=0,
        le=999,
        description=(
            "events with another MCC are inbound; records without a cell whose PLMN has "
            "another MCC are outbound (the D-layer keeps them)"
        ),
    )
    grid: GridSettings = Field(default_factory=GridSettings)
    radio: RadioSettings = Field(default_factory=RadioSettings)
    pruning: PruningSettings = Field(default_factory=PruningSettings)
    prior: PriorSettings = Field(default_factory=PriorSettings)
    cleaning: CleaningSettings = Field(default_factory=CleaningSettings)
