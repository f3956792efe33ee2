"""Long-term permanence: the mid-term permanence of several periods (months, in MultiMNO)
added up per device, day type, time interval and tile (Eurostat MultiMNO, long-term
permanence score).

Notes
-----
Input: the rows of :func:`~rmf_spark.slayer.usual_environment.midterm.compute_midterm_permanence`
(and of ``compute_midterm_observation``) of each mid-term period, with ``period_start``, the
first local day of the period (:func:`stack_periods` makes that union). A season keeps the
periods whose ``period_start`` falls in its months (:func:`select_season`). Over the periods
``p`` given, for each device, day type, interval and tile:

    permanence       = sum_p permanence_p                        (MultiMNO LPS)
    frequency        = sum_p frequency_p                         (total_frequency)
    frequency_mean, frequency_std = mean and sample standard deviation of frequency_p
    regularity_mean, regularity_std = mean and sample standard deviation of regularity_mean_p
    periods          = number of periods in which the tile appears

The means and standard deviations run over the periods in which the tile appears (null
values skipped; a standard deviation needs two), as MultiMNO computes them; ``frequency /
number of periods`` is the mean over all of them. The observation totals (``grid_slots``,
``unknown_slots``, ``abroad_slots``, ``days``) are summed per device, day type and interval,
with ``periods`` the number of periods the device was seen in. The names match the mid-term
tables', so the labels read either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
from rmf_spark.slayer.usual_environment.midterm import (
    ABROAD_SLOTS,
    DAY_TYPE,
    DAYS,
    FREQUENCY,
    GRID_SLOTS,
    PERMANENCE,
    REGULARITY_MEAN,
    REGULARITY_STD,
    TIME_INTERVAL,
    UNKNOWN_SLOTS,
)
from rmf_spark.slayer.usual_environment.settings import UsualEnvironmentSettings

__all__ = [
    "FREQUENCY_MEAN",
    "FREQUENCY_STD",
    "PERIODS",
    "PERIOD_START",
    "compute_longterm_observation",
    "compute_longterm_permanence",
    "select_season",
    "stack_periods",
]

PERIOD_START, PERIODS = "period_start", "periods"
FREQUENCY_MEAN, FREQUENCY_STD = "frequency_mean", "frequency_std"


def stack_periods(periods: Mapping[dt.date, DataFrame]) -> DataFrame:
    """The union of mid-term tables (all permanence, or all observation), each row tagged with
    ``period_start``: the first day of its period (the key of ``periods``), as in
    ``stack_periods({date(2024, 1, 1): january, date(2024, 2, 1): february})``.
    """
    if not periods:
        raise ValueError("stack_periods: no mid-term period given")
    tagged = [df.withColumn(PERIOD_START, F.lit(start)) for start, df in sorted(periods.items())]
    return reduce(lambda a, b: a.unionByName(b), tagged)


def select_season(rows: DataFrame, season: str, *, settings: UsualEnvironmentSettings) -> DataFrame:
    """The rows of the periods whose ``period_start`` month is one of ``season``'s
    (``usual_environment.longterm.seasons``); ``'all'``: every row."""
    if season == "all":
        return rows
    seasons = settings.longterm.seasons
    if season not in seasons:
        raise ValueError(
            f"season {season!r} is not 'all' nor one of usual_environment.longterm.seasons "
            f"({', '.join(sorted(seasons))})"
        )
    return rows.where(F.month(PERIOD_START).isin(seasons[season]))


def compute_longterm_permanence(midterm: DataFrame) -> DataFrame:
    """Per device, day type, time interval and tile, the mid-term rows of all periods given
    combined (module notes; MultiMNO long-term permanence score). ``midterm``: mid-term
    permanence rows with ``period_start`` (:func:`stack_periods`).

    Returns
    -------
    DataFrame
        ``device_id, day_type, time_interval, tile_id, permanence, frequency,
        frequency_mean, frequency_std, regularity_mean, regularity_std, periods``.
    """
    return midterm.groupBy(DEVICE_ID, DAY_TYPE, TIME_INTERVAL, TILE_ID).agg(
        F.sum(PERMANENCE).cast("int").alias(PERMANENCE),
        F.sum(FREQUENCY).cast("int").alias(FREQUENCY),
        F.avg(FREQUENCY).alias(FREQUENCY_MEAN),
        F.stddev_samp(FREQUENCY).alias(FREQUENCY_STD),
        # MultiMNO: the spread of the periods' mean gaps, not a pooled spread of all gaps
        F.avg(REGULARITY_MEAN).alias(REGULARITY_MEAN),
        F.stddev_samp(REGULARITY_MEAN).alias(REGULARITY_STD),
        F.count_distinct(PERIOD_START).cast("int").alias(PERIODS),
    )


def compute_longterm_observation(observation: DataFrame) -> DataFrame:
    """Per device, day type and time interval, the mid-term observation totals of all periods
    given summed, and ``periods`` (those with a row). ``observation``: mid-term observation
    rows with ``period_start`` (:func:`stack_periods`).

    Returns
    -------
    DataFrame
        ``device_id, day_type, time_interval, grid_slots, unknown_slots, abroad_slots, days,
        periods``.
    """
    return observation.groupBy(DEVICE_ID, DAY_TYPE, TIME_INTERVAL).agg(
        *[F.sum(c).cast("int").alias(c) for c in (GRID_SLOTS, UNKNOWN_SLOTS, ABROAD_SLOTS, DAYS)],
        F.count_distinct(PERIOD_START).cast("int").alias(PERIODS),
    )
