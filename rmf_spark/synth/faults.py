"""Dirty data: inject each fault kind of docs/tables.md section 4 at its configured rate.

Notes
-----
Each clean row draws one uniform ``u = H(seed, mno, record_id)``; the unit interval is cut into
consecutive pieces of length ``rate_k`` for the row-mutating kinds (at most one fault per
row). Exact duplicates and same-time-different-cell rows are extra rows, drawn with their own
uniforms among rows without a fault. Semantic faults change the data here (identifier null,
day shifted by +-24 h, cell id not in the plan, a cell not valid on the file's day); the
purely textual ones (malformed timestamp, wrong column count, invalid UTF-8) are marked and
written by :mod:`rmf_spark.synth.writers`. Every injected row is tagged.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.synth.profile import FaultRates
from rmf_spark.synth.rng import spark_uniform

__all__ = ["FAULT_KINDS", "ROW_FAULTS", "to_fault_tags", "with_faults"]

#: row-mutating kinds, in the order their probability intervals are laid out
ROW_FAULTS = (
    "null_mandatory", "malformed_timestamp", "out_of_day_timestamp", "unknown_cell",
    "cell_not_active", "wrong_column_count", "invalid_utf8",
)  # fmt: skip
FAULT_KINDS = ("exact_duplicate", *ROW_FAULTS, "same_time_different_cell")
INJECTED_SEQ_OFFSET = 50_000
_DAY_MS = 86_400_000


def _array_map(d: dict[str, list[str]]) -> F.Column:
    return F.create_map(
        *[
            c
            for k, v in d.items()
            for c in (F.lit(k), F.array(*[F.lit(x) for x in v]).cast("array<string>"))
        ]
    )


def with_faults(
    events: DataFrame,
    *,
    rates: FaultRates,
    seed: int,
    mno_id: str,
    unknown_cell_prefix: str,
    inactive_cells: dict[str, list[str]],
    active_cells: dict[str, list[str]],
) -> DataFrame:
    """Events with faults injected and a ``fault_kind`` column (null = clean).

    ``events`` needs ``record_id long, raw_id, ts_ms, file_date, cell_id``; the maps give, per
    file date (``yyyy-MM-dd``), the cell ids not valid that day and those valid that day.
    """
    u = spark_uniform(seed, f"fault.{mno_id}", "record_id")
    kind = F.lit(None).cast("string")
    lo = 0.0
    for k in ROW_FAULTS:
        hi = lo + getattr(rates, k)
        kind = F.when((u >= lo) & (u < hi), F.lit(k)).otherwise(kind)
        lo = hi
    date_key = F.date_format("file_date", "yyyy-MM-dd")
    inactive = _array_map(inactive_cells)[date_key]
    active = _array_map(active_cells)[date_key]
    pick = F.pmod(F.xxhash64(F.lit(seed), F.lit("cell"), "record_id"), F.lit(1 << 30))
    df = events.withColumn("fault_kind", kind).withColumn(
        "fault_kind",
        F.when(
            (F.col("fault_kind") == "cell_not_active")
            & (F.coalesce(F.size(inactive), F.lit(0)) <= 0),
            F.lit(None),
        ).otherwise(F.col("fault_kind")),
    )
    fk = F.col("fault_kind")
    unknown_suffix = F.pmod("record_id", F.lit(10**6)).cast("string")
    sign = F.when(F.pmod(F.col("record_id"), F.lit(2)) == 0, 1).otherwise(-1)
    df = (
        df.withColumn("raw_id", F.when(fk == "null_mandatory", None).otherwise(F.col("raw_id")))
        .withColumn(
            "ts_ms",
            F.when(fk == "out_of_day_timestamp", F.col("ts_ms") + sign * _DAY_MS).otherwise(
                F.col("ts_ms")
            ),
        )
        .withColumn(
            "cell_id",
            F.when(
                fk == "unknown_cell",
                F.concat(F.lit(unknown_cell_prefix), unknown_suffix),
            )
            .when(
                fk == "cell_not_active",
                F.element_at(inactive, (F.pmod(pick, F.size(inactive)) + 1).cast("int")),
            )
            .otherwise(F.col("cell_id")),
        )
    )  # fmt: skip
    # the extra rows in the same pass: each row explodes into itself, its exact duplicate
    # (copy 1) and its same-time-different-cell twin (copy 2) when drawn
    clean = fk.isNull()
    dup = clean & (spark_uniform(seed, f"dup.{mno_id}", "record_id") < rates.exact_duplicate)
    std_u = spark_uniform(seed, f"std.{mno_id}", "record_id") < rates.same_time_different_cell
    n_act = F.size(active)
    std = clean & std_u & (n_act > 1)
    copies = (
        F.when(dup & std, F.array(F.lit(0), F.lit(1), F.lit(2)))
        .when(dup, F.array(F.lit(0), F.lit(1)))
        .when(std, F.array(F.lit(0), F.lit(2)))
        .otherwise(F.array(F.lit(0)))
    )
    i = F.pmod(pick, n_act) + 1
    other = F.element_at(active, i.cast("int"))
    other_next = F.element_at(active, (F.pmod(i, n_act) + 1).cast("int"))
    copy = F.col("_copy")
    twin = copy == 2
    return (
        df.withColumn("_copy", F.explode(copies))
        .withColumn(
            "cell_id",
            F.when(twin, F.when(other == F.col("cell_id"), other_next).otherwise(other)).otherwise(
                F.col("cell_id")
            ),
        )
        .withColumn(
            "record_id",
            F.when(twin, F.col("record_id") + INJECTED_SEQ_OFFSET).otherwise(F.col("record_id")),
        )
        .withColumn(
            "fault_kind",
            F.when(copy == 1, F.lit("exact_duplicate"))
            .when(twin, F.lit("same_time_different_cell"))
            .otherwise(fk),
        )
        .withColumn("ta", F.when(twin, F.lit(None).cast("int")).otherwise(F.col("ta")))
        .drop("_copy")
    )


def to_fault_tags(events: DataFrame, *, mno_id: str) -> DataFrame:
    """The truth's fault tags: ``mno_id, record_id string, date, fault_kind``."""
    return events.where(F.col("fault_kind").isNotNull()).select(
        F.lit(mno_id).alias("mno_id"),
        F.col("record_id").cast("string").alias("record_id"),
        F.col("file_date").alias("date"),
        "fault_kind",
    )
