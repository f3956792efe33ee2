"""Acceptance: the D-layer on the tiny synthetic world, compared with its fault truth tags.

The world is loaded once, by the demo chain (``tiny_demo``: every MNO, the world's first
day); this test reads that lake's bronze tables and load audit.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pyspark.sql import functions as F

from rmf_spark import lake, tables

QUARANTINED = {
    "null_mandatory": "NULL_MANDATORY",
    "malformed_timestamp": "BAD_TIMESTAMP",
    "out_of_day_timestamp": "OUT_OF_DAY",
    "wrong_column_count": "MALFORMED_ROW",
    "invalid_utf8": "INVALID_ENCODING",
}
LATER = ("unknown_cell", "cell_not_active", "same_time_different_cell")  # C-layer: kept


def _days(events_dir):
    out = set()
    for f in events_dir.iterdir():
        m = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", f.name)
        if m:
            out.add(dt.date(*map(int, m.groups())))
    return sorted(out)


@pytest.mark.slow
@pytest.mark.parametrize("mno", ["mno_a", "mno_b"])
def test_ingest_events_matches_fault_truth_tags(spark, tiny_world, tiny_demo, mno):
    events_dir = tiny_world / "raw" / mno / "events"
    if not events_dir.is_dir():
        pytest.fail(f"tiny world has no raw events for {mno}")
    cfg = tiny_demo.cfg

    def table(name):
        return tables.CATALOG[f"bronze/{name}"].read(spark, cfg, mno=mno)

    tags = lake.read_delta(spark, str(tiny_world / "truth" / "fault_tags")).where(
        f"mno_id = '{mno}'"
    )
    audit = {r["date"]: r for r in table("load_audit").collect()}
    assert sorted(audit) == tiny_demo.days  # one load per day the demo processed
    assert set(tiny_demo.days) <= set(_days(events_dir))
    faults = 0
    for day in tiny_demo.days:
        c = audit[day]
        assert c["rows_read"] == c["rows_bronze"] + c["rows_quarantined"] + c["duplicates_removed"]
        q = {
            str(r["record_id"]): r["reason_codes"]
            for r in table("quarantine").where(f"date = '{day}'").collect()
        }
        day_tags = {
            (str(r["record_id"]), r["fault_kind"]) for r in tags.where(f"date = '{day}'").collect()
        }
        faults += len(day_tags)
        expected = {rid: QUARANTINED[k] for rid, k in day_tags if k in QUARANTINED}
        for rid, code in expected.items():
            assert rid in q and code in q[rid], (day, rid, code, q.get(rid))
        assert set(q) == set(expected), "no clean row is quarantined"
        n_dup = sum(1 for _, k in day_tags if k == "exact_duplicate")
        assert c["duplicates_removed"] == n_dup
        bronze_ids = {
            str(r[0])
            for r in table("events").where(f"date = '{day}'").select("record_id").collect()
        }
        assert {rid for rid, k in day_tags if k in LATER} <= bronze_ids
    assert faults  # the world has faults at all


def _raw_outbound_records(spark, tiny_world, mno, day):
    """``record_id, plmn`` of the day's file's roaming records: no cell, a foreign PLMN."""
    events = tiny_world / "raw" / mno / "events"
    if mno == "mno_a":
        raw = (
            spark.read.option("sep", ";")
            .option("header", True)
            .csv(str(events / f"events_{day:%Y%m%d}.csv"))
        )
        rows = raw.where(F.col("cgi").isNull()).select(
            "record_id", F.concat("mcc", "mnc").alias("plmn")
        )
    else:
        raw = spark.read.text(str(events / f"events-{day:%Y-%m-%d}.jsonl"))
        field = {k: F.get_json_object("value", f"$.{k}") for k in ("seq", "cell", "plmn")}
        rows = raw.where(field["cell"].isNull()).select(
            field["seq"].alias("record_id"), field["plmn"].alias("plmn")
        )
    return {r["record_id"]: r["plmn"] for r in rows.where("plmn not like '214%'").collect()}


@pytest.mark.slow
@pytest.mark.parametrize("mno", ["mno_a", "mno_b"])
def test_ingest_keeps_outbound_roaming_records_without_a_cell(spark, tiny_world, tiny_demo, mno):
    cfg = tiny_demo.cfg
    for day in tiny_demo.days:
        raw = _raw_outbound_records(spark, tiny_world, mno, day)
        assert len(raw) > 20, (mno, day)  # the tiny world's travellers, on this MNO
        bronze = tables.EVENTS.read(spark, cfg, mno=mno).where(f"date = '{day}'")
        no_cell = {
            r["record_id"]: r
            for r in bronze.where("cell_id is null")
            .select("record_id", "plmn", "roamer_link", "technology", "timing_advance")
            .collect()
        }
        assert {k: r["plmn"] for k, r in no_cell.items()} == raw  # every one, none else
        assert all(r["roamer_link"] is None and r["technology"] is None for r in no_cell.values())
        metrics = tables.LOAD_METRICS.read(spark, cfg, mno=mno).where(
            f"date = '{day}' AND metric = 'outbound_records'"
        )
        assert [r["value"] for r in metrics.collect()] == [len(raw)]
