"""Errors raised by rmf_spark.

Every error carries a stable UPPER_SNAKE ``code`` (tests check the code, not the wording) and a
message that names the thing that is wrong (file, row, column, config key) and what to do.
"""

from __future__ import annotations


class RmfError(Exception):
    """Base class of every error rmf_spark raises on purpose."""

    code = "RMF_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.args[0]}"


class ConfigError(RmfError):
    """Thrown when a configuration file is missing, unreadable or invalid."""

    code = "CONFIG_INVALID"


class JarsMissingError(RmfError):
    """Thrown when a pinned JAR is not in the project's JAR cache."""

    code = "JARS_MISSING"


class InputDataError(RmfError):
    """Thrown when an input file is missing, empty, corrupt or of the wrong layout."""

    code = "INPUT_INVALID"


class SchemaMismatchError(RmfError):
    """Thrown when a DataFrame lacks columns, or has wrong types, for the table it should be."""

    code = "SCHEMA_MISMATCH"


class FusionError(RmfError):
    """Thrown when a secure aggregation of the fusion stage does not complete: a party dropped
    out or timed out, the parties disagree on the public parameters, or MPyC cannot start.
    Nothing is released then."""

    code = "FUSION_FAILED"
