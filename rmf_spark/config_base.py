"""The base class of every configuration section, and the one TOML loader (kept apart, and
light, so that every layer can define sections and load its files without importing Spark).

Every TOML file of the project (the profile, the input profiles, the synthetic-world profiles)
is read by :func:`load_toml`: parsed with :mod:`tomllib`, optionally overridden by dotted keys,
validated by a :class:`Section` model, and any error reported with the file and the dotted key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from rmf_spark.errors import ConfigError

__all__ = ["Section", "TimeZoneName", "format_validation_errors", "load_toml", "set_dotted"]


class Section(BaseModel):
    """A table of a TOML profile: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone") from exc
    return value


#: a configuration value naming an IANA time zone (``Europe/Madrid``), checked on load
TimeZoneName = Annotated[str, AfterValidator(_iana_zone)]

M = TypeVar("M", bound=BaseModel)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data["a"]["b"]["c"] = value`` for ``key = "a.b.c"``, creating the tables."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{key}': '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def format_validation_errors(source: str, err: ValidationError) -> str:
    """One line per error: ``<source>: unknown key 'a.b'`` or ``<source>: key 'a.b': <why>``."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        else:
            lines.append(f"{source}: key '{key}': {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def load_toml(
    path: str | Path,
    model: type[M],
    *,
    what: str,
    code_prefix: str,
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Read the TOML file ``path`` and validate it as ``model``.

    Parameters
    ----------
    path
        The file.
    model
        The pydantic model of the whole file; a ``source`` field, if it has one, is set to
        the path.
    what
        What the file is, for the messages (e.g. ``"input profile"``).
    code_prefix
        Error codes are ``<prefix>_NOT_FOUND``, ``<prefix>_NOT_TOML`` and ``<prefix>_INVALID``.
    overrides
        Dotted keys set after reading, e.g. ``{"spark.shuffle_partitions": 8}``.

    Raises
    ------
    ConfigError
        The file is missing, not UTF-8 TOML, or a key is unknown, of the wrong type or out of
        range (one line per key, naming the file and the dotted key).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {what} not found", code=f"{code_prefix}_NOT_FOUND")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}", code=f"{code_prefix}_NOT_TOML") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text", code=f"{code_prefix}_NOT_TOML") from None
    for key, value in (overrides or {}).items():
        set_dotted(data, key, value)
    if "source" in model.model_fields:
        data = {**data, "source": str(p)}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            format_validation_errors(str(p), exc), code=f"{code_prefix}_INVALID"
        ) from None
