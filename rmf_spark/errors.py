"""Errors raised by rmf_spark.

Every error carries a stable UPPER_SNAKE ``code`` (tests check the code, not the wording) and a
message that names the thing that is wrong (file, row, column, config key) and what to do.
"""

from __future__ import annotations

import re


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


#: how many causes :func:`jvm_cause` follows (a chain of JVM exceptions is short; a cycle is not)
_MAX_CAUSES = 32
#: the line of a Spark job failure that quotes the task's exception
_TASK_FAILURE = re.compile(r"most recent failure: Lost task [^:]*\): (.+)")


def jvm_cause(exc: BaseException, *, limit: int = 400) -> str:
    """What went wrong inside the JVM, in one line: the innermost Java cause of ``exc``
    (a ``Py4JJavaError`` or a PySpark ``CapturedException``) as ``Class: message``, e.g.
    ``EOFException: Unexpected end of input stream`` rather than the Py4J call that failed
    (``An error occurred while calling o161.collectToPython``). Any other error gives the first
    line of its text. At most ``limit`` characters.

    >>> jvm_cause(ValueError("bad value\\nmore"))
    'bad value'
    """
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    text = ""
    try:
        for _ in range(_MAX_CAUSES):
            if java is None or java.getCause() is None:
                break
            java = java.getCause()
        if java is not None:
            name = java.getClass().getSimpleName()
            message = str(java.getMessage() or "").strip()
            # a job failure that kept no cause quotes the task's exception in its message
            quoted = _TASK_FAILURE.search(message)
            text = quoted.group(1) if quoted else f"{name}: {message}" if message else name
    except Exception:  # the gateway is gone: fall back on the Python text
        text = ""
    if not text:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    return text.strip().splitlines()[0][:limit]
