"""Bad raw files end in an InputDataError naming the file and the problem (no JVM trace)."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from rmf_spark import tables
from rmf_spark.dlayer.runner import run_ingest, run_ingest_cells
from rmf_spark.errors import ConfigError, InputDataError
from tests.dlayer import rawfiles

DAY = dt.date(2024, 1, 15)


def _events(raw_dir):
    return raw_dir / "mno_a" / "events" / "events_20240115.csv"


def _expect(cfg, spark, code, name, mno="mno_a"):
    with pytest.raises(InputDataError) as err:
        run_ingest(spark, cfg, mno=mno, date=DAY)
    assert err.value.code == code
    assert name in str(err.value)
    assert "\tat " not in str(err.value) and "Py4J" not in str(err.value)
    for raw_id in rawfiles.MSISDNS + rawfiles.IMSIS:
        assert raw_id not in str(err.value)
    return str(err.value)


def test_ingest_events_missing_file_names_it(spark, cfg, raw_dir):
    _events(raw_dir).unlink()
    _expect(cfg, spark, "INPUT_MISSING", "events_20240115.csv")


def test_ingest_events_empty_file_names_it(spark, cfg, raw_dir):
    _events(raw_dir).write_bytes(b"")
    _expect(cfg, spark, "INPUT_EMPTY", "events_20240115.csv")


@pytest.mark.parametrize("form", ["newline", "no_newline", "gzip"])
def test_ingest_events_header_only_is_a_zero_row_load(spark, cfg, raw_dir, monkeypatch, form):
    """A day without events (the file holds its header only) loads 0 rows, and the audit says
    so: it is a day the MNO delivered, not a broken file (a file of 0 bytes is INPUT_EMPTY)."""
    header = (rawfiles.A_HEADER + ("" if form == "no_newline" else "\n")).encode()
    if form == "gzip":
        _events(raw_dir).unlink()
        _gz_events(raw_dir, monkeypatch).write_bytes(gzip.compress(header))
    else:
        _events(raw_dir).write_bytes(header)
    counts = run_ingest(spark, cfg, mno="mno_a", date=DAY)
    assert (counts.rows_read, counts.rows_bronze, counts.rows_quarantined) == (0, 0, 0)
    assert tables.EVENTS.read(spark, cfg, mno="mno_a").count() == 0
    audit = tables.LOAD_AUDIT.read(spark, cfg, mno="mno_a").collect()
    assert len(audit) == 1
    assert (audit[0]["rows_read"], audit[0]["rows_bronze"]) == (0, 0)
    assert audit[0]["date"] == DAY and "events_20240115.csv" in audit[0]["source_files"][0]


def test_ingest_events_wrong_delimiter(spark, cfg, raw_dir):
    f = _events(raw_dir)
    f.write_text(f.read_text(errors="surrogateescape").replace(";", ","), errors="surrogateescape")
    msg = _expect(cfg, spark, "WRONG_DELIMITER", "events_20240115.csv")
    assert "','" in msg


@pytest.mark.parametrize(
    ("header", "what"),
    [
        (rawfiles.A_HEADER + ";imei", "extra columns ['imei']"),
        (rawfiles.A_HEADER.replace(";ta", ""), "missing columns ['ta']"),
        (None, "extra columns"),  # no header at all: the first data line is not a header
    ],
)
def test_ingest_events_schema_drift(spark, cfg, raw_dir, header, what):
    f = _events(raw_dir)
    lines = f.read_bytes().split(b"\n")
    lines = lines[1:] if header is None else [header.encode(), *lines[1:]]
    f.write_bytes(b"\n".join(lines))
    assert what in _expect(cfg, spark, "SCHEMA_DRIFT", "events_20240115.csv")


def test_ingest_events_jsonl_drift_names_keys(spark, cfg, raw_dir):
    f = raw_dir / "mno_b" / "events" / "events-2024-01-15.jsonl"
    f.write_text(
        f.read_text(errors="surrogateescape").replace('"tech"', '"rat"'), errors="surrogateescape"
    )
    msg = _expect(cfg, spark, "SCHEMA_DRIFT", "events-2024-01-15.jsonl", mno="mno_b")
    assert "['rat']" in msg and "['tech']" in msg


def _gz_events(raw_dir, monkeypatch):
    """The gzip file of the day, which mno_a's profile reads for the rest of the test."""
    from rmf_spark.dlayer import runner

    original = runner.mno_profile

    def gz_profile(c, m):
        mno, profile = original(c, m)
        events = profile.events.model_copy(update={"path": profile.events.path + ".gz"})
        return mno, profile.model_copy(update={"events": events})

    monkeypatch.setattr(runner, "mno_profile", gz_profile)
    return raw_dir / "mno_a" / "events" / "events_20240115.csv.gz"


def test_ingest_events_truncated_gzip_names_file_and_cause(spark, cfg, raw_dir, monkeypatch):
    data = gzip.compress(_events(raw_dir).read_bytes() * 200)
    # truncated in the middle of the stream
    _gz_events(raw_dir, monkeypatch).write_bytes(data[: len(data) // 2])
    msg = _expect(cfg, spark, "INPUT_CORRUPT", "events_20240115.csv.gz")
    # the cause as the decompressor said it, not the Py4J call that failed
    assert "unexpected end of" in msg.lower() and "error occurred while calling" not in msg


def test_ingest_cells_broken_parquet_names_file_and_cause(spark, cfg, raw_dir):
    plan = raw_dir / "mno_b" / "cells" / "cells.parquet"  # mno_b's profile reads Parquet
    plan.parent.mkdir(parents=True)
    plan.write_bytes(b"these bytes are no Parquet file\n" * 8)
    with pytest.raises(InputDataError) as err:
        run_ingest_cells(spark, cfg, mno="mno_b")
    msg = str(err.value)
    assert err.value.code == "INPUT_CORRUPT" and "cells.parquet" in msg
    assert "not a parquet file" in msg.lower() and "error occurred while calling" not in msg
    assert "\tat " not in msg and "Py4J" not in msg


def test_ingest_events_unknown_mno_is_a_config_error(spark, cfg):
    with pytest.raises(ConfigError) as err:
        run_ingest(spark, cfg, mno="mno_z", date=DAY)
    assert err.value.code == "UNKNOWN_MNO" and "mno_z" in str(err.value)
