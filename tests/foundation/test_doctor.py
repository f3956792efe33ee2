from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rmf_spark.doctor import run_doctor, self_check

ROOT = Path(__file__).resolve().parents[2]


def test_self_check_passes_on_the_test_session(spark):
    results = self_check(spark)
    assert [name for name, *_ in results] == [
        "delta round trip",
        "sedona spatial join",
        "pandas UDF",
    ]
    assert all(ok for _, ok, _, _ in results), results


def test_run_doctor_reports_pass_with_versions(spark, test_config):
    lines: list[str] = []
    assert run_doctor(test_config, echo=lines.append) == 0
    text = "\n".join(lines)
    assert "sedona (jar)" in text and "delta (jar)" in text
    assert text.splitlines()[-1].startswith("PASS")


def test_doctor_without_jar_cache_fails_naming_missing_jars(tmp_path, cli_env):
    env = {**cli_env, "RMF_JARS_DIR": str(tmp_path / "empty")}
    out = subprocess.run(
        [sys.executable, "-m", "rmf_spark.cli", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 1
    assert "MISSING" in out.stdout
    assert "sedona-spark-shaded" in out.stdout
    assert "make jars" in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("FAIL")
