"""Outbound travellers: their trips abroad and what their own MNO records of them meanwhile.

Notes
-----
A resident with ``is_outbound`` is abroad on the local days ``abroad_from_day ..
abroad_to_day`` (whole days: :func:`rmf_spark.synth.schedules.to_person_days` drops them, so
the person leaves at the local midnight that starts the first day and is back at the one that
ends the last). One trip per traveller, to one visited network drawn with the weights of
``outbound.destinations`` from ``u = H(seed, person_id)`` (:func:`~rmf_spark.synth.rng.
spark_uniform`); every device of the person roams on it.

The home MNO of a device abroad has no cell of it, only what roaming tells it (TAP records of
the calls, SMS and data the visited network bills back; for a signalling feed also the
home-routed data session's interim updates). Per device-day abroad (the local day ``[k0,
k1)``):

* CDR records ``~ Poisson(activity * calls_per_day * g)``, ``g = exp(0.6 z - 0.18)`` the
  device's own activity factor (the same ``z`` as its domestic events: same key and stream),
  hour from the diurnal profile :data:`rmf_spark.synth.events.HOURLY`, uniform in the hour;
  kinds call / sms / data in 40 / 25 / 35 %;
* signalling MNOs add one ``data`` record every ``update_interval_min`` (random phase per
  device-day).

A record has the visited PLMN as its MCC and MNC, no cell, no technology and no timing
advance; its record id is ``day * 10^15 + device_key * 10^5 + 80 000 + j`` (the device has no
domestic event that day, and the same-time twins of faults use ``+ 50 000``). No fault is
injected into these records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy.stats import poisson

from rmf_spark.synth.events import HOURLY, KINDS, cdr_kinds, in_day_sorted
from rmf_spark.synth.population import within
from rmf_spark.synth.profile import MnoParams, OutboundParams
from rmf_spark.synth.rng import normal, spark_uniform, uniform
from rmf_spark.synth.subscriptions import spark_device_ids

__all__ = [
    "OUTBOUND_SEQ_OFFSET",
    "RECORD_SCHEMA",
    "TRIP_SCHEMA",
    "outbound_records",
    "to_outbound_trips",
    "trips_truth",
]

#: added to the rank of a record abroad in its device-day (record ids stay unique)
OUTBOUND_SEQ_OFFSET = 80_000
RECORD_SCHEMA = (
    "device_key long, day int, seq int, kind_code tinyint, ts_ms long, visited_plmn string"
)
#: one row per traveller (days are simulated day indices, ``0`` = the period's first day)
TRIP_SCHEMA = (
    "person_id long, home_municipality_id string, home_region_id string, first_day int, "
    "last_day int, visited_plmn string, country string"
)


def _destination(u: Column, outbound: OutboundParams) -> tuple[Column, Column]:
    """The visited PLMN and its country for a uniform ``u``: the first destination whose
    cumulative weight share exceeds ``u`` (in the profile's order)."""
    items = list(outbound.destinations.items())
    total = sum(d.weight for _, d in items)
    plmn, country = F.lit(items[-1][0]), F.lit(items[-1][1].country)
    cum = np.cumsum([d.weight for _, d in items])[:-1] / total
    for c, (p, d) in reversed(list(zip(cum, items[:-1], strict=True))):
        plmn = F.when(u < F.lit(float(c)), F.lit(p)).otherwise(plmn)
        country = F.when(u < F.lit(float(c)), F.lit(d.country)).otherwise(country)
    return plmn, country


def to_outbound_trips(persons: DataFrame, *, outbound: OutboundParams, seed: int) -> DataFrame:
    """The travellers' trips (schema :data:`TRIP_SCHEMA`), one per ``is_outbound`` person."""
    u = spark_uniform(seed, "outbound.destination", "person_id")
    plmn, country = _destination(u, outbound)
    return persons.where(F.col("is_outbound")).select(
        "person_id",
        "home_municipality_id",
        "home_region_id",
        F.col("abroad_from_day").cast("int").alias("first_day"),
        F.col("abroad_to_day").cast("int").alias("last_day"),
        plmn.alias("visited_plmn"),
        country.alias("country"),
    )


def trips_truth(trips: DataFrame, *, start_date: str) -> DataFrame:
    """``truth/outbound_trips``: ``person_id, home_municipality_id, home_region_id,
    destination_plmn, destination_country, abroad_from, abroad_to (local dates), nights``.

    ``nights`` counts the local nights spent abroad, the early mornings (04:00, the functional
    midnight) of the days away: the traveller is away from the local midnight that starts
    ``abroad_from`` to the one that ends ``abroad_to``, so it is the number of days away. A
    trip may start or end outside the period (its dates are not clipped).
    """
    start = F.lit(start_date).cast("date")
    return trips.select(
        "person_id",
        "home_municipality_id",
        "home_region_id",
        F.col("visited_plmn").alias("destination_plmn"),
        F.col("country").alias("destination_country"),
        F.date_add(start, F.col("first_day")).alias("abroad_from"),
        F.date_add(start, F.col("last_day")).alias("abroad_to"),
        (F.col("last_day") - F.col("first_day") + 1).alias("nights"),
    )


def records_pandas(
    pdf: pd.DataFrame, *, mno: MnoParams, outbound: OutboundParams, seed: int, stream: int
) -> pd.DataFrame:
    """Record times of a batch of device-days abroad (``device_key, day, k0, k1,
    visited_plmn``; module notes); ``stream`` is the MNO's event stream (the device's activity
    factor is shared)."""
    n = len(pdf)
    dkey = pdf["device_key"].to_numpy().astype(np.uint64)
    rowkey = (dkey << np.uint64(9)) + pdf["day"].to_numpy().astype(np.uint64)
    start, end = pdf["k0"].to_numpy(), pdf["k1"].to_numpy()
    g = np.exp(0.6 * normal(dkey, stream + 1, seed) - 0.18)  # as events.events_pandas
    lam = outbound.activity * mno.calls_per_day * g
    n_cdr = poisson.ppf(uniform(rowkey, stream + 21, seed), lam).astype(np.int64)
    crow = np.repeat(np.arange(n), n_cdr)
    ckey = (rowkey[crow] << np.uint64(12)) + within(n_cdr).astype(np.uint64)
    cum = np.cumsum(HOURLY) / HOURLY.sum()
    hour = np.searchsorted(cum, uniform(ckey, stream + 22, seed))
    times = [start[crow] + (hour + uniform(ckey, stream + 23, seed)) * 3600.0]
    rows = [crow]
    kinds = [cdr_kinds(uniform(ckey, stream + 24, seed))]
    if mno.regime == "signalling":
        period = outbound.update_interval_min * 60.0
        n_u = int(np.ceil(90_000 / period))  # covers a 25 h day; later ones are cut below
        urow = np.repeat(np.arange(n), n_u)
        phase = uniform(rowkey, stream + 25, seed)[urow] * period
        times.append(start[urow] + phase + np.tile(np.arange(n_u), n) * period)
        rows.append(urow)
        kinds.append(np.full(len(urow), KINDS.index("data"), dtype=np.int8))
    time_s, row, kind = in_day_sorted(times, rows, kinds, start, end)
    return pd.DataFrame(
        {
            "device_key": pdf["device_key"].to_numpy()[row],
            "day": pdf["day"].to_numpy()[row].astype(np.int32),
            "seq": (OUTBOUND_SEQ_OFFSET + within(np.bincount(row, minlength=n))).astype(np.int32),
            "kind_code": kind,
            "ts_ms": np.round(time_s * 1000.0).astype(np.int64),
            "visited_plmn": pdf["visited_plmn"].to_numpy()[row],
        }
    )


def outbound_records(
    devices: DataFrame,
    trips: DataFrame,
    *,
    mno: MnoParams,
    outbound: OutboundParams,
    seed: int,
    stream: int,
    day_start_s: list[int],
    file_date: Column,
    dates: list[str],
    roamer_plmns: dict[str, float],
) -> DataFrame:
    """The roaming records of ``mno``'s devices abroad, as the raw writers read events:
    ``record_id, raw_id, ts_ms, file_date, cell_id, kind, technology, mcc, mnc, ta,
    fault_kind`` (cell, technology, TA and fault null; MCC and MNC of the visited network).

    ``day_start_s[d]`` is the UTC epoch second of local midnight of simulated day ``d`` (one
    more entry than the days simulated); ``file_date`` is the expression of the MNO's file
    day (from ``ts_ms``); records of other days than ``dates`` (``yyyy-MM-dd``) are dropped.
    """
    last_sim_day = len(day_start_s) - 2
    starts = F.array(*[F.lit(int(s)).cast("double") for s in day_start_s])
    days = (
        devices.where((F.col("mno_id") == mno.mno_id) & ~F.col("is_inbound"))
        .select("device_key", "person_id")
        .join(trips.select("person_id", "first_day", "last_day", "visited_plmn"), "person_id")
        .withColumn("day", F.explode(F.sequence("first_day", "last_day")))
        .where(F.col("day") <= last_sim_day)
        .select(
            "device_key",
            "day",
            F.element_at(starts, F.col("day") + 1).alias("k0"),
            F.element_at(starts, F.col("day") + 2).alias("k1"),
            "visited_plmn",
        )
    )

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield records_pandas(pdf, mno=mno, outbound=outbound, seed=seed, stream=stream)

    records = days.mapInPandas(batches, RECORD_SCHEMA)
    raw_id, _, _ = spark_device_ids(F.col("device_key"), F.lit(False), mno, seed, roamer_plmns)
    kind = F.element_at(F.array(*[F.lit(k) for k in KINDS]), F.col("kind_code").cast("int") + 1)
    plmn = F.col("visited_plmn")
    return (
        records.withColumn("file_date", file_date)
        .where(F.date_format("file_date", "yyyy-MM-dd").isin(dates))
        .select(
            (F.col("day").cast("long") * 10**15 + F.col("device_key") * 10**5 + F.col("seq")).alias(
                "record_id"
            ),
            raw_id.alias("raw_id"),
            "ts_ms",
            "file_date",
            F.lit(None).cast("string").alias("cell_id"),
            kind.alias("kind"),
            F.lit(None).cast("string").alias("technology"),
            F.substring(plmn, 1, 3).cast("int").alias("mcc"),
            F.substring(plmn, 4, 3).alias("mnc"),
            F.lit(None).cast("int").alias("ta"),
            F.lit(None).cast("string").alias("fault_kind"),
        )
    )
