"""Accuracy of inbound and outbound tourism against the synthetic truth (issue 18).

Notes
-----
``truth/inbound_nights`` holds, per night (``date``: its evening's day), zone level and zone
and the visitor's country (its SIM's MCC, mapped with the shipped table), the visitors at the
functional midnight (04:00 local) in the zone; ``truth/inbound_visitors`` the visitors in the
territory per day and country (``docs/mobility.md`` section 7.6). The estimate is
``slayer/inbound_tourism`` (``population``: devices expanded by the share of each country's
visitors on the MNO).

Over the days ``T`` of the estimate, for each cell ``c`` (a region and a country for the
nights; a day and a country for the visitors):

    relative error r(c) = (est(c) - truth(c)) / truth(c)    (null when truth(c) = 0)
    NAE = sum_c |est(c) - truth(c)| / sum_c truth(c)

a cell missing on one side counting 0 there, an estimate with a null ``population`` counting 0
(and counted in ``cells_without_value``). The issue's targets: nights per region and country,
and visitors per day, within 10 % of the truth.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, ZONE_ID, ZONE_LEVEL
from rmf_spark.evaluate.accuracy import TRUTH
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL, POPULATION, zone_level_name
from rmf_spark.slayer.tourism.schemas import (
    COUNTRY_OF_DESTINATION,
    COUNTRY_OF_ORIGIN,
    INDICATOR,
    LEVEL_TERRITORY,
    NIGHTS,
    TRIPS,
    VISITORS,
)

__all__ = ["inbound_accuracy", "outbound_accuracy"]

ESTIMATE = "estimate"
RELATIVE_ERROR = "relative_error"
#: the issue's tolerance: within 10 % of the truth
TOLERANCE = 0.10


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), 6)


def _compare(est: DataFrame, truth: DataFrame, keys: list[str]) -> tuple[DataFrame, dict]:
    """The cells (full outer join, 0 where a side has none) and their summary."""
    cells = (
        est.join(truth, keys, "full_outer")
        .fillna(0.0, subset=[ESTIMATE, TRUTH])
        .withColumn(
            RELATIVE_ERROR,
            F.when(F.col(TRUTH) > 0, (F.col(ESTIMATE) - F.col(TRUTH)) / F.col(TRUTH)),
        )
        .select(*keys, ESTIMATE, TRUTH, RELATIVE_ERROR)
    )
    r = cells.agg(
        F.sum(F.abs(F.col(ESTIMATE) - F.col(TRUTH))).alias("abs"),
        F.sum(TRUTH).alias("t"),
        F.sum(ESTIMATE).alias("e"),
        F.count("*").alias("n"),
        F.count_if(F.abs(F.col(RELATIVE_ERROR)) <= TOLERANCE).alias("within"),
        F.count(RELATIVE_ERROR).alias("rated"),
        F.max(F.abs(F.col(RELATIVE_ERROR))).alias("worst"),
    ).first()
    assert r is not None  # a global aggregation has one row
    t, e = r["t"], r["e"]
    return cells, {
        "cells": int(r["n"]),
        "nae": _num(r["abs"] / t) if t else None,
        "truth_total": _num(t),
        "estimate_total": _num(e),
        "total_relative_error": _num((e - t) / t) if t else None,
        "cells_within_10pct": int(r["within"]),
        "cells_with_truth": int(r["rated"]),
        "max_abs_relative_error": _num(r["worst"]),
    }


def inbound_accuracy(
    inbound: DataFrame,
    *,
    truth_nights: DataFrame,
    truth_visitors: DataFrame,
    zone_level: int = 1,
    value_col: str = POPULATION,
) -> tuple[dict[str, Any], DataFrame, DataFrame]:
    """Relative errors of the nights per zone and country and of the visitors per day and
    country, against the truth (module notes).

    Parameters
    ----------
    inbound
        ``slayer/inbound_tourism`` (``INBOUND_TOURISM_SCHEMA``); its days are compared.
    truth_nights
        ``truth/inbound_nights``: ``date, zone_level, zone_id, country, nights``.
    truth_visitors
        ``truth/inbound_visitors``: ``date, country, visitors``.
    zone_level
        The zones of the nights (1: regions, ``zone_1`` in the estimate).
    value_col
        The estimate: ``population`` (persons; the truth counts visitors) or ``devices``.

    Returns
    -------
    tuple
        The summary (``value``, ``days``, ``cells_without_value``, and for ``nights`` and
        ``visitors``: ``cells``, ``nae``, ``truth_total``, ``estimate_total``,
        ``total_relative_error``, ``cells_within_10pct``, ``cells_with_truth``,
        ``max_abs_relative_error``, ``by_country`` {country: relative error of its total}),
        the nights cells ``zone_id, country, estimate, truth, relative_error`` and the
        visitors cells ``date, country, estimate, truth, relative_error``.
    """
    level = zone_level_name(zone_level)
    country = F.col(COUNTRY_OF_ORIGIN).alias("country")
    value = F.coalesce(F.col(value_col).cast("double"), F.lit(0.0))
    nights_est = inbound.where((F.col(INDICATOR) == NIGHTS) & (F.col(LEVEL) == level))
    visitors_est = inbound.where((F.col(INDICATOR) == VISITORS) & (F.col(LEVEL) == LEVEL_TERRITORY))
    days = inbound.where(F.col(INDICATOR).isin(NIGHTS, VISITORS)).select(DATE).distinct()
    night_cells, nights = _compare(
        nights_est.groupBy(F.col(AREA_ID).alias(ZONE_ID), country).agg(
            F.sum(value).alias(ESTIMATE)
        ),
        truth_nights.where(F.col(ZONE_LEVEL) == zone_level)
        .join(days, DATE, "left_semi")
        .groupBy(ZONE_ID, "country")
        .agg(F.sum("nights").cast("double").alias(TRUTH)),
        [ZONE_ID, "country"],
    )
    visitor_cells, visitors = _compare(
        visitors_est.groupBy(DATE, country).agg(F.sum(value).alias(ESTIMATE)),
        truth_visitors.join(days, DATE, "left_semi").select(
            DATE, "country", F.col("visitors").cast("double").alias(TRUTH)
        ),
        [DATE, "country"],
    )
    for summary, cells in ((nights, night_cells), (visitors, visitor_cells)):
        per_country = cells.groupBy("country").agg(
            F.sum(ESTIMATE).alias("e"), F.sum(TRUTH).alias("t")
        )
        summary["by_country"] = {
            r["country"]: _num((r["e"] - r["t"]) / r["t"]) if r["t"] else None
            for r in per_country.orderBy("country").collect()
        }
    scoped = inbound.where(
        ((F.col(INDICATOR) == NIGHTS) & (F.col(LEVEL) == level))
        | ((F.col(INDICATOR) == VISITORS) & (F.col(LEVEL) == LEVEL_TERRITORY))
    )
    return (
        {
            "value": value_col,
            "days": days.count(),
            "cells_without_value": scoped.where(F.col(value_col).isNull()).count(),
            NIGHTS: nights,
            VISITORS: visitors,
        },
        night_cells,
        visitor_cells,
    )


def outbound_accuracy(
    outbound: DataFrame,
    *,
    truth_trips: DataFrame,
    start: dt.date,
    end: dt.date,
    value_col: str = POPULATION,
) -> tuple[dict[str, Any], DataFrame]:
    """Relative error of the trips abroad per destination country against the truth.

    A trip is counted on the day it enters its destination: the estimate sums the ``trips``
    indicator of ``slayer/outbound_tourism`` over ``start .. end`` at the territory level; the
    truth counts ``truth/outbound_trips`` whose ``abroad_from`` is in ``start .. end``. The
    nights are compared the same way on the mornings ``start .. end`` (a night of date D ends
    on the morning of D + 1; the truth's trip away from ``abroad_from`` to ``abroad_to`` holds
    the mornings of those days).

    Parameters
    ----------
    outbound
        ``slayer/outbound_tourism`` (``OUTBOUND_TOURISM_SCHEMA``).
    truth_trips
        ``truth/outbound_trips``: ``person_id, destination_country, abroad_from, abroad_to``.
    value_col
        ``population`` (persons: the truth counts persons) or ``devices``.

    Returns
    -------
    tuple
        The summary (``value``; for ``trips`` and ``nights``: ``cells``, ``nae``,
        ``truth_total``, ``estimate_total``, ``total_relative_error``, ``cells_within_10pct``,
        ``cells_with_truth``, ``max_abs_relative_error``) and the trips' cells ``country,
        estimate, truth, relative_error``.
    """
    value = F.coalesce(F.col(value_col).cast("double"), F.lit(0.0))
    at = outbound.where(F.col(LEVEL) == LEVEL_TERRITORY)
    country = F.col(COUNTRY_OF_DESTINATION).alias("country")
    trip_cells, trips = _compare(
        at.where((F.col(INDICATOR) == TRIPS) & F.col(DATE).between(start, end))
        .groupBy(country)
        .agg(F.sum(value).alias(ESTIMATE)),
        truth_trips.where(F.col("abroad_from").between(start, end))
        .groupBy(F.col("destination_country").alias("country"))
        .agg(F.count("*").cast("double").alias(TRUTH)),
        ["country"],
    )
    first, last = F.greatest("abroad_from", F.lit(start)), F.least("abroad_to", F.lit(end))
    _, nights = _compare(
        at.where(
            (F.col(INDICATOR) == NIGHTS)
            & F.col(DATE).between(start - dt.timedelta(days=1), end - dt.timedelta(days=1))
        )
        .groupBy(country)
        .agg(F.sum(value).alias(ESTIMATE)),
        truth_trips.where(first <= last)
        .groupBy(F.col("destination_country").alias("country"))
        .agg(F.sum(F.datediff(last, first) + 1).cast("double").alias(TRUTH)),
        ["country"],
    )
    return {"value": value_col, TRIPS: trips, NIGHTS: nights}, trip_cells
