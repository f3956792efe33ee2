"""What every S-layer stage runner reads: C-layer tables pinned to a version, the market share.

Runner helpers (this module reads the lake); the estimators themselves never do.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake, tables
from rmf_spark.config import RmfConfig
from rmf_spark.errors import ConfigError, InputDataError
from rmf_spark.slayer.aggregate.schemas import REGION_ID, SHARE
from rmf_spark.tables import Pinned, TableSpec

__all__ = ["Pinned", "read_clayer", "read_market_share", "recorded_convergence_value"]


def read_clayer(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, specs: Sequence[TableSpec]
) -> Pinned:
    """Read the C-layer tables ``specs`` of ``mno`` (keyed by their names), each at its
    current version, recorded.

    Whatever is committed meanwhile, the stage reads the versions it recorded.

    Raises
    ------
    rmf_spark.errors.InputDataError
        A table is missing (code ``INPUT_TABLE_MISSING``, naming it and the command to run).
    """
    return tables.read_pinned(spark, cfg, {s.name: s for s in specs}, mno=mno)


def read_market_share(spark: SparkSession, cfg: RmfConfig, *, mno: str) -> DataFrame:
    """The MNO's ``region_id, share`` from the inline config or the configured Delta table.

    Raises
    ------
    ConfigError
        Neither ``present_population.market_share`` nor ``market_share_table`` is set
        (code ``MARKET_SHARE_MISSING``).
    """
    settings = cfg.present_population
    if settings.market_share:
        rows = [(str(k), float(v)) for k, v in settings.market_share.items()]
        return spark.createDataFrame(rows, f"{REGION_ID} string, {SHARE} double")
    if settings.market_share_table:
        df = lake.read_delta(spark, settings.market_share_table)
        if "mno_id" in df.columns:
            df = df.where(F.col("mno_id") == mno)
        return df.select(REGION_ID, SHARE)
    raise ConfigError(
        "no market share for the expansion: set present_population.market_share "
        "(inline {region_id = share}) or present_population.market_share_table (a Delta path)",
        code="MARKET_SHARE_MISSING",
    )


def recorded_convergence_value(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, key: str, start: dt.date, end: dt.date
) -> Any:
    """The value of the ``[convergence]`` setting ``key`` (dotted, e.g. ``radio.steepness``)
    that ``rmf convergence`` recorded for ``mno`` on the dates in [start, end].

    The S-layer uses the parameters the C-layer tables were computed with, not what the
    profile says today (``clayer/convergence_parameters``, ``docs/c-layer.md``).

    Raises
    ------
    rmf_spark.errors.InputDataError
        Nothing recorded for those dates (``CONVERGENCE_PARAMETERS_MISSING``), or the dates
        were computed with different values (``CONVERGENCE_PARAMETERS_MIXED``: rerun
        ``rmf convergence`` for them with one profile).
    """
    spec = tables.CONVERGENCE_PARAMETERS
    path = spec.path(cfg, mno=mno)
    values: list[str] = []
    if spec.exists(spark, cfg, mno=mno):
        rows = (
            spec.read(spark, cfg, mno=mno)
            .where((F.col("parameter") == key) & F.col("date").between(start, end))
            .select("value")
            .distinct()
            .collect()
        )
        values = sorted(r["value"] for r in rows)
    if not values:
        raise InputDataError(
            f"no convergence parameter {key!r} recorded for MNO {mno!r} between {start} and "
            f"{end} at {path}: run `rmf convergence --mno {mno}` for those dates",
            code="CONVERGENCE_PARAMETERS_MISSING",
        )
    if len(values) > 1:
        raise InputDataError(
            f"the dates {start}..{end} of MNO {mno!r} were converged with different values of "
            f"convergence.{key} ({', '.join(values)}): rerun `rmf convergence` for them with "
            "one profile",
            code="CONVERGENCE_PARAMETERS_MIXED",
        )
    return json.loads(values[0])
