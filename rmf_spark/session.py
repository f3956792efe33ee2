"""The SparkSession: Sedona and Delta registered, sized for the machine it runs on.

One function, :func:`get_spark`, serves the three places rmf_spark runs:

* a laptop or CI (local mode): master ``local[*]``, shuffle partitions scaled to the cores,
  the JAR cache on the class path, loopback networking;
* ``spark-submit`` on a cluster (through ``spark-submit.sh``): whatever the command line set
  (master, resources, JARs) is kept; the profile only fills in what is not set;
* a notebook: an already running session is reused and gets Sedona's functions.

Examples
--------
>>> from rmf_spark.session import get_spark
>>> spark = get_spark()  # the running session if there is one, else a new one
>>> spark.sql("SELECT ST_AsText(ST_Point(1.0, 2.0))").first()[0]
'POINT (1 2)'
"""

from __future__ import annotations

import logging
import os
import sys

from pyspark.sql import SparkSession

from rmf_spark import jvm
from rmf_spark.config import RmfConfig, SparkSettings, load_config

__all__ = ["get_spark", "spark_settings", "under_spark_submit"]

log = logging.getLogger(__name__)

# Settings that belong to whoever launches the JVM: spark-submit's command line wins.
_LAUNCHER_KEYS = (
    "spark.master",
    "spark.submit.deployMode",
    "spark.driver.memory",
    "spark.driver.cores",
    "spark.executor.memory",
    "spark.executor.cores",
    "spark.executor.instances",
    "spark.cores.max",
    "spark.jars",
    "spark.driver.extraClassPath",
    "spark.executor.extraClassPath",
)


def under_spark_submit() -> bool:
    """True when this Python process was started by ``spark-submit`` (its JVM already runs)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _local_cores(master: str) -> int:
    inner = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if master.startswith("local-cluster"):
        n, cores, _ = (int(x) for x in inner.split(","))
        return n * cores
    if inner in ("*", "") or not inner.split(",")[0].isdigit():
        return os.cpu_count() or 2
    return int(inner.split(",")[0])


def spark_settings(settings: SparkSettings, *, submitted: bool = False) -> dict[str, str]:
    """All Spark settings rmf_spark applies, the profile's free-form ``conf`` last.

    With ``submitted`` (the JVM was started by spark-submit), class path and networking are
    left to the launcher.
    """
    master = settings.master
    is_local = master.startswith("local")
    partitions = settings.shuffle_partitions or (2 * _local_cores(master) if is_local else 200)
    out: dict[str, str] = {
        "spark.master": master,
        "spark.app.name": settings.app_name,
        "spark.sql.extensions": (
            "io.delta.sql.DeltaSparkSessionExtension,org.apache.sedona.sql.SedonaSqlExtensions"
        ),
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        "spark.kryo.registrator": "org.apache.sedona.core.serde.SedonaKryoRegistrator",
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": str(settings.ui_enabled).lower(),
        # Delta reads its log with this many tasks; the default of 50 dominates small loads.
        "spark.databricks.delta.snapshotPartitions": str(max(2, min(partitions, 50))),
        "spark.databricks.delta.optimizeWrite.enabled": "false",
    }
    if is_local and not submitted:
        cp = jvm.classpath()
        out["spark.driver.extraClassPath"] = cp
        out["spark.executor.extraClassPath"] = cp
        out["spark.driver.host"] = os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")
        out["spark.driver.bindAddress"] = out["spark.driver.host"]
        if settings.driver_memory:
            out["spark.driver.memory"] = settings.driver_memory
    for key, value in settings.conf.items():
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def get_spark(config: RmfConfig | None = None) -> SparkSession:
    """Return the SparkSession for ``config`` (default: :func:`rmf_spark.config.load_config`).

    Sedona's SQL functions are registered, Delta's extension and catalog are set, Kryo uses
    Sedona's registrator. Under ``spark-submit`` every setting given on the command line is
    kept; the profile only adds what is missing. A running session (notebook) is reused.

    Raises
    ------
    rmf_spark.errors.JarsMissingError
        Local mode and the JAR cache is incomplete (run ``make jars``).
    """
    cfg = config or load_config()
    active = SparkSession.getActiveSession()
    if active is not None:
        return _with_sedona(active)

    submitted = under_spark_submit()
    settings = spark_settings(cfg.spark, submitted=submitted)
    if not submitted:
        # Local JVM launched from Python: loopback only, executors use this interpreter.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    if submitted:
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()  # connect to spark-submit's JVM to read its conf
        given = dict(SparkConf().getAll())
        for key, value in settings.items():
            if key in _LAUNCHER_KEYS and key in given:
                continue
            if key in given and given[key] != value:
                log.info("keeping %s=%s from spark-submit", key, given[key])
                continue
            builder = builder.config(key, value)
    else:
        for key, value in settings.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.spark.log_level)
    return _with_sedona(spark)


def _with_sedona(spark: SparkSession) -> SparkSession:
    from sedona.spark import SedonaContext

    if spark.conf.get("rmf.sedona.registered", "false") != "true":
        SedonaContext.create(spark)
        spark.conf.set("rmf.sedona.registered", "true")
    return spark
