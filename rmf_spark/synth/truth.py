"""Ground truth: true positions at time points, true stays, and aggregates of them.

Positions are evaluated on the schedules at ``t_i = period_start + i * truth_step_s`` (UTC);
a person abroad (outbound) or a visitor outside the stay has no row at that time point.
Stays are the schedules' waits at a stop, merged while the person stays put (see
:func:`to_stays`). Aggregates count persons (present population) or devices (per MNO) per
area, OD trips per local day, residents by home at the start of the period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.slayer.tourism.countries import mcc_country_column
from rmf_spark.synth.rng import spark_normal
from rmf_spark.synth.schedules import positions_at
from rmf_spark.synth.territory import Territory, municipality_id, region_id

__all__ = [
    "FUNCTIONAL_MIDNIGHT_HOUR",
    "POSITION_SCHEMA",
    "STAY_ACTIVITIES",
    "compute_inbound_nights",
    "compute_inbound_share",
    "compute_inbound_visitors",
    "compute_market_share",
    "compute_od_flows",
    "compute_present_devices",
    "compute_present_population",
    "compute_register",
    "compute_residents",
    "inspire_100m",
    "to_positions",
    "to_stays",
]

POSITION_SCHEMA = (
    "person_id long, time_point_s long, x double, y double, municipality_id string, "
    "region_id string"
)


def inspire_100m(x: Column, y: Column) -> Column:
    """INSPIRE 100 m code ``100mN{N/100}E{E/100}`` of the tile holding ``(x, y)``."""
    return F.concat(
        F.lit("100mN"), F.floor(y / 100).cast("long"), F.lit("E"), F.floor(x / 100).cast("long")
    )


def inspire_1km(x: Column, y: Column) -> Column:
    """INSPIRE 1 km code ``1kmN{N/1000}E{E/1000}``."""
    return F.concat(
        F.lit("1kmN"), F.floor(y / 1000).cast("long"), F.lit("E"), F.floor(x / 1000).cast("long")
    )


def positions_pandas(
    sched: pd.DataFrame, *, t: Territory, start_s: int, step_s: int, n_points: int
) -> pd.DataFrame:
    """Positions of a batch of schedules at the time points inside each schedule's day."""
    k0, k7 = sched["k0"].to_numpy(), sched["k7"].to_numpy()
    first = np.clip(np.ceil((k0 - start_s) / step_s), 0, n_points).astype(np.int64)
    last = np.clip(np.ceil((k7 - start_s) / step_s), 0, n_points).astype(np.int64)
    count = np.maximum(last - first, 0)
    row = np.repeat(np.arange(len(sched)), count)
    i = first[row] + np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    ts = start_s + i * step_s
    x, y, _ = positions_at(sched, row, ts.astype(float))
    muni = t.municipality_index(x, y)
    return pd.DataFrame(
        {
            "person_id": sched["person_id"].to_numpy()[row],
            "time_point_s": ts.astype(np.int64),
            "x": x,
            "y": y,
            "municipality_id": municipality_id(muni),
            "region_id": region_id(t.muni_region[muni]),
        }
    )


def to_positions(
    schedules: DataFrame, *, t: Territory, start_s: int, step_s: int, n_points: int
) -> DataFrame:
    """True positions: ``person_id, time_point timestamp, x, y, inspire_100m, inspire_1km,
    municipality_id, region_id`` at every time point the person is in the territory."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield positions_pandas(pdf, t=t, start_s=start_s, step_s=step_s, n_points=n_points)

    pos = schedules.mapInPandas(batches, POSITION_SCHEMA)
    return pos.select(
        "person_id",
        F.timestamp_seconds("time_point_s").alias("time_point"),
        "x",
        "y",
        inspire_100m(F.col("x"), F.col("y")).alias("inspire_100m"),
        inspire_1km(F.col("x"), F.col("y")).alias("inspire_1km"),
        "municipality_id",
        "region_id",
    )


#: activity of a true stay: at home (a visitor's accommodation), at work, at a visitor's sight,
#: at another activity (stop B of the schedule)
STAY_ACTIVITIES = ("home", "work", "sight", "other")


def to_stays(
    schedules: DataFrame,
    persons: DataFrame,
    *,
    muni_region: dict[str, str],
    start_s: int,
    end_s: int,
) -> DataFrame:
    """True stays: ``person_id, start_ts, end_ts, activity, x, y, municipality_id, region_id``.

    A person-day waits at its four stops on ``[k0, k1)`` (home), ``[k2, k3)`` (stop A: work,
    or a sight for a visitor), ``[k4, k5)`` (stop B, ``other``) and ``[k6, k7)`` (home); an
    absent stop has zero length and is dropped. Consecutive waits of a person that touch
    (``end = next start``) at the same point are one stay: the night at home across local
    midnight (``k7`` of a day is ``k0`` of the next), or the whole day at home when nothing
    is planned. A day abroad or outside a visit has no schedule, so it breaks the stay; a
    migrant's move is a jump at midnight, so the old and the new home are two stays. Stays are
    clipped to ``[start_s, end_s)`` (UTC epoch seconds: the period of ``truth/positions``).

    Parameters
    ----------
    schedules
        :data:`rmf_spark.synth.schedules.SCHEDULE_SCHEMA` rows.
    persons
        ``person_id, is_tourist`` (stop A of a visitor is a sight, of a resident the work).
    muni_region
        Municipality id -> region id.
    start_s, end_s
        The period the stays are clipped to.
    """
    region = F.create_map(*[F.lit(v) for kv in sorted(muni_region.items()) for v in kv])
    stop_a = F.when(F.col("is_tourist"), F.lit("sight")).otherwise(F.lit("work"))
    stops = F.array(*[
        F.struct(
            F.col(f"k{2 * i}").alias("s"),
            F.col(f"k{2 * i + 1}").alias("e"),
            F.col(f"p{i}x").alias("x"),
            F.col(f"p{i}y").alias("y"),
            F.col(f"z{i}").alias("municipality_id"),
            activity.alias("activity"),
        )
        for i, activity in enumerate([F.lit("home"), stop_a, F.lit("other"), F.lit("home")])
    ])  # fmt: skip
    waits = (
        schedules.join(persons.select("person_id", "is_tourist"), "person_id")
        .select("person_id", F.inline(stops))
        .where(F.col("e") > F.col("s"))
    )
    # a new stay starts where the previous wait does not end here, or ends elsewhere
    w = Window.partitionBy("person_id").orderBy("s")
    new = (
        F.lag("e").over(w).isNull()
        | (F.lag("e").over(w) != F.col("s"))
        | (F.lag("x").over(w) != F.col("x"))
        | (F.lag("y").over(w) != F.col("y"))
    )
    run = F.sum(new.cast("int")).over(w.rowsBetween(Window.unboundedPreceding, 0))
    stays = (
        waits.withColumn("_run", run)
        .groupBy("person_id", "_run")
        .agg(
            F.greatest(F.min("s"), F.lit(float(start_s))).alias("s"),
            F.least(F.max("e"), F.lit(float(end_s))).alias("e"),
            F.min_by(F.struct("x", "y", "municipality_id", "activity"), "s").alias("_at"),
        )
        .where(F.col("e") > F.col("s"))
    )
    return stays.select(
        "person_id",
        F.timestamp_seconds("s").alias("start_ts"),
        F.timestamp_seconds("e").alias("end_ts"),
        "_at.activity",
        "_at.x",
        "_at.y",
        "_at.municipality_id",
        region[F.col("_at.municipality_id")].alias("region_id"),
    )


def compute_present_population(positions: DataFrame) -> DataFrame:
    """Persons per time point and area: ``time_point, level (100m, 1km, municipality,
    region), area_id, persons`` (one aggregation: each position counts once per level)."""
    levels = F.array(*[
        F.struct(F.lit(level).alias("level"), F.col(col).alias("area_id"))
        for level, col in (
            ("100m", "inspire_100m"),
            ("1km", "inspire_1km"),
            ("municipality", "municipality_id"),
            ("region", "region_id"),
        )
    ])  # fmt: skip
    return (
        positions.select("time_point", F.inline(levels))
        .groupBy("time_point", "level", "area_id")
        .agg(F.count("*").alias("persons"))
    )


def compute_present_devices(
    positions: DataFrame, devices: DataFrame, *, day_start_s: list[int]
) -> DataFrame:
    """True devices per MNO, time point and 100 m tile: ``mno_id, time_point, inspire_100m,
    devices, inbound_devices`` (a device is where its person is, while it is on the MNO:
    from local midnight of ``from_day`` to that of ``to_day + 1``, UTC epoch seconds of the
    schedules' local days in ``day_start_s``)."""
    d = devices.select("person_id", "mno_id", "is_inbound", "from_day", "to_day")
    starts = F.array(*[F.lit(int(s)) for s in day_start_s])
    ts = F.unix_seconds("time_point")
    on = (F.col("from_day").isNull() | (ts >= F.element_at(starts, F.col("from_day") + 1))) & (
        F.col("to_day").isNull() | (ts < F.element_at(starts, F.col("to_day") + 2))
    )
    return (
        positions.select("person_id", "time_point", "inspire_100m")
        .join(d, "person_id")
        .where(on)
        .groupBy("mno_id", "time_point", "inspire_100m")
        .agg(
            F.count("*").alias("devices"),
            F.sum(F.col("is_inbound").cast("long")).alias("inbound_devices"),
        )
    )


def compute_od_flows(
    schedules: DataFrame, *, muni_region: dict[str, str], dates: list[str]
) -> DataFrame:
    """Trips per local day between zones: ``date, zone_level, origin_zone_id,
    destination_zone_id, trips``; a trip is a travel leg of positive duration.
    ``muni_region`` maps each municipality to its region (one aggregation for both levels)."""
    region = F.create_map(*[F.lit(v) for kv in sorted(muni_region.items()) for v in kv])
    legs = F.array(*[
        F.struct(
            F.col(f"z{i}").alias("o"),
            F.col(f"z{i + 1}").alias("d"),
            (F.col(f"k{2 * i + 2}") > F.col(f"k{2 * i + 1}")).alias("moved"),
        )
        for i in range(3)
    ])  # fmt: skip
    day_date = F.element_at(F.array(*[F.lit(d) for d in dates]), F.col("day") + 1)
    trips = (
        schedules.where(F.col("day") < len(dates))
        .select(F.to_date(day_date).alias("date"), F.inline(legs))
        .where("moved")
    )
    both = F.array(
        F.struct(F.lit(2).alias("zone_level"), F.col("o").alias("origin_zone_id"),
                 F.col("d").alias("destination_zone_id")),
        F.struct(F.lit(1).alias("zone_level"), region[F.col("o")].alias("origin_zone_id"),
                 region[F.col("d")].alias("destination_zone_id")),
    )  # fmt: skip
    return (
        trips.select("date", F.inline(both))
        .groupBy("date", "zone_level", "origin_zone_id", "destination_zone_id")
        .agg(F.count("*").alias("trips"))
    )


def compute_residents(persons: DataFrame) -> DataFrame:
    """Residents (not visitors) per zone by home at the start: ``zone_id, zone_level,
    residents``."""
    r = persons.where(~F.col("is_tourist"))
    return (
        r.groupBy(F.col("home_municipality_id").alias("zone_id"))
        .agg(F.count("*").alias("residents"))
        .withColumn("zone_level", F.lit(2))
        .unionByName(
            r.groupBy(F.col("home_region_id").alias("zone_id"))
            .agg(F.count("*").alias("residents"))
            .withColumn("zone_level", F.lit(1))
        )
        .select("zone_id", "zone_level", "residents")
    )


def compute_register(
    residents: DataFrame, zones: DataFrame, *, noise_sd: float, seed: int
) -> DataFrame:
    """The register a statistical office holds: ``round(R_z (1 + noise_sd * e_z))`` per
    municipality, ``e_z ~ N(0, 1)``; regions sum their municipalities."""
    m = residents.where("zone_level = 2").select(
        "zone_id",
        F.greatest(
            F.lit(0),
            F.round(
                F.col("residents") * (1 + noise_sd * spark_normal(seed, "register", "zone_id"))
            ),
        )
        .cast("long")
        .alias("residents"),
    )
    parent = zones.where("zone_level = 2").select("zone_id", "parent_id")
    r = (
        m.join(parent, "zone_id")
        .groupBy(F.col("parent_id").alias("zone_id"))
        .agg(F.sum("residents").alias("residents"))
    )
    return (
        m.withColumn("zone_level", F.lit(2))
        .unionByName(r.withColumn("zone_level", F.lit(1)))
        .select("zone_id", "zone_level", "residents")
    )


def compute_market_share(persons: DataFrame, devices: DataFrame) -> DataFrame:
    """Share of each region's residents with a device on each MNO: ``mno_id, region_id,
    share`` (realised in the synthetic population)."""
    res = persons.where(~F.col("is_tourist")).select("person_id", "home_region_id")
    n = res.groupBy("home_region_id").agg(F.count("*").alias("n"))
    with_dev = (
        devices.where(~F.col("is_inbound"))
        .select("person_id", "mno_id")
        .distinct()
        .join(res, "person_id")
        .groupBy("mno_id", "home_region_id")
        .agg(F.count("*").alias("k"))
    )
    return with_dev.join(n, "home_region_id").select(
        "mno_id",
        F.col("home_region_id").alias("region_id"),
        (F.col("k") / F.col("n")).alias("share"),
    )


#: the local hour at which the truth looks for each visitor's night (MultiMNO's functional
#: midnight, ``tourism.functional_midnight_hour``'s default)
FUNCTIONAL_MIDNIGHT_HOUR = 4


def _visitor_days(schedules: DataFrame, persons: DataFrame, devices: DataFrame) -> DataFrame:
    """The visitors' schedule rows with ``country``: the ISO code of their SIM's MCC (one SIM
    per visitor, whichever network it roams on)."""
    country = (
        devices.where(F.col("is_inbound"))
        .groupBy("person_id")
        .agg(mcc_country_column(F.min("mcc")).alias("country"))
    )
    tourists = persons.where(F.col("is_tourist")).select("person_id")
    return (
        schedules.join(tourists, "person_id")
        .join(country, "person_id", "left")
        .fillna({"country": "ZZ"})
    )


def compute_inbound_nights(
    schedules: DataFrame,
    persons: DataFrame,
    devices: DataFrame,
    *,
    t: Territory,
    muni_region: dict[str, str],
    night_s: list[int],
    dates: list[str],
) -> DataFrame:
    """Nights spent by the visitors: ``date, zone_level, zone_id, country, nights``.

    The night of ``dates[d]`` is spent where the visitor is at its functional midnight,
    ``night_s[d + 1]`` (UTC epoch seconds of :data:`FUNCTIONAL_MIDNIGHT_HOUR` local on day
    ``d + 1``), when the visitor is in the territory then (its schedule has that day); the
    position is the schedule's (:func:`~rmf_spark.synth.schedules.positions_at`), its zones
    those of the territory. ``country``: the visitor's SIM's (ISO alpha-2 of its MCC).
    """
    region = F.create_map(*[F.lit(v) for kv in sorted(muni_region.items()) for v in kv])
    instants = F.array(*[F.lit(int(s)) for s in night_s])
    at_midnight = (
        _visitor_days(schedules, persons, devices)
        .where((F.col("day") >= 1) & (F.col("day") <= len(dates)))
        .withColumn("_t", F.element_at(instants, F.col("day") + 1))
    )

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            x, y, _ = positions_at(pdf, np.arange(len(pdf)), pdf["_t"].to_numpy(dtype=float))
            yield pd.DataFrame(
                {
                    "day": pdf["day"].to_numpy(),
                    "country": pdf["country"].to_numpy(),
                    "municipality_id": municipality_id(t.municipality_index(x, y)),
                }
            )

    where = at_midnight.mapInPandas(batches, "day int, country string, municipality_id string")
    date = F.to_date(F.element_at(F.array(*[F.lit(d) for d in dates]), F.col("day")))
    both = F.array(
        F.struct(F.lit(2).alias("zone_level"), F.col("municipality_id").alias("zone_id")),
        F.struct(F.lit(1).alias("zone_level"), region[F.col("municipality_id")].alias("zone_id")),
    )
    return (
        where.select(date.alias("date"), "country", F.inline(both))
        .groupBy("date", "zone_level", "zone_id", "country")
        .agg(F.count("*").alias("nights"))
    )


def compute_inbound_visitors(
    schedules: DataFrame, persons: DataFrame, devices: DataFrame, *, dates: list[str]
) -> DataFrame:
    """Visitors in the territory per local day and country: ``date, country, visitors`` (a
    visitor is in the territory on every day of its stay, ``first_day .. last_day``)."""
    date = F.to_date(F.element_at(F.array(*[F.lit(d) for d in dates]), F.col("day") + 1))
    return (
        _visitor_days(schedules, persons, devices)
        .where(F.col("day") < len(dates))
        .groupBy(date.alias("date"), "country")
        .agg(F.count("*").alias("visitors"))
    )


def compute_inbound_share(
    schedules: DataFrame, persons: DataFrame, devices: DataFrame, *, dates: list[str]
) -> DataFrame:
    """Share of each origin country's visitors on each MNO: ``mno_id, country, share`` =
    visitor-days with a device on the MNO / visitor-days, over the period's days (realised in
    the synthetic population, as :func:`compute_market_share`; a visitor switching networks
    counts on each for its days there)."""
    days = _visitor_days(schedules, persons, devices).where(F.col("day") < len(dates))
    per_country = days.groupBy("country").agg(F.count("*").alias("n"))
    active = (F.col("from_day").isNull() | (F.col("day") >= F.col("from_day"))) & (
        F.col("to_day").isNull() | (F.col("day") <= F.col("to_day"))
    )
    on_mno = (
        days.select("person_id", "day", "country")
        .join(devices.where(F.col("is_inbound")), "person_id")
        .where(active)
        .select("mno_id", "person_id", "day", "country")
        .distinct()
        .groupBy("mno_id", "country")
        .agg(F.count("*").alias("k"))
    )
    return on_mno.join(per_country, "country").select(
        "mno_id", "country", (F.col("k") / F.col("n")).alias("share")
    )
