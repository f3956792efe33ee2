"""True stays from schedules: hand-made schedules, and schedules of the model checked against
the true positions (a person is in a stay exactly when not travelling, at the stay's point)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rmf_spark.synth.profile import load_profile
from rmf_spark.synth.runner import local_day_starts
from rmf_spark.synth.schedules import SCHEDULE_SCHEMA, positions_at, schedules_pandas
from rmf_spark.synth.territory import build_territory, municipality_id, region_id
from rmf_spark.synth.truth import to_stays

H = 3600.0
PROFILE = load_profile("tiny")
TERR = build_territory(PROFILE.territory, seed=PROFILE.seed)
HOME, WORK, OTHER, SIGHT = (0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (500.0, 500.0)
ZONE = {HOME: "M000", WORK: "M001", OTHER: "M002", SIGHT: "M001", (7.0, 7.0): "M002"}
REGION = {"M000": "R00", "M001": "R00", "M002": "R01"}


def _day(person, day, times, stops):
    """A schedule row: ``times`` t0..t5 in hours after the day's start, ``stops`` A and B."""
    start = day * 24 * H
    home, a, b = stops
    knots = [start, *(start + t * H for t in times), start + 24 * H]
    row = {"person_id": person, "day": day, **{f"k{i}": k for i, k in enumerate(knots)}}
    for i, p in enumerate([home, a, b, home]):
        row[f"p{i}x"], row[f"p{i}y"], row[f"z{i}"] = p[0], p[1], ZONE[p]
    return row


def _stays(spark, rows, tourists, *, start_s, end_s, muni_region=REGION):
    columns = [c.split()[0] for c in SCHEDULE_SCHEMA.split(", ")]
    sched = spark.createDataFrame(pd.DataFrame(rows)[columns], SCHEDULE_SCHEMA)
    persons = spark.createDataFrame(
        [(int(p), p in tourists) for p in {r["person_id"] for r in rows}],
        "person_id long, is_tourist boolean",
    )
    return to_stays(sched, persons, muni_region=muni_region, start_s=start_s, end_s=end_s)


def test_stays_of_hand_made_schedules(spark):
    at_home = [10, 10, 10, 10, 10, 10]  # nothing planned: every leg and stop has zero length
    rows = [
        # a workday (home, work, other, home), then a day at home: the night joins them
        _day(1, 0, [8, 8.5, 17, 17.5, 19, 19.5], (HOME, WORK, OTHER)),
        _day(1, 1, at_home, (HOME, HOME, HOME)),
        # a visitor at a sight, no stop B (B = A with zero length); the visit ends that day
        _day(2, 0, [9, 9.5, 12, 12, 12, 12.5], (HOME, SIGHT, SIGHT)),
        # abroad on day 1: the nights of day 0 and day 2 are two stays
        _day(3, 0, at_home, (HOME, HOME, HOME)),
        _day(3, 2, at_home, (HOME, HOME, HOME)),
        # a migrant: a new home from day 1 (a jump at midnight)
        _day(4, 0, at_home, (HOME, HOME, HOME)),
        _day(4, 1, at_home, ((7.0, 7.0), (7.0, 7.0), (7.0, 7.0))),
    ]
    out = _stays(spark, rows, {2}, start_s=int(H), end_s=int(60 * H)).toPandas()
    assert list(out.columns) == [
        "person_id", "start_ts", "end_ts", "activity", "x", "y", "municipality_id", "region_id"
    ]  # fmt: skip

    def hours(ts):
        return (ts - pd.Timestamp("1970-01-01")).total_seconds() / H

    got = sorted(
        (r.person_id, hours(r.start_ts), hours(r.end_ts), r.activity, r.x, r.y,
         r.municipality_id, r.region_id)
        for r in out.itertuples()
    )  # fmt: skip
    assert got == [
        (1, 1.0, 8.0, "home", 0.0, 0.0, "M000", "R00"),  # clipped at the period start
        (1, 8.5, 17.0, "work", 1000.0, 0.0, "M001", "R00"),
        (1, 17.5, 19.0, "other", 1000.0, 1000.0, "M002", "R01"),
        (1, 19.5, 48.0, "home", 0.0, 0.0, "M000", "R00"),  # across midnight, the whole day 1
        (2, 1.0, 9.0, "home", 0.0, 0.0, "M000", "R00"),
        (2, 9.5, 12.0, "sight", 500.0, 500.0, "M001", "R00"),
        (2, 12.5, 24.0, "home", 0.0, 0.0, "M000", "R00"),
        (3, 1.0, 24.0, "home", 0.0, 0.0, "M000", "R00"),
        (3, 48.0, 60.0, "home", 0.0, 0.0, "M000", "R00"),  # clipped at the period end
        (4, 1.0, 24.0, "home", 0.0, 0.0, "M000", "R00"),
        (4, 24.0, 48.0, "home", 7.0, 7.0, "M002", "R01"),
    ]


def test_stays_cover_exactly_the_times_a_person_does_not_travel(spark):
    n, n_days = 300, 3
    rng = np.random.default_rng(5)
    people = pd.DataFrame({
        "person_id": np.arange(n), "home_x": TERR.x0 + rng.uniform(0, TERR.width_m, n),
        "home_y": TERR.y0 + rng.uniform(0, TERR.height_m, n),
        "work_x": TERR.x0 + rng.uniform(0, TERR.width_m, n),
        "work_y": TERR.y0 + rng.uniform(0, TERR.height_m, n),
        "is_worker": rng.uniform(size=n) < 0.6, "is_tourist": rng.uniform(size=n) < 0.1,
    })  # fmt: skip
    abroad = rng.uniform(size=n) < 0.1  # no schedule on day 1
    pdf = pd.concat([people.assign(day=d) for d in range(n_days)], ignore_index=True)
    pdf = pdf[~((pdf["day"] == 1) & abroad[pdf["person_id"]])].reset_index(drop=True)
    starts = local_day_starts(dt.date(2024, 1, 19), n_days + 1, "Europe/Madrid")
    sched = schedules_pandas(pdf, t=TERR, p=PROFILE.population, seed=3, day_start_s=starts,
                             workday=[True, False, False])  # fmt: skip
    muni = np.arange(len(TERR.muni_region))
    regions = dict(zip(municipality_id(muni), region_id(TERR.muni_region), strict=True))
    start_s, end_s = starts[0] + 3 * 3600, starts[-1] - 1800
    stays = to_stays(
        spark.createDataFrame(sched, SCHEDULE_SCHEMA),
        spark.createDataFrame(people[["person_id", "is_tourist"]]),
        muni_region=regions, start_s=start_s, end_s=end_s,
    ).toPandas()  # fmt: skip
    s = (stays["start_ts"] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy()
    e = (stays["end_ts"] - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy()

    # at random times: inside a stay <=> scheduled and not travelling, and at the stay's point
    times = rng.uniform(start_s, end_s, 40)
    for q in rng.choice(n, 60, replace=False):
        mine = np.flatnonzero(stays["person_id"].to_numpy() == q)
        rows = np.flatnonzero(sched["person_id"].to_numpy() == q)
        k0, k7 = sched["k0"].to_numpy()[rows], sched["k7"].to_numpy()[rows]
        for t in times:
            inside = mine[(s[mine] <= t) & (t < e[mine])]
            day = rows[(k0 <= t) & (t < k7)]
            assert len(inside) <= 1
            if len(day) == 0:  # abroad
                assert len(inside) == 0
                continue
            x, y, moving = positions_at(sched, day, np.array([t]))
            assert len(inside) == (not moving[0]), (q, t)
            if len(inside):
                assert (stays["x"][inside[0]], stays["y"][inside[0]]) == (x[0], y[0])
    # maximal: two stays of a person never touch at the same point
    st = stays.assign(s=s, e=e).sort_values(["person_id", "s"])
    same = st["person_id"].eq(st["person_id"].shift()) & st["s"].eq(st["e"].shift())
    assert not (same & st["x"].eq(st["x"].shift()) & st["y"].eq(st["y"].shift())).any()
    # the nights cross local midnight as one stay; every activity occurs
    assert ((s < starts[1]) & (e > starts[1]) & (stays["activity"] == "home")).sum() > 0.8 * n
    assert set(stays["activity"]) == {"home", "work", "sight", "other"}
    assert stays["region_id"].notna().all()
