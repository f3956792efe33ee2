"""A small job that exercises everything that must work across executor JVMs.

Unlike :mod:`rmf_spark.doctor`, which runs wherever the session is, this job is meant for
``spark-submit`` and ``local-cluster`` masters: the spatial join, the Delta write and the pandas
UDF run in separate executor processes, so nothing may rely on driver-local state.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

__all__ = ["distributed_selfcheck"]


def _cell_share(pdf: pd.DataFrame) -> pd.DataFrame:
    # Runs in an executor's Python worker: numpy/pandas must be importable there.
    share = pdf["n"] / pdf["n"].sum()
    return pd.DataFrame({"zone": pdf["zone"], "share": share.astype("float64")})


def distributed_selfcheck(spark: SparkSession, out_dir: str) -> dict[str, Any]:
    """Join 10,000 points with 4 zones, write the counts to Delta, normalise them in pandas."""
    points = spark.range(0, 10_000, numPartitions=8).selectExpr(
        "id",
        "ST_Point(CAST(id % 100 AS DOUBLE) + 0.5, CAST(id DIV 100 AS DOUBLE) + 0.5) AS geom",
    )
    zones = spark.sql(
        "SELECT * FROM VALUES ('sw', 0.0, 0.0), ('se', 50.0, 0.0), ('nw', 0.0, 50.0), "
        "('ne', 50.0, 50.0) AS t(zone, x0, y0)"
    ).selectExpr("zone", "ST_PolygonFromEnvelope(x0, y0, x0 + 50.0, y0 + 50.0) AS geom")
    joined = points.alias("p").join(zones.alias("z"), F.expr("ST_Intersects(z.geom, p.geom)"))
    counts = joined.groupBy("zone").agg(F.count("*").alias("n"))
    path = f"{out_dir.rstrip('/')}/selfcheck_counts"
    counts.write.format("delta").mode("overwrite").save(path)
    back = spark.read.format("delta").load(path).withColumn("all", F.lit(1))
    shares = back.groupBy("all").applyInPandas(
        lambda pdf: _cell_share(pdf), "zone string, share double"
    )
    got = {r.zone: round(r.share, 6) for r in shares.collect()}
    n_by_zone = {r.zone: r.n for r in back.collect()}
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    ok = n_by_zone == {z: 2500 for z in ("sw", "se", "nw", "ne")} and all(
        v == 0.25 for v in got.values()
    )
    return {
        "ok": ok,
        "counts": n_by_zone,
        "shares": got,
        "master": spark.sparkContext.master,
        "block_managers": int(executors),
    }
