"""Pseudonyms: HMAC-SHA256 in Spark SQL equals the reference; the key stays out of plans."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.dlayer.pseudonymise import (
    PseudonymKeyError,
    derive_period_key,
    hmac_hex,
    key_period_start,
    load_master_key,
    period_keys,
    with_device_id,
)
from rmf_spark.dlayer.settings import IngestSettings

MASTER = b"another-master-key-for-tests-0001"


def test_with_device_id_equals_python_hmac(spark):
    ids = ["34612340000", "214070000000001", "", "ñandú-7"]
    df = spark.createDataFrame([(i,) for i in ids] + [(None,)], "msisdn string")
    start = dt.date(2024, 1, 1)
    out = with_device_id(
        df, keys=period_keys(spark, MASTER, start), identifier="msisdn", pseudonymised=False
    )
    got = {r["_raw_id"]: r["device_id"] for r in out.collect()}
    key = derive_period_key(MASTER, start)
    for i in ids:
        assert got[i] == hmac_hex(key, i.encode("utf-8"))
    assert got[None] is None
    plan = out._jdf.queryExecution().toString()  # parsed, analysed, optimised, physical
    for secret in (MASTER, key):
        assert secret.hex() not in plan.lower()
        assert secret.hex().upper() not in plan
    padded = bytes(b ^ 0x36 for b in key.ljust(64, b"\0"))
    assert padded.hex() not in plan.lower()


def test_with_device_id_carries_given_pseudonyms_as_lower_hex(spark):
    df = spark.createDataFrame([("ABCDEF01",)], "user_id string")
    out = with_device_id(
        df,
        keys=period_keys(spark, MASTER, dt.date(2024, 1, 1)),
        identifier="user_id",
        pseudonymised=True,
    )
    assert out.first()["device_id"] == "abcdef01"


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_key_period_start_contains_date(date):
    for rotation, max_days in [
        ("day", 1),
        ("week", 7),
        ("month", 31),
        ("quarter", 92),
        ("year", 366),
    ]:
        start = key_period_start(date, rotation)
        assert start <= date and (date - start).days < max_days
        assert key_period_start(start, rotation) == start


def test_derive_period_key_rotates():
    jan = derive_period_key(MASTER, key_period_start(dt.date(2024, 1, 20), "month"))
    jan2 = derive_period_key(MASTER, key_period_start(dt.date(2024, 1, 3), "month"))
    feb = derive_period_key(MASTER, key_period_start(dt.date(2024, 2, 3), "month"))
    assert jan == jan2 != feb


def test_load_master_key_errors_never_show_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("RMF_NO_SUCH_KEY", raising=False)
    with pytest.raises(PseudonymKeyError) as err:
        load_master_key(IngestSettings(key_env="RMF_NO_SUCH_KEY"))
    assert "RMF_NO_SUCH_KEY" in str(err.value)
    monkeypatch.setenv("RMF_SHORT_KEY", "short-secret")
    with pytest.raises(PseudonymKeyError) as err:
        load_master_key(IngestSettings(key_env="RMF_SHORT_KEY"))
    assert err.value.code == "KEY_TOO_SHORT" and "short-secret" not in str(err.value)
    key_file = tmp_path / "rmf.key"
    key_file.write_text("a-key-from-a-file-0123456789\n")
    got = load_master_key(IngestSettings(key_env="RMF_NO_SUCH_KEY", key_file=str(key_file)))
    assert got == b"a-key-from-a-file-0123456789"
