"""A whole chain on handmade inputs, small enough to run many times: raw mno_a files
(``tests/dlayer/rawfiles.py``), a 2 x 2 km territory around their cells with two
municipalities in one region, and the stages ingest-cells -> ingest -> convergence -> present
population -> release of 2024-01-15; with the checksums of what each stage writes, and a
recorder that copies the lake after each write."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from rmf_spark import lake, tables
from tests.conftest import ROOT
from tests.dlayer import rawfiles
from tests.reliability.checksums import table_checksum

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


def local(uri: str) -> Path:
    """The local path behind a ``file:`` URI (or a plain path)."""
    return Path(urlparse(uri).path if lake.is_uri(uri) else uri)


def _release_files(spark, cfg) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Checksums of the exports and the manifest, without what differs between lakes."""
    found = sorted(local(tables.exports_root(cfg, mno=MNO)).glob("*/manifest.json"))
    if not found:
        return {"manifest": None}
    base = found[0].parent
    manifest = json.loads(lake.read_text(spark, str(found[0])))
    # the config names its own lake root, and so do its hashes and the method card; Spark
    # names each export's part files anew (the exports' contents are compared below)
    for key in ("created_utc", "config_hash", "output_checksums"):
        manifest.pop(key, None)
    config = manifest.get("config", {})
    config.pop("hash", None)
    config.get("compared", {}).pop("hash", None)
    manifest["outputs"].pop("delta_version")  # a rerun adds a commit
    text = json.dumps(manifest, sort_keys=True).replace(lake.absolute(cfg.lake.root), "<lake>")
    csv = (
        spark.read.option("header", True)
        .option("inferSchema", True)
        .csv(str(base / "present_population.csv"))
    )
    geo = spark.read.parquet(str(base / "present_population.geoparquet"))
    return {"manifest": text, "csv": table_checksum(csv), "geoparquet": table_checksum(geo)}


def snapshot(spark, cfg, stage: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The checksum of every table (and release file) the stage writes; None when missing."""
    out: dict[str, Any] = {
        spec.id: table_checksum(spec.read(spark, cfg, mno=MNO))
        if spec.exists(spark, cfg, mno=MNO)
        else None
        for spec in OUTPUTS[stage]
    }
    if stage == "release":
        out.update(_release_files(spark, cfg))
    return out


#: the lake functions that write (tables, export directories, manifests)
WRITES = ("write_delta", "write_files", "write_text")


@contextlib.contextmanager
def copied_after_each_write(lake_dir: Path, into: Path) -> Iterator[list[Path]]:
    """Copy ``lake_dir`` to ``into/1``, ``into/2``, ... after each write; yields the copies.

    Writes are serialised (the D-layer makes some from several threads), so each copy holds
    the writes before it and nothing else.
    """
    lock, copies = threading.Lock(), []

    def wrap(write: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with lock:
                out = write(*args, **kwargs)
                copies.append(into / str(len(copies) + 1))
                shutil.copytree(lake_dir, copies[-1])
            return out

        return wrapped

    with pytest.MonkeyPatch.context() as mp:
        for name in WRITES:
            mp.setattr(lake, name, wrap(getattr(lake, name)))
        yield copies
