"""Events: when each device talks to the network, where it truly is, and which cell serves it.

Notes
-----
Per device-day (``k0 <= t < k7``, the local day of the schedule):

* CDR activity (both regimes): sessions ``~ Poisson(calls_per_day * g / 1.8)`` with a
  per-device activity ``g = exp(0.6 z - 0.18)`` (log-normal, mean 1); session start hours from
  the diurnal profile :data:`HOURLY`; ``1 + Geometric(p = 1/1.8)`` events per session spaced by
  ``1 s + Exp(mean 119 s)`` gaps (bursts); kinds call / sms / data in 40 / 25 / 35 %.
* Signalling adds periodic location updates every ``periodic_update_min`` (random phase,
  ``N(0, 20 s)`` jitter) and handovers every ``handover_interval_s`` of travel time.

The true position at each event time comes from :func:`rmf_spark.synth.schedules.positions_at`;
the serving cell is drawn from the tile's true distribution (:mod:`radio_truth`) with an
equi-join on ``(epoch, tile_idx)`` and the event's uniform ``u_cell``: the chosen cell is the
first whose cumulative probability exceeds ``u_cell``. Timing advance
``TA = floor(d_3D / step)``, step 78.12 m (4G, 5G; max 1282) or 553.85 m (2G; max 63),
none on 3G (3GPP TS 36.213 / 45.010; mobloc's ``TA_step``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy.stats import poisson

from rmf_spark.synth.population import within
from rmf_spark.synth.profile import MnoParams
from rmf_spark.synth.rng import normal, uniform
from rmf_spark.synth.schedules import positions_at
from rmf_spark.synth.subscriptions import spark_device_ids
from rmf_spark.synth.territory import TILE_M, Territory

__all__ = [
    "EVENT_SCHEMA",
    "HOURLY",
    "KINDS",
    "TA_STEP_M",
    "cdr_kinds",
    "in_day_sorted",
    "to_device_days",
    "to_events",
    "with_serving_cell",
]

EVENT_SCHEMA = (
    "device_key long, is_inbound boolean, day int, seq int, kind_code tinyint, ts_ms long, "
    "x double, y double, tile_idx long, u_cell double"
)
#: event kinds by ``kind_code`` (numbers cross the Arrow boundary, Spark makes the strings)
KINDS = ("call", "sms", "data", "periodic", "handover")
#: relative CDR activity by local hour 0..23
HOURLY = np.array([0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 1.8, 2.0, 2.0, 2.0, 2.2, 2.0,
                   1.8, 1.8, 1.9, 2.1, 2.3, 2.3, 2.1, 1.7, 1.2, 0.7])  # fmt: skip
TA_STEP_M = {"2G": (553.85, 63), "4G": (78.12, 1282), "5G": (78.12, 1282)}
_BURST = 1.8
_CHUNK = 2000  # device-days per pandas call


def cdr_kinds(u: NDArray[np.float64]) -> NDArray[np.int8]:
    """Kind codes of CDR events from uniforms: call / sms / data in 40 / 25 / 35 %."""
    return np.where(u < 0.4, 0, np.where(u < 0.65, 1, 2)).astype(np.int8)


def in_day_sorted(
    times: list[NDArray], rows: list[NDArray], kinds: list[NDArray], start: NDArray, end: NDArray
) -> tuple[NDArray, NDArray, NDArray]:
    """The parts joined, the events of each row inside its day ``[start, end)``, sorted by row
    then time: ``(time_s, row, kind)``."""
    time_s, row, kind = np.concatenate(times), np.concatenate(rows), np.concatenate(kinds)
    ok = (time_s >= start[row]) & (time_s < end[row])
    time_s, row, kind = time_s[ok], row[ok], kind[ok]
    order = np.lexsort((time_s, row))
    return time_s[order], row[order], kind[order]


def events_pandas(
    pdf: pd.DataFrame, *, mno: MnoParams, t: Territory, seed: int, stream: int
) -> pd.DataFrame:
    """Events of a batch of device-days (module notes)."""
    n = len(pdf)
    dkey = pdf["device_key"].to_numpy().astype(np.uint64)
    rowkey = (dkey << np.uint64(9)) + pdf["day"].to_numpy().astype(np.uint64)
    start, end = pdf["k0"].to_numpy(), pdf["k7"].to_numpy()
    g = np.exp(0.6 * normal(dkey, stream + 1, seed) - 0.18)
    n_sess = poisson.ppf(uniform(rowkey, stream + 2, seed), mno.calls_per_day * g / _BURST)
    n_sess = n_sess.astype(np.int64)
    srow = np.repeat(np.arange(n), n_sess)
    skey = (rowkey[srow] << np.uint64(12)) + within(n_sess).astype(np.uint64)
    cum = np.cumsum(HOURLY) / HOURLY.sum()
    hour = np.searchsorted(cum, uniform(skey, stream + 3, seed))
    s_t = start[srow] + (hour + uniform(skey, stream + 4, seed)) * 3600.0
    geo = np.log(uniform(skey, stream + 5, seed)) / np.log(1.0 - 1.0 / _BURST)
    size = 1 + np.minimum(np.floor(geo), 20).astype(np.int64)
    e_s = np.repeat(np.arange(len(srow)), size)
    ej = within(size)
    ekey_s = (skey[e_s] << np.uint64(5)) + ej.astype(np.uint64)
    gap = np.where(ej == 0, 0.0, 1.0 - 119.0 * np.log(uniform(ekey_s, stream + 6, seed)))
    cs = np.cumsum(gap)
    first = np.cumsum(size) - size
    times = [s_t[e_s] + cs - np.repeat(cs[first], size)]
    rows = [srow[e_s]]
    u_kind = uniform(ekey_s, stream + 7, seed)
    kinds = [cdr_kinds(u_kind)]
    if mno.regime == "signalling":
        period = mno.periodic_update_min * 60.0
        n_p = int(86400 // period) + 1
        prow = np.repeat(np.arange(n), n_p)
        pj = np.tile(np.arange(n_p), n)
        pkey = (rowkey[prow] << np.uint64(12)) + pj.astype(np.uint64)
        phase = uniform(rowkey, stream + 8, seed)[prow] * period
        times.append(start[prow] + phase + pj * period + 20.0 * normal(pkey, stream + 9, seed))
        rows.append(prow)
        kinds.append(np.full(len(prow), 3, dtype=np.int8))
        k = pdf[[f"k{i}" for i in range(8)]].to_numpy()
        legs = np.column_stack([k[:, 2] - k[:, 1], k[:, 4] - k[:, 3], k[:, 6] - k[:, 5]])
        n_h = np.floor(legs.sum(axis=1) / mno.handover_interval_s).astype(np.int64)
        hrow = np.repeat(np.arange(n), n_h)
        s = (within(n_h) + 0.5) * mno.handover_interval_s
        d1, d2 = legs[hrow, 0], legs[hrow, 0] + legs[hrow, 1]
        kh = k[hrow]
        times.append(
            np.where(s < d1, kh[:, 1] + s, np.where(s < d2, kh[:, 3] + s - d1, kh[:, 5] + s - d2))
        )
        rows.append(hrow)
        kinds.append(np.full(len(hrow), 4, dtype=np.int8))
    time_s, row, kind = in_day_sorted(times, rows, kinds, start, end)
    seq = within(np.bincount(row, minlength=n))
    x, y, _ = positions_at(pdf, row, time_s)
    n_cols = int(t.width_m // TILE_M)
    tile = np.floor((y - t.y0) / TILE_M).astype(np.int64) * n_cols + np.floor(
        (x - t.x0) / TILE_M
    ).astype(np.int64)
    ekey = (rowkey[row] << np.uint64(16)) + seq.astype(np.uint64)
    return pd.DataFrame(
        {
            "device_key": pdf["device_key"].to_numpy()[row],
            "is_inbound": pdf["is_inbound"].to_numpy()[row],
            "day": pdf["day"].to_numpy()[row].astype(np.int32),
            "seq": seq.astype(np.int32),
            "kind_code": kind,
            "ts_ms": np.round(time_s * 1000.0).astype(np.int64),
            "x": x,
            "y": y,
            "tile_idx": tile,
            "u_cell": uniform(ekey, stream + 10, seed),
        }
    )


def to_device_days(devices: DataFrame, schedules: DataFrame, *, mno_id: str) -> DataFrame:
    """The MNO's devices joined with their persons' schedules (one row per device-day), on
    the days the device is on this MNO (``from_day .. to_day``; null: no bound)."""
    d = devices.where(F.col("mno_id") == mno_id).select(
        "device_key", "person_id", "is_inbound", "from_day", "to_day"
    )
    on = (F.col("from_day").isNull() | (F.col("day") >= F.col("from_day"))) & (
        F.col("to_day").isNull() | (F.col("day") <= F.col("to_day"))
    )
    return d.join(schedules, "person_id").where(on).drop("from_day", "to_day")


def to_events(
    device_days: DataFrame,
    *,
    mno: MnoParams,
    t: Territory,
    seed: int,
    stream: int,
    roamer_plmns: dict[str, float],
) -> DataFrame:
    """Raw event times and true positions of the device-days (schema :data:`EVENT_SCHEMA`)
    plus ``kind``, ``raw_id``, ``mcc``, ``mnc``: strings are made by Spark, not in Python
    (``roamer_plmns``: the visitors' home networks, ``subscriptions.roamer_plmns``)."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:  # chunks bound the memory: ~300 events per signalling device-day
            for lo in range(0, len(pdf), _CHUNK):
                chunk = pdf.iloc[lo : lo + _CHUNK].reset_index(drop=True)
                yield events_pandas(chunk, mno=mno, t=t, seed=seed, stream=stream)

    ev = device_days.mapInPandas(batches, EVENT_SCHEMA)
    raw_id, mcc, mnc = spark_device_ids(
        F.col("device_key"), F.col("is_inbound"), mno, seed, roamer_plmns
    )
    kind = F.element_at(F.array(*[F.lit(k) for k in KINDS]), F.col("kind_code").cast("int") + 1)
    return ev.select(
        "*", kind.alias("kind"), raw_id.alias("raw_id"), mcc.alias("mcc"), mnc.alias("mnc")
    ).drop("kind_code", "is_inbound")


def _ta(tech: Column, dist: Column) -> Column:
    out = F.lit(None).cast("int")
    for name, (step, cap) in TA_STEP_M.items():
        out = F.when(tech == name, F.least(F.floor(dist / step), F.lit(cap)).cast("int")).otherwise(
            out
        )
    return out


def with_serving_cell(
    events: DataFrame,
    *,
    tile_cells: DataFrame,
    cells: DataFrame,
    file_date: Column,
    epoch_of_date: dict[str, int],
    top_k: int = 30,
    broadcast_tiles: bool = True,
) -> DataFrame:
    """Add ``file_date``, the serving cell (``cell_idx, cell_id, technology``) and ``ta``.

    ``file_date`` is the day of the MNO file the event goes to (local or UTC day); events of
    dates without an epoch (outside the period) are dropped. ``cells`` needs ``cell_idx,
    cell_id, technology, x, y, antenna_height_m`` (true values). ``top_k`` bounds the cells
    per tile; ``broadcast_tiles`` ships ``tile_cells`` (one row per tile and epoch, a function
    of the territory, not of the people) to every task instead of shuffling the events.
    """
    mapping = F.create_map(*[F.lit(v) for kv in epoch_of_date.items() for v in kv])
    ev = (
        events.withColumn("file_date", file_date)
        .withColumn("epoch", mapping[F.date_format("file_date", "yyyy-MM-dd")])
        .where(F.col("epoch").isNotNull())
    )
    cum = "transform(p, (v, i) -> aggregate(slice(p, 1, i + 1), 0D, (a, b) -> a + b))"
    tc = tile_cells.select("epoch", "tile_idx", "cell_idx", F.expr(cum).alias("cum"))
    if broadcast_tiles:
        tc = F.broadcast(tc)
    # the first cell whose cumulative probability exceeds u_cell: count the cumulative
    # probabilities below u (plain CASE expressions, compiled, no lambda per event)
    below = sum(
        F.when(F.get(F.col("cum"), i) < F.col("u_cell"), 1).otherwise(0) for i in range(top_k)
    )
    chosen = F.element_at(F.col("cell_idx"), F.least(below, F.size("cell_idx") - 1) + 1)
    c = F.broadcast(
        cells.select(
            F.col("cell_idx").alias("chosen"),
            "cell_id",
            "technology",
            F.col("x").alias("cx"),
            F.col("y").alias("cy"),
            F.col("antenna_height_m").alias("ch"),
        )
    )
    dist = F.sqrt(
        (F.col("x") - F.col("cx")) ** 2 + (F.col("y") - F.col("cy")) ** 2 + F.col("ch") ** 2
    )
    return (
        ev.join(tc, ["epoch", "tile_idx"])
        .withColumn("chosen", chosen)
        .join(c, "chosen")
        .withColumn("ta", _ta(F.col("technology"), dist))
        .drop("cum", "cell_idx", "cx", "cy", "ch")
        .withColumnRenamed("chosen", "cell_idx")
    )
