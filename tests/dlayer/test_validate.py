"""Reason codes stay code-generated; split offsets give line numbers; passes must agree."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rmf_spark import tables
from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer import validate
from rmf_spark.dlayer.audit import AccountingError
from rmf_spark.dlayer.profiles import load_profile
from rmf_spark.dlayer.readers import Splits
from rmf_spark.dlayer.runner import run_ingest
from rmf_spark.dlayer.validate import codes_where, with_event_columns, with_raw_columns
from tests.conftest import ROOT
from tests.dlayer import rawfiles

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
    assert not tables.LOAD_AUDIT.exists(spark, cfg, mno="mno_a")


# --- reason codes: one row per code, the smallest raw record that gets it -----------------------

A = load_profile(ROOT / "conf" / "inputs" / "mno_a.toml").events  # CSV, local time, mcc + mnc
B = load_profile(ROOT / "conf" / "inputs" / "mno_b.toml").events  # JSON lines, epoch ms, plmn
# mno_a's layout plus the optional checks no shipped profile uses: coordinates, a cell-id pattern
FULL = A.model_copy(
    update={
        "columns": [*A.columns, "lat", "lon"],
        "columns_map": {**A.columns_map, "latitude": "lat", "longitude": "lon"},
        "cell_id_pattern": r"^214-07-\d+-\d+$",
    }
)
# mno_a's layout plus a plmn column: MultiMNO's convention for an outbound record (the SIM's
# network in mcc and mnc, the visited network in plmn)
PLMN = A.model_copy(
    update={"columns": [*A.columns, "plmn"], "columns_map": {**A.columns_map, "plmn": "plmn"}}
)
PROFILES = {"mno_a": A, "mno_b": B, "full": FULL, "plmn": PLMN}
A_OK = rawfiles._a("r1", rawfiles.MSISDNS[0], "15/01/2024 10:00:00")
B_OK = rawfiles._b("r1", rawfiles.IMSIS[0], rawfiles.T0 + 36_000_000)
FULL_OK = A_OK + ";40.4;-3.7"
# outbound roaming records: no cell, the visited network (France) as the PLMN
A_NO_CELL = rawfiles._a("r1", rawfiles.MSISDNS[0], "15/01/2024 10:00:00", cell="")
A_ABROAD = ";".join([*A_NO_CELL.split(";")[:5], "", "208", "01", ""])
B_NO_CELL = json.dumps({k: v for k, v in json.loads(B_OK).items() if k != "cell"})
B_ABROAD = json.dumps({**json.loads(B_NO_CELL), "plmn": "20801"})
BAD_BYTE = "\udcff"  # written as the single byte 0xff: not UTF-8

REASON_CASES = [
    # (case, profile, raw line, expected reason codes in check order)
    ("clean csv", "mno_a", A_OK, []),
    ("clean json", "mno_b", B_OK, []),
    ("clean full", "full", FULL_OK, []),
    ("outbound csv", "mno_a", A_ABROAD, []),
    ("outbound json", "mno_b", B_ABROAD, []),
    ("outbound, visited plmn", "plmn", A_NO_CELL + ";20801", []),
    ("no cell, home network", "mno_a", A_NO_CELL, [S.NULL_MANDATORY]),
    ("no cell json, home plmn", "mno_b", B_NO_CELL, [S.NULL_MANDATORY]),
    ("plmn not mcc+mnc", "plmn", A_OK + ";20801", [S.BAD_MCC_MNC]),
    ("null msisdn", "mno_a", A_OK.replace(rawfiles.MSISDNS[0], ""), [S.NULL_MANDATORY]),
    ("null imsi", "mno_b", rawfiles._b("r1", None, rawfiles.T0), [S.NULL_MANDATORY]),
    ("iso time", "mno_a", A_OK.replace("15/01/2024", "2024-01-15"), [S.BAD_TIMESTAMP]),
    ("epoch a word", "mno_b", rawfiles._b("r1", rawfiles.IMSIS[0], "soon"), [S.BAD_TIMESTAMP]),
    ("next local day", "mno_a", A_OK.replace("15/01/2024", "16/01/2024"), [S.OUT_OF_DAY]),
    ("extra field", "mno_a", A_OK + ";x", [S.MALFORMED_ROW]),
    ("cut json", "mno_b", B_OK[:-2], [S.MALFORMED_ROW]),
    ("byte 0xff", "mno_a", A_OK.replace("call", "c" + BAD_BYTE + "all"), [S.INVALID_ENCODING]),
    ("mcc of 4 digits", "mno_a", A_OK.replace(";214;", ";2140;"), [S.BAD_MCC_MNC]),
    ("plmn of 4 digits", "mno_b", B_OK.replace('"21407"', '"2140"'), [S.BAD_MCC_MNC]),
    ("cell off pattern", "full", FULL_OK.replace("214-07-100-1", "cell-1"), [S.BAD_CELL_ID]),
    ("latitude 91", "full", FULL_OK.replace(";40.4;", ";91;"), [S.BAD_COORDINATES]),
    ("negative ta", "mno_a", rawfiles._a("r1", rawfiles.MSISDNS[0], "15/01/2024 10:00:00", ta="-1"),
     [S.BAD_VALUE]),
    ("unknown rat", "mno_a", A_OK.replace(";4G;", ";6G;"), [S.BAD_VALUE]),
    # several checks fail: every code, in check order; a structural fault hides the others
    ("null msisdn, bad mcc", "mno_a",
     A_OK.replace(rawfiles.MSISDNS[0], "").replace(";214;", ";2140;"),
     [S.NULL_MANDATORY, S.BAD_MCC_MNC]),
    ("extra field, bad mcc", "mno_a", A_OK.replace(";214;", ";2140;") + ";x", [S.MALFORMED_ROW]),
]  # fmt: skip


@pytest.fixture(scope="module")
def reason_codes(spark, test_config):
    """``case -> reason_codes`` for every row of the table, validated in one Spark job."""
    tolerance = test_config.ingest.timestamp_tolerance_s
    out = None
    for name, spec in PROFILES.items():
        lines = [(case, line) for case, p, line, _ in REASON_CASES if p == name]
        raw = spark.createDataFrame(
            [
                (case, bytearray(line.encode("utf-8", errors="surrogateescape")))
                for case, line in lines
            ],
            "case string, line binary",
        ).select("case", F.col("line").cast("string").alias("_raw"))
        codes = (
            raw.transform(with_raw_columns, spec=spec)
            .transform(with_event_columns, spec=spec, date=DAY, tolerance_s=tolerance, home_mcc=214)
            .select("case", "reason_codes")
        )
        out = codes if out is None else out.unionByName(codes)
    return {r["case"]: r["reason_codes"] for r in out.collect()}


@pytest.mark.parametrize(
    ("case", "profile", "line", "expected"), REASON_CASES, ids=[c[0] for c in REASON_CASES]
)
def test_reason_codes_of_the_smallest_faulty_record(reason_codes, case, profile, line, expected):
    assert reason_codes[case] == expected, (profile, line)


def test_reason_code_table_covers_every_code_validation_can_give():
    in_table = {code for *_, expected in REASON_CASES for code in expected}
    assert in_table == set(S.EVENT_REASONS)
    # a code the validation uses but EVENT_REASONS (and so the table) forgot also fails
    source = Path(validate.__file__).read_text()
    used = {getattr(S, name) for name in re.findall(r"\bS\.([A-Z_]+)\b", source)}
    assert used == set(S.EVENT_REASONS)
    assert len({c[0] for c in REASON_CASES}) == len(REASON_CASES)
