"""Accuracy of the OD matrices against the synthetic truth (issue 18).

Notes
-----
``truth/od_flows`` holds, per local day, zone level (2 municipalities, 1 regions) and pair of
zones, the persons' travel legs of positive duration (``docs/mobility.md`` section 4). The
OD matrix has one row per day, time band, level and pair; a day's estimate is the sum of its
bands (there is no all-day band). For the pairs ``p`` of a level and the days ``t`` compared
(those of the estimate), with the NAE of
:func:`~rmf_spark.evaluate.accuracy.compute_nae`:

    NAE = sum_{t, p} |est(t, p) - truth(t, p)| / sum_{t, p} truth(t, p)

a pair missing on one side counting 0 there. The intra-zone share is ``sum_{t, p: o = d} v /
sum_{t, p} v`` on each side over the same days; their difference is given in points
(``100 x (estimate - truth)``).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, ZONE_LEVEL
from rmf_spark.evaluate.accuracy import TRUTH, compute_nae
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL, zone_level_name
from rmf_spark.slayer.mobility.od import DESTINATION_AREA_ID, ORIGIN_AREA_ID, PERSON_TRIPS
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = ["od_accuracy"]

ESTIMATE = "estimate"
_PAIR = " -> "


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), 6)


def _as_points(df: DataFrame, value: str) -> DataFrame:
    """``time_point`` (the day), ``level``, ``area_id`` (the pair), ``value``: the shape of
    :func:`~rmf_spark.evaluate.accuracy.compute_nae`."""
    pair = F.concat_ws(_PAIR, ORIGIN_AREA_ID, DESTINATION_AREA_ID)
    return df.select(F.col(DATE).alias(TIME_POINT), LEVEL, pair.alias(AREA_ID), value)


def od_accuracy(
    od: DataFrame,
    *,
    truth_od_flows: DataFrame,
    zone_levels: tuple[int, ...] = (2, 1),
    value_col: str = PERSON_TRIPS,
) -> tuple[dict[str, Any], DataFrame]:
    """NAE of the OD matrix per day between zones, and the intra-zone share, against the truth.

    Parameters
    ----------
    od
        ``slayer/od_matrix`` (``OD_SCHEMA``: ``date, time_band, level, origin_area_id,
        destination_area_id, trips, person_trips``); its days are compared.
    truth_od_flows
        ``truth/od_flows``: ``date, zone_level, origin_zone_id, destination_zone_id, trips``.
    zone_levels
        The levels compared (``zone_<n>`` here, ``zone_level`` n in the truth).
    value_col
        The estimate: ``person_trips`` (expanded; the truth counts persons' legs).

    Returns
    -------
    tuple
        The summary: ``value``, ``days`` (compared), ``cells_without_value`` (OD rows of the
        levels whose ``value_col`` is null: counted as 0), and per level ``zone_<n>``:
        ``nae``, ``truth_total``, ``estimate_total``, ``pairs`` (day and pair cells on either
        side), ``intra_share_truth``, ``intra_share_estimate``,
        ``intra_share_difference_points``. And the per-cell frame ``date, level,
        origin_area_id, destination_area_id, estimate, truth`` (0 where a side has none).
    """
    names = {zone_level_name(z): z for z in zone_levels}
    scoped = od.where(F.col(LEVEL).isin(list(names)))
    keys = [DATE, LEVEL, ORIGIN_AREA_ID, DESTINATION_AREA_ID]
    est = scoped.groupBy(*keys).agg(F.sum(value_col).cast("double").alias(ESTIMATE))
    level = F.concat(F.lit("zone_"), F.col(ZONE_LEVEL).cast("string"))
    truth = truth_od_flows.where(F.col(ZONE_LEVEL).isin(list(names.values()))).select(
        DATE,
        level.alias(LEVEL),
        F.col("origin_zone_id").alias(ORIGIN_AREA_ID),
        F.col("destination_zone_id").alias(DESTINATION_AREA_ID),
        F.col("trips").cast("double").alias(TRUTH),
    )
    nae = {
        r[LEVEL]: r
        for r in compute_nae(
            _as_points(est, ESTIMATE), truth=_as_points(truth, TRUTH), value_col=ESTIMATE
        ).collect()
    }
    # the cells compared: the estimate's days and levels, as in compute_nae
    scope = est.select(DATE, LEVEL).distinct()
    cells = (
        est.join(truth.join(scope, [DATE, LEVEL], "left_semi"), keys, "full_outer")
        .fillna(0.0, subset=[ESTIMATE, TRUTH])
        .select(*keys, ESTIMATE, TRUTH)
    )
    intra = F.col(ORIGIN_AREA_ID) == F.col(DESTINATION_AREA_ID)
    shares = {
        r[LEVEL]: r
        for r in cells.groupBy(LEVEL)
        .agg(
            F.count("*").alias("pairs"),
            (F.sum(F.when(intra, F.col(TRUTH))) / F.sum(TRUTH)).alias("t"),
            (F.sum(F.when(intra, F.col(ESTIMATE))) / F.sum(ESTIMATE)).alias("e"),
        )
        .collect()
    }
    totals = scoped.agg(
        F.count_if(F.col(value_col).isNull()).alias("nulls"),
        F.countDistinct(DATE).alias("days"),
    ).first()
    assert totals is not None  # a global aggregation has one row
    levels: dict[str, Any] = {}
    for name in names:
        n, s = nae.get(name), shares.get(name)
        t = s["t"] if s is not None else None
        e = s["e"] if s is not None else None
        levels[name] = {
            "nae": _num(n["nae"]) if n is not None else None,
            "truth_total": _num(n["truth_total"]) if n is not None else None,
            "estimate_total": _num(n["estimate_total"]) if n is not None else None,
            "pairs": int(s["pairs"]) if s is not None else 0,
            "intra_share_truth": _num(t),
            "intra_share_estimate": _num(e),
            "intra_share_difference_points": (
                _num(100 * (e - t)) if t is not None and e is not None else None
            ),
        }
    return {
        "value": value_col,
        "days": int(totals["days"]),
        "cells_without_value": int(totals["nulls"]),
        **levels,
    }, cells
