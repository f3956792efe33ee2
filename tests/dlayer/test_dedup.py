"""Exact duplicates: found before the events pass, or by the aggregation fallback."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from rmf_spark import tables
from rmf_spark.dlayer import runner
from rmf_spark.dlayer.dedup import duplicated_hashes, later_copies
from rmf_spark.dlayer.runner import run_ingest
from tests.dlayer import rawfiles
from tests.dlayer.conftest import make_config

DAY = dt.date(2024, 1, 15)


def _records(spark):
    rows = [
        ("x", "f2", 1, 0),
        ("y", "f1", 3, 1),
        ("x", "f1", 5, 2),  # the first copy of x: earliest file, then lowest row
        ("x", "f1", 9, 3),
        ("z", "f1", 1, 4),
    ]
    return spark.createDataFrame(
        rows, "_raw string, source_file string, source_row long, _mid long"
    )


def _mids(spark, mids: list[int]):
    return spark.createDataFrame([(m,) for m in mids], "_mid long")


def test_later_copies_are_every_copy_but_the_first_by_file_and_row(spark):
    records = _records(spark)
    hashes = duplicated_hashes(records)
    x_hash = records.where("_raw = 'x'").selectExpr("xxhash64(_raw) AS _h").distinct()
    assert_df_equality(hashes, x_hash, ignore_nullable=True)  # only x occurs more than once
    assert_df_equality(later_copies(records, hashes), _mids(spark, [0, 3]), ignore_row_order=True)


def test_later_copies_group_by_the_line_not_by_its_hash(spark):
    records = _records(spark)
    # every line's hash as a candidate, as if all collided: distinct lines are never copies
    every_hash = records.selectExpr("xxhash64(_raw) AS _h").distinct()
    assert_df_equality(
        later_copies(records, every_hash), _mids(spark, [0, 3]), ignore_row_order=True
    )


def test_aggregation_fallback_gives_the_same_tables(spark, test_config, tmp_path, monkeypatch):
    """With no copy broadcast (limit 0) the bronze rows are grouped instead: same result."""
    raw = tmp_path / "raw"
    rawfiles.write_mno_a(raw / "mno_a")
    out = {}
    for limit in (runner._MAX_BROADCAST_COPIES, 0):
        monkeypatch.setattr(runner, "_MAX_BROADCAST_COPIES", limit)
        cfg = make_config(test_config, tmp_path / f"lake_{limit}", raw)
        counts = run_ingest(spark, cfg, mno="mno_a", date=DAY)
        out[limit] = (counts, tables.EVENTS.read(spark, cfg, mno="mno_a"))
    (fast, fast_rows), (grouped, grouped_rows) = out.values()
    assert fast == grouped and fast.duplicates_removed == 1
    assert_df_equality(fast_rows, grouped_rows, ignore_row_order=True)
