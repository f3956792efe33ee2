"""Bad raw files end in an InputDataError naming the file and the problem (no JVM trace)."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from rmf_spark.dlayer.runner import run_ingest
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


def test_ingest_events_truncated_gzip_names_file(spark, test_config, tmp_path, raw_dir):
    from tests.dlayer.conftest import make_config

    data = gzip.compress(_events(raw_dir).read_bytes() * 200)
    gz = raw_dir / "mno_a" / "events" / "events_20240115.csv.gz"
    gz.write_bytes(data[: len(data) // 2])  # truncated in the middle of the stream
    cfg = make_config(test_config, tmp_path / "lake", raw_dir)
    from rmf_spark.dlayer import runner

    original = runner.mno_profile

    def gz_profile(c, m):
        mno, profile = original(c, m)
        events = profile.events.model_copy(update={"path": profile.events.path + ".gz"})
        return mno, profile.model_copy(update={"events": events})

    runner.mno_profile = gz_profile
    try:
        _expect(cfg, spark, "INPUT_CORRUPT", "events_20240115.csv.gz")
    finally:
        runner.mno_profile = original


def test_ingest_events_unknown_mno_is_a_config_error(spark, cfg):
    with pytest.raises(ConfigError) as err:
        run_ingest(spark, cfg, mno="mno_z", date=DAY)
    assert err.value.code == "UNKNOWN_MNO" and "mno_z" in str(err.value)
