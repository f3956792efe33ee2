"""D-layer fixtures: raw files in tmp dirs, a profile per test, a pseudonymisation key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import MULTIMNO_SAMPLE, ROOT
from tests.dlayer import rawfiles

TEST_KEY = "test-master-key-0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key():
    """The master key, in the environment variable the profile names."""
    old = os.environ.get("RMF_TEST_PSEUDONYM_KEY")
    os.environ["RMF_TEST_PSEUDONYM_KEY"] = TEST_KEY
    yield TEST_KEY
    if old is None:
        os.environ.pop("RMF_TEST_PSEUDONYM_KEY", None)


def make_config(test_config, lake: Path, raw: Path, **ingest):
    """A profile like the session's, with its own lake and the three MNOs under ``raw``."""
    from rmf_spark.config import load_config

    spark = test_config.spark.model_dump()
    return load_config(
        ROOT / "conf" / "local.toml",
        overrides={
            **{f"spark.{k}": v for k, v in spark.items()},
            "lake.root": str(lake),
            "ingest.key_env": "RMF_TEST_PSEUDONYM_KEY",
            "ingest.n_device_buckets": 4,
            "ingest.mno": {
                "mno_a": {"raw_dir": str(raw / "mno_a"), "profile": "inputs/mno_a.toml"},
                "mno_b": {"raw_dir": str(raw / "mno_b"), "profile": "inputs/mno_b.toml"},
                "multimno": {"raw_dir": str(MULTIMNO_SAMPLE), "profile": "inputs/multimno.toml"},
            },
            **{f"ingest.{k}": v for k, v in ingest.items()},
        },
    )


@pytest.fixture
def raw_dir(tmp_path):
    """Raw files of mno_a and mno_b (every fault kind) under ``tmp_path/raw``."""
    raw = tmp_path / "raw"
    rawfiles.write_mno_a(raw / "mno_a")
    rawfiles.write_mno_b(raw / "mno_b")
    return raw


@pytest.fixture
def cfg(test_config, tmp_path, raw_dir):
    """A profile with a fresh lake and the handmade raw files."""
    return make_config(test_config, tmp_path / "lake", raw_dir)
