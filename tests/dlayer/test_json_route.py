"""JSON lines reach bronze by two parses: Spark's JSON source (fast) or the text lines.

The fast route is taken only when every line maps to one row of the JSON source; both routes
must give the same tables, and irregular lines (blank, arrays) must still be accounted for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from rmf_spark import tables
from rmf_spark.dlayer import readers
from rmf_spark.dlayer.runner import run_ingest
from tests.dlayer import rawfiles
from tests.dlayer.conftest import make_config

DAY = dt.date(2024, 1, 15)


def _rows(spark, cfg, table):
    df = table.read(spark, cfg, mno="mno_b")
    cols = [c for c in df.columns if c != "loaded_at"]
    return sorted(map(str, df.select(*cols).collect()))


def _load(spark, cfg, caplog):
    with caplog.at_level(logging.INFO, logger="rmf_spark.dlayer.runner"):
        counts = run_ingest(spark, cfg, mno="mno_b", date=DAY)
    route = [r.getMessage() for r in caplog.records if "events parsed by" in r.getMessage()]
    caplog.clear()
    return counts, route[-1]


def test_json_source_and_text_lines_give_identical_tables(
    spark, test_config, tmp_path, raw_dir, monkeypatch, caplog
):
    fast_cfg = make_config(test_config, tmp_path / "fast", raw_dir)
    fast, route = _load(spark, fast_cfg, caplog)
    assert route.endswith("the JSON source")

    # one irregular line counted: the same file now goes through the text lines
    counted = readers.Splits.from_counts.__func__
    monkeypatch.setattr(
        readers.Splits,
        "from_counts",
        classmethod(lambda cls, c: dataclasses.replace(counted(cls, c), irregular=1)),
    )
    slow_cfg = make_config(test_config, tmp_path / "slow", raw_dir)
    slow, route = _load(spark, slow_cfg, caplog)
    assert route.endswith("the text lines")

    assert fast == slow
    for table in (tables.EVENTS, tables.QUARANTINE):
        assert _rows(spark, fast_cfg, table) == _rows(spark, slow_cfg, table)
    quarantine = tables.QUARANTINE.read(spark, fast_cfg, mno="mno_b")
    q = {r["record_id"]: r["reason_codes"] for r in quarantine.collect()}
    assert q["b10"] == ["INVALID_ENCODING"]  # the JSON source only saw a corrupt record


def test_blank_and_array_lines_take_the_text_route_and_are_quarantined(
    spark, test_config, tmp_path, caplog
):
    raw = tmp_path / "raw"
    events = rawfiles.write_mno_b(raw / "mno_b")
    lines = events.read_bytes().decode("utf-8", errors="surrogateescape").splitlines()
    array = "[" + rawfiles.B_CLEAN[0] + "," + rawfiles.B_CLEAN[1] + "]"
    odd = [*lines[:2], "", "  ", array, *lines[2:]]
    events.write_bytes(("\n".join(odd) + "\n").encode("utf-8", errors="surrogateescape"))
    cfg = make_config(test_config, tmp_path / "lake", raw)

    counts, route = _load(spark, cfg, caplog)

    assert route.endswith("the text lines")
    assert counts.rows_read == len(odd)
    assert (
        counts.rows_read == counts.rows_bronze + counts.rows_quarantined + counts.duplicates_removed
    )
    quarantine = tables.QUARANTINE.read(spark, cfg, mno="mno_b")
    malformed = {
        r["source_row"]
        for r in quarantine.collect()
        if r["reason_codes"] == ["MALFORMED_ROW"] and r["record_id"] in (None, "b01")
    }
    assert {3, 4, 5} <= malformed  # the blank lines and the array, by their line numbers
    bronze = tables.EVENTS.read(spark, cfg, mno="mno_b")
    rows = {r["record_id"]: r["source_row"] for r in bronze.collect()}
    assert rows["b01"] == 1 and rows["b03"] == 6  # lines after the odd ones keep their numbers
