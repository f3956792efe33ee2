"""The ``[usual_environment]`` section of a profile (see ``docs/usual-environment.md``).

Light on purpose: pydantic only, so that loading a profile imports no Spark. Defaults follow
Eurostat's MultiMNO: the mid-term permanence score (``day_start_hour`` 4 and its time
intervals), the long-term permanence score (its seasons) and the usual environment labelling
(its thresholds, from the component's documented example configuration).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rmf_spark.config_base import Section, TimeZoneName
from rmf_spark.slayer.usual_environment.calibration import CalibrationSettings
from rmf_spark.slayer.usual_environment.migration import MigrationSettings

__all__ = [
    "LabelSettings",
    "LocationRuleSettings",
    "LongtermSettings",
    "TimeInterval",
    "UsualEnvironmentRuleSettings",
    "UsualEnvironmentSettings",
]


class TimeInterval(Section):
    """Local hours ``[start_hour, end_hour)``; ``start_hour > end_hour`` wraps past midnight
    (``18 -> 8`` is 18:00 to 08:00)."""

    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=0, le=24)

    @model_validator(mode="after")
    def _not_empty(self) -> TimeInterval:
        if self.start_hour == self.end_hour:
            raise ValueError(f"empty interval {self.start_hour} -> {self.end_hour}")
        return self

    def holds(self, hour: int) -> bool:
        """True when the local ``hour`` (0-23) lies in the interval.

        >>> TimeInterval(start_hour=18, end_hour=8).holds(23), TimeInterval(start_hour=8,
        ...     end_hour=17).holds(17)
        (True, False)
        """
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour


def _intervals() -> dict[str, TimeInterval]:
    # MultiMNO's example configuration of the mid-term permanence score
    return {
        "night_time": TimeInterval(start_hour=18, end_hour=8),
        "working_hours": TimeInterval(start_hour=8, end_hour=17),
        "evening_time": TimeInterval(start_hour=16, end_hour=22),
    }


def _seasons() -> dict[str, list[int]]:
    # MultiMNO's example configuration of the long-term permanence score
    return {"winter": [12, 1, 2], "spring": [3, 4, 5], "summer": [6, 7, 8], "autumn": [9, 10, 11]}


class LongtermSettings(Section):
    """``[usual_environment.longterm]``: how mid-term periods are grouped into a long-term one."""

    seasons: dict[str, list[int]] = Field(
        default_factory=_seasons,
        description=(
            "named seasons (besides 'all', every period): the months (1-12) whose mid-term "
            "periods they combine, by the month of a period's first day (MultiMNO)"
        ),
    )

    @field_validator("seasons")
    @classmethod
    def _months(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        if "all" in value:
            raise ValueError("'all' is every period: name the seasons otherwise")
        for name, months in value.items():
            if (
                not months
                or len(set(months)) != len(months)
                or not set(months) <= set(range(1, 13))
            ):
                raise ValueError(
                    f"season {name!r}: distinct months 1-12, at least one (got {months})"
                )
        return value


def _share(default: float, what: str) -> Any:
    return Field(default, gt=0, le=1, description=what)


class UsualEnvironmentRuleSettings(Section):
    """``[usual_environment.labels.ue]``: the usual environment rules (MultiMNO defaults)."""

    gap_share: float = _share(
        0.2,
        "candidate tiles: sorted by permanence, cut at the first drop of at least this share "
        "of the device's largest tile permanence (MultiMNO ue_gap_ps_threshold 20 %)",
    )
    permanence_share: float = _share(
        0.7,
        "ue_1, ue_2_night, ue_2_work: a tile's slots at least this share of the device's "
        "observed slots in the rule's day type and interval (MultiMNO ue_ps_threshold 70 %)",
    )
    frequency_share: float = _share(
        0.7,
        "ue_3: a tile's days at least this share of the device's observed days "
        "(MultiMNO ue_ndays_threshold 70 %)",
    )


class LocationRuleSettings(Section):
    """``[usual_environment.labels.home]`` / ``[usual_environment.labels.work]``: the rules of a
    meaningful location, tried on the device's usual environment tiles (MultiMNO defaults)."""

    gap_slots: int = Field(
        1,
        ge=1,
        description=(
            "candidate tiles: sorted by permanence, cut at the first drop of at least this "
            "many slots (MultiMNO home/work_gap_ps_threshold 1: the tiles tied at the top)"
        ),
    )
    permanence_share: float = _share(
        0.8,
        "h_1, h_2 / w_1: a tile's slots at least this share of the device's observed slots "
        "(MultiMNO home/work_ps_threshold 80 %)",
    )
    frequency_share: float = _share(
        0.8,
        "h_3 / w_2: a tile's days at least this share of the device's observed days "
        "(MultiMNO home/work_ndays_threshold 80 %)",
    )


class LabelSettings(Section):
    """``[usual_environment.labels]``: usual environment, home and work labels."""

    min_slots: int = Field(
        1500,
        ge=0,
        description=(
            "a device with fewer grid slots over the period (all days, all hours) gets no "
            "label: insufficient_observation (MultiMNO total_ps_threshold; its example is "
            "for months of data)"
        ),
    )
    min_days: int = Field(
        50,
        ge=0,
        description=(
            "a device seen (a grid slot) on fewer days gets no label: "
            "insufficient_observation (MultiMNO total_ndays_threshold)"
        ),
    )
    night_interval: str = Field(
        "night_time", description="the time interval of ue_2_night, h_2 and h_3"
    )
    working_interval: str = Field(
        "working_hours", description="the time interval (on workdays) of ue_2_work, w_1 and w_2"
    )
    ue: UsualEnvironmentRuleSettings = Field(default_factory=UsualEnvironmentRuleSettings)
    home: LocationRuleSettings = Field(default_factory=LocationRuleSettings)
    work: LocationRuleSettings = Field(default_factory=LocationRuleSettings)


class UsualEnvironmentSettings(Section):
    """Mid-term permanence (the local calendar its day types and time intervals follow),
    long-term permanence and the labels."""

    time_zone: TimeZoneName = Field(
        "UTC",
        description="IANA zone of the territory: day types and time intervals are local",
    )
    day_start_hour: int = Field(
        4,
        ge=0,
        le=12,
        description=(
            "a day for the day types starts at this local hour: a night belongs to the day "
            "of its evening (MultiMNO day_start_hour)"
        ),
    )
    time_intervals: dict[str, TimeInterval] = Field(
        default_factory=_intervals,
        description="named local time intervals (besides 'all'); they may overlap",
    )

    longterm: LongtermSettings = Field(default_factory=LongtermSettings)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    holidays: Literal["required", "weekends_only"] = Field(
        "required",
        description=(
            "without the reference holidays table: 'required' stops with an error naming it; "
            "'weekends_only' counts weekends alone as holidays and records it in the output"
        ),
    )

    @field_validator("time_intervals")
    @classmethod
    def _names(cls, value: dict[str, TimeInterval]) -> dict[str, TimeInterval]:
        if "all" in value:
            raise ValueError("'all' is every slot: name the intervals otherwise")
        return value

    @model_validator(mode="after")
    def _label_intervals(self) -> UsualEnvironmentSettings:
        # the rules read these intervals' permanence: a missing one would label nothing, silently
        for key in ("night_interval", "working_interval"):
            name = getattr(self.labels, key)
            if name not in self.time_intervals:
                raise ValueError(
                    f"usual_environment.labels.{key} = {name!r} is not one of "
                    f"usual_environment.time_intervals ({', '.join(sorted(self.time_intervals))})"
                )
        return self
