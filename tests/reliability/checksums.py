"""Order-independent checksums of table contents, to compare two runs' tables row for row."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType, MapType

#: columns that hold the time of the run, not data
VOLATILE = ("loaded_at",)


def table_checksum(
    df: DataFrame, *, exclude: tuple[str, ...] = VOLATILE, decimals: int = 9
) -> tuple[int, int]:
    """``(rows, sum over rows of xxhash64(every column))``: equal for equal multisets of rows,
    whatever their order or partitioning; a row written twice changes it.

    Maps are hashed as their sorted entries (Spark does not hash maps); doubles are rounded to
    ``decimals`` so that sums computed in another order compare equal.
    """
    cols = []
    for f in df.schema.fields:
        if f.name in exclude:
            continue
        c = F.col(f"`{f.name}`")
        if isinstance(f.dataType, MapType):
            c = F.array_sort(F.map_entries(c))
        elif isinstance(f.dataType, DoubleType | FloatType):
            c = F.round(c, decimals)
        cols.append(c)
    row_hash = F.xxhash64(*cols) if cols else F.lit(0)
    out = df.agg(
        F.count(F.lit(1)).alias("n"), F.sum(row_hash.cast("decimal(38,0)")).alias("s")
    ).first()
    return int(out["n"]), int(out["s"] or 0)
