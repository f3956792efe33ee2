"""The ``[present_population]`` section of a profile (see ``docs/present-population.md``).

Light on purpose: pydantic only, so that loading a profile imports no Spark or numpy.
"""

from __future__ import annotations

from pydantic import Field

from rmf_spark.config_base import Section

__all__ = ["BlockSettings", "PresentPopulationSettings", "ReachCalibrationSettings"]


class ReachCalibrationSettings(Section):
    """``[present_population.reach_calibration]``: per-cell reach from the timing advance."""

    enabled: bool = Field(True, description="calibrate each cell's distance decay from its TA")
    rounds: int = Field(4, ge=1, le=50, description="Jacobi rounds over all cells")
    min_events: int = Field(
        100, ge=1, description="TA events of the day a cell needs to be calibrated"
    )
    max_offset: float = Field(
        1.0, gt=0, le=5, description="largest |offset| of a path-loss exponent"
    )
    offset_step: float = Field(0.125, gt=0, le=1, description="grid step of the offsets")
    em_iterations: int = Field(
        5, ge=1, le=1000, description="EM iterations for the events per tile of each round"
    )


class BlockSettings(Section):
    """``[present_population.blocks]``: the spatial blocks of the EM's and the reach
    calibration's pandas groups (``docs/present-population.md``, "Memory per pandas group")."""

    km: float = Field(
        20.0,
        ge=0,
        description="block side in km (one pandas group per date and block); 0: one per date",
    )
    halo_km: float = Field(
        10.0,
        ge=0,
        description="cells with a tile this close to a block join its group as context",
    )


class PresentPopulationSettings(Section):
    """Time points, nearest-event window, EM stopping rule and device-to-people expansion."""

    time_step_s: int = Field(
        3600, gt=0, le=86_400 * 7, description="seconds between time points (default hourly)"
    )
    tolerance_s: int = Field(
        43_200,
        ge=0,
        le=86_400,
        description=(
            "max |event time - time point| in seconds (12 h: a CDR device is placed at its "
            "last or next known cell; MultiMNO uses 3600)"
        ),
    )
    max_iterations: int = Field(
        5,
        ge=1,
        le=100_000,
        description="EM iteration cap: early stopping regularises (MultiMNO uses 20)",
    )
    relative_tolerance: float = Field(
        1e-4,
        gt=0,
        lt=1,
        description="EM stops when sum |u_new - u_old| / sum u < this",
    )
    timing_advance_step_m: dict[str, float] = Field(
        default_factory=lambda: {"2G": 553.85, "4G": 78.12, "5G": 78.12},
        description=(
            "TA step in metres per technology; an event's TA is used when its technology is "
            "listed (LTE and NR at 15 kHz: 78.12, GSM: 553.85); {} ignores TA"
        ),
    )
    timing_advance_buffer: int = Field(
        1, ge=0, le=10, description="TA bands added either side (mobloc TA_buffer)"
    )
    reach_calibration: ReachCalibrationSettings = Field(
        default_factory=ReachCalibrationSettings,
        description="per-cell distance decay fitted to the TA of each day's events",
    )
    blocks: BlockSettings = Field(
        default_factory=BlockSettings,
        description="spatial blocks bounding the EM's and the reach calibration's pandas groups",
    )
    market_share_table: str | None = Field(
        None,
        description=(
            "Delta table (mno_id?, region_id, share) with the MNO's market share per region; "
            "used when market_share is empty"
        ),
    )
    market_share: dict[str, float] = Field(
        default_factory=dict,
        description="inline market share per region id, e.g. {R01 = 0.35}; wins over the table",
    )
    default_share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share for tiles whose region has none (None: population left null)",
    )
    region_level: int = Field(1, ge=1, description="tile_zone zone_level of the share regions")
