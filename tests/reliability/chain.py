"""A whole chain on handmade inputs, small enough to run many times: raw mno_a files
(``tests/dlayer/rawfiles.py``), a 2 x 2 km territory around their cells with two
municipalities in one region, and the stages ingest-cells -> ingest -> convergence -> present
population -> release of 2024-01-15."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rmf_spark import lake, tables
from tests.conftest import ROOT
from tests.dlayer import rawfiles

MNO = "mno_a"
DAY = dt.date(2024, 1, 15)
START, END = dt.datetime(2024, 1, 15, 8), dt.datetime(2024, 1, 15, 12)
KEY_ENV = "RMF_TEST_PSEUDONYM_KEY"  # the pseudonymisation key: set by the tests
X0, Y0, SIDE = 3_158_500.0, 2_029_000.0, 2_000.0


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def write_inputs(spark, root: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Raw files and reference tables under ``root``; returns their directories."""
    rawfiles.write_mno_a(root / "raw" / MNO)
    ref = root / "reference"
    mid = X0 + SIDE / 2
    lake.write_delta(
        spark.createDataFrame([(_box(X0, Y0, X0 + SIDE, Y0 + SIDE),)], "wkt string"),
        lake.uri_join(ref, tables.TERRITORY.name),
    )
    zones = [
        ("R1", 1, None, "region", _box(X0, Y0, X0 + SIDE, Y0 + SIDE)),
        ("M1", 2, "R1", "west", _box(X0, Y0, mid, Y0 + SIDE)),
        ("M2", 2, "R1", "east", _box(mid, Y0, X0 + SIDE, Y0 + SIDE)),
    ]
    lake.write_delta(
        spark.createDataFrame(zones, tables.ZONES.schema), lake.uri_join(ref, tables.ZONES.name)
    )
    return {"raw": str(root / "raw" / MNO), "reference": str(ref)}


def chain_config(test_config, *, lake_root: str, inputs: dict[str, str], **overrides: Any):  # type: ignore[no-untyped-def]
    """The session's profile with its own lake (a path or a URI) and the chain's inputs."""
    from rmf_spark.config import load_config

    return load_config(
        ROOT / "conf" / "local.toml",
        overrides={
            **{f"spark.{k}": v for k, v in test_config.spark.model_dump().items()},
            "lake.root": lake_root,
            "ingest.key_env": KEY_ENV,
            "ingest.n_device_buckets": 2,
            "ingest.mno": {MNO: {"raw_dir": inputs["raw"], "profile": "inputs/mno_a.toml"}},
            "convergence.reference_dir": inputs["reference"],
            "present_population.market_share": {"R1": 0.5},
            "release.k": 1.0,
            **overrides,
        },
    )


def stages(spark) -> dict[str, Callable[[Any], Any]]:  # type: ignore[no-untyped-def]
    """Each stage of the chain, in order, as a function of the profile."""
    from rmf_spark.clayer.runner import run_convergence
    from rmf_spark.dlayer.runner import run_ingest, run_ingest_cells
    from rmf_spark.release.runner import run_release
    from rmf_spark.slayer.present_population.runner import run_present_population

    return {
        "ingest_cells": lambda cfg: run_ingest_cells(spark, cfg, mno=MNO),
        "ingest": lambda cfg: run_ingest(spark, cfg, mno=MNO, date=DAY),
        "convergence": lambda cfg: run_convergence(spark, cfg, mno=MNO, date=DAY),
        "present_population": lambda cfg: run_present_population(
            spark, cfg, mno=MNO, start=START, end=END
        ),
        "release": lambda cfg: run_release(spark, cfg, mno=MNO, start=START, end=END),
    }


#: the tables each stage writes
OUTPUTS = {
    "ingest_cells": (tables.CELLS, tables.CELLS_QUARANTINE, tables.CELLS_AUDIT),
    "ingest": (
        tables.EVENTS,
        tables.QUARANTINE,
        tables.LOAD_AUDIT,
        tables.LOAD_METRICS,
        tables.QUALITY_WARNINGS,
    ),
    "convergence": (
        tables.GRID,
        tables.TILE_ZONE,
        tables.CELL_VERSION,
        tables.CELL_FOOTPRINT,
        tables.CONNECTION_PROBABILITY,
        tables.EVENT_LOCATION,
        tables.CLEANING_METRICS,
    ),
    "present_population": (tables.REACH_CALIBRATION, tables.PRESENT_POPULATION),
    "release": (tables.RELEASED_PRESENT_POPULATION,),
}
