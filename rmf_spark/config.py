"""Typed configuration loaded from ``conf/*.toml``.

A profile is a TOML file with one table per concern (``[spark]``, ``[lake]``, one per stage).
It is parsed with :mod:`tomllib` and validated by pydantic models that forbid unknown keys, so a
typo, a wrong type or an out-of-range value stops the run with a message naming the file and
the dotted key. Nothing in a profile is evaluated as code.

Examples
--------
>>> from rmf_spark.config import load_config
>>> cfg = load_config("conf/local.toml", overrides={"spark.shuffle_partitions": 4})
>>> cfg.spark.shuffle_partitions
4
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field

from rmf_spark.clayer.settings import ConvergenceSettings
from rmf_spark.config_base import Section, load_toml
from rmf_spark.dlayer.settings import IngestSettings
from rmf_spark.errors import ConfigError
from rmf_spark.release.settings import ReleaseSettings
from rmf_spark.slayer.device.settings import DeviceSettings
from rmf_spark.slayer.mobility.settings import MobilitySettings
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings
from rmf_spark.slayer.tourism.settings import TourismSettings
from rmf_spark.slayer.usual_environment.settings import UsualEnvironmentSettings

__all__ = ["LakeSettings", "RmfConfig", "SparkSettings", "default_config_path", "load_config"]


class SparkSettings(Section):
    """How the SparkSession is built (see :mod:`rmf_spark.session`)."""

    master: str = Field("local[*]", description="Spark master; ignored under spark-submit")
    app_name: str = "rmf_spark"
    shuffle_partitions: int = Field(
        0, ge=0, le=100_000, description="0 = auto: 2 x the cores of a local master"
    )
    driver_memory: str | None = Field(
        None, pattern=r"^\d+[kmgt]$", description="e.g. '4g'; local mode only"
    )
    ui_enabled: bool = True
    log_level: str = Field("WARN", pattern=r"^(ALL|DEBUG|INFO|WARN|ERROR|FATAL|OFF)$")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="any other Spark settings, passed as they are"
    )


class LakeSettings(Section):
    """Where Delta tables live (see :mod:`rmf_spark.lake`)."""

    root: str = Field("lake", description="lake root; relative paths are taken from the CWD")


class RmfConfig(Section):
    """A whole profile. Stage sections are defined next to the stage that reads them (each a
    :class:`rmf_spark.config_base.Section` subclass) and added here as one field each."""

    spark: SparkSettings = Field(default_factory=SparkSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    convergence: ConvergenceSettings = Field(default_factory=ConvergenceSettings)
    present_population: PresentPopulationSettings = Field(default_factory=PresentPopulationSettings)
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    usual_environment: UsualEnvironmentSettings = Field(default_factory=UsualEnvironmentSettings)
    mobility: MobilitySettings = Field(default_factory=MobilitySettings)
    tourism: TourismSettings = Field(default_factory=TourismSettings)
    release: ReleaseSettings = Field(default_factory=ReleaseSettings)
    source: str = Field("<defaults>", exclude=True, description="file the profile came from")


def default_config_path() -> Path:
    """``$RMF_CONFIG``, else ``./conf/local.toml``, else the checkout's ``conf/local.toml``."""
    env = os.environ.get("RMF_CONFIG")
    if env:
        return Path(env)
    local = Path("conf/local.toml")
    if local.is_file():
        return local
    return Path(__file__).resolve().parent.parent / "conf" / "local.toml"


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (value in TOML syntax, bare words taken as strings)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
) -> RmfConfig:
    """Load and validate a profile.

    Parameters
    ----------
    path
        TOML file; default :func:`default_config_path`.
    overrides
        Dotted keys to set after reading the file, e.g. ``{"spark.shuffle_partitions": 8}``.

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or a key is unknown, of the wrong type or out of
        range. The message names the file and the dotted key.
    """
    p = Path(path) if path is not None else default_config_path()
    return load_toml(
        p, RmfConfig, what="configuration file", code_prefix="CONFIG", overrides=overrides
    )
