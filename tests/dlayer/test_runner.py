"""End-to-end loads of handmade mno_a / mno_b files and of MultiMNO's sample."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
from types import SimpleNamespace

import pytest

from rmf_spark import tables
from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.runner import run_ingest, run_ingest_cells
from tests.dlayer import rawfiles
from tests.dlayer.conftest import make_config

DAY = dt.date(2024, 1, 15)


def _table(spark, cfg, table, mno, layer="bronze"):
    return tables.CATALOG[f"{layer}/{table}"].read(spark, cfg, mno=mno)


@contextlib.contextmanager
def _captured(path):
    """Send this process's stdout/stderr (the JVM's too) and Python logs to ``path``."""
    handler = logging.FileHandler(path)
    logging.getLogger().addHandler(handler)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            logging.getLogger().removeHandler(handler)
            logging.getLogger().setLevel(old_level)


def _snapshot(spark, cfg, mno):
    out = {}
    for layer, t in [
        ("bronze", "events"),
        ("bronze", "quarantine"),
        ("bronze", "load_audit"),
        ("quality", "load_metrics"),
        ("quality", "warnings"),
    ]:
        df = _table(spark, cfg, t, mno, layer)
        cols = [c for c in df.columns if c != "loaded_at"]
        out[t] = sorted(map(str, df.select(*cols).collect()))
    return out


@pytest.fixture(scope="module")
def loaded(spark, test_config, tmp_path_factory):
    """mno_a (twice) and mno_b loaded once, cells of mno_a, with every log line captured."""
    tmp = tmp_path_factory.mktemp("dlayer_runner")
    raw = tmp / "raw"
    rawfiles.write_mno_a(raw / "mno_a")
    rawfiles.write_mno_b(raw / "mno_b")
    cfg = make_config(test_config, tmp / "lake", raw)
    log_file = tmp / "captured.log"
    with _captured(log_file):
        counts = {m: run_ingest(spark, cfg, mno=m, date=DAY) for m in ("mno_a", "mno_b")}
        first = _snapshot(spark, cfg, "mno_a")
        again = run_ingest(spark, cfg, mno="mno_a", date=DAY)
        cells = run_ingest_cells(spark, cfg, mno="mno_a")
    return SimpleNamespace(
        cfg=cfg,
        counts=counts,
        first=first,
        again=again,
        cells=cells,
        log=log_file.read_text(encoding="utf-8", errors="replace"),
    )


@pytest.mark.parametrize(
    ("mno", "faulty", "clean", "duplicate"),
    [
        ("mno_a", rawfiles.A_FAULTY, rawfiles.A_CLEAN, "a02"),
        ("mno_b", rawfiles.B_FAULTY, rawfiles.B_CLEAN, "b03"),
    ],
)
def test_ingest_events_catches_every_fault_with_its_code(
    spark, loaded, mno, faulty, clean, duplicate
):
    cfg, counts = loaded.cfg, loaded.counts
    q = {r["record_id"]: r["reason_codes"] for r in _table(spark, cfg, "quarantine", mno).collect()}
    assert set(q) == set(faulty), "exactly the faulty rows are quarantined"
    for rid, (_, code) in faulty.items():
        assert code in q[rid], (rid, q[rid])
    bronze = _table(spark, cfg, "events", mno).collect()
    ids = sorted(r["record_id"] for r in bronze)
    assert ids == sorted(
        {
            line.split(";")[0] if mno == "mno_a" else rid
            for rid, line in ((line[9:12], line) for line in clean)
        }
    )
    assert [r["record_id"] for r in bronze].count(duplicate) == 1
    c = counts[mno]
    assert c.duplicates_removed == 1
    assert c.rows_read == len(clean) + 1 + len(faulty)
    assert c.rows_read == c.rows_bronze + c.rows_quarantined + c.duplicates_removed
    assert sum(c.quarantined_by_reason.values()) >= c.rows_quarantined


def test_ingest_events_bronze_schema_times_and_rows(spark, loaded):
    cfg = loaded.cfg
    df = _table(spark, cfg, "events", "mno_a")
    assert df.columns == S.EVENTS_SCHEMA.fieldNames()
    rows = {r["record_id"]: r for r in df.collect()}
    # 00:30 local (CET, UTC+1) on the 15th is 23:30 UTC on the 14th: kept, in the 15th's load
    assert rows["a01"]["event_ts"] == dt.datetime(2024, 1, 14, 23, 30)
    assert rows["a01"]["date"] == DAY
    assert rows["a02"]["source_row"] == 2  # first copy kept; the duplicate was line 4
    assert rows["a03"]["timing_advance"] is None
    assert rows["a01"]["plmn"] == "21407" and rows["a01"]["mcc"] == 214
    assert rows["a01"]["device_id"] == rows["a04"]["device_id"]  # same MSISDN, same pseudonym
    assert all(0 <= r["device_bucket"] < 4 for r in rows.values())
    b = {r["record_id"]: r for r in _table(spark, cfg, "events", "mno_b").collect()}
    assert b["b01"]["event_ts"] == dt.datetime(2024, 1, 15) and b["b01"]["mnc"] == "07"
    assert b["b02"]["timing_advance"] == 2


def test_ingest_events_audit_and_quality_rows(spark, loaded):
    cfg, counts = loaded.cfg, loaded.counts
    audit = _table(spark, cfg, "load_audit", "mno_a").collect()
    assert len(audit) == 1
    a = audit[0]
    assert (a["rows_read"], a["rows_bronze"], a["rows_quarantined"], a["duplicates_removed"]) == (
        counts["mno_a"].rows_read,
        counts["mno_a"].rows_bronze,
        counts["mno_a"].rows_quarantined,
        1,
    )
    assert a["quarantined_by_reason"]["MALFORMED_ROW"] == 2
    metrics = {
        r["metric"]: r["value"]
        for r in _table(spark, cfg, "load_metrics", "mno_a", "quality").collect()
    }
    assert metrics["distinct_devices"] == 6
    assert metrics["rows_read"] == a["rows_read"]
    assert sum(metrics[f"events_hour_{h:02d}"] for h in range(24)) == a["rows_bronze"]


def test_ingest_events_twice_leaves_identical_tables(spark, loaded):
    assert loaded.again == loaded.counts["mno_a"]
    assert _snapshot(spark, loaded.cfg, "mno_a") == loaded.first


def test_ingest_events_writes_no_raw_identifier_anywhere(spark, loaded):
    cfg = loaded.cfg
    text = [loaded.log]
    for mno in ("mno_a", "mno_b"):
        for layer, table in [
            ("bronze", "events"),
            ("bronze", "quarantine"),
            ("bronze", "load_audit"),
            ("quality", "load_metrics"),
        ]:
            df = _table(spark, cfg, table, mno, layer)
            text += [r[0] for r in df.selectExpr("to_json(struct(*))").collect()]
    for table in ("cells", "cells_quarantine", "cells_audit"):
        df = _table(spark, cfg, table, "mno_a")
        text += [r[0] for r in df.selectExpr("to_json(struct(*))").collect()]
    blob = "\n".join(text)
    assert "ingest mno_a" in blob  # the runner's log line was captured
    for raw_id in rawfiles.MSISDNS + rawfiles.IMSIS:
        assert raw_id not in blob


def test_ingest_cells_flags_repairs_and_quarantines(spark, loaded):
    cfg, counts = loaded.cfg, loaded.cells
    assert (counts.rows_read, counts.rows_bronze, counts.rows_quarantined) == (10, 4, 5)
    assert counts.duplicates_removed == 1
    cells = {r["cell_id"]: r for r in _table(spark, cfg, "cells", "mno_a").collect()}
    c1, c2, c3 = cells["214-07-100-1"], cells["214-07-100-2"], cells["214-07-100-3"]
    assert c1["imputed"] == [] and c1["directional"] and c1["azimuth_deg"] == 120.0
    assert 40.41 < c1["latitude"] < 40.43 and -3.71 < c1["longitude"] < -3.69  # Madrid
    assert c1["altitude_m"] == 650.0
    # nothing in the plan to repair from: flagged and left null for the C-layer's type default
    assert c2["cell_type"] == "micro" and c2["power_w"] is None and c2["range_m"] is None
    assert c2["path_loss_exponent"] is None and c2["antenna_height_m"] is None
    assert c2["imputed"] == [
        "antenna_height_m", "tilt_deg", "beam_h_deg", "beam_v_deg", "power_w", "range_m"
    ]  # fmt: skip
    # -5 W is out of range: the power of the cell on the same mast (214-07-100-9, 20 W)
    assert c3["power_w"] == 20.0 and "power_w" in c3["imputed"]
    assert c2["valid_to"] == dt.date(2024, 1, 31)
    # directional without an azimuth: kept, modelled as omnidirectional, recorded as imputed
    c9 = cells["214-07-100-9"]
    assert not c9["directional"] and c9["azimuth_deg"] is None
    assert c9["imputed"] == ["azimuth_deg"]
    q = {
        r["source_row"]: r["reason_codes"]
        for r in _table(spark, cfg, "cells_quarantine", "mno_a").collect()
    }
    assert q == {
        5: ["CELL_MISSING_ID"],
        6: ["CELL_BAD_COORDINATES"],
        7: ["CELL_BAD_AZIMUTH"],
        8: ["CELL_BAD_VALIDITY"],
        9: ["MALFORMED_ROW"],
    }


@pytest.mark.integration  # a whole load of the MultiMNO sample (make test-integration)
def test_ingest_multimno_sample_every_row_accounted(spark, test_config, tmp_path):
    cfg = make_config(test_config, tmp_path / "lake", tmp_path / "raw")
    c = run_ingest(spark, cfg, mno="multimno", date=dt.date(2023, 1, 10))
    assert c.rows_read == 361  # the sample's rows of 2023-01-10
    assert c.rows_read == c.rows_bronze + c.rows_quarantined + c.duplicates_removed
    assert c.rows_bronze > 0 and c.quarantined_by_reason["NULL_MANDATORY"] > 0
    bronze = _table(spark, cfg, "events", "multimno")
    assert bronze.count() == c.rows_bronze
    ids = {r[0] for r in bronze.select("device_id").distinct().collect()}
    assert all(len(i) == 64 and i == i.lower() for i in ids)  # binary user_id carried as hex
    cells = run_ingest_cells(spark, cfg, mno="multimno")
    assert cells.rows_read == 150
    assert cells.rows_read == cells.rows_bronze + cells.rows_quarantined + cells.duplicates_removed
    df = _table(spark, cfg, "cells", "multimno")
    assert df.where("cell_type = 'macro'").count() > 0
    assert df.where("beam_v_deg is null and array_contains(imputed, 'beam_v_deg')").count() > 0
    assert df.where("beam_v_deg is not null and array_contains(imputed, 'beam_v_deg')").count() == 0
