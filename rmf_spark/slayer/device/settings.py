"""The ``[device]`` section of a profile: device-level inference (see ``docs/device-inference.md``).

Light on purpose: pydantic only, so that loading a profile imports no Spark or numpy.
Defaults follow MultiMNO's continuous time segmentation and daily permanence score where it
has one; the HMM defaults are rmf_spark's (destim fits its transitions, rmf_spark fixes a
kernel, see the doc page).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rmf_spark.config_base import Section, TimeZoneName

__all__ = ["DeviceSettings", "HmmSettings", "PermanenceSettings", "SegmentSettings"]


class SegmentSettings(Section):
    """``[device.segments]``: continuous time segmentation (MultiMNO defaults)."""

    min_stay_s: int = Field(
        900, gt=0, le=86_400, description="a run of intersecting events this long is a stay"
    )
    max_gap_stay_s: int = Field(
        43_200,
        gt=0,
        le=7 * 86_400,
        description="largest silence inside a stay (12 h: a phone offline at home at night)",
    )
    max_gap_move_s: int = Field(
        7_200,
        gt=0,
        le=7 * 86_400,
        description="largest silence between two places read as a move; longer is unknown",
    )
    max_gap_abroad_s: int = Field(
        259_200, gt=0, le=30 * 86_400, description="largest silence inside an abroad segment"
    )
    pad_s: int = Field(
        300,
        ge=0,
        le=3_600,
        description="seconds a place or abroad segment is extended into an unknown gap",
    )

    @model_validator(mode="after")
    def _gaps_ordered(self) -> SegmentSettings:
        if self.max_gap_move_s > self.max_gap_stay_s:
            raise ValueError(
                f"device.segments.max_gap_move_s ({self.max_gap_move_s}) must not exceed "
                f"max_gap_stay_s ({self.max_gap_stay_s})"
            )
        if 2 * self.pad_s >= self.max_gap_move_s:
            raise ValueError(
                f"device.segments.pad_s ({self.pad_s}) must be under half of max_gap_move_s "
                f"({self.max_gap_move_s}), so that a padded unknown gap keeps a positive length"
            )
        return self


class PermanenceSettings(Section):
    """``[device.permanence]``: daily permanence per time slot (MultiMNO: 24 slots a day)."""

    slot_s: Literal[3600, 1800, 900] = Field(
        3600, description="slot length in seconds: 3600 (24 a day), 1800 (48) or 900 (96)"
    )
    min_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="share of a slot a tile (or unknown, abroad) must hold to be kept",
    )
    tiles: Literal["location", "footprint"] = Field(
        "location",
        description=(
            "the tiles a stay holds: 'location' = its location_tiles (the HMM's most probable "
            "tiles; its footprint tiles when it has none), 'footprint' = the common footprint "
            "intersection of its cells (MultiMNO)"
        ),
    )


class HmmSettings(Section):
    """``[device.hmm]``: the HMM location model (destim-style, sparse, irregular time gaps)."""

    enabled: bool = Field(True, description="compute location posteriors for the segments")
    prior: Literal["em", "uniform"] = Field(
        "em",
        description=(
            "initial distribution: 'em' = the day's mean EM density of present population "
            "(uniform when that day has none), 'uniform' = flat over the device's tiles"
        ),
    )
    scale_m: float = Field(
        100.0,
        gt=0,
        le=50_000,
        description="sd per axis of the displacement at dt = 0 (m): the model's position noise",
    )
    stay_speed_m_s: float = Field(
        0.25,
        ge=0,
        le=100,
        description="growth per second of gap of the sd of a device that stayed (m/s)",
    )
    travel_speed_m_s: float = Field(
        8.0,
        ge=0,
        le=100,
        description="growth per second of gap of the sd of a device that travelled (m/s)",
    )
    travel_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="weight of the travelling component of the kernel",
    )
    max_speed_m_s: float = Field(
        55.0,
        gt=0,
        le=350,
        description="reach per axis: min_reach_m + this * dt (55 m/s = 200 km/h)",
    )
    min_reach_m: float = Field(500.0, ge=0, le=100_000, description="reach per axis at dt = 0 (m)")
    kernel_cutoff: float = Field(
        5.0,
        ge=3,
        le=40,
        description="the kernel is cut at this many sd (5: exp(-12.5) = 4e-6)",
    )
    kernel_block_sds: float = Field(
        4.0,
        ge=0,
        le=100,
        description=(
            "a kernel component with sd >= 2 * this * 100 m is applied from blocks of tiles "
            "at most sd / this wide (adds < 1 / (12 * this^2) to its variance); 0: tile by "
            "tile, exact and slower"
        ),
    )
    jump_probability: float = Field(
        1e-3,
        gt=0,
        le=1,
        description="per step, the device re-enters from the prior (fast moves, outliers)",
    )
    prior_uniform_share: float = Field(
        0.01,
        gt=0,
        le=1,
        description="share of a uniform distribution mixed into the prior (keeps it > 0)",
    )
    posterior_mass: float = Field(
        0.99,
        gt=0,
        le=1,
        description="posteriors are stored on the fewest tiles holding this mass (renormalised)",
    )
    radius_mass: float = Field(
        0.95, gt=0, le=1, description="mass of a segment's location radius around its best tile"
    )
    location_mass: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a located segment's location_tiles: its fewest tiles holding this mass",
    )
    forward_memory_mb: float = Field(
        64.0,
        ge=0,
        le=16_384,
        description=(
            "a device-day whose forward messages (8 bytes per tile of each event) fit in this "
            "many MB keeps them all; above it, every ceil(sqrt(n))-th is kept and the others "
            "are recomputed in the backward pass (memory sqrt(n), one more forward pass)"
        ),
    )


class DeviceSettings(Section):
    """Day boundaries, run compression, group bound, and the segmentation, permanence and HMM
    sections."""

    time_zone: TimeZoneName = Field(
        "UTC",
        description="IANA zone whose midnights bound a device-day (its slots start at them)",
    )
    run_max_gap_s: int = Field(
        3_600,
        gt=0,
        le=7 * 86_400,
        description=(
            "identical consecutive observations closer than this are one compressed row "
            "(must not exceed segments.max_gap_stay_s, so the segments do not change)"
        ),
    )
    broadcast_footprints_max_rows: int = Field(
        2_000_000,
        ge=0,
        le=100_000_000,
        description=(
            "connection probabilities of at most this many (cell, tile) rows are sent once "
            "to every Python worker instead of with every device-day (about 60 bytes a row "
            "in each worker; 0: always with every device-day)"
        ),
    )
    max_rows_per_day: int = Field(
        20_000,
        ge=24,
        le=10_000_000,
        description=(
            "compressed rows a device-day may keep; above it, one row per time bin of "
            "day / max_rows_per_day seconds (its most frequent observation)"
        ),
    )
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    permanence: PermanenceSettings = Field(default_factory=PermanenceSettings)
    hmm: HmmSettings = Field(default_factory=HmmSettings)

    @model_validator(mode="after")
    def _compression_is_exact(self) -> DeviceSettings:
        if self.run_max_gap_s > self.segments.max_gap_stay_s:
            raise ValueError(
                f"device.run_max_gap_s ({self.run_max_gap_s}) must not exceed "
                f"device.segments.max_gap_stay_s ({self.segments.max_gap_stay_s})"
            )
        return self
