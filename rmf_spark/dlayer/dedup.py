"""Exact duplicates: identical raw records loaded once, the copies counted."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.dlayer.schemas import EVENTS_SCHEMA

__all__ = ["DEDUP_KEY", "to_deduplicated"]

#: columns whose equality (with the raw record's hash) makes two rows exact duplicates
DEDUP_KEY = tuple(
    f.name
    for f in EVENTS_SCHEMA.fields
    if f.name not in ("source_file", "source_row", "device_bucket")
)


def to_deduplicated(df: DataFrame, *, n_partitions: int, files: list[str]) -> DataFrame:
    """One row per exact duplicate group: the first copy (by source file and row) is kept.

    Parameters
    ----------
    df
        Valid bronze rows (every :data:`EVENTS_SCHEMA` column) plus ``_raw_hash`` long
        (xxhash64 of the raw record).
    n_partitions
        Shuffle partitions. Rows are hash-partitioned by ``device_bucket`` (a column of the
        duplicate key), so the aggregation adds no second shuffle and each task writes the
        files of few buckets.
    files
        Every ``source_file`` value of ``df``, sorted (the first copy is the one in the
        earliest file, then the lowest row).

    Returns
    -------
    DataFrame
        :data:`EVENTS_SCHEMA` columns plus ``_copies`` long (1 = no duplicate). Two rows are
        duplicates when every bronze column (except source file and row) and the raw hash are
        equal; a 64-bit hash equality alone never merges rows.

    Notes
    -----
    The aggregation buffers are numeric only (``count``, ``min`` of a long position
    ``file_index << 40 | source_row``), so Spark uses its hash aggregate; string columns are
    grouping keys.
    """
    keys = [*DEDUP_KEY, "device_bucket", "_raw_hash"]
    names = F.array(*[F.lit(f) for f in files])
    pos = F.shiftleft(F.array_position(names, F.col("source_file")), 40) + F.col("source_row")
    out = (
        df.withColumn("_pos", pos)
        .repartition(n_partitions, "device_bucket")
        .groupBy(*keys)
        .agg(F.min("_pos").alias("_pos"), F.count(F.lit(1)).alias("_copies"))
    )
    first_file = F.element_at(names, F.shiftright(F.col("_pos"), 40).cast("int"))
    first_row = F.col("_pos").bitwiseAND(F.lit((1 << 40) - 1))
    return out.select(
        *[
            first_file.alias(f.name)
            if f.name == "source_file"
            else first_row.alias(f.name)
            if f.name == "source_row"
            else F.col(f.name)
            for f in EVENTS_SCHEMA.fields
        ],
        "_copies",
    )
