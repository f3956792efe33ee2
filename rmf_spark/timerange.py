"""Time ranges of a stage run: parsed from the command line, turned into SQL predicates.

Light on purpose (no Spark import): the CLI and ``jobs/`` parse arguments before Spark starts.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

from rmf_spark.errors import RmfError

__all__ = ["date_range_predicate", "parse_date", "parse_time_bound", "time_range_predicate"]

_SQL_TS = "%Y-%m-%d %H:%M:%S"


def parse_date(text: str, *, option: str = "--date") -> dt.date:
    """A day from the command line, ``YYYY-MM-DD``.

    >>> parse_date("2024-01-19")
    datetime.date(2024, 1, 19)

    Raises
    ------
    rmf_spark.errors.RmfError
        Not ``YYYY-MM-DD`` (code ``BAD_ARGUMENT``, naming ``option``).
    """
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise RmfError(f"{option} {text!r} is not YYYY-MM-DD", code="BAD_ARGUMENT") from None


def parse_time_bound(text: str, *, end: bool = False) -> datetime:
    """A time range bound from the command line: ISO date or date-time, UTC.

    A bare date as ``end`` means the end of that day (``23:59:59``), so ``--start 2024-03-05
    --end 2024-03-05`` covers the whole day.

    Raises
    ------
    rmf_spark.errors.RmfError
        Not an ISO date or date-time (code ``BAD_ARGUMENT``).
    """
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text)
            return day + timedelta(days=1, seconds=-1) if end else day
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RmfError(
            f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SS)",
            code="BAD_ARGUMENT",
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def time_range_predicate(start: datetime, end: datetime, *, column: str = "time_point") -> str:
    """SQL predicate selecting ``column`` in [start, end] (also a Delta ``replaceWhere``).

    >>> time_range_predicate(datetime(2024, 1, 19), datetime(2024, 1, 19, 23), column="t")
    "t >= TIMESTAMP '2024-01-19 00:00:00' AND t <= TIMESTAMP '2024-01-19 23:00:00'"
    """
    return (
        f"{column} >= TIMESTAMP '{start.strftime(_SQL_TS)}' "
        f"AND {column} <= TIMESTAMP '{end.strftime(_SQL_TS)}'"
    )


def date_range_predicate(start: dt.date, end: dt.date, *, column: str = "date") -> str:
    """SQL predicate selecting ``column`` (a date) in [start, end].

    >>> date_range_predicate(dt.date(2024, 1, 19), dt.date(2024, 1, 20))
    "date >= DATE '2024-01-19' AND date <= DATE '2024-01-20'"
    """
    return f"{column} >= DATE '{start.isoformat()}' AND {column} <= DATE '{end.isoformat()}'"
