"""Test fixtures: the environment of CLI subprocesses and the tiny synthetic world (the
session and its profile, shared with the docstring examples, are in the root conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A subset of the MultiMNO sample bronze data (EUPL-1.2), shipped so a clone anywhere can test.
MULTIMNO_SAMPLE = ROOT / "tests" / "fixtures" / "multimno-sample"


@pytest.fixture(scope="session")
def cli_env():
    """Environment for subprocesses that run the CLI or spark-submit."""
    env = dict(os.environ)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env["PYSPARK_PYTHON"] = sys.executable
    env.pop("PYSPARK_GATEWAY_PORT", None)
    env.pop("PYSPARK_GATEWAY_SECRET", None)
    return env


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory, cli_env):
    """The synthetic world of ``conf/synth/tiny.toml`` (seed 42), generated once per test run
    with ``rmf synth --profile tiny`` in a subprocess; returns the output directory (raw/,
    reference/, truth/, synth_manifest.json; see docs/synthetic-world.md)."""
    import subprocess

    out = tmp_path_factory.mktemp("tiny_world")
    cmd = [
        str(Path(sys.executable).parent / "rmf"), "synth", "--profile", "tiny", "--out", str(out),
        "--set", "spark.master=local[2]", "--set", "spark.shuffle_partitions=2",
        "--set", "spark.ui_enabled=false", "--set", "spark.driver_memory=2g",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=cli_env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return out
