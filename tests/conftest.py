"""Test fixtures: the environment of CLI subprocesses, the tiny synthetic world and the demo
chain on it (the session and its profile, shared with the docstring examples, are in the root
conftest.py). A test that needs the synthetic world is marked slow."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

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
def tiny_world(spark, tmp_path_factory):
    """The synthetic world of ``conf/synth/tiny.toml`` (seed 42), generated once per test run
    by the command line's entry point (``rmf synth --profile tiny``, run in this process so
    that it uses the test session rather than starting a JVM of its own); returns the output
    directory (raw/, reference/, truth/, synth_manifest.json; see docs/synthetic-world.md)."""
    from rmf_spark.cli import main

    out = tmp_path_factory.mktemp("tiny_world")
    assert main(["synth", "--profile", "tiny", "--out", str(out)]) == 0
    return out


class Demo(NamedTuple):
    """The demo chain run once on the tiny world: its output directory, the summary it
    returned, the profile it ran with (its lake is ``out/lake``) and the days it processed."""

    out: Path
    summary: dict[str, Any]
    cfg: Any  # rmf_spark.config.RmfConfig
    days: list[dt.date]


def _run_tiny_demo(test_config, tiny_world, tmp_path_factory, *, device_days: int) -> Demo:
    from rmf_spark.demo import demo_config, run_demo
    from rmf_spark.synth.profile import load_profile

    out = tmp_path_factory.mktemp("demo")
    overrides = {
        "spark.master": test_config.spark.master,
        "spark.shuffle_partitions": test_config.spark.shuffle_partitions,
    }
    profile = load_profile("tiny", overrides={"n_days": 1})
    summary = run_demo(
        profile,
        out,
        overrides=overrides,
        world_dir=tiny_world,
        device_days=device_days,
        mnos_at_once=2,  # the tiny world's stages wait on job latency: 207 s -> 164 s
        echo=lambda _: None,
    )
    cfg = demo_config(None, overrides, out.resolve(), [m.mno_id for m in profile.mnos])
    return Demo(out, summary, cfg, [profile.start_date])


@pytest.fixture(scope="session")
def tiny_demo(spark, test_config, tiny_world, tmp_path_factory) -> Demo:
    """``run_demo`` on the tiny world's first day (every MNO, in the test session) without the
    device stage, once per test run: the end-to-end test checks its summary, the D- and
    C-layer acceptance tests read its lake instead of loading the world again. A second day
    would double the time; what it adds is tested on its own: a time point uses its own date's
    probabilities (tests/slayer/test_present_population.py), a rerun reuses the footprints
    (tests/clayer/test_runner_multimno.py)."""
    return _run_tiny_demo(test_config, tiny_world, tmp_path_factory, device_days=0)


@pytest.fixture(scope="session")
def tiny_demo_device(spark, test_config, tiny_world, tmp_path_factory) -> Demo:
    """The same demo with the device stage and the ``hmm`` estimator on its day. It is a run of
    its own (the whole chain again, then the device stage: about 17 minutes on 2 cores), so
    its tests are ``integration`` (`make test-integration`), where ``tiny_demo`` is not built."""
    return _run_tiny_demo(test_config, tiny_world, tmp_path_factory, device_days=1)


def pytest_collection_modifyitems(config, items):
    """Every test that needs the synthetic world (directly or through the demo) is slow, so
    ``-m "not slow"`` never generates it; every test of the demo with the device stage
    (``tiny_demo_device``) is ``integration``: `make test-integration` runs them; every test
    of the killed-and-rerun chain (``clean_run``, tests/reliability) is ``reliability``:
    `make test-reliability` runs them."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "tiny_world" in names:
            item.add_marker(pytest.mark.slow)
        if "tiny_demo_device" in names:
            item.add_marker(pytest.mark.integration)
        if "clean_run" in names:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.slow)
