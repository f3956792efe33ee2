"""Stage runners of inbound and outbound tourism: read the time segments, write visits, trips
and their indicators.

The only module of tourism that reads or writes the lake. ``rmf statistics tourism-inbound``
calls :func:`run_tourism_inbound`, ``rmf statistics tourism-outbound``
:func:`run_tourism_outbound`.

Inbound, for the days ``start .. end`` of one MNO: the ``slayer/time_segments`` of ``start - 1
- max_unseen_days .. end + 1 + max_unseen_days`` and the origins of the inbound devices
(``clayer/event_location``, the same days) -> visits (``slayer/inbound_visits``, device level,
keyed by the period) and indicators per day (``slayer/inbound_tourism``), expanded with the
share of each origin country's visitors on the MNO (``tourism.inbound``).

Outbound: the segments of ``start - 1 - ceil(max_trip_gap_s / 1 day) .. end + 1`` and the home
labels of the usual environment (the latest period starting by ``end``) -> trips abroad
(``slayer/outbound_trips``) and indicators per day (``slayer/outbound_tourism``), expanded
with the market share of the travellers' home regions (``[present_population]``).

Fallbacks are never silent: no share (persons null), no home labels (every home
``unknown``), days of the device stage in another zone than ``tourism.time_zone`` are named
in the summary and in the commits' metadata.

Crash safety: two commits each, each replacing the period's or the days' rows; both are
recomputed by a rerun, so a run killed between them is completed by it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark import lake, tables
from rmf_spark.buckets import device_bucket
from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID
from rmf_spark.config import RmfConfig
from rmf_spark.errors import ConfigError
from rmf_spark.slayer.aggregate.schemas import DEVICES, EXPANSION_FACTOR, LEVEL, POPULATION
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.inputs import read_clayer, read_market_share
from rmf_spark.slayer.mobility.od import factors_from_market_share, tile_areas
from rmf_spark.slayer.tourism.inbound import (
    compute_inbound_tourism,
    factors_from_inbound_share,
    inbound_origins,
)
from rmf_spark.slayer.tourism.outbound import compute_outbound_tourism, home_areas, home_factors
from rmf_spark.slayer.tourism.schemas import (
    ARRIVALS,
    COUNTRY_OF_DESTINATION,
    COUNTRY_OF_ORIGIN,
    INDICATOR,
    LEVEL_TERRITORY,
    NIGHTS,
)
from rmf_spark.slayer.usual_environment.labels import HOME, LABEL
from rmf_spark.slayer.usual_environment.runner import period_predicate
from rmf_spark.slayer.usual_environment.schemas import PERIOD_END, PERIOD_START
from rmf_spark.timerange import date_range_predicate

__all__ = ["run_tourism_inbound", "run_tourism_outbound"]

log = logging.getLogger(__name__)

#: the tables each stage reads (segments: the device stage; the rest: the C-layer)
INBOUND_INPUTS = (tables.TIME_SEGMENTS, tables.GRID, tables.TILE_ZONE, tables.EVENT_LOCATION)
OUTBOUND_INPUTS = (tables.TIME_SEGMENTS, tables.GRID, tables.TILE_ZONE)


def _period_rows(
    df: DataFrame, spec: tables.TableSpec, *, start: dt.date, end: dt.date, n_buckets: int
) -> DataFrame:
    """A device-level result with the period's columns and the device bucket, as stored."""
    out = (
        df.withColumn(PERIOD_START, F.lit(start))
        .withColumn(PERIOD_END, F.lit(end))
        .withColumn(DEVICE_BUCKET, device_bucket(n_buckets))
    )
    return out.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema.fields])


def _checked(start: dt.date, end: dt.date, cfg: RmfConfig, fallbacks: list[str]) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if cfg.device.time_zone != cfg.tourism.time_zone:
        fallbacks.append(
            f"days: the device stage's days are in {cfg.device.time_zone}, tourism.time_zone "
            f"is {cfg.tourism.time_zone}: days seen are the device stage's"
        )


def _inbound_share(spark: SparkSession, cfg: RmfConfig, mno: str) -> DataFrame | None:
    settings = cfg.tourism.inbound
    if settings.share:
        rows = [(k, float(v)) for k, v in settings.share.items()]
        return spark.createDataFrame(rows, "country string, share double")
    if settings.share_table:
        df = lake.read_delta(spark, settings.share_table)
        if "mno_id" in df.columns:
            df = df.where(F.col("mno_id") == mno)
        return df.select("country", "share")
    return None


def _territory_totals(df: DataFrame, country: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Per indicator and country, the devices and persons of the territory level summed."""
    rows = (
        df.where(F.col(LEVEL) == LEVEL_TERRITORY)
        .groupBy(INDICATOR, country)
        .agg(F.sum(DEVICES).alias(DEVICES), F.sum(POPULATION).alias(POPULATION))
        .collect()
    )
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r[INDICATOR], {})[r[country]] = {
            DEVICES: r[DEVICES],
            POPULATION: r[POPULATION],
        }
    return out


def _write_both(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: dt.date,
    end: dt.date,
    devices: tuple[tables.TableSpec, DataFrame],
    indicators: tuple[tables.TableSpec, DataFrame],
    meta: str,
) -> DataFrame:
    """Write the device-level rows of the period and the indicators of its days; return the
    indicators as committed."""
    spec, df = devices
    rows = _period_rows(df, spec, start=start, end=end, n_buckets=cfg.ingest.n_device_buckets)
    spec.write(rows, cfg, mno=mno, replace_where=period_predicate(start, end), metadata=meta)
    days = date_range_predicate(start, end)
    spec, df = indicators
    spec.write(
        df.select(*spec.schema.fieldNames()), cfg, mno=mno, replace_where=days, metadata=meta
    )
    return spec.read(spark, cfg, mno=mno).where(days)


def run_tourism_inbound(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Compute and write the inbound visits and indicators of ``mno`` for ``start .. end``.

    Idempotent: the period's rows of ``slayer/inbound_visits`` and the days' rows of
    ``slayer/inbound_tourism`` are replaced.

    Returns
    -------
    dict
        ``start``, ``end``, ``visits`` (written), ``indicators`` (per indicator and origin,
        devices and persons at the territory level), ``average_nights`` (per origin: nights
        / arrivals of the devices), ``fallbacks`` and ``input_versions``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        An input table is missing (``INPUT_TABLE_MISSING``: run the device stage, or the
        C-layer, first).
    """
    fallbacks: list[str] = []
    _checked(start, end, cfg, fallbacks)
    s = cfg.tourism
    inputs = read_clayer(spark, cfg, mno=mno, specs=INBOUND_INPUTS)
    t, versions = inputs.tables, inputs.versions
    margin = dt.timedelta(days=1 + s.inbound.max_unseen_days)
    around = F.col(DATE).between(F.lit(start - margin), F.lit(end + margin))
    events = t["event_location"].where(around & (F.col("domain") == "inbound"))
    share = _inbound_share(spark, cfg, mno)
    if share is None:
        fallbacks.append(
            "expansion: no tourism.inbound.share nor share_table, persons are null"
            + ("" if s.inbound.default_share is None else " except by default_share")
        )
    default = s.inbound.default_share
    result = compute_inbound_tourism(
        t["time_segments"].where(around),
        origins=inbound_origins(events.select(DEVICE_ID, "mcc", "domain")),
        areas=tile_areas(grid=t["grid"], tile_zone=t["tile_zone"], levels=s.levels),
        start=start,
        end=end,
        settings=s,
        factors=None if share is None else factors_from_inbound_share(share),
        default_factor=None if default is None else 1.0 / default,
    )
    meta = json.dumps({"inputs": versions, "fallbacks": fallbacks}, sort_keys=True)
    stored = _write_both(
        spark, cfg, mno=mno, start=start, end=end, meta=meta,
        devices=(tables.INBOUND_VISITS, result.visits),
        indicators=(tables.INBOUND_TOURISM, result.indicators),
    )  # fmt: skip
    totals = _territory_totals(stored, COUNTRY_OF_ORIGIN)
    nights, arrivals = totals.get(NIGHTS, {}), totals.get(ARRIVALS, {})
    visits = tables.INBOUND_VISITS.read(spark, cfg, mno=mno).where(period_predicate(start, end))
    summary = {
        "start": str(start),
        "end": str(end),
        "visits": visits.count(),
        "indicators": totals,
        "average_nights": {
            c: nights.get(c, {}).get(DEVICES, 0.0) / a[DEVICES]
            for c, a in sorted(arrivals.items())
            if a[DEVICES]
        },
        "fallbacks": fallbacks,
        "input_versions": versions,
    }
    log.info("tourism inbound %s: %s", mno, summary)
    return summary


def _home_tiles(
    spark: SparkSession, cfg: RmfConfig, mno: str, end: dt.date, fallbacks: list[str]
) -> tuple[DataFrame | None, str | None]:
    """The home tiles of the latest usual-environment period starting by ``end``."""
    spec = tables.UE_LABELS
    if not spec.exists(spark, cfg, mno=mno):
        fallbacks.append(f"home: {spec.id} not found, every traveller's home is unknown")
        return None, None
    labels = spec.read(spark, cfg, mno=mno)
    latest = (
        labels.where(F.col(PERIOD_START) <= F.lit(end))
        .select(PERIOD_START, PERIOD_END)
        .distinct()
        .orderBy(F.col(PERIOD_END).desc(), F.col(PERIOD_START).desc())
        .first()
    )
    if latest is None:
        fallbacks.append(
            f"home: {spec.id} holds no period starting by {end}, every traveller's home is unknown"
        )
        return None, None
    where = period_predicate(latest[PERIOD_START], latest[PERIOD_END])
    homes = labels.where(where).where(F.col(LABEL) == HOME).select(DEVICE_ID, TILE_ID)
    return homes, f"{latest[PERIOD_START]}..{latest[PERIOD_END]}"


def run_tourism_outbound(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Compute and write the trips abroad and outbound indicators of ``mno`` for ``start ..
    end``.

    Idempotent: the period's rows of ``slayer/outbound_trips`` and the days' rows of
    ``slayer/outbound_tourism`` are replaced.

    Returns
    -------
    dict
        ``start``, ``end``, ``trips`` (trip and destination rows written), ``indicators``
        (per indicator and destination, devices and persons at the territory level),
        ``home_period`` (the usual-environment period of the home labels, or None),
        ``fallbacks`` and ``input_versions``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        An input table is missing (``INPUT_TABLE_MISSING``).
    """
    fallbacks: list[str] = []
    _checked(start, end, cfg, fallbacks)
    s, pp = cfg.tourism, cfg.present_population
    inputs = read_clayer(spark, cfg, mno=mno, specs=OUTBOUND_INPUTS)
    t, versions = inputs.tables, inputs.versions
    before = dt.timedelta(days=1 + math.ceil(s.outbound.max_trip_gap_s / 86_400))
    around = F.col(DATE).between(F.lit(start - before), F.lit(end + dt.timedelta(days=1)))
    home_tiles, home_period = _home_tiles(spark, cfg, mno, end, fallbacks)
    areas = tile_areas(grid=t["grid"], tile_zone=t["tile_zone"], levels=s.levels)
    factors = None
    default_factor = None if pp.default_share is None else 1.0 / pp.default_share
    try:
        region_factors = factors_from_market_share(read_market_share(spark, cfg, mno=mno))
    except ConfigError as exc:
        if exc.code != "MARKET_SHARE_MISSING":
            raise
        fallbacks.append("expansion: no market share, persons are null")
    else:
        if home_tiles is not None:
            factors = home_factors(
                home_tiles,
                tile_zone=t["tile_zone"],
                factors=region_factors,
                region_level=pp.region_level,
            )
        if default_factor is None:
            # a traveller abroad all period has no home label: without a configured
            # default share, the mean of the regions' factors (rmf_spark's choice)
            mean = region_factors.agg(F.avg(EXPANSION_FACTOR)).first()
            if mean is not None and mean[0] is not None:
                default_factor = float(mean[0])
                fallbacks.append(
                    "expansion: travellers without a home region use the mean regional factor "
                    f"{default_factor:.4g}"
                )
    result = compute_outbound_tourism(
        t["time_segments"].where(around),
        start=start,
        end=end,
        settings=s,
        homes=None if home_tiles is None else home_areas(home_tiles, areas=areas),
        factors=factors,
        default_factor=default_factor,
    )
    meta = json.dumps(
        {"inputs": versions, "home_period": home_period, "fallbacks": fallbacks}, sort_keys=True
    )
    stored = _write_both(
        spark, cfg, mno=mno, start=start, end=end, meta=meta,
        devices=(tables.OUTBOUND_TRIPS, result.trips),
        indicators=(tables.OUTBOUND_TOURISM, result.indicators),
    )  # fmt: skip
    trips = tables.OUTBOUND_TRIPS.read(spark, cfg, mno=mno).where(period_predicate(start, end))
    summary = {
        "start": str(start),
        "end": str(end),
        "trips": trips.count(),
        "indicators": _territory_totals(stored, COUNTRY_OF_DESTINATION),
        "home_period": home_period,
        "fallbacks": fallbacks,
        "input_versions": versions,
    }
    log.info("tourism outbound %s: %s", mno, summary)
    return summary
