"""Every stage killed after each of its writes, then rerun: the rerun must leave the tables
(and release files) of a clean run, compared by order-independent checksums.

The clean run (``conftest.py``) copies the lake after each write it makes: the state a kill at
that point leaves on disk (a Delta commit is atomic, so a kill during a write leaves the state
before it; a kill ends the process, so nothing but the disk survives). Each copy is rerun. The
last copy is the finished stage: its rerun checks that a stage run twice gives the same tables.
"""

from __future__ import annotations

import pytest

from tests.reliability import chain
from tests.reliability.checksums import table_checksum
from tests.reliability.conftest import TEST_KEY


@pytest.mark.parametrize("stage", list(chain.OUTPUTS))
def test_stage_killed_after_any_write_is_completed_by_its_rerun(
    spark, test_config, clean_run, stage, monkeypatch
):
    monkeypatch.setenv(chain.KEY_ENV, TEST_KEY)
    expected = clean_run.tables[stage]
    assert all(v is not None for v in expected.values()), expected  # the clean run wrote all
    killed = clean_run.killed[stage]
    assert len(killed) >= len(chain.OUTPUTS[stage])
    step = chain.stages(spark)[stage]
    for k, lake_dir in enumerate(killed, start=1):
        cfg = chain.chain_config(test_config, lake_root=lake_dir.as_uri(), inputs=clean_run.inputs)
        step(cfg)
        assert chain.snapshot(spark, cfg, stage) == expected, f"{stage} killed after {k} writes"


def test_table_checksum_sees_a_row_written_twice_not_the_order(spark):
    rows = [(1, "a", 0.1 + 0.2, {"x": 1}), (2, "b", 0.3, {"y": 2, "z": 3})]
    schema = "id int, s string, v double, m map<string, int>"
    base = table_checksum(spark.createDataFrame(rows, schema))
    assert table_checksum(spark.createDataFrame(rows[::-1], schema).repartition(2)) == base
    doubled = table_checksum(spark.createDataFrame([*rows, rows[0]], schema))
    assert doubled[0] == 3 and doubled != base
    changed = table_checksum(spark.createDataFrame([(1, "a", 0.31, {"x": 1}), rows[1]], schema))
    assert changed[0] == 2 and changed != base
