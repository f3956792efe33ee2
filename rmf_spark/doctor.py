"""``rmf doctor``: versions, JAR cache state and a short self-check of the whole stack.

The self-check runs the three things every stage relies on: a Delta write/read round trip, a
Sedona ``ST_Intersects`` spatial join, and a grouped pandas UDF (``applyInPandas``). It ends
with PASS or FAIL; :func:`run_doctor` returns the process exit code.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata

from pyspark.sql import functions as F

from rmf_spark import jvm
from rmf_spark.config import RmfConfig
from rmf_spark.errors import RmfError

__all__ = ["run_doctor", "self_check"]


def _pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _java_version() -> str:
    java = shutil.which("java")
    if not java:
        return "not found (Java 17 is needed)"
    out = subprocess.run([java, "-version"], capture_output=True, text=True)
    first = (out.stderr or out.stdout).splitlines()
    return first[0] if first else "unknown"


def versions() -> dict[str, str]:
    """Versions of the runtime pieces, Python and JVM side."""
    return {
        "python": f"{platform.python_version()} ({sys.executable})",
        "java": _java_version(),
        "spark (pyspark)": _pkg_version("pyspark"),
        "sedona (python)": _pkg_version("apache-sedona"),
        "sedona (jar)": jvm.SEDONA_JAR.coordinate,
        "delta (python)": _pkg_version("delta-spark"),
        "delta (jar)": jvm.DELTA_JAR.coordinate,
        "rmf_spark": _pkg_version("rmf_spark"),
    }


def _check_delta(spark, tmp: str) -> str:
    path = f"{tmp}/doctor_delta"
    spark.range(100).selectExpr("id", "id % 7 AS k").write.format("delta").save(path)
    got = spark.read.format("delta").load(path).groupBy().sum("id").first()[0]
    if got != sum(range(100)):
        raise AssertionError(f"Delta round trip returned sum {got}, expected 4950")
    return "wrote and read back 100 rows"


def _check_sedona(spark, tmp: str) -> str:
    points = spark.range(100).selectExpr(
        "id", "ST_Point(CAST(id % 10 AS DOUBLE) + 0.5, CAST(id DIV 10 AS DOUBLE) + 0.5) AS geom"
    )
    zones = spark.sql(
        "SELECT 'west' AS zone, ST_PolygonFromEnvelope(0.0, 0.0, 5.0, 10.0) AS geom "
        "UNION ALL SELECT 'east', ST_PolygonFromEnvelope(5.0, 0.0, 10.0, 10.0)"
    )
    joined = points.alias("p").join(zones.alias("z"), F.expr("ST_Intersects(z.geom, p.geom)"))
    counts = {r["zone"]: r["count"] for r in joined.groupBy("zone").count().collect()}
    if counts != {"west": 50, "east": 50}:
        raise AssertionError(f"ST_Intersects join gave {counts}, expected 50 and 50")
    return "ST_Intersects join of 100 points with 2 zones: 50 + 50"


def _check_pandas_udf(spark, tmp: str) -> str:
    import pandas as pd

    def summarise(pdf: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"k": [int(pdf["k"].iloc[0])], "n": [len(pdf)]})

    df = spark.range(1000).selectExpr("id % 4 AS k")
    rows = df.groupBy("k").applyInPandas(summarise, "k long, n long").collect()
    if sorted((r.k, r.n) for r in rows) != [(0, 250), (1, 250), (2, 250), (3, 250)]:
        raise AssertionError(f"applyInPandas gave {rows}")
    return "groupBy().applyInPandas over 4 groups of 250"


CHECKS: tuple[tuple[str, Callable], ...] = (
    ("delta round trip", _check_delta),
    ("sedona spatial join", _check_sedona),
    ("pandas UDF", _check_pandas_udf),
)


def self_check(spark) -> list[tuple[str, bool, str, float]]:
    """Run every check; (name, passed, detail, seconds) for each."""
    results = []
    with tempfile.TemporaryDirectory(prefix="rmf-doctor-") as tmp:
        for name, check in CHECKS:
            t0 = time.perf_counter()
            try:
                detail, ok = check(spark, tmp), True
            except Exception as exc:  # a failed check is reported, not raised
                detail, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}", False
            results.append((name, ok, detail, time.perf_counter() - t0))
    return results


def run_doctor(cfg: RmfConfig, *, echo: Callable[[str], None] = print) -> int:
    """Print the report; return 0 on PASS, 1 on FAIL."""
    echo("rmf doctor")
    for key, value in versions().items():
        echo(f"  {key:18} {value}")
    echo(f"  {'config':18} {cfg.source}")
    echo(f"JAR cache: {jvm.cache_dir()}")
    missing = []
    for name, purpose, size in jvm.status():
        state = f"{size / 1e6:7.1f} MB" if size else "MISSING"
        echo(f"  {state:10} {name}  ({purpose})")
        if not size:
            missing.append(name)
    for stray in jvm.stray_jars():
        echo(f"  WARNING  {stray} in Spark's own jars/ folder may shadow the pinned JARs")
    if missing:
        echo(
            "FAIL: the JAR cache lacks " + ", ".join(missing) + ". Run `make jars` (needs Maven "
            "Central once; later runs work offline)."
        )
        return 1
    t0 = time.perf_counter()
    try:
        from rmf_spark.session import get_spark

        spark = get_spark(cfg)
    except RmfError as exc:
        echo(f"FAIL: {exc}")
        return 1
    except Exception as exc:
        echo(f"FAIL: could not start Spark: {type(exc).__name__}: {exc}")
        echo(traceback.format_exc(limit=3))
        return 1
    echo(
        f"Spark session: {spark.version}, master {spark.sparkContext.master} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    results = self_check(spark)
    for name, ok, detail, seconds in results:
        echo(f"  {'ok  ' if ok else 'FAIL'} {name:22} {seconds:5.1f} s  {detail}")
    passed = all(ok for _, ok, _, _ in results)
    echo(f"{'PASS' if passed else 'FAIL'} ({time.perf_counter() - t0:.1f} s)")
    return 0 if passed else 1
