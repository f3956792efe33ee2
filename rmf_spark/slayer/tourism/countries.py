"""Mobile country codes (MCC) to countries: the reference table shipped with rmf_spark.

``mcc_countries.csv`` (next to this module) holds one row per MCC: ``mcc`` (3 digits),
``iso2`` (ISO 3166-1 alpha-2 code; several joined by ``/`` where one MCC serves several
territories, e.g. 340 ``BL/GF/GP/MF/MQ``; ``XX`` for the international networks 901, 902,
991), ``iso3``, ``eurostat_code`` (Eurostat's country code: ``EL`` Greece, ``UK`` United
Kingdom; empty where none), ``time_zone`` (IANA zone of the capital; ``UTC`` where the MCC
spans zones or has none) and ``name``. The facts are those of ITU-T E.212 (MCC) and ISO 3166
as the MultiMNO sample's ``mcc_iso_timezones`` table lists them (``docs/mobility.md``,
section 7.1).

A PLMN is the MCC followed by the MNC (``"23415"``): its country is that of its first three
digits. An MCC that is not in the table, or a malformed one, maps to :data:`UNKNOWN_COUNTRY`
(``ZZ``, the code CLDR uses for an unknown region), never to nothing: a device of unknown
origin is still counted.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rmf_spark.errors import InputDataError

if TYPE_CHECKING:
    from pyspark.sql import Column

__all__ = [
    "MCC_COUNTRIES_CSV",
    "UNKNOWN_COUNTRY",
    "Country",
    "country_of_mcc",
    "country_of_plmn",
    "mcc_countries",
    "mcc_country_column",
    "plmn_country_column",
    "plmn_time_zone_column",
]

#: the shipped table (package data)
MCC_COUNTRIES_CSV = Path(__file__).with_name("mcc_countries.csv")
#: the country of an MCC not in the table, or of a missing or malformed MCC / PLMN
UNKNOWN_COUNTRY = "ZZ"
_COLUMNS = ["mcc", "iso2", "iso3", "eurostat_code", "time_zone", "name"]


class Country(NamedTuple):
    """One row of the table."""

    mcc: int
    iso2: str
    iso3: str
    eurostat_code: str
    time_zone: str
    name: str


def _read(path: Path) -> dict[int, Country]:
    """The table at ``path``, checked row by row."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != _COLUMNS:
                raise InputDataError(
                    f"{path}: columns {reader.fieldnames}, expected {_COLUMNS}",
                    code="MCC_TABLE_INVALID",
                )
            rows = list(reader)
    except OSError as exc:
        raise InputDataError(f"{path}: {exc}", code="MCC_TABLE_INVALID") from None
    out: dict[int, Country] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        if not re.fullmatch(r"[1-9][0-9]{2}", row["mcc"]):
            raise InputDataError(
                f"{where}: mcc {row['mcc']!r} is not 3 digits", code="MCC_TABLE_INVALID"
            )
        if not re.fullmatch(r"[A-Z]{2}(/[A-Z]{2})*", row["iso2"]):
            raise InputDataError(f"{where}: iso2 {row['iso2']!r}", code="MCC_TABLE_INVALID")
        try:
            ZoneInfo(row["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise InputDataError(
                f"{where}: time_zone {row['time_zone']!r} is not an IANA zone",
                code="MCC_TABLE_INVALID",
            ) from None
        mcc = int(row["mcc"])
        if mcc in out:
            raise InputDataError(f"{where}: mcc {mcc} listed twice", code="MCC_TABLE_INVALID")
        out[mcc] = Country(mcc, *(row[c] for c in _COLUMNS[1:]))
    return out


@cache
def mcc_countries(path: Path = MCC_COUNTRIES_CSV) -> dict[int, Country]:
    """The MCC table, by MCC (read and checked once).

    Raises
    ------
    rmf_spark.errors.InputDataError
        The file is unreadable, or a row is malformed (code ``MCC_TABLE_INVALID``, naming the
        file and line).

    Examples
    --------
    >>> mcc_countries()[214].iso2, mcc_countries()[214].time_zone
    ('ES', 'Europe/Madrid')
    """
    return _read(path)


def country_of_mcc(mcc: int | str | None) -> str:
    """ISO 3166 alpha-2 code of an MCC, :data:`UNKNOWN_COUNTRY` when unknown.

    >>> country_of_mcc(234), country_of_mcc("208"), country_of_mcc(999), country_of_mcc(None)
    ('GB', 'FR', 'ZZ', 'ZZ')
    """
    text = "" if mcc is None else str(mcc).strip()
    if not re.fullmatch(r"[0-9]{3}", text):
        return UNKNOWN_COUNTRY
    row = mcc_countries().get(int(text))
    return UNKNOWN_COUNTRY if row is None else row.iso2


def country_of_plmn(plmn: str | None) -> str:
    """ISO 3166 alpha-2 code of a PLMN (MCC + MNC, 5 or 6 digits), from its MCC.

    >>> country_of_plmn("23415"), country_of_plmn("262010"), country_of_plmn("2341")
    ('GB', 'DE', 'ZZ')
    """
    text = (plmn or "").strip()
    if not re.fullmatch(r"[0-9]{5,6}", text):
        return UNKNOWN_COUNTRY
    return country_of_mcc(text[:3])


def _lookup(key: Column, field: str, default: str) -> Column:
    from pyspark.sql import functions as F

    table = mcc_countries()
    pairs = [F.lit(v) for mcc in sorted(table) for v in (mcc, getattr(table[mcc], field))]
    return F.coalesce(F.create_map(*pairs)[key], F.lit(default))


def _mcc_of(mcc: Column) -> Column:
    from pyspark.sql import functions as F

    text = F.trim(mcc.cast("string"))
    return F.when(text.rlike("^[0-9]{3}$"), text.cast("int"))


def _mcc_of_plmn(plmn: Column) -> Column:
    from pyspark.sql import functions as F

    text = F.trim(plmn.cast("string"))
    return F.when(text.rlike("^[0-9]{5,6}$"), F.substring(text, 1, 3).cast("int"))


def mcc_country_column(mcc: Column) -> Column:
    """Spark: the ISO alpha-2 code of the MCCs ``mcc`` (int or string), ``ZZ`` when unknown."""
    return _lookup(_mcc_of(mcc), "iso2", UNKNOWN_COUNTRY)


def plmn_country_column(plmn: Column) -> Column:
    """Spark: the ISO alpha-2 code of the PLMNs ``plmn`` (MCC + MNC), ``ZZ`` when unknown."""
    return _lookup(_mcc_of_plmn(plmn), "iso2", UNKNOWN_COUNTRY)


def plmn_time_zone_column(plmn: Column, default: str) -> Column:
    """Spark: the IANA zone of the PLMNs ``plmn``, ``default`` when unknown."""
    return _lookup(_mcc_of_plmn(plmn), "time_zone", default)
