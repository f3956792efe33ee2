"""The whole chain on a lake whose root (and inputs) are ``file://`` URIs: every table and the
release files are where the catalog says, on the local disk behind the URI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmf_spark import lake, tables
from tests.reliability import chain


@pytest.fixture(scope="module")
def uri_lake(spark, test_config, tmp_path_factory):
    """The chain run once on a ``file://`` lake root, with ``file://`` raw and reference dirs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(chain.KEY_ENV, "test-master-key-0123456789abcdef")
        tmp = tmp_path_factory.mktemp("uri_lake")
        inputs = {k: Path(v).as_uri() for k, v in chain.write_inputs(spark, tmp).items()}
        disk = tmp / "lake"
        cfg = chain.chain_config(test_config, lake_root=disk.as_uri(), inputs=inputs)
        results = {stage: step(cfg) for stage, step in chain.stages(spark).items()}
        yield {"cfg": cfg, "disk": disk, "results": results, "tmp": tmp}


def test_chain_on_a_file_uri_lake_puts_everything_where_the_catalog_says(spark, uri_lake):
    cfg, disk = uri_lake["cfg"], uri_lake["disk"]
    root = cfg.lake.root
    assert root.startswith("file:///")
    for stage, specs in chain.OUTPUTS.items():
        for spec in specs:
            path = spec.path(cfg, mno=chain.MNO)
            assert path.startswith(root + "/") and spec.exists(spark, cfg, mno=chain.MNO), path
            where = "shared" if spec.shared else chain.MNO
            assert (disk / where / spec.layer / spec.name / "_delta_log").is_dir(), stage

    manifest = uri_lake["results"]["release"]
    exports = tables.exports_root(cfg, mno=chain.MNO)
    assert manifest["manifest_path"].startswith(exports + "/")
    on_disk = Path(manifest["manifest_path"].removeprefix("file://"))
    assert on_disk.is_relative_to(disk / chain.MNO / "release" / "exports")
    written = json.loads(lake.read_text(spark, manifest["manifest_path"]))
    assert written == {k: v for k, v in manifest.items() if k != "manifest_path"}
    assert json.loads(on_disk.read_text()) == written
    csv = Path(manifest["outputs"]["csv"].removeprefix("file://"))
    assert len(list(csv.glob("*.csv"))) == 1 and on_disk.parent == csv.parent
    assert written["inputs"]["slayer/present_population"]["path"].startswith(root)
    assert written["rows"] > 0


def test_cli_release_with_a_uri_lake_and_a_plain_local_out_dir(spark, uri_lake):
    from rmf_spark.cli import main

    cfg = uri_lake["cfg"]
    out = uri_lake["tmp"] / "out"
    code = main(
        [
            "release", "--mno", chain.MNO, "--out", str(out),
            "--start", chain.START.isoformat(), "--end", chain.END.isoformat(),
            "--set", f"lake.root={cfg.lake.root}", "--set", "release.k=1",
        ]
    )  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == uri_lake["results"]["release"]["rows"]
    assert manifest["outputs"]["csv"] == str(out / "present_population.csv")
    assert len(list((out / "present_population.csv").glob("*.csv"))) == 1
