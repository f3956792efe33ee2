"""The whole chain on a lake whose root (and inputs) are ``file://`` URIs (``conftest.py``):
every table and the release files are where the catalog says, on the disk behind the URI."""

from __future__ import annotations

import json

from rmf_spark import lake, tables
from tests.reliability import chain


def test_chain_on_a_file_uri_lake_puts_everything_where_the_catalog_says(spark, clean_run):
    cfg, disk = clean_run.cfg, clean_run.disk
    root = cfg.lake.root
    assert root.startswith("file:///")
    for stage, specs in chain.OUTPUTS.items():
        for spec in specs:
            path = spec.path(cfg, mno=chain.MNO)
            assert path.startswith(root + "/") and spec.exists(spark, cfg, mno=chain.MNO), path
            where = "shared" if spec.shared else chain.MNO
            assert (disk / where / spec.layer / spec.name / "_delta_log").is_dir(), stage

    manifest = clean_run.results["release"]
    assert manifest["manifest_path"].startswith(tables.exports_root(cfg, mno=chain.MNO) + "/")
    on_disk = chain.local(manifest["manifest_path"])
    assert on_disk.is_relative_to(disk / chain.MNO / "release" / "exports")
    written = json.loads(lake.read_text(spark, manifest["manifest_path"]))
    assert written == {k: v for k, v in manifest.items() if k != "manifest_path"}
    assert json.loads(on_disk.read_text()) == written
    csv = chain.local(manifest["outputs"]["csv"])
    assert len(list(csv.glob("*.csv"))) == 1 and on_disk.parent == csv.parent
    assert written["inputs"]["slayer/present_population"]["path"].startswith(root)
    assert written["rows"] > 0


def test_cli_release_with_a_uri_lake_and_a_plain_local_out_dir(spark, clean_run, tmp_path):
    from rmf_spark.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "release", "--mno", chain.MNO, "--out", str(out),
            "--start", chain.START.isoformat(), "--end", chain.END.isoformat(),
            "--set", f"lake.root={clean_run.cfg.lake.root}", "--set", "release.k=1",
        ]
    )  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == clean_run.results["release"]["rows"]
    assert manifest["outputs"]["csv"] == str(out / "present_population.csv")
    assert len(list((out / "present_population.csv").glob("*.csv"))) == 1
