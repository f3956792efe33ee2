"""What every S-layer stage runner reads: C-layer tables pinned to a version, the market share.

Runner helpers (this module reads the lake); the estimators themselves never do.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake, tables
from rmf_spark.config import RmfConfig
from rmf_spark.errors import ConfigError
from rmf_spark.slayer.aggregate.schemas import REGION_ID, SHARE
from rmf_spark.tables import Pinned, TableSpec

__all__ = ["Pinned", "read_clayer", "read_market_share"]


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
