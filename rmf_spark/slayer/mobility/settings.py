"""The ``[mobility]`` section of a profile: trips and origin-destination matrices (see
``docs/mobility.md``).

Light on purpose: pydantic only, so that loading a profile imports no Spark. The minimum stay
is MultiMNO's continuous time segmentation minimum (900 s); the time bands, the zone levels
and the rest are rmf_spark's choices, documented on the page.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from rmf_spark.config_base import Section, TimeZoneName
from rmf_spark.slayer.usual_environment.settings import TimeInterval

__all__ = ["LEVEL_PATTERN", "MobilitySettings", "TimeInterval", "check_levels"]

#: an OD level: ``zone_<zone_level>`` (C-layer ``tile_zone``), ``1km`` or ``100m`` (the grid)
LEVEL_PATTERN = r"zone_[1-9][0-9]*|1km|100m"


def check_levels(value: list[str]) -> list[str]:
    """``value`` when it names distinct levels of :data:`LEVEL_PATTERN` (a pydantic validator
    of the sections that take levels), else a ValueError."""
    bad = [v for v in value if not re.fullmatch(LEVEL_PATTERN, v)]
    if bad or len(set(value)) != len(value):
        raise ValueError(f"levels: distinct names among zone_<n>, 1km, 100m (got {value})")
    return value


def _bands() -> dict[str, TimeInterval]:
    return {
        "morning_peak": TimeInterval(start_hour=7, end_hour=10),
        "day": TimeInterval(start_hour=10, end_hour=16),
        "evening": TimeInterval(start_hour=16, end_hour=20),
        "night": TimeInterval(start_hour=20, end_hour=7),
    }


class MobilitySettings(Section):
    """Trips between stays and their origin-destination matrices."""

    time_zone: TimeZoneName = Field(
        "UTC",
        description=(
            "IANA zone of the territory: a trip's day and time band are those of its local "
            "departure (use the zone of device.time_zone)"
        ),
    )
    min_stay_s: int = Field(
        900,
        ge=0,
        le=86_400,
        description=(
            "a stay ends a trip when it lasts at least this long, its parts on both sides of "
            "midnight joined; a shorter stay is part of the trip (MultiMNO min stay 900 s)"
        ),
    )
    max_unknown_s: int = Field(
        86_400,
        gt=0,
        le=7 * 86_400,
        description=(
            "a path between two stays holding more unknown time than this is not a trip "
            "(the day of the move is not known)"
        ),
    )
    stay_location: Literal["location", "best_tile", "footprint"] = Field(
        "location",
        description=(
            "the tiles a trip end is spread over, equal weights: 'location' = the stay's "
            "location_tiles (else its best_tile, else its footprint tiles), 'best_tile' = its "
            "best_tile (else its footprint tiles), 'footprint' = its footprint tiles"
        ),
    )
    day_start_hour: int = Field(
        0,
        ge=0,
        le=12,
        description=(
            "a trip belongs to the day of its local departure shifted back by this many hours "
            "(0: the calendar day, as the synthetic truth counts; 4: MultiMNO's functional "
            "midnight)"
        ),
    )
    time_bands: dict[str, TimeInterval] = Field(
        default_factory=_bands,
        description=("named local-hour bands of the departure; every hour is in exactly one band"),
    )
    levels: list[str] = Field(
        default_factory=lambda: ["zone_1", "zone_2", "1km"],
        min_length=1,
        description=(
            "levels of the OD matrices: zone_<n> (tile_zone level n: zone_1 regions, zone_2 "
            "municipalities), 1km (INSPIRE 1 km tiles), 100m (100 m tiles)"
        ),
    )

    @field_validator("time_bands")
    @classmethod
    def _partition(cls, value: dict[str, TimeInterval]) -> dict[str, TimeInterval]:
        for hour in range(24):
            holding = sorted(name for name, band in value.items() if band.holds(hour))
            if len(holding) != 1:
                raise ValueError(
                    f"the time bands must hold every hour exactly once: {hour}:00 is in "
                    f"{holding or 'none'}"
                )
        return value

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        return check_levels(value)

    def band_of(self, hour: int) -> str:
        """The name of the band holding the local ``hour`` (0-23).

        >>> MobilitySettings().band_of(8), MobilitySettings().band_of(23)
        ('morning_peak', 'night')
        """
        return next(name for name, band in self.time_bands.items() if band.holds(hour))
