"""The manifest of a release: what was released, from which inputs, by which code and config."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

import rmf_spark
from rmf_spark import lake
from rmf_spark.config import RmfConfig

__all__ = ["build_manifest", "code_version", "config_hash", "write_manifest"]


def code_version() -> dict[str, str | None]:
    """``rmf_spark.__version__`` and the git commit of the checkout (None outside git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"rmf_spark": rmf_spark.__version__, "git_commit": commit}


def config_hash(cfg: RmfConfig) -> str:
    """SHA-256 of the validated profile (every key, defaults included; not the file name)."""
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_manifest(
    *,
    cfg: RmfConfig,
    mno: str,
    table: str,
    start: datetime,
    end: datetime,
    inputs: dict[str, dict[str, Any]],
    outputs: dict[str, Any],
    counts: dict[str, Any],
) -> dict[str, Any]:
    """The manifest dict of one release.

    Parameters
    ----------
    cfg
        The profile (hashed, and ``release`` settings recorded).
    mno, table, start, end
        What was released.
    inputs
        Per input table: ``{"path": ..., "delta_version": ...}``.
    outputs
        Where the release went (Delta path, CSV, GeoParquet).
    counts
        ``rows``, ``suppressed`` (total and per level / kind).
    """
    return {
        "table": table,
        "mno_id": mno,
        "time_range": {"start": start.isoformat(), "end": end.isoformat()},
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "config_hash": config_hash(cfg),
        "disclosure_control": cfg.release.model_dump(mode="json"),
        "inputs": inputs,
        "outputs": outputs,
        **counts,
    }


def write_manifest(spark: SparkSession, manifest: dict[str, Any], uri: str) -> str:
    """Write ``manifest`` as indented JSON (keys sorted) to the file ``uri`` through the
    session's Hadoop FileSystem (local disk, HDFS or an object store); return ``uri``."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    return lake.write_text(spark, uri, text)
