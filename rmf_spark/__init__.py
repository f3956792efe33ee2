"""rmf_spark: official statistics from mobile network operator data on Apache Spark.

The public entry points are :func:`get_spark` (a SparkSession with Sedona and Delta) and
:func:`load_config` (a validated TOML profile). Each layer package (``dlayer``, ``clayer``,
``slayer`` and its product packages, ``release``, ``evaluate``, ``synth``) lists its own public
names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "get_spark", "load_config"]

if TYPE_CHECKING:
    from rmf_spark.config import load_config
    from rmf_spark.session import get_spark


def __getattr__(name: str) -> Any:
    # Imported lazily so that executors unpickling a UDF do not import pyspark.sql builders,
    # pydantic and the CLI just because they import the package.
    if name == "get_spark":
        from rmf_spark.session import get_spark

        return get_spark
    if name == "load_config":
        from rmf_spark.config import load_config

        return load_config
    raise AttributeError(f"module 'rmf_spark' has no attribute {name!r}")
