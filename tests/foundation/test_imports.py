"""Every module of the package imports without starting Spark (the docstring examples are
collected by importing them all, and executors import the package to unpickle a UDF)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import importlib, pkgutil, rmf_spark
from pyspark import SparkContext
names = [m.name for m in pkgutil.walk_packages(rmf_spark.__path__, "rmf_spark.")]
for name in names:
    importlib.import_module(name)
assert SparkContext._gateway is None and SparkContext._active_spark_context is None
print(len(names))
"""


def test_every_module_imports_without_a_jvm(cli_env):
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=cli_env, cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip()) > 60  # the whole package was walked
