"""Reason codes stay code-generated; split offsets give line numbers; passes must agree."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rmf_spark import lake
from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.audit import AccountingError
from rmf_spark.dlayer.readers import Splits
from rmf_spark.dlayer.runner import run_ingest
from rmf_spark.dlayer.validate import codes_where

DAY = dt.date(2024, 1, 15)


def test_codes_where_keeps_true_codes_in_order_without_higher_order_functions(spark):
    df = spark.createDataFrame([(1, None), (5, 2), (0, 0)], "a int, b int")
    out = df.select(
        codes_where(
            [(F.col("a") > 2, "A_BIG"), (F.col("b") > 1, "B_BIG"), (F.col("a") > 0, "A")]
        ).alias("codes")
    )
    expected = spark.createDataFrame(
        [(["A"],), (["A_BIG", "B_BIG", "A"],), ([],)],
        T.StructType([T.StructField("codes", T.ArrayType(T.StringType(), False), nullable=False)]),
    )
    assert_df_equality(out, expected)  # in row order, the array's elements never null
    plan = out._jdf.queryExecution().optimizedPlan().toString()
    assert "lambdafunction" not in plan  # a higher-order function would disable codegen


def test_splits_from_counts_offsets_each_split_by_the_lines_before_it():
    counts = [
        Row(source_file="f2", _block=0, _mid0=1 << 33, _n=4),
        Row(source_file="f1", _block=100, _mid0=7, _n=3),
        Row(source_file="f1", _block=0, _mid0=0, _n=5),
    ]
    s = Splits.from_counts(counts)
    assert s.rows == (("f1", 0, 0, 0), ("f1", 100, 7, 5), ("f2", 0, 1 << 33, 0))
    assert s.files == ("f1", "f2") and s.records == 12
    assert s.data_rows(header=True) == 10 and s.data_rows(header=False) == 12


def test_ingest_events_passes_that_disagree_raise_and_write_no_audit(spark, cfg, monkeypatch):
    monkeypatch.setattr(Splits, "data_rows", lambda self, *, header: 10**6)
    with pytest.raises(AccountingError, match="counted before the load"):
        run_ingest(spark, cfg, mno="mno_a", date=DAY)
    audit = lake.table_path(cfg, S.LAYER, S.LOAD_AUDIT, mno="mno_a")
    assert not lake.table_exists(spark, audit)
