"""Input profiles: declarative TOML mappings from one MNO's raw layout to the bronze schema.

A profile (``conf/inputs/*.toml``) has an ``[events]`` and an optional ``[cells]`` table. Each
names the file format, where the files are (a pattern relative to the MNO's ``raw_dir``), how
to split a record into raw columns, and which raw column fills which bronze column. Nothing in
a profile is evaluated as code; unknown keys are errors. See docs/bronze.md, "Adding an MNO".

Examples
--------
>>> from rmf_spark.dlayer.profiles import load_profile
>>> p = load_profile("conf/inputs/mno_a.toml")
>>> p.events.format, p.events.delimiter, p.events.identifier
('csv', ';', 'msisdn')
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rmf_spark.config_base import Section, load_toml
from rmf_spark.dlayer.schemas import CELLS_SCHEMA, EVENTS_SCHEMA
from rmf_spark.uris import uri_join

__all__ = [
    "CELL_TARGETS",
    "EVENT_TARGETS",
    "CellsProfile",
    "EventsProfile",
    "InputProfile",
    "TimestampSpec",
    "load_profile",
]

#: bronze event columns a profile may map a raw column to
EVENT_TARGETS = tuple(
    n
    for n in EVENTS_SCHEMA.fieldNames()
    if n not in ("device_id", "event_ts", "roamer_link", "source_file", "source_row", "mno_id",
                 "date", "device_bucket")
)  # fmt: skip
#: bronze cell columns a profile may map a raw column to
CELL_TARGETS = tuple(
    n
    for n in CELLS_SCHEMA.fieldNames()
    if n not in ("mno_id", "imputed", "source_file", "source_row")
)


class _FileSpec(Section):
    format: Literal["csv", "jsonl", "parquet"]
    path: str = Field(
        ...,
        description=(
            "file or directory relative to raw_dir; events may use {date:%Y%m%d}-style "
            "fields and {date.year}/{date.month}/{date.day}"
        ),
    )
    delimiter: str = Field(";", min_length=1, max_length=1)
    header: bool = True
    columns: list[str] = Field(
        default_factory=list,
        description="raw columns in file order (CSV) or the expected keys (JSON lines)",
    )
    optional_columns: list[str] = Field(
        default_factory=list, description="JSON keys / Parquet columns that may be absent"
    )
    columns_map: dict[str, str] = Field(
        default_factory=dict, description="bronze column -> raw column"
    )

    def file_path(self, raw_dir: str, date: dt.date | None = None) -> str:
        """The path of the file (or directory) for ``date`` under ``raw_dir``."""
        rel = self.path.format(date=date) if date is not None else self.path
        return uri_join(raw_dir, rel)

    @model_validator(mode="after")
    def _check_columns(self) -> _FileSpec:
        if self.format in ("csv", "jsonl") and not self.columns:
            raise ValueError(f"format {self.format!r} needs 'columns'")
        if self.columns:
            known = set(self.columns) | set(self.optional_columns)
            missing = sorted(set(self.columns_map.values()) - known)
            if missing:
                raise ValueError(f"columns_map uses columns not in 'columns': {missing}")
        return self


class TimestampSpec(Section):
    """How the raw event time is written: a datetime pattern in a zone, or an epoch number."""

    column: str
    formats: list[str] = Field(
        default_factory=list, description="Spark datetime patterns, tried in order"
    )
    epoch_unit: Literal["s", "ms", "us"] | None = None
    time_zone: str = Field("UTC", description="zone of a local-time pattern (IANA name)")

    @model_validator(mode="after")
    def _one_kind(self) -> TimestampSpec:
        if bool(self.formats) == (self.epoch_unit is not None):
            raise ValueError("give exactly one of 'formats' or 'epoch_unit'")
        return self


class EventsProfile(_FileSpec):
    """``[events]``: the raw event files of one day."""

    identifier: str = Field(..., description="raw column holding the device identifier")
    identifier_pseudonymised: bool = Field(
        False, description="true: the identifier is already a pseudonym, carried as hex"
    )
    record_id_column: str | None = None
    timestamp: TimestampSpec
    mandatory: list[str] = Field(default_factory=list, description="raw columns never null")
    day_time_zone: str = Field(
        "UTC", description="zone in which a file's day is defined (for OUT_OF_DAY)"
    )
    mcc_mnc_from_plmn: bool = Field(False, description="derive mcc and mnc from plmn")
    cell_id_pattern: str | None = Field(
        None, description="regular expression a valid cell id matches (else BAD_CELL_ID)"
    )
    technology_map: dict[str, str] = Field(
        default_factory=lambda: {
            "2G": "2G",
            "3G": "3G",
            "4G": "4G",
            "5G": "5G",
            "GSM": "2G",
            "UMTS": "3G",
            "LTE": "4G",
            "NR": "5G",
        },
        description="raw technology value -> 2G/3G/4G/5G (others: BAD_VALUE)",
    )

    @model_validator(mode="after")
    def _check_targets(self) -> EventsProfile:
        bad = sorted(set(self.columns_map) - set(EVENT_TARGETS))
        if bad:
            raise ValueError(f"columns_map targets {bad} are not bronze event columns")
        if "cell_id" not in self.columns_map:
            raise ValueError("columns_map must map cell_id")
        return self


class CellsProfile(_FileSpec):
    """``[cells]``: the cell plan (all validity intervals), one file or a directory."""

    coordinates: Literal["wgs84", "epsg3035"] = "wgs84"
    date_formats: list[str] = Field(
        default_factory=lambda: ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss"],
        description="patterns of valid_from / valid_to",
    )
    directional_values: list[str] = Field(
        default_factory=lambda: ["1", "true", "yes", "directional"],
        description="raw values (lower case) of the directional column meaning 'directional'",
    )

    @model_validator(mode="after")
    def _check_targets(self) -> CellsProfile:
        bad = sorted(set(self.columns_map) - set(CELL_TARGETS))
        if bad:
            raise ValueError(f"columns_map targets {bad} are not bronze cell columns")
        need = {"cell_id"} | (
            {"latitude", "longitude"} if self.coordinates == "wgs84" else {"x", "y"}
        )
        if need - set(self.columns_map):
            raise ValueError(f"columns_map must map {sorted(need)}")
        return self


class InputProfile(Section):
    """A whole input profile file."""

    description: str = ""
    events: EventsProfile
    cells: CellsProfile | None = None
    source: str = Field("<inline>", exclude=True)


def load_profile(path: str | Path) -> InputProfile:
    """Read and validate an input profile.

    Raises
    ------
    ConfigError
        The file is missing (``PROFILE_NOT_FOUND``), not TOML (``PROFILE_NOT_TOML``), or a key
        is unknown or invalid (``PROFILE_INVALID``); the message names the file and the key.
    """
    return load_toml(path, InputProfile, what="input profile", code_prefix="PROFILE")
