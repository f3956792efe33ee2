"""Accuracy of device-level inference against the synthetic truth (inside the MNO).

Notes
-----
The device tables (``device_segments``, time-point posteriors) name devices by their
pseudonym; the truth names persons. :func:`truth_device_map` computes the pseudonyms of the
truth's devices with the D-layer's own function and key, so the evaluation runs where the key
is (the MNO) and its outputs keep the pseudonyms, never the key.

Position error at a time point ``t`` of device ``d`` carried by person ``q``:

    e(d, t) = || sum_j p_j c_j / sum_j p_j  -  X_q(t) ||,   c_j = (x_ll + 50, y_ll + 50)

``p_j`` the posterior of tile ``j``, ``X_q(t)`` the true position (``truth/positions``),
EPSG:3035 metres. Stay recovery matches ``stay`` segments with true stays (``truth/stays``):
a segment ``[a, b)`` of a device of ``q`` and a true stay ``[s, e)`` of ``q`` at ``X`` match
when ``a < e``, ``s < b`` and ``|| c(best_tile) - X || <= max_distance_m``:

    recall    = #{true stays >= min_duration_s matched by some stay segment} / #{true stays >= min}
    precision = #{located stay segments matching some true stay} / #{located stay segments}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.grid import TILE_M
from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID, X_LL, Y_LL
from rmf_spark.dlayer.pseudonymise import (
    drop_keys,
    key_period_start,
    load_master_key,
    period_keys,
    with_device_id,
)
from rmf_spark.dlayer.settings import IngestSettings
from rmf_spark.slayer.device.schemas import (
    BEST_TILE,
    END_TS,
    PROBABILITY,
    SEGMENT_INDEX,
    START_TS,
    STATE,
    STAY,
)
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = [
    "compute_position_errors",
    "compute_stay_recovery",
    "position_error_summary",
    "truth_device_map",
]

PERSON_ID = "person_id"
KEY_PERIOD_START = "key_period_start"
ERROR_M = "error_m"
_DAY_US = 86_400 * 10**6


def truth_device_map(
    truth_devices: DataFrame,
    *,
    mno: str,
    ingest: IngestSettings,
    dates: Sequence[dt.date],
    identifier_pseudonymised: bool = False,
) -> DataFrame:
    """The pipeline's ``device_id`` of each truth device of ``mno``.

    ``device_id = HMAC-SHA256(K_p, raw_id)`` (hex), ``K_p`` the key of the key period ``p``
    holding a loaded date, computed by :func:`rmf_spark.dlayer.pseudonymise.with_device_id`
    with :func:`~rmf_spark.dlayer.pseudonymise.period_keys`, as the D-layer does: the master
    key comes from ``$<ingest.key_env>`` (or ``ingest.key_file``) and stays on the driver; the
    period keys travel as a broadcast DataFrame whose columns are dropped here.

    Parameters
    ----------
    truth_devices
        ``truth/devices``: ``raw_id, person_id, mno_id, device_index, is_inbound``.
    mno
        MNO id.
    ingest
        The profile's ``[ingest]`` (``key_env``, ``key_file``, ``key_rotation``).
    dates
        The file dates loaded by the D-layer (their key periods are used; a period with no
        data only adds pseudonyms nothing carries).
    identifier_pseudonymised
        The input profile's ``events.identifier_pseudonymised`` (then ``device_id`` is the
        lower-case raw id, as in the D-layer).

    Returns
    -------
    DataFrame
        ``device_id, person_id, device_index, is_inbound, key_period_start``: one row per
        device and key period (a device has one pseudonym per period).

    Raises
    ------
    ValueError
        ``dates`` is empty.
    rmf_spark.dlayer.pseudonymise.PseudonymKeyError
        No key (the message names the variable or file, never the key).
    """
    if not dates:
        raise ValueError("truth_device_map: no dates given (the key periods come from them)")
    master = load_master_key(ingest)
    periods = sorted({key_period_start(d, ingest.key_rotation) for d in dates})
    devices = truth_devices.where(F.col("mno_id") == mno).select(
        "raw_id", PERSON_ID, "device_index", "is_inbound"
    )
    spark = truth_devices.sparkSession
    parts = [
        drop_keys(
            with_device_id(
                devices,
                keys=period_keys(spark, master, period),
                identifier="raw_id",
                pseudonymised=identifier_pseudonymised,
            )
        ).select(
            DEVICE_ID,
            PERSON_ID,
            "device_index",
            "is_inbound",
            F.lit(period).alias(KEY_PERIOD_START),
        )
        for period in periods
    ]
    return reduce(DataFrame.unionByName, parts)


def _tile_centres(grid: DataFrame, tile: str = TILE_ID) -> DataFrame:
    """``<tile>, cx, cy``: tile centres (lower-left corner plus half a tile)."""
    half = TILE_M / 2
    return grid.select(
        F.col(TILE_ID).alias(tile),
        (F.col(X_LL) + half).alias("cx"),
        (F.col(Y_LL) + half).alias("cy"),
    )


def _device_person(device_person: DataFrame) -> DataFrame:
    return device_person.select(DEVICE_ID, PERSON_ID).distinct()


def compute_position_errors(
    location_posterior: DataFrame,
    *,
    grid: DataFrame,
    truth_positions: DataFrame,
    device_person: DataFrame,
) -> DataFrame:
    """Distance between the posterior mean and the true position, per (device, time point).

    ``x, y = sum_j p_j c_j / sum_j p_j`` over the posterior's tiles (``sum_j p_j = 1`` by
    construction; the division only absorbs rounding), ``error_m = hypot(x - true_x,
    y - true_y)``.

    Parameters
    ----------
    location_posterior
        ``TIME_POINT_POSTERIOR_SCHEMA``: ``device_id, time_point, tile_id, probability``.
    grid
        C-layer ``grid`` (``tile_id, x_ll, y_ll``).
    truth_positions
        ``truth/positions``: ``person_id, time_point, x, y``.
    device_person
        ``device_id, person_id`` (:func:`truth_device_map`).

    Returns
    -------
    DataFrame
        ``device_id, time_point, person_id, x, y, true_x, true_y, error_m``, one row per
        (device, time point) of the posterior. Null ``error_m`` says why: ``person_id`` null
        (device not in the map), ``true_x`` null (no true position then), ``x`` null (a tile
        of the posterior is not in the grid).
    """
    p = F.col(PROBABILITY)
    means = (
        location_posterior.join(_tile_centres(grid), TILE_ID, "left")
        .groupBy(DEVICE_ID, TIME_POINT)
        .agg(
            (F.sum(p * F.col("cx")) / F.sum(p)).alias("x"),
            (F.sum(p * F.col("cy")) / F.sum(p)).alias("y"),
            F.count_if(F.col("cx").isNull()).alias("_off_grid"),
        )
    )
    located = F.col("_off_grid") == 0
    truth = truth_positions.select(
        PERSON_ID, TIME_POINT, F.col("x").alias("true_x"), F.col("y").alias("true_y")
    )
    return (
        means.select(
            DEVICE_ID,
            TIME_POINT,
            F.when(located, F.col("x")).alias("x"),
            F.when(located, F.col("y")).alias("y"),
        )
        .join(_device_person(device_person), DEVICE_ID, "left")
        .join(truth, [PERSON_ID, TIME_POINT], "left")
        .select(
            DEVICE_ID,
            TIME_POINT,
            PERSON_ID,
            "x",
            "y",
            "true_x",
            "true_y",
            F.hypot(F.col("x") - F.col("true_x"), F.col("y") - F.col("true_y")).alias(ERROR_M),
        )
    )


def position_error_summary(errors: DataFrame, *, accuracy: int = 10_000) -> dict[str, Any]:
    """``count, mean_m, p50_m, p90_m`` of :func:`compute_position_errors`' ``error_m``, and
    the rows without an error by reason (``no_person``, ``no_truth``, ``off_grid``).

    Quantiles are Spark's ``percentile_approx`` (rank error at most ``count / accuracy``);
    they are ``None`` when no row has an error.
    """
    e = F.col(ERROR_M)
    row = errors.agg(
        F.count(e).alias("count"),
        F.mean(e).alias("mean_m"),
        F.percentile_approx(e, [0.5, 0.9], accuracy).alias("q"),
        F.count_if(F.col(PERSON_ID).isNull()).alias("no_person"),
        F.count_if(F.col(PERSON_ID).isNotNull() & F.col("true_x").isNull()).alias("no_truth"),
        F.count_if(F.col("true_x").isNotNull() & F.col("x").isNull()).alias("off_grid"),
    ).first()
    assert row is not None  # a global aggregation has one row
    q = row["q"] or [None, None]
    return {
        "count": int(row["count"]),
        "mean_m": row["mean_m"],
        "p50_m": q[0],
        "p90_m": q[1],
        "no_person": int(row["no_person"]),
        "no_truth": int(row["no_truth"]),
        "off_grid": int(row["off_grid"]),
    }


def _utc_days(start: Column, end: Column) -> Column:
    """The UTC days (days since the epoch) that ``[start, end)`` touches (at least one)."""
    first = F.floor(F.unix_micros(start) / _DAY_US)
    last = F.floor((F.unix_micros(end) - 1) / _DAY_US)
    return F.sequence(first, F.greatest(first, last))


def _seconds(start: Column, end: Column) -> Column:
    return (F.unix_micros(end) - F.unix_micros(start)) / 1e6


def compute_stay_recovery(
    segments: DataFrame,
    *,
    grid: DataFrame,
    truth_stays: DataFrame,
    device_person: DataFrame,
    min_duration_s: float = 3600,
    max_distance_m: float = 1000,
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> dict[str, Any]:
    """Recall and precision of ``stay`` segments against the true stays (module notes).

    A true stay counts for recall when it lasts at least ``min_duration_s`` and its person
    has a device in ``device_person``; it is matched when a ``stay`` segment of any of the
    person's devices overlaps it in time with its ``best_tile`` centre within
    ``max_distance_m`` of the stay's point. Every ``stay`` segment with a located
    ``best_tile`` (not null, in the grid) counts for precision, matched when it matches a true
    stay of its person of any duration in the same sense. A segment without ``best_tile``
    matches nothing (so can only lower recall) and is left out of precision; a segment whose
    device is not in the map is left out of both. Both are counted.

    Parameters
    ----------
    segments
        ``SEGMENTS_SCHEMA`` rows (``device_id, date, segment_index, state, start_ts, end_ts,
        best_tile``).
    grid
        C-layer ``grid`` (``tile_id, x_ll, y_ll``).
    truth_stays
        ``truth/stays``: ``person_id, start_ts, end_ts, x, y``.
    device_person
        ``device_id, person_id`` (:func:`truth_device_map`).
    min_duration_s, max_distance_m
        Shortest true stay recall asks for; largest distance of a match.
    window
        ``(start, end)``: true stays clipped to ``[start, end)`` (before the duration test)
        and segments outside it left out; ``None``: all.

    Returns
    -------
    dict
        ``recall, precision`` (``None`` without a denominator), ``true_stays,
        true_stays_matched, stay_segments, stay_segments_matched, stay_segments_unlocated,
        stay_segments_unmapped``, and the two thresholds.
    """
    if min_duration_s < 0 or max_distance_m <= 0:
        raise ValueError(
            f"compute_stay_recovery: min_duration_s ({min_duration_s}) must be >= 0 and "
            f"max_distance_m ({max_distance_m}) > 0"
        )
    dp = _device_person(device_person)
    stays = truth_stays.select(
        PERSON_ID, F.col(START_TS).alias("s"), F.col(END_TS).alias("e"), "x", "y"
    ).join(dp.select(PERSON_ID).distinct(), PERSON_ID, "left_semi")
    segs = segments.where(F.col(STATE) == STAY).select(
        DEVICE_ID, DATE, SEGMENT_INDEX, START_TS, END_TS, BEST_TILE
    )
    if window is not None:
        lo, hi = F.lit(window[0]).cast("timestamp"), F.lit(window[1]).cast("timestamp")
        stays = (
            stays.withColumn("s", F.greatest("s", lo))
            .withColumn("e", F.least("e", hi))
            .where(F.col("e") > F.col("s"))
        )
        segs = segs.where((F.col(START_TS) < hi) & (F.col(END_TS) > lo))
    segs = segs.join(dp, DEVICE_ID, "left").join(_tile_centres(grid, BEST_TILE), BEST_TILE, "left")
    mapped, located = F.col(PERSON_ID).isNotNull(), F.col("cx").isNotNull()

    # candidate pairs share the person and a UTC day, so the join stays small per key
    seg_days = segs.where(mapped & located).withColumn(
        "_day", F.explode(_utc_days(F.col(START_TS), F.col(END_TS)))
    )
    stay_days = stays.withColumn("_day", F.explode(_utc_days(F.col("s"), F.col("e"))))
    pairs = (
        seg_days.join(stay_days, [PERSON_ID, "_day"])
        .where(
            (F.col(START_TS) < F.col("e"))
            & (F.col("s") < F.col(END_TS))
            & (F.hypot(F.col("cx") - F.col("x"), F.col("cy") - F.col("y")) <= max_distance_m)
        )
        .select(DEVICE_ID, DATE, SEGMENT_INDEX, PERSON_ID, "s")
    )
    seg_key, stay_key = [DEVICE_ID, DATE, SEGMENT_INDEX], [PERSON_ID, "s"]

    long_stays = stays.where(_seconds(F.col("s"), F.col("e")) >= min_duration_s)
    matched_stays = pairs.select(*stay_key).distinct().withColumn("_m", F.lit(True))
    s_row = (
        long_stays.join(matched_stays, stay_key, "left")
        .agg(F.count("*").alias("n"), F.count("_m").alias("k"))
        .first()
    )
    matched_segs = pairs.select(*seg_key).distinct().withColumn("_m", F.lit(True))
    g_row = (
        segs.join(matched_segs, seg_key, "left")
        .agg(
            F.count_if(mapped & located).alias("n"),
            F.count("_m").alias("k"),
            F.count_if(mapped & ~located).alias("unlocated"),
            F.count_if(~mapped).alias("unmapped"),
        )
        .first()
    )
    assert s_row is not None and g_row is not None  # global aggregations have one row
    n_true, k_true, n_seg, k_seg = (int(v) for v in (s_row.n, s_row.k, g_row.n, g_row.k))
    return {
        "recall": k_true / n_true if n_true else None,
        "precision": k_seg / n_seg if n_seg else None,
        "true_stays": n_true,
        "true_stays_matched": k_true,
        "stay_segments": n_seg,
        "stay_segments_matched": k_seg,
        "stay_segments_unlocated": int(g_row.unlocated),
        "stay_segments_unmapped": int(g_row.unmapped),
        "min_duration_s": min_duration_s,
        "max_distance_m": max_distance_m,
    }
