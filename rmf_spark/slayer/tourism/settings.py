"""The ``[tourism]`` section of a profile: inbound and outbound tourism (``docs/mobility.md``,
section 7).

Light on purpose: pydantic only, so that loading a profile imports no Spark. The functional
midnight (04:00), the tourism stay (180 min) and the overnight stay (300 min) are MultiMNO's
(``16_tourism_stays_estimation.md``); the outbound trip gap (72 h) is MultiMNO's example of
``max_outbound_trip_gap_h`` and the continuous segmentation's longest silence abroad. The
rest is rmf_spark's choice, documented on the page.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rmf_spark.config_base import Section, TimeZoneName
from rmf_spark.slayer.mobility.settings import check_levels

__all__ = ["InboundSettings", "OutboundSettings", "TourismSettings"]

_COUNTRY = r"[A-Z]{2}(/[A-Z]{2})*"


class InboundSettings(Section):
    """Visits of devices whose SIM is foreign, and how they are expanded to persons."""

    max_unseen_days: int = Field(
        0,
        ge=0,
        le=30,
        description=(
            "days without a sighting a visit may hold: 0 = a visit is a run of consecutive "
            "days the device is seen"
        ),
    )
    share: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "share of each origin country's visitors carried by this MNO, by ISO 3166 alpha-2 "
            "code (inline; wins over share_table): persons = devices / share"
        ),
    )
    share_table: str | None = Field(
        None,
        description=(
            "Delta table of shares: [mno_id,] country, share (e.g. a synthetic world's "
            "reference/inbound_share); used when share is empty"
        ),
    )
    default_share: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of origins without one (else their persons are null)",
    )

    @field_validator("share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if not re.fullmatch(_COUNTRY, k) or not 0 < v <= 1)
        if bad:
            raise ValueError(
                f"share: keys are ISO 3166 alpha-2 codes, values in (0, 1] (check {bad})"
            )
        return value


class OutboundSettings(Section):
    """Trips abroad of the MNO's own subscribers."""

    max_trip_gap_s: int = Field(
        259_200,
        gt=0,
        le=30 * 86_400,
        description=(
            "two abroad segments with no domestic segment between them are one trip when the "
            "second starts at most this long after the first ends (MultiMNO example: 72 h)"
        ),
    )
    destination_time_zone: bool = Field(
        True,
        description=(
            "a night abroad is counted at the functional midnight of the destination's time "
            "zone (MultiMNO); false: of tourism.time_zone"
        ),
    )


class TourismSettings(Section):
    """Inbound and outbound tourism: stays, nights, visits and trips."""

    time_zone: TimeZoneName = Field(
        "UTC",
        description=(
            "IANA zone of the territory: functional midnights, the local days of stays, "
            "arrivals and trips (use the zone of device.time_zone)"
        ),
    )
    functional_midnight_hour: int = Field(
        4,
        ge=0,
        le=12,
        description=(
            "local hour of the functional midnight: a device spends the night of day D where "
            "it stays at this hour of D + 1 (MultiMNO: 4)"
        ),
    )
    min_stay_s: int = Field(
        10_800,
        ge=0,
        le=86_400,
        description=(
            "a stay (or time abroad) counts for tourism when it lasts at least this long, its "
            "parts on both sides of midnight joined (MultiMNO: 180 min)"
        ),
    )
    min_night_stay_s: int = Field(
        18_000,
        ge=0,
        le=86_400,
        description=(
            "a stay holding the functional midnight is a night spent when it lasts at least "
            "this long, parts joined (MultiMNO: 300 min)"
        ),
    )
    stay_location: Literal["location", "best_tile", "footprint"] = Field(
        "location",
        description=(
            "the tiles a stay is spread over, equal weights: 'location' = its location_tiles "
            "(else best_tile, else footprint tiles), 'best_tile' (else footprint), 'footprint'"
        ),
    )
    levels: list[str] = Field(
        default_factory=lambda: ["zone_1", "zone_2"],
        description=(
            "levels of the tables besides the whole territory: zone_<n> (tile_zone level n: "
            "zone_1 regions, zone_2 municipalities), 1km, 100m. Inbound: where the nights and "
            "stays are; outbound: the travellers' home"
        ),
    )
    inbound: InboundSettings = Field(default_factory=InboundSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        return check_levels(value)

    @model_validator(mode="after")
    def _night_holds_a_stay(self) -> TourismSettings:
        if self.min_night_stay_s < self.min_stay_s:
            raise ValueError(
                f"min_night_stay_s ({self.min_night_stay_s}) must be at least min_stay_s "
                f"({self.min_stay_s}): a night is spent in a tourism stay"
            )
        return self
