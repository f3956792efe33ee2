"""The roamer link at ingest: inbound rows of two MNOs carry the same keyed link of the same
foreign IMSI, domestic rows none; without RMF_LINK_KEY the load still works, with null links,
and says so once (log and load metrics); the fusion export keys the links again per period."""

from __future__ import annotations

import datetime as dt
import json
import logging

import numpy as np
import pytest

from rmf_spark import tables
from rmf_spark.dlayer.roamers import KEY_MISSING_METRIC, ROAMER_LINK
from rmf_spark.dlayer.runner import run_ingest
from rmf_spark.errors import FusionError
from rmf_spark.fusion.signatures import (
    LINK_KEY_ENV,
    export_roamer_links,
    ingest_link_key,
    roamer_link_hash,
)
from tests.dlayer.conftest import make_config
from tests.dlayer.rawfiles import A_HEADER, IMSIS, T0

DAY = dt.date(2024, 1, 15)
LINK_KEY = "the MNOs' shared link key, 2024"
ROAMER = "234150000000001"  # a British SIM visiting both networks
OTHER = "208010000000007"  # a French SIM, on mno_b only


def _b_line(seq: str, imsi: str, hour: int, plmn: str) -> str:
    return json.dumps(
        {"seq": seq, "imsi": imsi, "ts_ms": T0 + hour * 3_600_000, "cell": "214-07-200-1",
         "type": "attach", "tech": "4G", "plmn": plmn}
    )  # fmt: skip


def _write_raw(root):
    b = [
        _b_line("b1", IMSIS[0], 1, "21407"),  # domestic
        _b_line("b2", ROAMER, 2, "23415"),
        _b_line("b3", ROAMER, 9, "23415"),
        _b_line("b4", OTHER, 3, "20801"),
        _b_line("b5", "roamer-x", 4, "26201"),  # foreign, but not an IMSI: no link
    ]
    path = root / "mno_b" / "events" / "events-2024-01-15.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(b) + "\n")
    a = [
        A_HEADER,
        "a1;34612340000;15/01/2024 10:00:00;214-07-100-1;call;4G;214;07;1",
        f"a2;{ROAMER};15/01/2024 12:00:00;214-07-100-1;call;4G;234;15;1",
    ]
    path = root / "mno_a" / "events" / "events_20240115.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(a) + "\n")


def _metric(spark, cfg, mno):
    rows = tables.LOAD_METRICS.read(spark, cfg, mno=mno).where(f"metric = '{KEY_MISSING_METRIC}'")
    return [r["value"] for r in rows.collect()]


@pytest.fixture(scope="module")
def lakes(spark, test_config, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roamer_link")
    _write_raw(tmp / "raw")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LINK_KEY_ENV, LINK_KEY)
        keyed = make_config(test_config, tmp / "keyed", tmp / "raw")
        for mno in ("mno_a", "mno_b"):
            run_ingest(spark, keyed, mno=mno, date=DAY)
    return keyed, tmp


def test_inbound_rows_of_two_mnos_carry_the_same_link(spark, lakes):
    cfg, _ = lakes
    key = ingest_link_key(LINK_KEY.encode(), DAY)
    want = {i: int(roamer_link_hash([i], key=key).view(np.int64)[0]) for i in (ROAMER, OTHER)}
    b = {
        r["record_id"]: r[ROAMER_LINK]
        for r in tables.EVENTS.read(spark, cfg, mno="mno_b").collect()
    }
    a = {
        r["record_id"]: r[ROAMER_LINK]
        for r in tables.EVENTS.read(spark, cfg, mno="mno_a").collect()
    }
    assert b == {"b1": None, "b2": want[ROAMER], "b3": want[ROAMER], "b4": want[OTHER], "b5": None}
    assert a == {"a1": None, "a2": want[ROAMER]}  # the other network, the same link
    assert _metric(spark, cfg, "mno_b") == [0.0]
    # the link changes with the month (pseudonyms change too); no identifier is stored
    assert ingest_link_key(LINK_KEY.encode(), dt.date(2024, 2, 1)) != key
    bronze = tables.EVENTS.read(spark, cfg, mno="mno_a").collect()
    assert all(ROAMER not in str(r) for r in bronze)


def test_the_export_keys_the_links_again_per_period(spark, lakes):
    cfg, _ = lakes
    master = LINK_KEY.encode()
    ra, rb = (
        export_roamer_links(tables.EVENTS.read(spark, cfg, mno=m), start=DAY, master_key=master)
        for m in ("mno_a", "mno_b")
    )
    assert (len(ra), len(rb)) == (1, 2) and ra.key_check == rb.key_check
    shared = np.intersect1d(ra.link_hash, rb.link_hash)
    assert shared.size == 1 and int(ra.days_seen[0]) == 1  # seen on the period's first day
    stored = {r[ROAMER_LINK] for r in tables.EVENTS.read(spark, cfg, mno="mno_b").collect()}
    assert int(shared[0].view(np.int64)) not in stored  # keyed again: not the bronze value


def test_without_the_key_ingest_works_and_says_so_once(spark, test_config, lakes, caplog):
    _, tmp = lakes
    cfg = make_config(test_config, tmp / "unkeyed", tmp / "raw")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(LINK_KEY_ENV, raising=False)
        with caplog.at_level(logging.WARNING, logger="rmf_spark.dlayer.roamers"):
            counts = run_ingest(spark, cfg, mno="mno_b", date=DAY)
    assert counts.rows_bronze == 5
    said = [r for r in caplog.records if LINK_KEY_ENV in r.getMessage()]
    assert len(said) == 1 and "FUSION_LINK_KEY_MISSING" in said[0].getMessage()
    links = [r[ROAMER_LINK] for r in tables.EVENTS.read(spark, cfg, mno="mno_b").collect()]
    assert links == [None] * 5
    assert _metric(spark, cfg, "mno_b") == [1.0]
    # a key that is set but too short is a mistake, not a missing key: the load stops
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LINK_KEY_ENV, "short")
        with pytest.raises(FusionError, match="too short"):
            run_ingest(spark, cfg, mno="mno_b", date=DAY)
