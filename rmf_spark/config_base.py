"""The base class of every configuration section, and the one TOML loader (kept apart, and
light, so that every layer can define sections and load its files without importing Spark).

Every TOML file of the project (the profile, the input profiles, the synthetic-world profiles)
is read by :func:`load_toml`: parsed with :mod:`tomllib`, optionally overridden by dotted keys,
validated by a :class:`Section` model, and any error reported with the file and the dotted key.
"""

from __future__ import annotations

import difflib
import tomllib
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin
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


def _unwrapped(annotation: Any) -> Any:
    """``X`` of ``Annotated[X, ...]`` and of ``X | None``."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys of the table at ``loc[:-1]`` in ``model`` (empty when it is no model's)."""
    node: Any = model
    for part in loc[:-1]:
        node = _unwrapped(node)
        if get_origin(node) is dict:  # a table of named entries (``[ingest.mno.<id>]``)
            node = get_args(node)[1]
        elif get_origin(node) in (list, tuple):  # an array of tables
            node = get_args(node)[0]
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[str(part)].annotation
        else:
            return []
    node = _unwrapped(node)
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return []
    return [n for n, f in node.model_fields.items() if not f.exclude]


def _did_you_mean(model: type[BaseModel] | None, loc: Sequence[str | int]) -> str:
    """`` (did you mean 'a.b'?)`` for the closest known key to an unknown one, or ''."""
    if model is None or not loc:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), _known_keys(model, loc), n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}'?)"


def format_validation_errors(
    source: str, err: ValidationError, model: type[BaseModel] | None = None
) -> str:
    """One line per error: ``<source>: unknown key 'a.b'`` or ``<source>: key 'a.b': <why>``.

    With ``model`` (the model that was validated), an unknown key close to a known one of its
    table is followed by `` (did you mean 'a.c'?)``.
    """
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'{_did_you_mean(model, e['loc'])}")
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
        range (one line per key, naming the file and the dotted key; an unknown key close
        to a known one says ``did you mean``).
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
            format_validation_errors(str(p), exc, model), code=f"{code_prefix}_INVALID"
        ) from None
