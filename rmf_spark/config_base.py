"""The base class of every configuration section (kept apart so layers can define sections)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A table of a TOML profile: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
