"""The fusion export of one MNO for one period: what leaves the MNO for the fusion stage.

Runs inside the MNO, on its lake, after the device stage (``slayer/daily_permanence``) and the
usual environment (``slayer/usual_environment_labels``, ``slayer/residents``) of the period
``start .. end``. :func:`run_fusion_export` reads through :mod:`rmf_spark.tables`:

* ``slayer/daily_permanence``: the stay tokens of the residents' signatures
  (:func:`~rmf_spark.fusion.signatures.export_stay_signatures`);
* ``slayer/usual_environment_labels`` (label ``home``) and ``clayer/tile_zone``: each
  resident's home zone at the calibration's zone level (``usual_environment.calibration.
  zone_level``), the zone the matching counts its duplicate in;
* ``slayer/residents`` (role ``home``, that zone level): resident devices and people per zone,
  the counts the fusion combines;
* ``clayer/grid`` and ``clayer/tile_zone``: the 1 km tiles of the tokens, the public zone list
  (every zone of the level, sorted) with each zone's region (the ``present_population.
  region_level`` zone holding most of its tiles), and a fingerprint of the grid;
* ``bronze/events`` (``date, roamer_link`` only): the inbound roamers' links made at ingest
  (:mod:`rmf_spark.dlayer.roamers`), keyed again for the period
  (:func:`~rmf_spark.fusion.signatures.export_roamer_links`), and ``quality/load_metrics``,
  which says whether every load of the period had the link key.

It writes the directory :func:`~rmf_spark.fusion.signatures.write_export` describes, with
``residents.json`` (:class:`~rmf_spark.fusion.signatures.ZoneCounts`) and, in
``export.json``, the period, the zone and region levels, the grid's fingerprint and the
Delta versions read. No pseudonym, token, event or key is written (``docs/fusion.md``
section 7).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.config import RmfConfig
from rmf_spark.dlayer.roamers import KEY_MISSING_METRIC, ROAMER_LINK
from rmf_spark.errors import FusionError
from rmf_spark.fusion.matching import DEFAULT_PARAMS
from rmf_spark.fusion.signatures import (
    ZoneCounts,
    export_roamer_links,
    export_stay_signatures,
    load_link_key,
    write_export,
)
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, LEVEL, POPULATION, zone_level_name
from rmf_spark.slayer.usual_environment.labels import HOME, LABEL
from rmf_spark.slayer.usual_environment.runner import period_predicate
from rmf_spark.slayer.usual_environment.schemas import ROLE

__all__ = ["grid_fingerprint", "run_fusion_export", "zone_regions"]

log = logging.getLogger(__name__)

#: what the export reads (the events for their roamer links only)
INPUTS = {
    "daily_permanence": tables.DAILY_PERMANENCE,
    "labels": tables.UE_LABELS,
    "residents": tables.RESIDENTS,
    "grid": tables.GRID,
    "tile_zone": tables.TILE_ZONE,
    "events": tables.EVENTS,
    "load_metrics": tables.LOAD_METRICS,
}
_REGION = "region_id"


def zone_regions(tile_zone: DataFrame, *, zone_level: int, region_level: int) -> list[tuple]:
    """``(zone_id, region_id)`` of every zone of ``zone_level``, sorted by zone: its region is
    the ``region_level`` zone holding most of its tiles (ties: the smallest id; None when no
    tile of the zone has a region)."""
    zones = tile_zone.where(F.col(ZONE_LEVEL) == zone_level).select(TILE_ID, ZONE_ID)
    regions = tile_zone.where(F.col(ZONE_LEVEL) == region_level).select(
        TILE_ID, F.col(ZONE_ID).alias(_REGION)
    )
    counted = zones.join(regions, TILE_ID, "left").groupBy(ZONE_ID, _REGION).count()
    # the largest count first, then the smallest region id (nulls last): negate the count
    best = counted.groupBy(ZONE_ID).agg(
        F.min(
            F.struct(
                (-F.col("count")).alias("n"),
                F.col(_REGION).isNull().alias("none"),
                F.col(_REGION).alias("r"),
            )
        ).alias("best")
    )
    rows = best.select(ZONE_ID, F.col("best.r").alias(_REGION)).orderBy(ZONE_ID).collect()
    return [(r[ZONE_ID], r[_REGION]) for r in rows]


def grid_fingerprint(grid: DataFrame, zones: list[tuple]) -> str:
    """A hash of the grid (its tiles, order-free) and of the zone list with its regions: the
    fusion refuses exports whose fingerprints differ (another grid or zone set)."""
    low = F.xxhash64(TILE_ID).bitwiseAND(F.lit(0xFFFFFFFF))
    row = grid.agg(F.count("*").alias("n"), F.sum(low).alias("h"), F.min(TILE_ID).alias("lo"))
    r = row.first()
    text = json.dumps({"tiles": [r["n"], r["h"], r["lo"]], "zones": zones}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _check_link_key(metrics: DataFrame, *, mno: str, start: dt.date, end: dt.date) -> int:
    """The loads of the period; raises when one of them had no link key (its roamers would be
    missing from the export, silently)."""
    rows = (
        metrics.where(F.col(DATE).between(F.lit(start), F.lit(end)))
        .groupBy(DATE)
        .agg(F.max(F.when(F.col("metric") == KEY_MISSING_METRIC, F.col("value"))).alias("m"))
        .collect()
    )
    missing = sorted(str(r[DATE]) for r in rows if r["m"] is None or r["m"] != 0)
    if missing:
        raise FusionError(
            f"{mno}: bronze of {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} "
            "was loaded without RMF_LINK_KEY, so its inbound roamers have no link: set the "
            "key and rerun `rmf ingest` for those dates before the fusion export",
            code="FUSION_LINK_KEY_MISSING",
        )
    return len(rows)


def _zone_counts(
    residents: DataFrame, zones: list[tuple], *, zone_level: int, region_level: int
) -> ZoneCounts:
    level = zone_level_name(zone_level)
    rows = (
        residents.where((F.col(ROLE) == HOME) & (F.col(LEVEL) == level))
        .groupBy(AREA_ID)
        .agg(F.sum(DEVICES).alias(DEVICES), F.sum(POPULATION).alias(POPULATION))
        .collect()
    )
    ids = [z for z, _ in zones]
    position = {z: i for i, z in enumerate(ids)}
    unknown = sorted(r[AREA_ID] for r in rows if r[AREA_ID] not in position)
    if unknown:
        raise FusionError(
            f"residents of level {level} in zones not in clayer/tile_zone, e.g. {unknown[:5]}: "
            "the residents and the grid's zones differ",
            code="FUSION_ZONE_UNKNOWN",
        )
    devices, population = np.zeros(len(ids)), np.zeros(len(ids))
    for r in rows:
        devices[position[r[AREA_ID]]] = r[DEVICES] or 0.0
        population[position[r[AREA_ID]]] = r[POPULATION] or 0.0
    regions = tuple("" if r is None else str(r) for _, r in zones)
    return ZoneCounts(zone_level, region_level, tuple(ids), regions, devices, population)


def run_fusion_export(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: dt.date,
    end: dt.date,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Write ``mno``'s fusion export of the period ``start .. end`` (local days) to ``out_dir``.

    Parameters
    ----------
    spark, cfg
        The session and the profile (``usual_environment.calibration.zone_level``,
        ``present_population.region_level``).
    mno
        The MNO (its lake folder; its name in the export).
    start, end
        The period of the usual-environment run whose labels and residents are exported (at
        most 64 days); the signatures cover the same days.
    out_dir
        A local directory; files already there are replaced.

    Returns
    -------
    dict
        What ``export.json`` records: the counts, the period, the path of the manifest.

    Raises
    ------
    rmf_spark.errors.FusionError
        ``FUSION_LINK_KEY_MISSING`` (no ``RMF_LINK_KEY``, or a load of the period was made
        without it), ``FUSION_INPUT_MISSING`` (no residents for the period),
        ``FUSION_ZONE_UNKNOWN`` (residents or homes in zones the grid does not have).
    rmf_spark.errors.InputDataError
        A table is missing (``INPUT_TABLE_MISSING``, naming the command that writes it).
    """
    days = (end - start).days + 1
    if not 1 <= days <= 64:
        raise ValueError(f"the period {start} .. {end} must hold 1 to 64 days")
    master = load_link_key()  # before any Spark work: FUSION_LINK_KEY_MISSING
    params = dataclasses.replace(DEFAULT_PARAMS, period_days=days)
    zone_level = cfg.usual_environment.calibration.zone_level
    region_level = cfg.present_population.region_level
    inputs = tables.read_pinned(spark, cfg, INPUTS, mno=mno)
    t = inputs.tables
    n_loads = _check_link_key(t["load_metrics"], mno=mno, start=start, end=end)

    where = period_predicate(start, end)
    residents = t["residents"].where(where)
    if residents.isEmpty():
        raise FusionError(
            f"{mno}: no residents in {tables.RESIDENTS.id} for {start} .. {end}: run `rmf "
            f"statistics usual-environment --mno {mno} --start {start} --end {end}` first",
            code="FUSION_INPUT_MISSING",
        )
    zones = zone_regions(t["tile_zone"], zone_level=zone_level, region_level=region_level)
    counts = _zone_counts(residents, zones, zone_level=zone_level, region_level=region_level)
    home_tiles = t["labels"].where(where).where(F.col(LABEL) == HOME).select(DEVICE_ID, TILE_ID)
    at_level = t["tile_zone"].where(F.col(ZONE_LEVEL) == zone_level).select(TILE_ID, ZONE_ID)
    homes = home_tiles.join(at_level, TILE_ID).select(DEVICE_ID, ZONE_ID)
    signatures, sig_counts = export_stay_signatures(
        t["daily_permanence"],
        t["grid"],
        homes,
        list(counts.zones),
        start=start,
        params=params,
        master_key=master,
    )
    roamers = export_roamer_links(
        t["events"].select(DATE, ROAMER_LINK),
        start=start,
        period_days=days,
        master_key=master,
    )
    summary = {
        **sig_counts,
        "roamers": len(roamers),
        "resident_devices": float(counts.devices.sum()),
        "loads": n_loads,
    }
    extra = {
        "period": {"start": str(start), "end": str(end), "days": days},
        "zone_level": zone_level,
        "region_level": region_level,
        "grid": grid_fingerprint(t["grid"], zones),
        "inputs": inputs.versions,
    }
    path = write_export(
        out_dir,
        mno=mno,
        signatures=signatures,
        roamers=roamers,
        counts=summary,
        residents=counts,
        extra=extra,
    )
    log.info("fusion export %s %s..%s: %s", mno, start, end, summary)
    return {"mno": mno, **extra, "counts": summary, "manifest": str(path)}
