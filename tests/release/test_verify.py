"""Provenance of a release: the manifest's hashes, the method card, and ``rmf verify`` (PASS on an
untouched release, FAIL naming a changed source file, config key or output file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import get_args

import pytest

import rmf_spark
from rmf_spark import tables
from rmf_spark.cli import main
from rmf_spark.config import load_config
from rmf_spark.errors import RmfError
from rmf_spark.release import method_card
from rmf_spark.release.manifest import (
    REDACTED,
    build_manifest,
    config_hash,
    effective_config,
    file_sha256,
    files_digest,
    output_checksums,
    package_digest,
)
from rmf_spark.release.settings import ReleaseSettings
from rmf_spark.release.verify import check_config, read_manifest, verify_release
from tests.release.test_runner import released  # noqa: F401  (the release on tiny data)

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "conf" / "local.toml"
PACKAGE = Path(rmf_spark.__file__).resolve().parent


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


# --- hashing -------------------------------------------------------------------------------

FILES = {"a.py": b"x = 1\n", "sub/b.py": b"y = 2\n", "sub/data.toml": b"k = 3\n"}


def test_package_digest_independent_of_creation_order_and_mtime(tmp_path):
    one = _tree(tmp_path / "one", FILES)
    two = _tree(tmp_path / "two", dict(reversed(FILES.items())))
    os.utime(two / "a.py", (1_000_000, 1_000_000))
    d1, d2 = package_digest(one), package_digest(two)
    assert d1 == d2
    assert list(d1["files"]) == sorted(FILES)
    assert d1["files"]["sub/b.py"] == file_sha256(one / "sub" / "b.py")


def test_package_digest_ignores_byte_code_and_hidden_files(tmp_path):
    before = package_digest(_tree(tmp_path, FILES))
    _tree(
        tmp_path,
        {
            "__pycache__/a.cpython-311.pyc": b"\x00",
            "sub/__pycache__/b.cpython-311.pyc": b"\x01",
            "sub/stale.pyc": b"\x02",
            ".b.py.swp": b"\x03",
        },
    )
    assert package_digest(tmp_path) == before


def test_package_digest_changes_with_content_and_with_path(tmp_path):
    base = package_digest(_tree(tmp_path / "base", FILES))
    edited = package_digest(_tree(tmp_path / "edited", {**FILES, "a.py": b"x = 2\n"}))
    moved = {"c.py" if k == "a.py" else k: v for k, v in FILES.items()}
    renamed = package_digest(_tree(tmp_path / "renamed", moved))
    assert len({base["sha256"], edited["sha256"], renamed["sha256"]}) == 3


def test_files_digest_is_sha256sum_of_the_sorted_listing(tmp_path):
    # the shell command docs/provenance.md gives a partner, on a tree with a byte-code dir
    root = _tree(tmp_path, {**FILES, "__pycache__/a.pyc": b"\x00"})
    shell = (
        "find . -type f -not -path '*/__pycache__/*' -not -path '*/.*' -not -name '*.pyc' "
        "| sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum"
    )
    out = subprocess.run(shell, shell=True, cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == package_digest(root)["sha256"]
    assert (
        files_digest(dict(reversed(package_digest(root)["files"].items())))
        == (package_digest(root)["sha256"])
    )


def test_effective_config_excludes_secrets_and_they_do_not_change_the_hash():
    def profile(secret: str, k: float = 15):
        return load_config(
            LOCAL,
            overrides={
                "spark.conf": {"spark.hadoop.fs.s3a.secret.key": secret, "spark.ui.port": 4041},
                "lake.root": f"s3a://user:{secret}@bucket/lake",
                "release.k": k,
            },
        )

    tree, redacted = effective_config(profile("hunter2"))
    assert "hunter2" not in json.dumps(tree)
    assert tree["spark"]["conf"] == {
        "spark.hadoop.fs.s3a.secret.key": REDACTED,
        "spark.ui.port": 4041,
    }
    assert tree["lake"]["root"] == f"s3a://{REDACTED}@bucket/lake"
    assert redacted == ["lake.root", "spark.conf.spark.hadoop.fs.s3a.secret.key"]
    assert tree["ingest"]["key_env"] == "RMF_PSEUDONYM_KEY"  # a variable's name, kept
    assert config_hash(profile("hunter2")) == config_hash(profile("swordfish"))
    assert config_hash(profile("hunter2")) != config_hash(profile("hunter2", k=10))


def test_output_checksums_of_a_file_uri_and_not_of_a_remote_store(tmp_path):
    _tree(tmp_path, {"p.csv/part-0.csv": b"a\n1\n", "p.csv/_SUCCESS": b"", "manifest.json": b"{}"})
    (tmp_path / "p.csv" / ".part-0.csv.crc").write_bytes(b"c")
    local = output_checksums(f"file://{tmp_path}")["output_checksums"]
    assert local == {"p.csv/part-0.csv": file_sha256(tmp_path / "p.csv" / "part-0.csv")}
    assert output_checksums(str(tmp_path)) == {"output_checksums": local}
    remote = output_checksums("s3a://bucket/release/x")
    assert remote["output_checksums"] is None
    assert "s3a://bucket/release/x" in remote["output_checksums_skipped"]


# --- the method card -----------------------------------------------------------------------


def test_every_product_and_estimator_has_a_method_card():
    assert set(tables.PRODUCTS) <= set(method_card.METHODS)
    choices = get_args(ReleaseSettings.model_fields["method"].annotation)
    assert set(method_card.METHODS["present_population"]) == set(choices)
    for product in tables.PRODUCTS:
        for method in method_card.METHODS[product].values():
            for source in method.sources:
                doc, _, path = method_card.source_docstring(source)
                summary, body = method_card.docstring_markdown(doc)
                assert summary and body and path.resolve().is_relative_to(PACKAGE), source


# --- rmf verify ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release_dir(released):  # noqa: F811
    return Path(released["out"])


@pytest.fixture
def release_copy(release_dir, tmp_path):
    """A copy of the release to tamper with (the module's release stays untouched)."""
    return Path(shutil.copytree(release_dir, tmp_path / "release"))


def test_manifest_records_code_config_versions_and_every_output(release_dir):
    man = json.loads((release_dir / "manifest.json").read_text())
    assert man["code"]["sha256"] == package_digest()["sha256"]
    assert "release/verify.py" in man["code"]["files"]
    assert man["config"]["hash"] == man["config_hash"]
    assert man["config"]["effective"]["release"]["k"] == 15
    assert man["config"]["compared"]["sections"] == [
        "ingest",
        "convergence",
        "present_population",
        "release",
    ]
    assert {"python", "pyspark", "spark", "sedona_jar", "delta_jar", "java"} <= set(man["versions"])
    files = sorted(
        p.relative_to(release_dir).as_posix()
        for p in release_dir.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and p.name != "manifest.json"
    )
    assert sorted(man["output_checksums"]) == files
    assert "METHOD.md" in files
    assert any(f.startswith("present_population.csv/") for f in files)
    assert any(f.startswith("present_population.geoparquet/") for f in files)
    for rel, digest in man["output_checksums"].items():
        assert file_sha256(release_dir / rel) == digest


def test_method_card_has_the_estimators_formula_and_the_parameters(release_dir):
    card = (release_dir / "METHOD.md").read_text()
    man = json.loads((release_dir / "manifest.json").read_text())
    assert "u_j <- u_j * sum_i c_i p_ij / sum_k p_ik u_k" in card  # em.py's docstring
    assert "| `k` | `15.0` |" in card
    assert "| `tolerance_s` | `43200` |" in card
    assert man["code"]["sha256"] in card and man["config"]["hash"] in card
    assert man["code"]["files"]["slayer/present_population/em.py"] in card
    assert "[device]" not in card  # the em estimator is not shaped by the device stage


def test_verify_passes_on_an_untouched_release(release_dir, capsys):
    code = main(["verify", str(release_dir), "--config", str(LOCAL)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "PASS"
    # the test profile's lake and Spark settings differ from conf/local.toml: noted, not failed
    assert "lake.root" in out and "spark.master" in out


def test_verify_names_a_changed_source_file(release_dir, test_config, tmp_path):
    copy = Path(
        shutil.copytree(
            PACKAGE, tmp_path / "rmf_spark", ignore=shutil.ignore_patterns("__pycache__")
        )
    )
    same = verify_release(release_dir, test_config, package_root=copy)
    assert same.checks[0].status == "PASS"
    with (copy / "release" / "disclosure.py").open("a") as f:
        f.write("# k = 1\n")
    (copy / "release" / "extra.py").write_text("x = 1\n")
    (copy / "py.typed").unlink()
    result = verify_release(release_dir, test_config, package_root=copy)
    assert result.status == "FAIL" and result.exit_code == 1
    code = result.checks[0]
    assert code.name == "code" and code.status == "FAIL"
    assert "rmf_spark/release/disclosure.py: modified" in code.differences
    assert "rmf_spark/py.typed: missing" in code.differences
    assert any(d.startswith("rmf_spark/release/extra.py: added") for d in code.differences)
    assert [c.status for c in result.checks[1:]] == ["PASS", "PASS"]


def test_verify_names_a_changed_config_key(release_dir, capsys):
    argv = ["verify", str(release_dir), "--config", str(LOCAL), "--set", "release.k=10"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "release.k: released with 15.0, the profile has 10.0" in out
    assert out.strip().splitlines()[-1] == "FAIL"
    # a key of a stage that did not shape this product is no failure
    argv = ["verify", str(release_dir), "--config", str(LOCAL), "--set", "mobility.min_stay_s=60"]
    assert main(argv) == 0
    assert "mobility.min_stay_s" in capsys.readouterr().out


def test_verify_names_a_modified_missing_or_added_output_file(release_copy, test_config):
    man = json.loads((release_copy / "manifest.json").read_text())
    csv = next(r for r in man["output_checksums"] if r.endswith(".csv"))
    geo = next(r for r in man["output_checksums"] if r.endswith(".parquet"))
    with (release_copy / csv).open("a") as f:
        f.write("2024-03-05 08:00:00,100m,x,1,1,1\n")
    (release_copy / geo).unlink()
    (release_copy / "present_population.csv" / "part-extra.csv").write_text("a\n")
    result = verify_release(release_copy, test_config)
    outputs = result.checks[2]
    assert result.status == "FAIL" and outputs.status == "FAIL"
    assert set(outputs.differences) == {
        f"{csv}: modified",
        f"{geo}: missing",
        "present_population.csv/part-extra.csv: added (not in the release)",
    }
    assert [c.status for c in result.checks[:2]] == ["PASS", "PASS"]


def test_verify_of_an_edited_method_card_fails(release_copy, test_config):
    (release_copy / "METHOD.md").write_text("# Method card: anything\n")
    assert verify_release(release_copy, test_config).checks[2].differences == (
        "METHOD.md: modified",
    )


def test_verify_is_incomplete_when_checksums_were_not_computed(release_copy, test_config):
    path = release_copy / "manifest.json"
    man = json.loads(path.read_text())
    man.update(output_checksums("s3a://bucket/x"))
    path.write_text(json.dumps(man))
    result = verify_release(release_copy, test_config)
    assert (result.status, result.exit_code) == ("INCOMPLETE", 3)
    assert "not on the local file system" in result.render()


def test_verify_without_a_manifest_is_a_clear_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path), "--config", str(LOCAL)]) == 2
    err = capsys.readouterr().err
    assert "RELEASE_MANIFEST_MISSING" in err and str(tmp_path) in err
    assert "Traceback" not in err
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RmfError) as bad:
        read_manifest(tmp_path)
    assert bad.value.code == "RELEASE_MANIFEST_INVALID"
    with pytest.raises(RmfError) as remote:
        read_manifest("s3a://bucket/release")
    assert remote.value.code == "RELEASE_NOT_LOCAL"


def test_the_demo_profile_verifies_against_the_default_one_for_present_population(tmp_path):
    # rmf demo's overrides are paths and other stages' settings: the default profile verifies
    # its present-population release; a residents release depends on the time zone it sets
    from rmf_spark.demo import demo_config
    from rmf_spark.synth.profile import load_profile

    world = load_profile("small")
    zone = {f"{s}.time_zone": world.time_zone for s in ("usual_environment", "mobility")}
    demo = demo_config(LOCAL, zone, tmp_path, world.mnos)
    start = datetime(2024, 1, 19)

    def check(product: str):
        manifest = build_manifest(
            cfg=demo, mno="mno_a", table=product, start=start, end=start, inputs={},
            outputs={}, counts={},
        )  # fmt: skip
        return check_config(manifest, load_config(LOCAL))

    same, notes = check("present_population")
    assert same.status == "PASS", same.differences
    assert "lake.root" in notes[0] and "mobility.time_zone" in notes[0]
    differs, _ = check("residents")
    assert differs.status == "FAIL"
    assert 'usual_environment.time_zone: released with "Europe/Madrid", the profile has "UTC"' in (
        differs.differences
    )
