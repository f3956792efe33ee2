"""The table catalog: declared once, listed in docs/tables.md, URI-safe paths."""

from __future__ import annotations

import re

import pytest

from rmf_spark import tables
from rmf_spark.config import RmfConfig
from rmf_spark.uris import absolute, is_uri, uri_join
from tests.conftest import ROOT


def _doc_row(spec: tables.TableSpec) -> str:
    replaces = {
        "overwrite": "whole table",
        "replace": "rows of " + ", ".join(spec.keys),
        "insert": "adds new " + ", ".join(spec.keys),
    }[spec.write_mode]
    per = "shared" if spec.shared else "MNO"
    parts = ", ".join(spec.partition_by) or "-"
    return f"| `{spec.id}` | {per} | {parts} | {replaces} | `{spec.written_by}` |"


def test_docs_tables_lists_exactly_the_catalog():
    text = (ROOT / "docs" / "tables.md").read_text(encoding="utf-8")
    section = text.split("## 0. The catalog", 1)[1].split("\n## ", 1)[0]
    documented = {line.strip() for line in section.splitlines() if line.startswith("| `")}
    declared = {_doc_row(s) for s in tables.CATALOG.values()}
    assert documented - declared == set(), "in docs/tables.md, not (so) in the catalog"
    assert declared - documented == set(), "in the catalog, not (so) in docs/tables.md"


def test_catalog_keys_and_partitions_are_columns_of_the_schema():
    for spec in tables.CATALOG.values():
        names = set(spec.schema.names)
        assert set(spec.keys) <= names, spec.id
        assert set(spec.partition_by) <= names, spec.id
        assert (spec.write_mode == "overwrite") == (not spec.keys), spec.id
    ids = [s.id for s in tables.CATALOG.values()]
    assert len(ids) == len(set(ids))


def test_runners_resolve_lake_paths_only_through_the_catalog():
    pattern = re.compile(r"\btable_path\(")
    runners = [
        "rmf_spark/dlayer/runner.py",
        "rmf_spark/clayer/runner.py",
        "rmf_spark/slayer/present_population/runner.py",
        "rmf_spark/slayer/inputs.py",
        "rmf_spark/release/runner.py",
        "rmf_spark/evaluate/runner.py",
        "rmf_spark/demo.py",
        "bench/pipeline.py",
    ]
    for path in runners:
        assert not pattern.search((ROOT / path).read_text(encoding="utf-8")), path


@pytest.mark.parametrize(
    "root", ["s3a://bucket/lake", "s3a://bucket/lake/", "hdfs://nn:8020/rmf", "file:///tmp/l"]
)
def test_catalog_paths_keep_the_uri_of_the_lake_root(root):
    cfg = RmfConfig.model_validate({"lake": {"root": root}})
    base = root.rstrip("/")
    for spec in tables.CATALOG.values():
        where = "shared" if spec.shared else "mno_a"
        assert spec.path(cfg, mno="mno_a") == f"{base}/{where}/{spec.layer}/{spec.name}"
    assert tables.exports_root(cfg, mno="mno_a") == f"{base}/mno_a/release/exports"


def test_reference_tables_follow_the_reference_dir():
    cfg = RmfConfig.model_validate(
        {"lake": {"root": "/lake"}, "convergence": {"reference_dir": "s3a://b/world/reference/"}}
    )
    assert tables.ZONES.path(cfg) == "s3a://b/world/reference/zones"
    assert tables.GRID.path(cfg) == "/lake/shared/clayer/grid"


def test_uri_join_never_collapses_the_scheme():
    assert uri_join("s3a://bucket/x", "y", "z.json") == "s3a://bucket/x/y/z.json"
    assert uri_join("abfss://c@acct.dfs.core.windows.net/", "lake") == (
        "abfss://c@acct.dfs.core.windows.net/lake"
    )
    assert uri_join("/", "tmp") == "/tmp" and uri_join("rel/dir", "f") == "rel/dir/f"
    assert uri_join("s3a://bucket/x") == "s3a://bucket/x"
    assert is_uri("file:/tmp/x") and not is_uri("/tmp/x") and not is_uri("C:/x")
    assert absolute("s3a://b/x") == "s3a://b/x" and absolute("x").startswith("/")


def test_per_mno_table_needs_an_mno_and_replace_needs_its_keys(spark, test_config):
    with pytest.raises(ValueError, match="per MNO"):
        tables.EVENTS.path(test_config)
    df = spark.createDataFrame([], tables.PRESENT_POPULATION.schema)
    with pytest.raises(ValueError, match="must select its keys"):
        tables.PRESENT_POPULATION.write(df, test_config, mno="m", replace_where="date = 1")
    with pytest.raises(ValueError, match="no replace_where"):
        tables.GRID.write(df, test_config, replace_where="time_point > 0")


def test_require_names_the_table_and_the_command(spark, test_config):
    from rmf_spark.errors import InputDataError

    with pytest.raises(InputDataError) as err:
        tables.require(spark, test_config, [tables.CELL_VERSION], mno="nobody")
    assert err.value.code == "INPUT_TABLE_MISSING"
    assert "clayer/cell_version" in str(err.value) and "rmf convergence" in str(err.value)


def test_a_table_written_by_an_earlier_version_is_a_clear_error(spark, test_config, tmp_path):
    import datetime as dt

    from rmf_spark.errors import SchemaMismatchError

    cfg = test_config.model_copy(
        update={"lake": test_config.lake.model_copy(update={"root": str(tmp_path)})}
    )
    old = "device_id string, time_point timestamp, tile_id long, probability double, "
    old += "date date, device_bucket int"
    day = dt.date(2024, 1, 1)
    moment = dt.datetime(2024, 1, 1)
    spec = tables.LOCATION_POSTERIOR
    spec.write(
        spark.createDataFrame([("d", moment, 1, 1.0, day, 0)], old),
        cfg,
        mno="m",
        replace_where="date = DATE'2024-01-01'",
    )
    new = spark.createDataFrame([("d", moment, [1], [1.0], day, 0)], spec.schema)
    with pytest.raises(SchemaMismatchError) as err:
        spec.write(new, cfg, mno="m", replace_where="date = DATE'2024-01-01'")
    message = str(err.value)
    assert "slayer/location_posterior" in message and "tile_ids" in message
    assert "probability:double" in message and "rmf statistics device" in message


def test_unknown_product_is_a_clear_error():
    from rmf_spark.errors import RmfError

    with pytest.raises(RmfError) as err:
        tables.product("usual_environment")
    assert err.value.code == "UNKNOWN_PRODUCT" and "present_population" in str(err.value)
