"""The chain of ``chain.py`` run once for the package, on a ``file://`` lake root with
``file://`` raw and reference directories, the lake copied after every write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import chain

TEST_KEY = "test-master-key-0123456789abcdef"


@dataclass
class CleanRun:
    cfg: Any  # the profile of the clean lake
    disk: Path  # the local directory behind its file:// root
    inputs: dict[str, str]  # raw and reference directories (file:// URIs)
    results: dict[str, Any]  # what each stage returned
    killed: dict[str, list[Path]]  # per stage, the lake after each of its writes
    tables: dict[str, dict[str, Any]]  # per stage, the checksums after it


@pytest.fixture(scope="package")
def clean_run(spark, test_config, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(chain.KEY_ENV, TEST_KEY)
        root = tmp_path_factory.mktemp("chain")
        inputs = {k: Path(v).as_uri() for k, v in chain.write_inputs(spark, root).items()}
        disk = root / "clean"
        disk.mkdir()
        cfg = chain.chain_config(test_config, lake_root=disk.as_uri(), inputs=inputs)
        run = CleanRun(cfg, disk, inputs, {}, {}, {})
        for stage, step in chain.stages(spark).items():
            with chain.copied_after_each_write(disk, root / stage) as copies:
                run.results[stage] = step(cfg)
            run.killed[stage] = copies
            run.tables[stage] = chain.snapshot(spark, cfg, stage)
        yield run
