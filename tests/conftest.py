"""Shared test fixtures: one SparkSession for the whole run, small and explicit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

ROOT = Path(__file__).resolve().parent.parent
# A subset of the MultiMNO sample bronze data (EUPL-1.2), shipped so a clone anywhere can test.
MULTIMNO_SAMPLE = ROOT / "tests" / "fixtures" / "multimno-sample"


@pytest.fixture(scope="session")
def test_config(tmp_path_factory):
    """The local profile, shrunk for tests: 2 cores, 2 shuffle partitions, no UI."""
    from rmf_spark.config import load_config

    lake = tmp_path_factory.mktemp("lake")
    warehouse = tmp_path_factory.mktemp("warehouse")
    return load_config(
        ROOT / "conf" / "local.toml",
        overrides={
            "spark.master": "local[2]",
            "spark.shuffle_partitions": 2,
            "spark.ui_enabled": False,
            "spark.driver_memory": "3g",
            "spark.conf": {
                "spark.sql.warehouse.dir": str(warehouse),
                "spark.default.parallelism": "2",
                "spark.ui.showConsoleProgress": "false",
            },
            "lake.root": str(lake),
        },
    )


@pytest.fixture(scope="session")
def spark(test_config):
    """The one SparkSession of the test run (Sedona + Delta, local[2])."""
    from rmf_spark.session import get_spark

    session = get_spark(test_config)
    yield session
    session.stop()


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
