"""Where each table lives and how it is written: the only module that resolves lake paths.

Layout: ``<lake.root>/<mno_id>/<layer>/<table>`` for tables inside one MNO (bronze, C-layer,
S-layer, released) and ``<lake.root>/shared/<layer>/<table>`` for tables not tied to an MNO
(grid, zones). Every table is Delta.

Writes are idempotent: :func:`write_delta` with ``replace_where`` overwrites only the rows of
that predicate (Delta ``replaceWhere``), so re-running a (mno, date) replaces its partition and
loads of other dates are untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from rmf_spark.config import RmfConfig

__all__ = [
    "delta_version",
    "read_delta",
    "require_tables",
    "table_exists",
    "table_path",
    "write_delta",
]

LAYERS = ("bronze", "clayer", "slayer", "release", "quality", "reference")


def table_path(cfg: RmfConfig, layer: str, table: str, *, mno: str | None = None) -> str:
    """Absolute path of ``table`` in ``layer`` for ``mno`` (``None``: shared)."""
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r} is not one of {LAYERS}")
    parts = (mno or "shared", layer, table)
    root = cfg.lake.root
    if "://" in root:  # hdfs://, s3a://, abfss://: a URI, not a local path
        return "/".join([root.rstrip("/"), *parts])
    return str(Path(root).expanduser().resolve().joinpath(*parts))


def table_exists(spark: SparkSession, path: str) -> bool:
    """True when ``path`` holds a Delta table."""
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def require_tables(spark: SparkSession, paths: Mapping[str, str], *, hint: str = "") -> None:
    """Raise :class:`InputDataError` (``INPUT_TABLE_MISSING``) naming the first missing table."""
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
) -> None:
    """Write ``df`` as Delta at ``path``.

    With ``replace_where`` (a SQL predicate on partition columns), only the matching rows are
    replaced, atomically; a first write creates the table. Without it, ``mode`` applies to the
    whole table. ``properties`` (``delta.*`` table properties) are set when the write creates
    the table; an existing table keeps its own (``ALTER TABLE ... SET TBLPROPERTIES``).
    """
    writer = df.write.format("delta").mode(mode)
    for key, value in (properties or {}).items():
        writer = writer.option(key, value)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if replace_where is not None and mode == "overwrite" and table_exists(df.sparkSession, path):
        writer = writer.option("replaceWhere", replace_where)
    writer.save(path)


def delta_version(spark: SparkSession, path: str) -> int:
    """The current version of the Delta table at ``path``."""
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])
