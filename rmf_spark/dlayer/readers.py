"""Find, check and read raw files into one row per raw record, keeping the raw content.

Text formats (CSV, JSON lines) are read line by line with Spark's text source, which keeps the
bytes of a line as they are (invalid UTF-8 included), so nothing is lost before validation.
Row numbers come from each file split's position (``_metadata.file_block_start``) and the
record's index within its split (``monotonically_increasing_id``), resolved after the read by
:func:`with_source_row`. Parquet rows get ``_metadata.row_index``.

Files are checked on the driver before the read: missing, empty, unreadable, wrong header
(schema drift), wrong delimiter. Each problem is an :class:`rmf_spark.errors.InputDataError`
naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType

from rmf_spark.dlayer.profiles import _FileSpec
from rmf_spark.dlayer.validate import RAW_PREFIX
from rmf_spark.errors import InputDataError

__all__ = ["check_text_layout", "list_input_files", "read_records", "with_source_row"]

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
    except Exception as exc:  # a JVM error: say which file, keep the first line of the cause
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
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
        ``source_file``, ``source_row`` long.

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
    )


SPLIT_STATS_SCHEMA = StructType(
    [
        StructField("source_file", StringType(), False),
        StructField("_block", LongType(), False),
        StructField("_mid0", LongType(), False),
        StructField("_offset", LongType(), False),
    ]
)


def with_source_row(df: DataFrame, *, header: bool) -> DataFrame:
    """Replace ``_block``/``_mid`` by ``source_row`` (1 = first data line) and drop the header.

    ``df`` should be cached: the split statistics (a few rows per file) are computed from it,
    collected to the driver and joined back by broadcast.
    """
    stats = (
        df.groupBy("source_file", "_block")
        .agg(F.min("_mid").alias("_mid0"), F.count(F.lit(1)).alias("_n"))
        .collect()
    )
    rows, offsets = [], {}
    for r in sorted(stats, key=lambda r: (r["source_file"], r["_block"])):
        off = offsets.get(r["source_file"], 0)
        rows.append((r["source_file"], r["_block"], r["_mid0"], off))
        offsets[r["source_file"]] = off + r["_n"]
    split = df.sparkSession.createDataFrame(rows, SPLIT_STATS_SCHEMA)
    line = F.col("_offset") + (F.col("_mid") - F.col("_mid0")) + 1
    out = df.join(F.broadcast(split), on=["source_file", "_block"], how="inner")
    if header:
        out = out.where(line > 1)
        line = line - 1
    return out.withColumn("source_row", line).drop("_block", "_mid", "_mid0", "_offset")
