"""Syntactic validation: raw records -> typed bronze columns plus ``reason_codes``.

Every check is a Spark SQL expression (``try_cast``, ``try_to_timestamp``, ``split``,
``from_json``), so a bad value never raises inside Spark (and never shows up in an error
message): it becomes a reason code. Codes are listed in docs/bronze.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from functools import reduce
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.profiles import EVENT_TARGETS, EventsProfile, _FileSpec
from rmf_spark.roaming import is_outbound_record

__all__ = [
    "RAW_PREFIX",
    "codes_where",
    "day_bounds_utc",
    "event_time",
    "json_schema",
    "raw_col",
    "with_event_columns",
    "with_json_fields",
    "with_raw_columns",
]

_CORRUPT = "_corrupt_record"
#: prefix of the raw columns, so raw names never collide with bronze names
RAW_PREFIX = "_r_"


def raw_col(name: str) -> Column:
    """The raw column ``name`` as added by :func:`with_raw_columns`."""
    return F.col(f"`{RAW_PREFIX}{name}`")


_MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z


def codes_where(checks: Sequence[tuple[Column, str]]) -> Column:
    """``array<string>`` of the codes whose condition is true (null counts as false), in order.

    Written as ``concat`` of one-element arrays rather than ``array_compact(array(...))``:
    ``array_compact`` is a higher-order ``filter``, which Spark does not code-generate, so the
    whole validation projection ran interpreted, several times slower (16-18 s against 3.8 s
    per 1M rows, ``docs/experiments/ingest-performance.md``).
    """
    none = F.array().cast(ArrayType(StringType(), containsNull=False))
    return F.concat(
        *[
            F.when(F.coalesce(cond, F.lit(False)), F.array(F.lit(code))).otherwise(none)
            for cond, code in checks
        ]
    )


def _blank_to_null(c: Column) -> Column:
    t = F.trim(c)
    return F.when(t != F.lit(""), t)


def with_raw_columns(df: DataFrame, *, spec: _FileSpec) -> DataFrame:
    """Split each raw record into one string column per raw column.

    Parameters
    ----------
    df
        :func:`rmf_spark.dlayer.readers.read_records` output (``_raw`` string).
    spec
        The profile's events or cells table.

    Returns
    -------
    DataFrame
        ``df`` plus the raw columns (``_r_<name>`` string, blank -> null; null when the
        record does not split into the expected columns), ``_encoding_ok`` and
        ``_structure_ok`` booleans.
    """
    raw = F.col("_raw")
    if spec.format == "parquet":
        return df.withColumn("_encoding_ok", F.lit(True)).withColumn("_structure_ok", F.lit(True))
    out = df.withColumn("_encoding_ok", F.is_valid_utf8(raw))
    if spec.format == "csv":
        parts = F.split(raw, re.escape(spec.delimiter), -1)
        out = out.withColumn("_parts", parts)
        ok = F.size("_parts") == F.lit(len(spec.columns))
        cols = [
            _blank_to_null(F.when(ok, F.get(F.col("_parts"), i))).alias(RAW_PREFIX + name)
            for i, name in enumerate(spec.columns)
        ]
        return out.select("*", ok.alias("_structure_ok"), *cols).drop("_parts")
    parsed = F.from_json(
        raw, json_schema(spec), {"columnNameOfCorruptRecord": _CORRUPT, "mode": "PERMISSIVE"}
    )
    out = out.withColumn("_json", parsed)
    ok = F.col("_json").isNotNull() & F.col(f"_json.{_CORRUPT}").isNull()
    cols = _json_raw_columns(spec, ok, lambda n: F.col(f"_json.`{n}`"))
    return out.select("*", ok.alias("_structure_ok"), *cols).drop("_json")


def json_schema(spec: _FileSpec) -> StructType:
    """Every key of a JSON-lines profile as a string, plus the corrupt-record column."""
    names = list(dict.fromkeys(spec.columns + spec.optional_columns))
    return StructType(
        [StructField(n, StringType(), True) for n in names]
        + [StructField(_CORRUPT, StringType(), True)]
    )


def _json_raw_columns(spec: _FileSpec, ok: Column, field: Callable[[str], Column]) -> list[Column]:
    names = list(dict.fromkeys(spec.columns + spec.optional_columns))
    return [_blank_to_null(F.when(ok, field(n))).alias(RAW_PREFIX + n) for n in names]


def with_json_fields(df: DataFrame, *, spec: _FileSpec) -> DataFrame:
    """:func:`with_raw_columns` for rows already parsed by Spark's JSON source.

    ``df`` has ``_json``, a struct with one string field per key of :func:`json_schema`
    (``_corrupt_record`` set on a line that is not a JSON object). The raw columns and
    ``_structure_ok`` are those :func:`with_raw_columns` gives for the same line;
    ``_encoding_ok`` is true, since the JSON source's byte-level parser rejects (as a corrupt
    record) the invalid UTF-8 it meets, which the quarantine pass, parsing the raw line again,
    then reports as ``INVALID_ENCODING``. ``_raw`` is null (the line is not kept).
    """
    ok = F.col(f"_json.{_CORRUPT}").isNull()
    cols = _json_raw_columns(spec, ok, lambda n: F.col(f"_json.`{n}`"))
    return df.select(
        *[c for c in df.columns if c != "_json"],
        F.lit(None).cast("string").alias("_raw"),
        F.lit(True).alias("_encoding_ok"),
        ok.alias("_structure_ok"),
        *cols,
    )


def day_bounds_utc(date: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (exclusive) of ``date`` in ``time_zone``, as naive UTC datetimes."""
    zone = ZoneInfo(time_zone)
    utc = ZoneInfo("UTC")
    start = dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(utc)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(utc)
    return start.replace(tzinfo=None), end.replace(tzinfo=None)


def event_time(spec: EventsProfile) -> Column:
    """The UTC event time from the raw timestamp column (null when it does not parse)."""
    ts = spec.timestamp
    s = raw_col(ts.column)
    if ts.epoch_unit is not None:
        n = s.try_cast("long")
        limit = _MAX_EPOCH_S * {"s": 1, "ms": 1000, "us": 1_000_000}[ts.epoch_unit]
        fn = {"s": F.timestamp_seconds, "ms": F.timestamp_millis, "us": F.timestamp_micros}
        return F.when(F.abs(n) <= F.lit(limit), fn[ts.epoch_unit](n))
    parsed = F.coalesce(*[F.try_to_timestamp(s, F.lit(f)) for f in ts.formats])
    return parsed if ts.time_zone == "UTC" else F.to_utc_timestamp(parsed, ts.time_zone)


def _number(name: str | None, kind: str) -> tuple[Column, Column]:
    """(typed value or null, raw-present-but-bad flag) for an optional numeric raw column."""
    if name is None:
        return F.lit(None).cast(kind), F.lit(False)
    raw = raw_col(name)
    v = raw.try_cast(kind)
    if kind == "double":
        v = F.when(~F.isnan(v), v)
    return v, raw.isNotNull() & v.isNull() & ~F.lower(raw).isin("nan", "null")


def with_event_columns(
    df: DataFrame,
    *,
    spec: EventsProfile,
    date: dt.date,
    tolerance_s: int,
    home_mcc: int | None = None,
) -> DataFrame:
    """Typed bronze event columns and ``reason_codes`` from the raw string columns.

    Parameters
    ----------
    df
        :func:`with_raw_columns` output.
    spec
        The profile's ``[events]`` table.
    date
        The loaded day (in ``spec.day_time_zone``).
    tolerance_s
        Seconds an event may lie outside the day before it is ``OUT_OF_DAY``.
    home_mcc
        The country's MCC (``convergence.home_mcc``). When given, a record without a cell
        whose PLMN is foreign is an outbound roaming record (:func:`is_outbound_record`):
        the cell column is not mandatory for it, and its ``plmn`` (the visited network) need
        not be ``mcc`` + ``mnc`` (a source may give the SIM's network there). None: every
        mandatory column is mandatory on every row.

    Returns
    -------
    DataFrame
        ``df`` plus ``event_ts`` timestamp (UTC), ``cell_id``, ``event_type``, ``technology``,
        ``mcc`` int, ``mnc``, ``plmn``, ``latitude``, ``longitude``, ``loc_error_m`` double,
        ``timing_advance`` int, ``record_id`` string and ``reason_codes`` array<string> (empty:
        the row is valid). A row that is not valid UTF-8 or does not split into the expected
        columns gets only ``INVALID_ENCODING`` / ``MALFORMED_ROW``.
    """
    m = spec.columns_map
    get = {t: (raw_col(m[t]) if t in m else F.lit(None).cast("string")) for t in EVENT_TARGETS}
    if spec.mcc_mnc_from_plmn:
        plmn_s = get["plmn"]
        mcc_s, mnc_s = F.substring(plmn_s, 1, 3), F.expr(f"substring(`{RAW_PREFIX}{m['plmn']}`, 4)")
    else:
        mcc_s, mnc_s, plmn_s = get["mcc"], get["mnc"], get["plmn"]
    mcc = mcc_s.try_cast("int")
    mcc_ok = mcc.between(100, 999) & mcc_s.rlike("^[0-9]{3}$")
    mnc_ok = mnc_s.rlike("^[0-9]{2,3}$")
    cell_s = get["cell_id"]
    plmn = F.when(plmn_s.isNotNull(), plmn_s).when(mcc_ok & mnc_ok, F.concat(mcc_s, mnc_s))
    outbound = F.lit(False) if home_mcc is None else is_outbound_record(cell_s, plmn, home_mcc)
    plmn_ok = plmn_s.rlike("^[0-9]{5,6}$") & (
        F.lit(True) if spec.mcc_mnc_from_plmn else (plmn_s == F.concat(mcc_s, mnc_s)) | outbound
    )
    bad_mcc = (
        (mcc_s.isNotNull() & ~mcc_ok)
        | (mnc_s.isNotNull() & ~F.coalesce(mnc_ok, F.lit(False)))
        | (plmn_s.isNotNull() & ~F.coalesce(plmn_ok, F.lit(False)))
    )
    # parsed once in its own projection: it is used by three checks and the output
    df = df.select("*", event_time(spec).alias("event_ts"))
    ts = F.col("event_ts")
    start, end = day_bounds_utc(date, spec.day_time_zone)
    lo = start - dt.timedelta(seconds=tolerance_s)
    hi = end + dt.timedelta(seconds=tolerance_s)
    tech_map = F.create_map(*[F.lit(x) for kv in spec.technology_map.items() for x in kv])
    # upper() only when the value is not already an upper-case key (same result): Spark's
    # upper() goes through ICU case mapping, costly per row
    upper_keys = {k: v for k, v in spec.technology_map.items() if k == k.upper()}
    tech = F.element_at(tech_map, F.upper(get["technology"]))
    if upper_keys:
        as_is = F.create_map(*[F.lit(x) for kv in upper_keys.items() for x in kv])
        tech = F.coalesce(F.element_at(as_is, get["technology"]), tech)
    lat, bad_lat = _number(m.get("latitude"), "double")
    lon, bad_lon = _number(m.get("longitude"), "double")
    err, bad_err = _number(m.get("loc_error_m"), "double")
    ta, bad_ta = _number(m.get("timing_advance"), "int")
    bad_coord = bad_lat | bad_lon | ~F.coalesce(lat.between(-90, 90), F.lit(True))
    bad_coord = bad_coord | ~F.coalesce(lon.between(-180, 180), F.lit(True))
    bad_value = bad_err | bad_ta | (err < 0) | (ta < 0)
    bad_value = bad_value | (get["technology"].isNotNull() & tech.isNull())
    cell_raw = m["cell_id"]  # not mandatory on an outbound record
    mandatory = [
        raw_col(c).isNull() & ~outbound if c == cell_raw else raw_col(c).isNull()
        for c in spec.mandatory
    ]
    checks = [
        (reduce(lambda a, b: a | b, mandatory) if mandatory else F.lit(False), S.NULL_MANDATORY),
        (raw_col(spec.timestamp.column).isNotNull() & ts.isNull(), S.BAD_TIMESTAMP),
        (ts.isNotNull() & ((ts < F.lit(lo)) | (ts >= F.lit(hi))), S.OUT_OF_DAY),
        (bad_mcc, S.BAD_MCC_MNC),
        (bad_coord, S.BAD_COORDINATES),
        (bad_value, S.BAD_VALUE),
    ]
    if spec.cell_id_pattern:
        checks.append((cell_s.isNotNull() & ~cell_s.rlike(spec.cell_id_pattern), S.BAD_CELL_ID))
    field_reasons = codes_where(checks)
    structural = codes_where(
        [(~F.col("_encoding_ok"), S.INVALID_ENCODING), (~F.col("_structure_ok"), S.MALFORMED_ROW)]
    )
    record_id = _record_id(spec)
    return df.select(
        "*",
        cell_s.alias("cell_id"),
        get["event_type"].alias("event_type"),
        tech.alias("technology"),
        mcc.alias("mcc"),
        mnc_s.alias("mnc"),
        plmn.alias("plmn"),
        lat.alias("latitude"),
        lon.alias("longitude"),
        err.alias("loc_error_m"),
        ta.alias("timing_advance"),
        record_id.alias("record_id"),
        F.when(F.size(structural) > 0, structural).otherwise(field_reasons).alias("reason_codes"),
    )


def _record_id(spec: EventsProfile) -> Column:
    """The record id; for a row that did not split, a best-effort extraction from the line."""
    name = spec.columns_map.get("record_id")
    if name is None:
        return F.lit(None).cast("string")
    parsed = raw_col(name)
    if spec.format == "csv" and name in spec.columns:
        idx = spec.columns.index(name)
        parts = F.split(F.make_valid_utf8(F.col("_raw")), re.escape(spec.delimiter), -1)
        return F.coalesce(parsed, _blank_to_null(F.get(parts, idx)))
    if spec.format == "jsonl":
        pattern = '"' + re.escape(name) + r'"\s*:\s*"?([^",}\s]+)'
        fallback = F.regexp_extract(F.make_valid_utf8(F.col("_raw")), pattern, 1)
        return F.coalesce(parsed, F.when(fallback != F.lit(""), fallback))
    return parsed
