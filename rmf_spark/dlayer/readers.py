"""Find, check and read raw files into one row per raw record, keeping the raw content.

Text formats (CSV, JSON lines) are read line by line with Spark's text source, which keeps the
bytes of a line as they are (invalid UTF-8 included), so nothing is lost before validation.
Row numbers come from each file split's position (``_metadata.file_block_start``) and the
record's index within its split (``monotonically_increasing_id``): :func:`count_splits` counts
the lines of each split (a cheap pass that reads no column), :func:`with_source_row` turns them
into line numbers. Parquet rows get ``_metadata.row_index``.

JSON lines are also read by Spark's JSON source (:func:`read_json_fields`), whose byte-level
parser costs about half of ``from_json`` over the text lines. It yields one row per line
only when no line is blank or a JSON array (:func:`count_splits` counts such *irregular*
lines); its rows then carry the same ``_mid`` as the text lines, since both sources split the
same files into the same partitions and read each split in line order.

Files are checked on the driver before the read: missing, empty, unreadable, wrong header
(schema drift), wrong delimiter. Each problem is an :class:`rmf_spark.errors.InputDataError`
naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType

from rmf_spark.dlayer.profiles import _FileSpec
from rmf_spark.dlayer.validate import RAW_PREFIX, json_schema
from rmf_spark.errors import InputDataError, jvm_cause

__all__ = [
    "Splits",
    "check_text_layout",
    "count_splits",
    "list_input_files",
    "read_json_fields",
    "read_records",
    "with_source_row",
]

_OTHER_DELIMITERS = (",", ";", "\t", "|")


def _fs(spark: SparkSession, path: str):  # py4j objects
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def list_input_files(spark: SparkSession, path: str, *, what: str) -> list[str]:
    """The data files at ``path`` (a file, or every visible file in a directory).

    Raises
    ------
    InputDataError
        ``INPUT_MISSING`` when nothing is at ``path``; ``INPUT_EMPTY`` when a file has 0 bytes
        or a directory holds no data file.
    """
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        raise InputDataError(
            f"{what} file {path} does not exist (check ingest.mno.<id>.raw_dir and the "
            "input profile's path)",
            code="INPUT_MISSING",
        )
    statuses = []
    if fs.getFileStatus(hpath).isDirectory():
        it = fs.listFiles(hpath, True)  # recursive: Hive-style partition folders
        while it.hasNext():
            statuses.append(it.next())
    else:
        statuses.append(fs.getFileStatus(hpath))
    files = []
    for st in statuses:
        name = st.getPath().getName()
        if st.isDirectory() or name.startswith(("_", ".")) or name.endswith(".crc"):
            continue
        if st.getLen() == 0:
            raise InputDataError(
                f"{what} file {st.getPath()} is empty (0 bytes)", code="INPUT_EMPTY"
            )
        files.append(str(st.getPath()))
    if not files:
        raise InputDataError(f"{what} directory {path} holds no data file", code="INPUT_EMPTY")
    return sorted(files)


def _first_lines(spark: SparkSession, file: str, n: int) -> list[str]:
    try:
        rows = spark.read.format("text").load(file).limit(n).collect()
    except Exception as exc:  # a JVM error: say which file and the cause
        first = jvm_cause(exc, limit=300)
        raise InputDataError(f"file {file} cannot be read: {first}", code="INPUT_CORRUPT") from None
    return [r[0] for r in rows]


def check_text_layout(spark: SparkSession, files: Sequence[str], spec: _FileSpec) -> None:
    """Check each CSV file's header (or each JSON-lines file's keys) against the profile.

    Raises
    ------
    InputDataError
        ``INPUT_EMPTY`` (no line), ``WRONG_DELIMITER``, ``SCHEMA_DRIFT`` (extra, missing or
        reordered columns / unknown or missing keys) or ``INPUT_CORRUPT``; names the file.
    """
    for file in files:
        lines = _first_lines(spark, file, 1 if spec.format == "csv" else 50)
        if not lines:
            raise InputDataError(f"file {file} holds no line", code="INPUT_EMPTY")
        if spec.format == "csv" and spec.header:
            _check_header(file, lines[0], spec)
        elif spec.format == "jsonl":
            _check_keys(file, lines, spec)


def _check_header(file: str, header: str, spec: _FileSpec) -> None:
    found = [c.strip().strip('"') for c in header.lstrip("\ufeff").split(spec.delimiter)]
    if found == spec.columns:
        return
    for other in _OTHER_DELIMITERS:
        if other != spec.delimiter and [c.strip() for c in header.split(other)] == spec.columns:
            raise InputDataError(
                f"file {file}: wrong delimiter: the header is separated by {other!r}, the "
                f"profile expects {spec.delimiter!r}",
                code="WRONG_DELIMITER",
            )
    found = [re.sub(r"[0-9]{6,}", "<digits>", c)[:40] for c in found]  # a data line?
    extra = [c for c in found if c not in spec.columns]
    missing = [c for c in spec.columns if c not in found]
    what = (
        f"extra columns {extra}, missing columns {missing}"
        if extra or missing
        else (f"columns in another order: {found}")
    )
    raise InputDataError(
        f"file {file}: header does not match the input profile {spec.columns}: {what}",
        code="SCHEMA_DRIFT",
    )


def _check_keys(file: str, lines: list[str], spec: _FileSpec) -> None:
    """Accept when one of the first lines has the expected keys (a faulty line may not)."""
    known = set(spec.columns) | set(spec.optional_columns)
    first: set[str] | None = None
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if set(spec.columns) <= set(obj) <= known:
            return
        first = set(obj) if first is None else first
    if first is None:
        raise InputDataError(
            f"file {file}: none of its first {len(lines)} lines is a JSON object (not JSON lines?)",
            code="INPUT_CORRUPT",
        )
    raise InputDataError(
        f"file {file}: JSON keys do not match the input profile: extra keys "
        f"{sorted(first - known)}, missing keys {sorted(set(spec.columns) - first)}",
        code="SCHEMA_DRIFT",
    )


def read_records(spark: SparkSession, files: Sequence[str], spec: _FileSpec) -> DataFrame:
    """One row per raw record.

    Returns
    -------
    DataFrame
        Text formats: ``_raw`` string (the line, bytes as read), ``source_file`` string,
        ``_block`` long, ``_mid`` long (pass to :func:`with_source_row`). Parquet: one string
        column ``_r_<name>`` per raw column (binary as lower-case hex), ``_raw`` (JSON of the row),
        ``source_file``, ``source_row`` long, ``_mid`` long. ``_mid`` identifies a record
        within the load, the same on every read of the same files (see :func:`with_source_row`).

    Raises
    ------
    InputDataError
        ``SCHEMA_DRIFT`` when Parquet columns differ from the profile's ``columns``.
    """
    if spec.format in ("csv", "jsonl"):
        return (
            spark.read.format("text")
            .load(list(files))
            .select(
                F.col("value").alias("_raw"),
                F.col("_metadata.file_path").alias("source_file"),
                F.col("_metadata.file_block_start").alias("_block"),
                F.monotonically_increasing_id().alias("_mid"),
            )
        )
    df = spark.read.format("parquet").load(list(files))
    if spec.columns:
        extra = [c for c in df.columns if c not in spec.columns + spec.optional_columns]
        missing = [c for c in spec.columns if c not in df.columns]
        if extra or missing:
            raise InputDataError(
                f"Parquet input {files[0]} (and {len(files) - 1} more): columns do not match "
                f"the input profile: extra {extra}, missing {missing}",
                code="SCHEMA_DRIFT",
            )
    values = {}
    for field in df.schema.fields:
        c = F.col(f"`{field.name}`")
        binary = isinstance(field.dataType, BinaryType)
        values[field.name] = F.lower(F.hex(c)) if binary else c.cast("string")
    return df.select(
        *[v.alias(RAW_PREFIX + k) for k, v in values.items()],
        F.to_json(F.struct(*[v.alias(k) for k, v in values.items()])).alias("_raw"),
        F.col("_metadata.file_path").alias("source_file"),
        (F.col("_metadata.row_index") + 1).alias("source_row"),
        F.monotonically_increasing_id().alias("_mid"),
    )


def read_json_fields(spark: SparkSession, files: Sequence[str], spec: _FileSpec) -> DataFrame:
    """JSON lines parsed by Spark's JSON source: ``_json`` (a struct with one string field
    per key of :func:`rmf_spark.dlayer.validate.json_schema`, so no key can collide with the
    load's own columns), ``source_file``, ``_block`` and ``_mid`` (as in :func:`read_records`).

    Use it only when :func:`count_splits` found no irregular line (a blank line gives no row,
    an array one row per element), so that rows and lines correspond one to one.
    """
    schema = json_schema(spec)
    return (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", schema.fieldNames()[-1])
        .json(list(files))
        .select(
            F.struct(*[F.col(f"`{n}`") for n in schema.fieldNames()]).alias("_json"),
            F.col("_metadata.file_path").alias("source_file"),
            F.col("_metadata.file_block_start").alias("_block"),
            F.monotonically_increasing_id().alias("_mid"),
        )
    )


def _irregular_json_line() -> F.Column:
    """A line that Spark's JSON source does not read as exactly one row: blank (JSON white
    space, or a byte-order mark) or an array. Only lines not starting with ``{`` are tested."""
    raw = F.col("_raw")
    return F.when(~raw.startswith("{"), raw.rlike(r"^[\s\x{FEFF}]*(\[|$)")).otherwise(False)


SPLIT_STATS_SCHEMA = StructType(
    [
        StructField("source_file", StringType(), False),
        StructField("_block", LongType(), False),
        StructField("_mid0", LongType(), False),
        StructField("_offset", LongType(), False),
    ]
)


def count_splits(records: DataFrame, *, json_lines: bool = False) -> DataFrame:
    """Records per file split of :func:`read_records` output (a few rows per file).

    Returns
    -------
    DataFrame
        ``source_file``, ``_block`` (null for Parquet), ``_mid0`` (the split's first ``_mid``;
        null for Parquet), ``_n`` (records) and, with ``json_lines``, ``_irregular`` (lines
        :func:`read_json_fields` cannot map one to one). Without ``json_lines`` only file
        metadata is selected, so Spark reads no column of the records: the pass costs a line
        scan (text) or the Parquet footers.
    """
    if "_block" not in records.columns:
        return records.groupBy("source_file").agg(
            F.lit(None).cast("long").alias("_block"),
            F.lit(None).cast("long").alias("_mid0"),
            F.count(F.lit(1)).alias("_n"),
        )
    irregular = [F.sum(_irregular_json_line().cast("long")).alias("_irregular")]
    return records.groupBy("source_file", "_block").agg(
        F.min("_mid").alias("_mid0"), F.count(F.lit(1)).alias("_n"), *irregular[:json_lines]
    )


@dataclass(frozen=True)
class Splits:
    """The collected :func:`count_splits` of one load: where each split starts in its file.

    ``rows`` are ``(source_file, _block, _mid0, _offset)`` with ``_offset`` the lines of the
    file before the split; ``files`` the distinct ``source_file`` values, sorted; ``records``
    every record read (CSV header lines included); ``irregular`` the JSON lines that
    :func:`read_json_fields` cannot read one to one (0 when not counted).
    """

    rows: tuple[tuple[str, int | None, int | None, int], ...]
    files: tuple[str, ...]
    records: int
    irregular: int = 0

    @classmethod
    def from_counts(cls, counts: Sequence[Row]) -> Splits:
        """Offsets from the collected :func:`count_splits` rows (order does not matter)."""
        rows, offsets = [], {}
        for r in sorted(counts, key=lambda r: (r["source_file"], r["_block"] or 0)):
            off = offsets.get(r["source_file"], 0)
            rows.append((r["source_file"], r["_block"], r["_mid0"], off))
            offsets[r["source_file"]] = off + r["_n"]
        irregular = sum(r.asDict().get("_irregular") or 0 for r in counts)
        return cls(tuple(rows), tuple(sorted(offsets)), sum(offsets.values()), irregular)

    def data_rows(self, *, header: bool) -> int:
        """Records that are data rows: all but one header line per file when ``header``."""
        return self.records - (len(self.files) if header else 0)


def with_source_row(df: DataFrame, *, splits: Splits, header: bool) -> DataFrame:
    """Replace ``_block`` by ``source_row`` (1 = first data line) and drop the header.

    ``source_row = _offset + (_mid - _mid0) + 1`` (minus 1 after a header), with the split's
    ``_offset`` and ``_mid0`` from ``splits`` (joined by broadcast). ``monotonically_increasing_id``
    is ``partition << 33 | index in partition`` and file splits map to the same partitions on
    every read of the same files, so ``splits`` may come from an earlier pass over them.
    ``_mid`` is kept: it names a record in every pass of the load (duplicate copies are
    found by it, :mod:`rmf_spark.dlayer.dedup`).
    """
    split = df.sparkSession.createDataFrame(
        [r for r in splits.rows if r[1] is not None], SPLIT_STATS_SCHEMA
    )
    line = F.col("_offset") + (F.col("_mid") - F.col("_mid0")) + 1
    out = df.join(F.broadcast(split), on=["source_file", "_block"], how="inner")
    if header:
        out = out.where(line > 1)
        line = line - 1
    return out.withColumn("source_row", line).drop("_block", "_mid0", "_offset")
