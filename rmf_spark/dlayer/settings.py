"""The ``[ingest]`` section of a profile: how the D-layer loads each MNO's raw data.

Examples
--------
>>> from rmf_spark.config import load_config
>>> cfg = load_config("conf/local.toml")
>>> cfg.ingest.n_device_buckets
16
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rmf_spark.config_base import Section

__all__ = ["IngestSettings", "MnoInputSettings"]


class MnoInputSettings(Section):
    """``[ingest.mno.<id>]``: where one MNO's raw files are and which input profile reads them."""

    raw_dir: str = Field(
        ..., description="raw root of this MNO (holds the profile's events/ and cells/ paths)"
    )
    profile: str = Field(
        ...,
        description=(
            "input profile TOML (conf/inputs/*.toml); a relative path is taken from the "
            "directory of the main profile, then from the working directory"
        ),
    )
    territory_bbox_3035: tuple[float, float, float, float] | None = Field(
        None,
        description="xmin, ymin, xmax, ymax (EPSG:3035 metres): cells outside are quarantined",
    )


class IngestSettings(Section):
    """``[ingest]``: D-layer settings shared by every MNO (see docs/bronze.md)."""

    n_device_buckets: int = Field(
        16, ge=1, le=4096, description="bronze events partitions per date: pmod(xxhash64(id), n)"
    )
    timestamp_tolerance_s: int = Field(
        0,
        ge=0,
        le=86_400,
        description="seconds an event may lie outside the loaded day before it is OUT_OF_DAY",
    )
    key_env: str = Field(
        "RMF_PSEUDONYM_KEY",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding the pseudonymisation master key",
    )
    key_file: str | None = Field(
        None, description="file holding the master key (used when key_env is not set)"
    )
    key_rotation: Literal["none", "day", "week", "month", "quarter", "year"] = Field(
        "month", description="pseudonyms are stable within one period of this length"
    )
    redact_digit_runs: int = Field(
        11,
        ge=0,
        le=64,
        description=(
            "in quarantined raw content, runs of at least this many digits are masked "
            "(0 = off); the identifier field itself is always replaced by its pseudonym"
        ),
    )
    quality_trailing_loads: int = Field(
        7, ge=2, le=366, description="loads in the band a new load's metrics are compared to"
    )
    quality_min_loads: int = Field(
        3, ge=2, le=366, description="fewest trailing loads before a warning can be raised"
    )
    quality_sd_band: float = Field(
        3.0, gt=0, description="a metric outside mean +/- this many sd raises a warning"
    )
    mno: dict[str, MnoInputSettings] = Field(
        default_factory=dict, description="one table per MNO id"
    )
