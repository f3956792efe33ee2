"""Stage runner of the evaluation: a product's estimates in the lake + truth -> accuracy, report.

Generic over the products of the catalog (:data:`rmf_spark.tables.PRODUCTS`): the estimates
table, its time column and the truth tables come from the product; how they are compared is
the product's entry in :data:`EVALUATIONS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from rmf_spark import lake, tables
from rmf_spark.config import RmfConfig
from rmf_spark.evaluate.accuracy import compute_accuracy, to_truth_devices, to_truth_population
from rmf_spark.evaluate.device_accuracy import (
    compute_position_errors,
    compute_stay_recovery,
    position_error_summary,
    truth_device_map,
)
from rmf_spark.evaluate.device_report import device_report_frames, write_device_report
from rmf_spark.evaluate.report import write_report
from rmf_spark.slayer.device.device_days import posterior_tiles
from rmf_spark.timerange import time_range_predicate

__all__ = ["EVALUATIONS", "run_evaluate", "run_evaluate_device", "run_evaluate_products"]


def _present_population(
    estimates: DataFrame,
    truth: dict[str, DataFrame],
    *,
    grid: DataFrame,
    tile_zone: DataFrame,
    mno: str,
    zone_level: int,
    out: str | Path,
) -> dict[str, Any]:
    truth_devices = to_truth_devices(
        truth["present_devices"], mno=mno, grid=grid, tile_zone=tile_zone
    ).cache()
    accuracy = compute_accuracy(
        estimates,
        truth_devices=truth_devices,
        truth_population=to_truth_population(truth["present_population"]),
        zone_level=zone_level,
    )
    report = write_report(
        out, estimates=estimates, truth_devices=truth_devices, accuracy=accuracy, mno=mno
    )
    truth_devices.unpersist()
    return {"accuracy": accuracy, "report": str(report)}


#: product name -> comparison of its estimates (in the time range) with its truth tables
EVALUATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "present_population": _present_population,
}


def run_evaluate(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    truth_dir: str | Path,
    out: str | Path,
    zone_level: int = 2,
    product: str = "present_population",
) -> dict[str, Any]:
    """Compare ``<mno>/slayer/<product>`` in [start, end] with the synthetic truth.

    Parameters
    ----------
    cfg
        The profile.
    mno
        MNO id.
    truth_dir
        The synthetic world's ``truth`` directory (local or a URI), holding the product's
        truth tables (``present_devices``, ``present_population`` Delta tables).
    start, end
        Time range compared.
    out
        HTML report path (a local file).
    zone_level
        Zone level of ``nae_zone`` (default 2, municipalities).
    product
        A product of :data:`rmf_spark.tables.PRODUCTS` with an entry in :data:`EVALUATIONS`.

    Returns
    -------
    dict
        ``{"accuracy": <summary.json accuracy block>, "report": <path>}``.
    """
    prod = tables.product(product)
    tables.require(spark, cfg, [prod.estimates, tables.GRID, tables.TILE_ZONE], mno=mno)
    truth_paths = {f"truth/{n}": lake.uri_join(truth_dir, n) for n in prod.truth_tables}
    lake.require_tables(spark, truth_paths)
    window = time_range_predicate(start, end, column=prod.time_column)
    estimates = prod.estimates.read(spark, cfg, mno=mno).where(window).cache()
    truth = {
        n: lake.read_delta(spark, truth_paths[f"truth/{n}"]).where(window)
        for n in prod.truth_tables
    }
    result = EVALUATIONS[prod.name](
        estimates,
        truth,
        grid=tables.GRID.read(spark, cfg),
        tile_zone=tables.TILE_ZONE.read(spark, cfg),
        mno=mno,
        zone_level=zone_level,
        out=out,
    )
    estimates.unpersist()
    return result


def _device_person(
    cfg: RmfConfig, mno: str, truth_devices: DataFrame, days: list[dt.date]
) -> DataFrame:
    # the truth's devices under the MNO's pseudonyms of those days (the key stays here)
    from rmf_spark.dlayer.runner import mno_profile

    _, profile = mno_profile(cfg, mno)
    return truth_device_map(
        truth_devices,
        mno=mno,
        ingest=cfg.ingest,
        dates=days,
        identifier_pseudonymised=profile.events.identifier_pseudonymised,
    )


def run_evaluate_products(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: dt.date,
    end: dt.date,
    truth_dir: str | Path,
) -> dict[str, Any]:
    """Accuracy of the usual-environment period ``start .. end`` and of the OD matrices of
    those days against the truth, for the products found in the lake (inside the MNO: the
    labels are per device).

    Returns
    -------
    dict
        ``home_work`` (:func:`~.usual_environment_accuracy.home_work_accuracy`), ``residents``
        (:func:`~.usual_environment_accuracy.residents_accuracy` against the residents of the
        period, migrants at their home of most days), ``od``
        (:func:`~.od_accuracy.od_accuracy`), ``tourism_inbound``
        (:func:`~.tourism_accuracy.inbound_accuracy`) and ``tourism_outbound``
        (:func:`~.tourism_accuracy.outbound_accuracy`), when the world has their truth; a
        product not computed is left out.
    """
    from rmf_spark.evaluate.od_accuracy import od_accuracy
    from rmf_spark.evaluate.tourism_accuracy import inbound_accuracy, outbound_accuracy
    from rmf_spark.evaluate.usual_environment_accuracy import (
        home_work_accuracy,
        period_residents,
        residents_accuracy,
    )
    from rmf_spark.slayer.usual_environment.runner import period_predicate

    names = ("devices", "persons", "od_flows")
    paths = {f"truth/{n}": lake.uri_join(truth_dir, n) for n in names}
    lake.require_tables(spark, paths)
    truth = {n: lake.read_delta(spark, paths[f"truth/{n}"]) for n in names}
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    grid, tile_zone = tables.GRID.read(spark, cfg), tables.TILE_ZONE.read(spark, cfg, mno=mno)
    result: dict[str, Any] = {}
    period = period_predicate(start, end)
    if tables.UE_LABEL_STATUS.exists(spark, cfg, mno=mno):
        device_person = _device_person(cfg, mno, truth["devices"], days).cache()
        result["home_work"], _ = home_work_accuracy(
            tables.UE_LABELS.read(spark, cfg, mno=mno).where(period),
            tables.UE_LABEL_STATUS.read(spark, cfg, mno=mno).where(period),
            grid=grid,
            tile_zone=tile_zone,
            truth_persons=truth["persons"],
            device_person=device_person,
        )
        device_person.unpersist()
    if tables.CALIBRATED_RESIDENTS.exists(spark, cfg, mno=mno):
        result["residents"], _ = residents_accuracy(
            tables.CALIBRATED_RESIDENTS.read(spark, cfg, mno=mno).where(period),
            truth_residents=period_residents(truth["persons"], start=start, end=end),
            residents=tables.RESIDENTS.read(spark, cfg, mno=mno).where(period),
        )
    if tables.OD_MATRIX.exists(spark, cfg, mno=mno):
        result["od"], _ = od_accuracy(
            tables.OD_MATRIX.read(spark, cfg, mno=mno).where(
                f"date BETWEEN DATE'{start}' AND DATE'{end}'"
            ),
            truth_od_flows=truth["od_flows"],
        )
    inbound_truth = {n: lake.uri_join(truth_dir, n) for n in ("inbound_nights", "inbound_visitors")}
    if tables.INBOUND_TOURISM.exists(spark, cfg, mno=mno) and all(
        lake.table_exists(spark, p) for p in inbound_truth.values()
    ):  # worlds made before the tourism truth have none
        result["tourism_inbound"], _, _ = inbound_accuracy(
            tables.INBOUND_TOURISM.read(spark, cfg, mno=mno).where(
                f"date BETWEEN DATE'{start}' AND DATE'{end}'"
            ),
            truth_nights=lake.read_delta(spark, inbound_truth["inbound_nights"]),
            truth_visitors=lake.read_delta(spark, inbound_truth["inbound_visitors"]),
        )
    outbound_truth = lake.uri_join(truth_dir, "outbound_trips")
    if tables.OUTBOUND_TOURISM.exists(spark, cfg, mno=mno) and lake.table_exists(
        spark, outbound_truth
    ):
        result["tourism_outbound"], _ = outbound_accuracy(
            tables.OUTBOUND_TOURISM.read(spark, cfg, mno=mno),
            truth_trips=lake.read_delta(spark, outbound_truth),
            start=start,
            end=end,
        )
    return result


def run_evaluate_device(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    truth_dir: str | Path,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Device-level accuracy of ``<mno>``'s device stage in [start, end] against the truth,
    and with ``out`` (a local ``.html`` file) the page of sample devices
    (:mod:`~rmf_spark.evaluate.device_report`).

    Runs inside the MNO: the truth's devices are pseudonymised with the D-layer's key
    (:func:`~rmf_spark.evaluate.device_accuracy.truth_device_map`), and only these summary
    figures come out.

    Returns
    -------
    dict
        ``position_error_m`` (``count, mean_m, p50_m, p90_m`` of the distance between the
        posterior mean and the true position at the time points) and ``stays`` (recall and
        precision of the stay segments against true stays of at least 1 h, within 1 km);
        ``report``: the page's path, with ``out``.
    """
    tables.require(
        spark,
        cfg,
        [tables.TIME_SEGMENTS, tables.LOCATION_POSTERIOR, tables.DEVICE_DAY, tables.GRID],
        mno=mno,
    )
    names = ("devices", "positions", "stays")
    paths = {f"truth/{n}": lake.uri_join(truth_dir, n) for n in names}
    lake.require_tables(spark, paths)
    truth = {n: lake.read_delta(spark, paths[f"truth/{n}"]) for n in names}
    days = [
        start.date() + dt.timedelta(days=k) for k in range((end.date() - start.date()).days + 1)
    ]
    device_person = _device_person(cfg, mno, truth["devices"], days).cache()
    grid = tables.GRID.read(spark, cfg)
    window = time_range_predicate(start, end)
    posteriors = posterior_tiles(tables.LOCATION_POSTERIOR.read(spark, cfg, mno=mno).where(window))
    errors = compute_position_errors(
        posteriors,
        grid=grid,
        truth_positions=truth["positions"].where(window),
        device_person=device_person,
    ).cache()
    dates = f"date BETWEEN DATE'{days[0]}' AND DATE'{days[-1]}'"
    stays = compute_stay_recovery(
        tables.TIME_SEGMENTS.read(spark, cfg, mno=mno).where(dates),
        grid=grid,
        truth_stays=truth["stays"],
        device_person=device_person,
        window=(start, end + dt.timedelta(seconds=cfg.present_population.time_step_s)),
    )
    result: dict[str, Any] = {"position_error_m": position_error_summary(errors), "stays": stays}
    if out is not None:
        frames = device_report_frames(
            device_day=tables.DEVICE_DAY.read(spark, cfg, mno=mno).where(dates),
            segments=tables.TIME_SEGMENTS.read(spark, cfg, mno=mno).where(dates),
            posteriors=posteriors,
            grid=grid,
            errors=errors,
        )
        result["report"] = str(write_device_report(out, frames, mno=mno))
    errors.unpersist()
    device_person.unpersist()
    return result
