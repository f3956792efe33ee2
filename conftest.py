"""Fixtures shared by the tests (tests/) and the docstring examples (rmf_spark/): one
SparkSession for the whole run, small and explicit, started only when something needs it."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def test_overrides(tmp_path_factory):
    """The overrides that shrink the local profile for tests: 2 cores, 2 shuffle partitions,
    no UI, the run's own lake and warehouse."""
    return {
        "spark.master": "local[2]",
        "spark.shuffle_partitions": 2,
        "spark.ui_enabled": False,
        "spark.driver_memory": "3g",
        "spark.conf": {
            "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse")),
            "spark.default.parallelism": "2",
            "spark.ui.showConsoleProgress": "false",
        },
        "lake.root": str(tmp_path_factory.mktemp("lake")),
    }


@pytest.fixture(scope="session")
def test_config(test_overrides):
    """The local profile, shrunk for tests (:func:`test_overrides`)."""
    from rmf_spark.config import load_config

    return load_config(ROOT / "conf" / "local.toml", overrides=test_overrides)


@pytest.fixture(scope="session")
def spark(test_config):
    """The one SparkSession of the test run (Sedona + Delta, local[2])."""
    from rmf_spark.session import get_spark

    session = get_spark(test_config)
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _spark_for_docstring_examples(request, doctest_namespace):
    """A docstring example that uses ``spark`` finds the test run's session under that name;
    the others run without Spark."""
    test = getattr(request.node, "dtest", None)  # set on doctest items only
    if test is not None and any(_uses_spark(e.source) for e in test.examples):
        doctest_namespace["spark"] = request.getfixturevalue("spark")


def _uses_spark(source: str) -> bool:
    """Whether example code names ``spark`` (not in a string, nor in ``rmf_spark``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Name) and n.id == "spark" for n in ast.walk(tree))


def pytest_collection_modifyitems(config, items):
    """Docstring examples are the package's (rmf_spark/): a ``>>>`` in a test's docstring is
    prose, not a test."""
    package = ROOT / "rmf_spark"
    items[:] = [i for i in items if not hasattr(i, "dtest") or package in i.path.parents]
