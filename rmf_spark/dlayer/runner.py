"""The D-layer stage runner: the only place that reads raw files and writes bronze tables.

:func:`run_ingest` loads one (mno, date); :func:`run_ingest_cells` loads one MNO's cell plan.
Both are idempotent (Delta ``replaceWhere`` on the load's date, or a whole-table overwrite for
the cell plan) and account for every row read.

Crash safety: each table is written in one commit (:mod:`rmf_spark.tables`), and every table a
load writes is derived from the raw files alone (the quality warnings also from the metrics of
earlier dates, which the load never writes), never from what an earlier run of it left. A
load killed between two writes leaves some of its tables replaced and others as they were; the
rerun replaces them all, with the same rows (only ``loaded_at`` differs). The audit row is
written last, with the quality tables, so an audit row present means the bronze and
quarantine rows of the load are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.buckets import device_bucket
from rmf_spark.config import RmfConfig
from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.audit import AccountingError, LoadCounts, cells_audit_row, load_audit_row
from rmf_spark.dlayer.cells import with_cell_columns, with_plan_repairs
from rmf_spark.dlayer.dedup import duplicated_hashes, later_copies, to_deduplicated
from rmf_spark.dlayer.profiles import InputProfile, load_profile
from rmf_spark.dlayer.pseudonymise import (
    key_period_start,
    load_master_key,
    period_keys,
    with_device_id,
)
from rmf_spark.dlayer.quality import (
    bronze_day_metrics,
    compute_quality_warnings,
    quality_metrics_frame,
)
from rmf_spark.dlayer.readers import (
    Splits,
    check_text_layout,
    count_splits,
    list_input_files,
    read_json_fields,
    read_records,
    with_source_row,
)
from rmf_spark.dlayer.roamers import KEY_MISSING_METRIC, roamer_link_key, with_roamer_link
from rmf_spark.dlayer.settings import MnoInputSettings
from rmf_spark.dlayer.validate import (
    RAW_PREFIX,
    with_event_columns,
    with_json_fields,
    with_raw_columns,
)
from rmf_spark.errors import ConfigError, InputDataError, RmfError, jvm_cause
from rmf_spark.tables import TableSpec

__all__ = ["mno_profile", "run_ingest", "run_ingest_cells"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_DEVICE_MARK = "\u0001DEVICE\u0001"


def mno_profile(cfg: RmfConfig, mno_id: str) -> tuple[MnoInputSettings, InputProfile]:
    """The ``[ingest.mno.<id>]`` settings and the input profile they name.

    Raises
    ------
    ConfigError
        ``mno_id`` has no ``[ingest.mno.<id>]`` table, or its profile is missing or invalid.
    """
    mno = cfg.ingest.mno.get(mno_id)
    if mno is None:
        raise ConfigError(
            f"{cfg.source}: no [ingest.mno.{mno_id}] table (known: {sorted(cfg.ingest.mno)})",
            code="UNKNOWN_MNO",
        )
    path = Path(mno.profile)
    if not path.is_absolute() and cfg.source not in ("<defaults>", ""):
        beside = Path(cfg.source).parent / path
        path = beside if beside.is_file() else path
    return mno, load_profile(path)


@contextlib.contextmanager
def _phase(name: str, mno_id: str, date: dt.date) -> Iterator[None]:
    """Log the wall time of one phase of a load (``bench/ingest.py`` reads these records)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        s = time.perf_counter() - t0
        log.info(
            "ingest %s %s: %s %.2f s", mno_id, date, name, s, extra={"phase": name, "seconds": s}
        )


@contextlib.contextmanager
def _reading(files: Sequence[str], redact: int) -> Iterator[None]:
    """Turn a JVM failure while reading ``files`` into an InputDataError naming them.

    Only errors raised by Spark are translated; a Python error (a bug) propagates as it is.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException
    from pyspark.errors.exceptions.captured import CapturedException

    try:
        yield
    except (RmfError, AnalysisException):
        raise
    except (CapturedException, Py4JJavaError) as exc:
        first = jvm_cause(exc)  # the real cause (e.g. a truncated stream), not the Py4J call
        if redact:
            first = re.sub(f"[0-9]{{{redact},}}", "<digits>", first)
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        raise InputDataError(
            f"reading {shown} failed (corrupt or truncated file?): {first}", code="INPUT_CORRUPT"
        ) from None


def _redacted(raw: str, raw_id: str, device: str, min_digits: int) -> F.Column:
    s = F.make_valid_utf8(F.col(raw))
    s = F.when(F.col(raw_id).isNotNull(), F.replace(s, F.col(raw_id), F.lit(_DEVICE_MARK)))
    s = F.coalesce(s, F.make_valid_utf8(F.col(raw)))
    if min_digits:
        s = F.regexp_replace(s, f"[0-9]{{{min_digits},}}", "<redacted>")
    return F.replace(s, F.lit(_DEVICE_MARK), F.coalesce(F.col(device), F.lit("")))


def _encrypted(raw: str, key: str) -> F.Column:
    """AES-256-GCM of the raw bytes; the IV is keyed-hash derived, so reloads are identical
    (equal raw records give equal ciphertexts; distinct records never share an IV)."""
    data = F.col(raw).cast("binary")
    iv = F.unhex(F.substring(F.sha2(F.concat(F.col(key), data), 256), 1, 24))
    return F.aes_encrypt(data, F.col(key), F.lit("GCM"), F.lit("DEFAULT"), iv)


def _totals(rows: DataFrame) -> tuple[int, int, dict[str, int]]:
    """Rows read, rows quarantined and quarantined rows per reason code."""
    invalid = F.size("reason_codes") > 0
    totals = rows.agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.when(invalid, 1).otherwise(0)).alias("q")
    ).first()
    exploded = rows.select(F.explode("reason_codes").alias("r")).groupBy("r").count()
    by_reason = {r["r"]: int(r["count"]) for r in exploded.collect()}
    return int(totals["n"]), int(totals["q"] or 0), by_reason


def run_ingest(spark: SparkSession, cfg: RmfConfig, *, mno: str, date: dt.date) -> LoadCounts:
    """Load one day of one MNO's raw events into bronze (events, quarantine, audit, quality).

    Parameters
    ----------
    spark
        The session (:func:`rmf_spark.session.get_spark`).
    cfg
        The profile; ``cfg.ingest.mno[mno]`` names the raw root and the input profile.
    mno
        MNO id (``[ingest.mno.<id>]``).
    date
        The day to load (the file's day, in the input profile's ``day_time_zone``).

    Returns
    -------
    LoadCounts
        The counts written to ``bronze/load_audit``.

    Raises
    ------
    InputDataError
        A file is missing, empty, unreadable, of the wrong layout or delimiter (names it).
    PseudonymKeyError
        No pseudonymisation key.
    AccountingError
        Rows would be lost (a bug); nothing is written to the audit.
    """
    mno_id = mno
    mno_input, profile = mno_profile(cfg, mno_id)
    spec, ing = profile.events, cfg.ingest
    master = load_master_key(ing)
    period = key_period_start(date, ing.key_rotation)
    link_key = roamer_link_key(date)  # None (logged) when RMF_LINK_KEY is not set
    files = list_input_files(
        spark, spec.file_path(mno_input.raw_dir, date), what=f"{mno_id} events"
    )
    text = spec.format in ("csv", "jsonl")
    if text:
        with _phase("check_layout", mno_id, date):
            check_text_layout(spark, files, spec)
    where = f"date = '{date.isoformat()}'"
    with _reading(files, ing.redact_digit_runs):
        lines = read_records(spark, files, spec)
        with _phase("count_splits", mno_id, date):  # and the line hashes seen twice
            json_lines = spec.format == "jsonl"
            split_counts, hashes = _concurrently(
                count_splits(lines, json_lines=json_lines).collect,
                functools.partial(_duplicated_hashes, lines),
            )
            splits = Splits.from_counts(split_counts)
        header = spec.format == "csv" and spec.header

        def numbered(rows: DataFrame) -> DataFrame:
            """``rows`` with their line numbers (text formats; Parquet rows have theirs)."""
            return with_source_row(rows, splits=splits, header=header) if text else rows

        records = numbered(lines)
        with _phase("duplicates", mno_id, date):
            later = _later_copies(spark, lines, numbered, hashes)

        def typed(rows: DataFrame) -> DataFrame:
            return (
                rows.transform(
                    with_event_columns,
                    spec=spec,
                    date=date,
                    tolerance_s=ing.timestamp_tolerance_s,
                    home_mcc=cfg.convergence.home_mcc,
                )
                .withColumn("mno_id", F.lit(mno_id))
                .withColumn("date", F.lit(date))
            )

        def parse(rows: DataFrame) -> DataFrame:
            return typed(rows.transform(with_raw_columns, spec=spec))

        # JSON lines: the events pass parses with Spark's JSON source (about half the cost of
        # from_json) when its rows map one to one onto the lines; the quarantine pass still
        # parses the raw lines, which it must keep
        events = (records, parse)
        if json_lines and splits.irregular == 0 and later is not None:
            fields = read_json_fields(spark, files, spec)
            fields = numbered(fields)
            events = (fields, lambda rows: typed(rows.transform(with_json_fields, spec=spec)))
        log.info(
            "ingest %s %s: events parsed by %s",
            mno_id,
            date,
            "the JSON source" if events[0] is not records else "the text lines",
        )

        pseudonymise = functools.partial(
            with_device_id,
            keys=period_keys(spark, master, period),
            identifier=RAW_PREFIX + spec.identifier,
            pseudonymised=spec.identifier_pseudonymised,
        )
        link = functools.partial(
            with_roamer_link,
            key=link_key,
            home_mcc=cfg.convergence.home_mcc,
            pseudonymised=spec.identifier_pseudonymised,
        )
        counts, day_metrics = _write_events(
            cfg,
            spark,
            (lines, numbered, splits.records),
            parse,
            events,
            pseudonymise,
            later,
            link=link,
            mno_id=mno_id,
            date=date,
            where=where,
            files=list(splits.files),
            expected_rows=splits.data_rows(header=header),
        )
    counts.check(f"{mno_id} {date}")
    audit = load_audit_row(
        spark,
        mno_id=mno_id,
        date=date,
        counts=counts,
        source_files=files,
        key_period_start=period,
        profile=profile.source,
    )
    write = functools.partial(_write_day, cfg, mno_id=mno_id, date=date)
    write_audit = functools.partial(write, "audit", audit, tables.LOAD_AUDIT)

    zero = {f"quarantined_{code}": 0.0 for code in S.EVENT_REASONS}
    metrics = {**zero, **counts.as_metrics(), **day_metrics}
    metrics[KEY_MISSING_METRIC] = float(link_key is None)
    current = quality_metrics_frame(spark, metrics, mno_id=mno_id, date=date)
    _concurrently(
        write_audit,
        *_quality_writes(cfg, spark, current, mno_id=mno_id, date=date),
    )
    log.info("ingest %s %s: %s", mno_id, date, counts)
    return counts


#: invalid-row positions are hashed into [0, _QPOSITIONS): the quarantine pass parses the
#: rows whose hash is one of the invalid rows' (at most _QPOSITIONS values reach the driver)
_QPOSITIONS = 1 << 20


def _position_hash() -> F.Column:
    """A record's id ``_mid`` (the same on every read of the load) hashed into
    ``[0, _QPOSITIONS)``: the quarantine pass filters the lines by it before numbering them."""
    return F.pmod(F.xxhash64("_mid"), F.lit(_QPOSITIONS))


def _longs(spark: SparkSession, name: str, values: Sequence[int] | np.ndarray) -> DataFrame:
    """A one-column DataFrame of longs (from the driver, to be joined by broadcast)."""
    import pandas as pd

    return spark.createDataFrame(
        pd.DataFrame({name: np.asarray(values, dtype=np.int64)}), f"{name} long"
    )


def _candidates(spark: SparkSession, hashes_json: str | None) -> DataFrame:
    """``_qh`` long: the observed position hashes (a JSON array), and -1, which no position
    hash takes: with no invalid row the table would be empty, and Spark would drop the
    quarantine pass's scan with its observations (a clean load then failed reading them)."""
    return _longs(spark, "_qh", [*json.loads(hashes_json or "[]"), -1])


#: at most this many later copies (exact duplicates) are found before the events pass and
#: dropped there by a broadcast join on their ids; a load with more (a whole file delivered
#: twice, say) deduplicates its bronze rows by aggregation instead (:func:`to_deduplicated`)
_MAX_BROADCAST_COPIES = 2_000_000


def _duplicated_hashes(records: DataFrame) -> np.ndarray:
    """:func:`duplicated_hashes` on the driver, at most ``_MAX_BROADCAST_COPIES + 1`` of them.

    A narrow job over the raw lines (it needs no line number, so it runs beside
    :func:`count_splits`).
    """
    limit = _MAX_BROADCAST_COPIES + 1
    # collect, not toPandas: an Arrow collect that fails (a corrupt file) also warns with the
    # JVM stack trace, and the error itself is translated by the caller (_reading)
    rows = duplicated_hashes(records).limit(limit).collect()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _later_copies(
    spark: SparkSession,
    lines: DataFrame,
    numbered: Callable[[DataFrame], DataFrame],
    hashes: np.ndarray,
) -> np.ndarray | None:
    """The ``_mid`` of every later copy of a raw line (:func:`later_copies`), or None when
    there are more than ``_MAX_BROADCAST_COPIES`` (the caller then aggregates instead).

    ``hashes`` are the line hashes seen more than once (:func:`_duplicated_hashes`); the
    ``lines`` with one of them are numbered (``numbered``) and grouped by their exact line, in
    one narrow job whose result reaches the driver with at most ``_MAX_BROADCAST_COPIES + 1``
    rows.
    """
    limit = _MAX_BROADCAST_COPIES
    if len(hashes) > limit:
        return None
    if len(hashes) == 0:
        return hashes
    later = later_copies(lines, _longs(spark, "_h", hashes), numbered).limit(limit + 1)
    rows = later.collect()
    mids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return None if len(mids) > limit else mids


def _write_events(
    cfg: RmfConfig,
    spark: SparkSession,
    raw: tuple[DataFrame, Callable[[DataFrame], DataFrame], int],
    parse: Callable[[DataFrame], DataFrame],
    events: tuple[DataFrame, Callable[[DataFrame], DataFrame]],
    pseudonymise: Callable[[DataFrame], DataFrame],
    later: np.ndarray | None,
    *,
    link: Callable[[DataFrame], DataFrame],
    mno_id: str,
    date: dt.date,
    where: str,
    files: list[str],
    expected_rows: int,
) -> tuple[LoadCounts, dict[str, float | None]]:
    """Write ``bronze/events`` and ``bronze/quarantine`` from the raw records, parsed once.

    ``raw`` is ``(lines, numbered, n_lines)``: the records as read (:func:`read_records`),
    the function that numbers them (:func:`with_source_row`, dropping a CSV header) and the
    count of every line read, headers included. ``parse`` types numbered records.

    Returns the load counts and the quality metrics of the bronze rows written
    (:func:`bronze_day_metrics`, computed while the quarantine pass runs).

    ``events`` are the rows the events pass reads and the parse that types them: the numbered
    ``lines`` and ``parse``, or, for clean JSON lines, the JSON source's rows and their own
    parse (same typed columns, same ``_mid``). Nothing is cached. ``later`` holds the ids
    (``_mid``) of the later copies of exact duplicate records, found before this pass
    (:func:`_later_copies`), or is None when they were too many: the bronze rows are then
    grouped (:func:`to_deduplicated`). The events pass reads, parses and validates every record,
    writes the valid ones that are not later copies (pseudonymised; no shuffle) and observes,
    with no extra Spark job: rows read, quarantined, valid later copies, and the positions of
    the invalid rows, hashed (:func:`_position_hash`, at most ``_QPOSITIONS`` distinct values
    whatever the number of invalid rows). The quarantine pass reads the raw records again but
    parses only those whose position hash is among the observed ones (every invalid row, plus
    valid rows sharing a hash, which the same validation then drops): a line scan instead of a
    second parse. It counts the quarantined rows per reason code (over the few rows it writes:
    the same eleven counts in the events pass cost about 5 s per 1M rows, observed aggregates
    being evaluated row by row). The bronze day's quality metrics are computed at the same time.

    Counts are observations of the writes: bronze rows as written, duplicates as dropped; in
    the quarantine pass, every record read (before the position filter) and the rows written.
    The events pass must read ``expected_rows`` (data lines counted before the load), the
    quarantine pass every line (``n_lines``), and the quarantine must receive exactly the rows
    the events pass found invalid.

    Each observation sits before the validity filter: it must see every row, so Spark cannot
    push the filter below it, into the parsing, where the optimizer would inline (and repeat)
    every parsed column into one huge predicate. ``pseudonymise`` (HMAC) runs after the
    filter, on the rows that need it, and ``link`` after it (the roamer link of inbound rows,
    :func:`~rmf_spark.dlayer.roamers.with_roamer_link`, from the raw identifier it leaves).

    Raises
    ------
    AccountingError
        The passes disagree (e.g. a raw file changed during the load).
    """
    ing = cfg.ingest
    invalid = F.size("reason_codes") > 0
    source, parse_source = events
    if later is None or len(later) == 0:
        rows = source.withColumn("_later", F.lit(False))
    else:  # the later copies, marked by a broadcast join on the record id
        marks = F.broadcast(_longs(spark, "_mid", later).withColumn("_later", F.lit(True)))
        rows = source.join(marks, on="_mid", how="left")
        rows = rows.withColumn("_later", F.coalesce(F.col("_later"), F.lit(False)))
    later_valid = ~invalid & F.col("_later")
    read = Observation()
    valid = (
        parse_source(rows)
        .withColumn("_qh", F.when(invalid, _position_hash()))
        .observe(
            read,
            F.count(F.lit(1)).alias("rows"),
            F.count_if(invalid).alias("quarantined"),
            F.count_if(later_valid).alias("dups"),
            # one aggregate over a plain column: observed aggregates of this kind are
            # evaluated row by row without code generation
            F.to_json(F.collect_set("_qh")).alias("_qh"),
        )
        .where(~invalid & ~F.col("_later"))
        .transform(pseudonymise)
        .transform(link)
    )
    bucket = device_bucket(ing.n_device_buckets)
    valid = valid.select(
        *[c for c in S.EVENTS_SCHEMA.fieldNames() if c != "device_bucket"],
        bucket.alias("device_bucket"),
        *([F.xxhash64("_raw").alias("_raw_hash")] if later is None else []),
    )
    dedup = Observation()
    if later is None:  # too many copies to broadcast: group the bronze rows
        n_parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
        valid = to_deduplicated(valid, n_partitions=max(n_parts, 1), files=files)
        dups = F.sum(F.col("_copies") - 1)
    else:
        dups = F.lit(0)
    deduped = valid.observe(dedup, F.count(F.lit(1)).alias("rows"), dups.alias("dups")).select(
        *[F.col(f.name).cast(f.dataType) for f in S.EVENTS_SCHEMA.fields]
    )
    write = functools.partial(_write_day, cfg, mno_id=mno_id, date=date)
    write("events", deduped, tables.EVENTS)
    r, d = read.get, dedup.get
    read_again, parsed_again, written = Observation(), Observation(), Observation()
    raw_content = _redacted("_raw", "_raw_id", "device_id", ing.redact_digit_runs)
    content = {"raw_content": raw_content, "raw_encrypted": _encrypted("_raw", "_qkey")}
    lines, numbered, n_lines = raw
    quarantine = (
        lines.observe(read_again, F.count(F.lit(1)).alias("rows"))
        .withColumn("_qh", _position_hash())
        .join(F.broadcast(_candidates(spark, r["_qh"])), on="_qh", how="left_semi")
        .drop("_qh")
        .transform(numbered)
        # a barrier as well: without it Spark pushes the validity filter below the join
        .observe(parsed_again, F.count(F.lit(1)).alias("rows"))
        .transform(parse)
        .where(invalid)
        .transform(pseudonymise)
        .select(
            *[
                content.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name)
                for f in S.QUARANTINE_SCHEMA.fields
            ]
        )
        # per-reason counts here, over the few quarantined rows: in the events pass these
        # eleven count_if aggregates cost about 5 s per 1M rows (observed aggregates run
        # row by row); the quarantine receives exactly the invalid rows (checked below)
        .observe(
            written,
            F.count(F.lit(1)).alias("rows"),
            *[F.count_if(F.array_contains("reason_codes", c)).alias(c) for c in S.EVENT_REASONS],
        )
    )
    write_quarantine = functools.partial(write, "quarantine", quarantine, tables.QUARANTINE)

    def day_metrics() -> dict[str, float | None]:
        day = tables.EVENTS.read(spark, cfg, mno=mno_id)
        with _phase("quality_compute", mno_id, date):
            return bronze_day_metrics(day.where(where))

    _, metrics = _concurrently(write_quarantine, day_metrics)
    n_read, n_quarantined = int(r["rows"]), int(r["quarantined"] or 0)
    w = written.get
    n_again, n_written = int(read_again.get["rows"]), int(w["rows"])
    log.info("ingest %s %s: quarantine pass parsed %s rows", mno_id, date, parsed_again.get["rows"])
    if n_read != expected_rows or n_again != n_lines or n_written != n_quarantined:
        raise AccountingError(
            f"{mno_id} {date}: {expected_rows} data rows ({n_lines} lines) counted before the "
            f"load; the events pass read {n_read} rows ({n_quarantined} invalid), the "
            f"quarantine pass read {n_again} lines and wrote {n_written} rows (did a raw file "
            "change during the load?)"
        )
    counts = LoadCounts(
        rows_read=n_read,
        rows_bronze=int(d.get("rows") or 0),
        rows_quarantined=n_quarantined,
        duplicates_removed=int(r["dups"] or 0) + int(d.get("dups") or 0),
        quarantined_by_reason={c: int(w[c]) for c in S.EVENT_REASONS if w[c]},
    )
    return counts, metrics


def _quality_writes(
    cfg: RmfConfig,
    spark: SparkSession,
    current: DataFrame,
    *,
    mno_id: str,
    date: dt.date,
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The writes of ``current`` (one load's metrics) and of its warnings, to run together.

    The warnings compare ``current`` (in memory) with the metrics of earlier dates only, so
    they do not wait for the metrics write.
    """
    ing = cfg.ingest
    metrics = tables.LOAD_METRICS
    write = functools.partial(_write_day, cfg, mno_id=mno_id, date=date)

    def write_warnings() -> None:
        history = (
            metrics.read(spark, cfg, mno=mno_id).where(F.col("date") < F.lit(date))
            if metrics.exists(spark, cfg, mno=mno_id)
            else current.limit(0)
        )
        warnings = compute_quality_warnings(
            current,
            history=history,
            trailing_loads=ing.quality_trailing_loads,
            min_loads=ing.quality_min_loads,
            sd_band=ing.quality_sd_band,
        )
        write("warnings", warnings, tables.QUALITY_WARNINGS)

    return (functools.partial(write, "quality_write", current, metrics), write_warnings)


def _write_day(
    cfg: RmfConfig,
    phase: str,
    df: DataFrame,
    table: TableSpec,
    *,
    mno_id: str,
    date: dt.date,
) -> None:
    """Replace ``date`` in ``mno_id``'s Delta ``table`` with ``df`` (``replaceWhere``; a first
    write creates the table), logged as ``phase``."""
    with _phase(phase, mno_id, date):
        table.write(df, cfg, mno=mno_id, replace_where=f"date = '{date.isoformat()}'")


def _concurrently(*tasks: Callable[[], T]) -> list[T]:
    """Run ``tasks`` (Spark actions) from one thread each and return their results in order.

    The D-layer's small Delta reads and writes spend most of their time in fixed driver-side
    steps (log listing and replay, planning, the commit), which overlap across threads; an
    error in a task is raised here once all have finished.
    """
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(t) for t in tasks]
        return [f.result() for f in futures]


def run_ingest_cells(spark: SparkSession, cfg: RmfConfig, *, mno: str) -> LoadCounts:
    """Load one MNO's cell plan into ``bronze/cells`` (whole table replaced), with quarantine.

    Returns
    -------
    LoadCounts
        The counts written to ``bronze/cells_audit``.

    Raises
    ------
    InputDataError
        The plan is missing, empty, unreadable or of the wrong layout (names the file).
    ConfigError
        The input profile has no ``[cells]`` table.
    """
    mno_id = mno
    mno_input, profile = mno_profile(cfg, mno_id)
    spec = profile.cells
    if spec is None:
        raise ConfigError(f"{profile.source}: no [cells] table", code="PROFILE_INVALID")
    files = list_input_files(spark, spec.file_path(mno_input.raw_dir), what=f"{mno_id} cell plan")
    text = spec.format in ("csv", "jsonl")
    if text:
        check_text_layout(spark, files, spec)
    with _reading(files, cfg.ingest.redact_digit_runs):
        rows = (
            read_records(spark, files, spec)
            .transform(with_raw_columns, spec=spec)
            .transform(
                with_cell_columns, spec=spec, territory_bbox_3035=mno_input.territory_bbox_3035
            )
        )
        keep = [
            c for c in S.CELLS_SCHEMA.fieldNames() if c in rows.columns and c not in ("source_row",)
        ]
        meta = ["_block", "_mid"] if text else ["source_row"]
        rows = rows.select(*keep, *meta, "reason_codes", "_raw").persist()
        try:
            if text:
                splits = Splits.from_counts(count_splits(rows).collect())
                header = spec.format == "csv" and spec.header
                rows = with_source_row(rows, splits=splits, header=header)
            rows = rows.withColumn("mno_id", F.lit(mno_id))
            counts, imputed = _write_cells(cfg, rows, mno_id=mno_id)
        finally:
            rows.unpersist()
    counts.check(f"{mno_id} cell plan")
    audit = cells_audit_row(
        spark, mno_id=mno_id, counts=counts, source_files=files, values_imputed=imputed
    )
    tables.CELLS_AUDIT.write(audit, cfg, mno=mno_id)
    log.info("ingest cells %s: %s", mno_id, counts)
    return counts


def _write_cells(
    cfg: RmfConfig, rows: DataFrame, *, mno_id: str
) -> tuple[LoadCounts, dict[str, int]]:
    invalid = F.size("reason_codes") > 0
    n_read, n_quarantined, by_reason = _totals(rows)
    bad = rows.where(invalid).select(
        *[
            (F.make_valid_utf8("_raw") if f.name == "raw_content" else F.col(f.name))
            .cast(f.dataType)
            .alias(f.name)
            for f in S.CELLS_QUARANTINE_SCHEMA.fields
        ]
    )
    tables.CELLS_QUARANTINE.write(bad, cfg, mno=mno_id)
    repaired = rows.where(~invalid).transform(with_plan_repairs)
    key = [c for c in S.CELLS_SCHEMA.fieldNames() if c not in ("source_file", "source_row")]
    first = F.min(F.struct("source_file", "source_row")).alias("_first")
    cells = (
        repaired.groupBy(*key)
        .agg(first, F.count(F.lit(1)).alias("_copies"))
        .select(
            *[
                (
                    F.col(f"_first.{f.name}")
                    if f.name in ("source_file", "source_row")
                    else F.col(f.name)
                )
                .cast(f.dataType)
                .alias(f.name)
                for f in S.CELLS_SCHEMA.fields
            ],
            "_copies",
        )
        .persist()
    )
    try:
        stats = cells.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("_copies") - 1).alias("d"))
        stats = stats.first()
        per_col = dict(cells.select(F.explode("imputed").alias("c")).groupBy("c").count().collect())
        tables.CELLS.write(cells.drop("_copies"), cfg, mno=mno_id)
    finally:
        cells.unpersist()
    counts = LoadCounts(
        rows_read=int(n_read),
        rows_bronze=int(stats["n"]),
        rows_quarantined=int(n_quarantined),
        duplicates_removed=int(stats["d"] or 0),
        quarantined_by_reason=by_reason,
    )
    return counts, {k: int(v) for k, v in per_col.items()}
