"""Accuracy of present population estimates against the synthetic truth.

Notes
-----
Normalised absolute error over the areas A of a level and the time points T compared:

    NAE = sum_{t, a} |est(t, a) - truth(t, a)| / sum_{t, a} truth(t, a),  t in T, a in A

An area missing on one side counts as 0 there (full outer join). Estimator error compares the
estimated devices with the true positions of the same MNO's devices (``truth/present_devices``,
rolled up with the same ``tile_zone`` as the estimates, so zone boundaries do not count as
error); population error compares the expanded estimate with ``truth/present_population``.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import INSPIRE_1KM, INSPIRE_100M, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.slayer.aggregate.schemas import (
    AREA_ID,
    DEVICES,
    LEVEL,
    LEVEL_1KM,
    POPULATION,
    zone_level_name,
)
from rmf_spark.slayer.present_population.schemas import (
    DEVICES_LOWER,
    DEVICES_UPPER,
    METHOD,
    POPULATION_LOWER,
    POPULATION_UPPER,
    TIME_POINT,
)

__all__ = [
    "TRUTH",
    "compute_accuracy",
    "compute_coverage",
    "compute_nae",
    "to_truth_devices",
    "to_truth_population",
]

TRUTH = "truth"
ESTIMATE = "estimate"
_TRUTH_LEVELS = {"100m": "100m", "1km": "1km", "municipality": "zone_2", "region": "zone_1"}


def to_truth_devices(
    present_devices: DataFrame, *, mno: str, grid: DataFrame, tile_zone: DataFrame
) -> DataFrame:
    """True devices of ``mno`` per (time point, level, area): 1 km tiles and every zone level.

    Parameters
    ----------
    present_devices
        ``truth/present_devices``: ``mno_id, time_point, inspire_100m, devices``.
    mno
        MNO id.
    grid, tile_zone
        C-layer tables (the 100 m tile -> 1 km tile and zones mapping of the estimates).

    Returns
    -------
    DataFrame
        ``time_point, level, area_id, truth double``.
    """
    dev = present_devices.where(F.col("mno_id") == mno).select(TIME_POINT, INSPIRE_100M, DEVICES)
    tiles = dev.join(grid.select(TILE_ID, INSPIRE_100M, INSPIRE_1KM), on=INSPIRE_100M, how="inner")
    km = tiles.groupBy(TIME_POINT, F.lit(LEVEL_1KM).alias(LEVEL), F.col(INSPIRE_1KM).alias(AREA_ID))
    zones = tiles.join(tile_zone, on=TILE_ID).groupBy(
        TIME_POINT,
        F.concat(F.lit("zone_"), F.col(ZONE_LEVEL).cast("string")).alias(LEVEL),
        F.col(ZONE_ID).alias(AREA_ID),
    )
    return km.agg(F.sum(DEVICES).cast("double").alias(TRUTH)).unionByName(
        zones.agg(F.sum(DEVICES).cast("double").alias(TRUTH))
    )


def to_truth_population(present_population: DataFrame) -> DataFrame:
    """``truth/present_population`` (levels 100m, 1km, municipality, region; ``persons``) in
    the estimates' level names: ``time_point, level, area_id, truth double``."""
    level = F.col(LEVEL)
    for name, ours in _TRUTH_LEVELS.items():
        level = F.when(F.col(LEVEL) == name, F.lit(ours)).otherwise(level)
    return present_population.select(
        TIME_POINT, level.alias(LEVEL), AREA_ID, F.col("persons").cast("double").alias(TRUTH)
    )


def compute_nae(
    estimates: DataFrame, *, truth: DataFrame, value_col: str = DEVICES, by: tuple[str, ...] = ()
) -> DataFrame:
    """Normalised absolute error per level (and ``by`` columns, e.g. method or time point).

    Parameters
    ----------
    estimates
        ``time_point, level, area_id, <value_col>`` plus the ``by`` columns.
    truth
        ``time_point, level, area_id, truth``. Only the time points and levels present in
        ``estimates`` are compared.
    value_col
        Estimate column (``devices`` or ``population``).
    by
        Extra grouping columns of ``estimates`` (a truth row is compared within each group).

    Returns
    -------
    DataFrame
        ``by..., level, nae double, truth_total double, estimate_total double``.

    Notes
    -----
    ``NAE = sum |est - truth| / sum truth`` (module notes); missing areas count as 0.
    """
    keys = [TIME_POINT, LEVEL, AREA_ID]
    est = estimates.select(*by, *keys, F.col(value_col).cast("double").alias(ESTIMATE))
    scope = est.select(*by, TIME_POINT, LEVEL).distinct()
    tru = scope.join(truth.select(*keys, TRUTH), on=[TIME_POINT, LEVEL], how="inner")
    both = est.join(tru, on=[*by, *keys], how="full_outer").fillna(0.0, subset=[ESTIMATE, TRUTH])
    return both.groupBy(*by, LEVEL).agg(
        (F.sum(F.abs(F.col(ESTIMATE) - F.col(TRUTH))) / F.sum(TRUTH)).alias("nae"),
        F.sum(TRUTH).alias("truth_total"),
        F.sum(ESTIMATE).alias("estimate_total"),
    )


def compute_coverage(
    estimates: DataFrame,
    *,
    truth: DataFrame,
    lower_col: str,
    upper_col: str,
) -> DataFrame:
    """Share of (time point, area) whose truth lies in the estimate's interval, per level.

    ``coverage = #{(t, a): lower <= truth <= upper} / #{(t, a)}`` over the areas of either
    side at the time points and levels of ``estimates``; an area without estimate has the
    interval [0, 0], one without truth has truth 0 (as in :func:`compute_nae`).

    Returns
    -------
    DataFrame
        ``level, coverage double, areas long``.
    """
    keys = [TIME_POINT, LEVEL, AREA_ID]
    est = estimates.select(
        *keys, F.col(lower_col).alias("_lo"), F.col(upper_col).alias("_hi")
    ).where(F.col("_lo").isNotNull() & F.col("_hi").isNotNull())
    scope = est.select(TIME_POINT, LEVEL).distinct()
    tru = scope.join(truth.select(*keys, TRUTH), on=[TIME_POINT, LEVEL], how="inner")
    both = est.join(tru, on=keys, how="full_outer").fillna(0.0, subset=["_lo", "_hi", TRUTH])
    inside = (F.col(TRUTH) >= F.col("_lo") - 1e-9) & (F.col(TRUTH) <= F.col("_hi") + 1e-9)
    return both.groupBy(LEVEL).agg(
        F.avg(inside.cast("double")).alias("coverage"), F.count(F.lit(1)).alias("areas")
    )


def compute_accuracy(
    estimates: DataFrame,
    *,
    truth_devices: DataFrame,
    truth_population: DataFrame,
    zone_level: int = 2,
) -> dict[str, Any]:
    """The ``accuracy`` block of the demo's ``summary.json``.

    Parameters
    ----------
    estimates
        S-layer ``present_population`` (methods ``em``, ``naive`` and, when present, ``hmm``).
    truth_devices
        :func:`to_truth_devices` output.
    truth_population
        :func:`to_truth_population` output.
    zone_level
        Zone level of ``nae_zone`` (default 2, municipalities).

    Returns
    -------
    dict
        ``{"present_population": {"em": {"nae_1km", "nae_zone"}, "naive": {...},
        "population_nae_zone": ...}}`` (floats; None when there is no truth to compare); with
        ``hmm`` estimates also ``"hmm": {..., "interval_coverage": {"devices_1km",
        "devices_zone", "population_zone"}}`` (:func:`compute_coverage`).
    """
    zone = zone_level_name(zone_level)
    levels = [LEVEL_1KM, zone]
    scoped = estimates.where(F.col(LEVEL).isin(levels))
    dev = compute_nae(scoped, truth=truth_devices, by=(METHOD,)).collect()
    pop = compute_nae(
        scoped.where(F.col(METHOD) == "em"), truth=truth_population, value_col=POPULATION
    ).collect()
    nae = {(r[METHOD], r[LEVEL]): r["nae"] for r in dev}
    pop_nae = {r[LEVEL]: r["nae"] for r in pop}

    def num(x: Any) -> float | None:
        return None if x is None else round(float(x), 6)

    methods = ["em", "naive"] + (["hmm"] if any(m == "hmm" for m, _ in nae) else [])
    out: dict[str, Any] = {
        **{
            m: {"nae_1km": num(nae.get((m, LEVEL_1KM))), "nae_zone": num(nae.get((m, zone)))}
            for m in methods
        },
        "population_nae_zone": num(pop_nae.get(zone)),
    }
    if "hmm" in methods:
        hmm = scoped.where(F.col(METHOD) == "hmm")
        cov_dev = compute_coverage(
            hmm, truth=truth_devices, lower_col=DEVICES_LOWER, upper_col=DEVICES_UPPER
        ).collect()
        cov_pop = compute_coverage(
            hmm, truth=truth_population, lower_col=POPULATION_LOWER, upper_col=POPULATION_UPPER
        ).collect()
        dev_cov = {r[LEVEL]: r["coverage"] for r in cov_dev}
        pop_cov = {r[LEVEL]: r["coverage"] for r in cov_pop}
        out["hmm"]["interval_coverage"] = {
            "devices_1km": num(dev_cov.get(LEVEL_1KM)),
            "devices_zone": num(dev_cov.get(zone)),
            "population_zone": num(pop_cov.get(zone)),
        }
    return {"present_population": out}
