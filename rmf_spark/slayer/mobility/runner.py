"""Stage runner of the mobility products: read the time segments, write trips and OD matrices.

The only module of the mobility products that reads or writes the lake. ``rmf statistics od``
calls :func:`run_od`.

Steps for the days ``start .. end`` of one MNO: the ``slayer/time_segments`` of ``start - 1 ..
end + 1`` (a stay crossing midnight, a trip departing late) make the trips
(:func:`~.trips.compute_trips`), of which those departing on the days asked are written to
``slayer/trips`` (device level, never released); the OD matrices are aggregated from the
trips as written, expanded with the present population's market share
(:func:`~.od.with_trip_expansion`), and written to ``slayer/od_matrix``.

Crash safety: two commits, each replacing the days' rows; ``od_matrix`` is computed from the
``trips`` just committed, so a run killed between them is completed by the rerun.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.buckets import device_bucket
from rmf_spark.clayer.schemas import DATE
from rmf_spark.config import RmfConfig
from rmf_spark.slayer.aggregate.schemas import LEVEL
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.inputs import read_clayer, read_market_share
from rmf_spark.slayer.mobility.od import (
    FLOW,
    PERSON_TRIPS,
    TRIPS,
    compute_od_flow_totals,
    compute_od_matrices,
    factors_from_market_share,
    with_trip_expansion,
)
from rmf_spark.slayer.mobility.trips import compute_trips
from rmf_spark.timerange import date_range_predicate

__all__ = ["run_od"]

log = logging.getLogger(__name__)

#: the tables the stage reads (segments: the device stage; the rest: the C-layer)
INPUTS = (tables.TIME_SEGMENTS, tables.GRID, tables.TILE_ZONE)


def run_od(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Compute and write the trips and OD matrices of ``mno`` for the days ``start .. end``.

    Idempotent: the days' rows of ``slayer/trips`` and ``slayer/od_matrix`` are replaced.

    Parameters
    ----------
    spark
        The session.
    cfg
        The profile (``[mobility]``; the market share and ``region_level`` of
        ``[present_population]``).
    mno
        MNO id (lake folder).
    start, end
        First and last day of departure (local days of ``mobility.time_zone``).

    Returns
    -------
    dict
        ``start``, ``end``, ``trips`` (written), ``od_rows``, ``flows`` (per level: intra and
        inter trips and person trips over the days) and ``input_versions``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        An input table is missing (code ``INPUT_TABLE_MISSING``: run the device stage first).
    rmf_spark.errors.ConfigError
        No market share for the expansion.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    inputs = read_clayer(spark, cfg, mno=mno, specs=INPUTS)
    t, versions = inputs.tables, inputs.versions
    settings = cfg.mobility
    around = F.col(DATE).between(
        F.lit(start - dt.timedelta(days=1)), F.lit(end + dt.timedelta(days=1))
    )
    days = date_range_predicate(start, end)
    trips = compute_trips(t["time_segments"].where(around), settings).where(days)
    meta = json.dumps({"inputs": versions}, sort_keys=True)
    bucketed = trips.withColumn(DEVICE_BUCKET, device_bucket(cfg.ingest.n_device_buckets))
    tables.TRIPS.write(bucketed, cfg, mno=mno, replace_where=days, metadata=meta)
    written = tables.TRIPS.read(spark, cfg, mno=mno).where(days).drop(DEVICE_BUCKET)
    pp = cfg.present_population
    expanded = with_trip_expansion(
        written,
        tile_zone=t["tile_zone"],
        factors=factors_from_market_share(read_market_share(spark, cfg, mno=mno)),
        region_level=pp.region_level,
        default_factor=None if pp.default_share is None else 1.0 / pp.default_share,
    )
    od = compute_od_matrices(expanded, grid=t["grid"], tile_zone=t["tile_zone"], settings=settings)
    tables.OD_MATRIX.write(od, cfg, mno=mno, replace_where=days, metadata=meta)
    stored = tables.OD_MATRIX.read(spark, cfg, mno=mno).where(days)
    totals = (
        compute_od_flow_totals(stored)
        .groupBy(LEVEL, FLOW)
        .agg(F.sum(TRIPS).alias(TRIPS), F.sum(PERSON_TRIPS).alias(PERSON_TRIPS))
        .collect()
    )
    flows: dict[str, dict[str, dict[str, float | None]]] = {}
    for r in totals:
        flows.setdefault(r[LEVEL], {})[r[FLOW]] = {TRIPS: r[TRIPS], PERSON_TRIPS: r[PERSON_TRIPS]}
    summary = {
        "start": str(start),
        "end": str(end),
        "trips": tables.TRIPS.read(spark, cfg, mno=mno).where(days).count(),
        "od_rows": stored.count(),
        "flows": flows,
        "input_versions": versions,
    }
    log.info("od %s: %s", mno, summary)
    return summary
