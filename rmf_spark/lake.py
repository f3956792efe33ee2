"""Low-level lake I/O: URI-safe paths, Delta reads and writes, files through Hadoop's FileSystem.

Which table lives where is declared once, in :mod:`rmf_spark.tables` (the catalog); this module
only knows how to turn a layout into a URI and how to read and write one. Layout:
``<lake.root>/<mno_id>/<layer>/<table>`` for tables inside one MNO (bronze, C-layer, S-layer,
released) and ``<lake.root>/shared/<layer>/<table>`` for tables not tied to an MNO (grid,
zones).

Paths are URIs: ``hdfs://``, ``s3a://``, ``abfss://``, ``file:`` or a local path (made
absolute from the current directory). They are joined with :func:`~rmf_spark.uris.uri_join`
(``pathlib`` would turn ``s3a://b/x`` into ``s3a:/b/x``), and every file that is not a Delta
table (exports, manifests) goes through Spark or the Hadoop FileSystem of the session, so it
lands where the tables are, whatever the store.

Writes are idempotent: :func:`write_delta` with ``replace_where`` overwrites only the rows of
that predicate (Delta ``replaceWhere``), in one atomic commit, so re-running a (mno, date)
replaces its partition and loads of other dates are untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from rmf_spark.config import RmfConfig
from rmf_spark.uris import absolute, is_uri, uri_join

__all__ = [
    "absolute",
    "commit_metadata",
    "delete_path",
    "delta_version",
    "is_uri",
    "read_delta",
    "read_text",
    "require_tables",
    "table_exists",
    "table_path",
    "uri_join",
    "write_delta",
    "write_files",
    "write_text",
]

LAYERS = ("bronze", "clayer", "slayer", "release", "quality", "reference")


def table_path(cfg: RmfConfig, layer: str, table: str, *, mno: str | None = None) -> str:
    """URI of ``table`` in ``layer`` for ``mno`` (``None``: shared)."""
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r} is not one of {LAYERS}")
    parts = (mno or "shared", layer, table)
    return uri_join(absolute(cfg.lake.root), *parts)


def table_exists(spark: SparkSession, path: str) -> bool:
    """True when ``path`` holds a Delta table."""
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def require_tables(spark: SparkSession, paths: Mapping[str, str], *, hint: str = "") -> None:
    """Raise :class:`InputDataError` (``INPUT_TABLE_MISSING``) naming the first missing table.

    For inputs outside the catalog (a truth directory, a configured zones table); catalog
    tables use :func:`rmf_spark.tables.require`.
    """
    from rmf_spark.errors import InputDataError

    for name, path in paths.items():
        if not table_exists(spark, path):
            raise InputDataError(
                f"table {name} not found at {path}" + (f": {hint}" if hint else ""),
                code="INPUT_TABLE_MISSING",
            )


def read_delta(spark: SparkSession, path: str, *, version: int | None = None) -> DataFrame:
    """Read a Delta table, optionally at a given table version (time travel)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def write_delta(
    df: DataFrame,
    path: str,
    *,
    partition_by: Sequence[str] = (),
    replace_where: str | None = None,
    mode: str = "overwrite",
    properties: Mapping[str, str] | None = None,
    metadata: str | None = None,
) -> None:
    """Write ``df`` as Delta at ``path``, in one commit.

    With ``replace_where`` (a SQL predicate), only the matching rows are replaced, atomically;
    a first write creates the table. Without it, ``mode`` applies to the whole table.
    ``properties`` (``delta.*`` table properties) are set when the write creates the table;
    an existing table keeps its own (``ALTER TABLE ... SET TBLPROPERTIES``). ``metadata`` is
    recorded in the commit (``userMetadata`` of the table history).
    """
    writer = df.write.format("delta").mode(mode)
    for key, value in (properties or {}).items():
        writer = writer.option(key, value)
    if metadata is not None:
        writer = writer.option("userMetadata", metadata)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if replace_where is not None and mode == "overwrite" and table_exists(df.sparkSession, path):
        writer = writer.option("replaceWhere", replace_where)
    writer.save(path)


def delta_version(spark: SparkSession, path: str) -> int:
    """The current version of the Delta table at ``path``."""
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def commit_metadata(spark: SparkSession, path: str, version: int) -> str | None:
    """The ``userMetadata`` recorded by the commit of ``version`` (None if it has none)."""
    from delta.tables import DeltaTable

    row = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(f"version = {int(version)}")
        .select("userMetadata")
        .first()
    )
    return row[0] if row is not None and row[0] else None


def write_files(
    df: DataFrame, uri: str, *, fmt: str, options: Mapping[str, str] | None = None
) -> None:
    """Replace the directory ``uri`` with ``df`` in format ``fmt`` as one file (small outputs:
    released aggregates)."""
    writer = df.coalesce(1).write.mode("overwrite").format(fmt)
    for key, value in (options or {}).items():
        writer = writer.option(key, value)
    writer.save(uri)


def _filesystem(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """The Hadoop ``Path`` of ``uri`` and its ``FileSystem``, with the session's Hadoop conf
    (``spark.hadoop.*`` and the SQL conf, as the DataFrame writers see them)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(uri)
    conf = spark._jsparkSession.sessionState().newHadoopConf()
    return path, path.getFileSystem(conf)


def write_text(spark: SparkSession, uri: str, text: str) -> str:
    """Write ``text`` (UTF-8) to the file ``uri``, replacing it; return ``uri``.

    Written beside it under a temporary name, then renamed: a reader never sees half a file
    (on object stores, where a rename is a copy, the object appears whole when closed).
    """
    path, fs = _filesystem(spark, uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    tmp = jvm.org.apache.hadoop.fs.Path(path.getParent(), f".{path.getName()}.{uuid.uuid4().hex}")
    stream = fs.create(tmp, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
    fs.delete(path, False)
    if not fs.rename(tmp, path):
        fs.delete(tmp, False)
        raise OSError(f"could not move {tmp} to {uri}")
    return uri


def read_text(spark: SparkSession, uri: str) -> str:
    """The UTF-8 text of the file ``uri`` (e.g. a release manifest)."""
    path, fs = _filesystem(spark, uri)
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    stream = fs.open(path)
    try:
        out = jvm.java.io.ByteArrayOutputStream()
        jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, 65536, False)
        return str(out.toString("UTF-8"))
    finally:
        stream.close()


def delete_path(spark: SparkSession, uri: str) -> bool:
    """Delete the file or directory ``uri`` if it exists; True if something was deleted."""
    path, fs = _filesystem(spark, uri)
    return bool(fs.exists(path) and fs.delete(path, True))
