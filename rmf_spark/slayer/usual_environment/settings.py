"""The ``[usual_environment]`` section of a profile (see ``docs/usual-environment.md``).

Light on purpose: pydantic only, so that loading a profile imports no Spark. Defaults follow
Eurostat's MultiMNO (mid-term permanence score: ``day_start_hour`` 4 and its time intervals).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from rmf_spark.config_base import Section, TimeZoneName

__all__ = ["TimeInterval", "UsualEnvironmentSettings"]


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


class UsualEnvironmentSettings(Section):
    """Mid-term permanence: the local calendar its day types and time intervals follow."""

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

    @field_validator("time_intervals")
    @classmethod
    def _names(cls, value: dict[str, TimeInterval]) -> dict[str, TimeInterval]:
        if "all" in value:
            raise ValueError("'all' is every slot: name the intervals otherwise")
        return value
