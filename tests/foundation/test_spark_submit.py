from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.subprocess_result import run_for_result

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.cluster
def test_spark_submit_keeps_the_command_line_master_and_runs_in_separate_executors(
    tmp_path, cli_env
):
    """One spark-submit run: the profile says local[*], the command line a local cluster (a
    driver and two executor JVMs) and must win; the spatial join, the Delta write and the
    pandas UDF run in the executors."""
    env = {**cli_env, "SPARK_SUBMIT_ARGS": "--master local-cluster[2,1,1024] --driver-memory 1g"}
    result = run_for_result(
        [str(ROOT / "spark-submit.sh"), "selfcheck_distributed", "--out", str(tmp_path)],
        env=env,
        timeout=420,
    )
    assert result["master"] == "local-cluster[2,1,1024]"
    assert result["block_managers"] == 3  # the driver and two executor JVMs
    assert result["ok"], result
    assert (tmp_path / "selfcheck_counts" / "_delta_log").is_dir()


def test_spark_submit_unknown_job_is_a_clear_error(cli_env):
    out = subprocess.run(
        [str(ROOT / "spark-submit.sh"), "no_such_job"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2
    assert "no job 'no_such_job'" in out.stderr
