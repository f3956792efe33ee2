"""The inbound tourism truth: nights at the functional midnight, visitors per day, and each
origin's share of visitors per MNO, on hand-made visitors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rmf_spark.synth.profile import load_profile
from rmf_spark.synth.schedules import SCHEDULE_SCHEMA
from rmf_spark.synth.territory import build_territory, municipality_id, region_id
from rmf_spark.synth.truth import (
    compute_inbound_nights,
    compute_inbound_share,
    compute_inbound_visitors,
)

H = 3600.0
PROFILE = load_profile("tiny")
TERR = build_territory(PROFILE.territory, seed=PROFILE.seed)
DATES = ["2024-05-13", "2024-05-14", "2024-05-15"]
HOTEL_A = (TERR.x0 + 1500.0, TERR.y0 + 1500.0)
HOTEL_B = (TERR.x0 + TERR.width_m - 1500.0, TERR.y0 + TERR.height_m - 1500.0)
MUNIS = {
    h: str(municipality_id(TERR.municipality_index(np.array([h[0]]), np.array([h[1]])))[0])
    for h in (HOTEL_A, HOTEL_B)
}
MUNI_REGION = {str(municipality_id(i)): str(region_id(r)) for i, r in enumerate(TERR.muni_region)}


def _day(person, day, hotel):
    """A visitor's day: out from 09:00 to 17:00 at a point 1 km east of its hotel."""
    start = day * 24 * H
    knots = [start, *(start + t * H for t in (9, 9.5, 12, 12, 12, 17)), start + 24 * H]
    row = {"person_id": person, "day": day, **{f"k{i}": k for i, k in enumerate(knots)}}
    sight = (hotel[0] + 1000.0, hotel[1])
    for i, p in enumerate([hotel, sight, sight, hotel]):
        row[f"p{i}x"], row[f"p{i}y"], row[f"z{i}"] = p[0], p[1], "M?"
    return row


def _frames(spark):
    rows = [_day(10, d, HOTEL_A) for d in (0, 1, 2)] + [_day(11, 1, HOTEL_B), _day(1, 0, HOTEL_B)]
    columns = [c.split()[0] for c in SCHEDULE_SCHEMA.split(", ")]
    sched = spark.createDataFrame(pd.DataFrame(rows)[columns], SCHEDULE_SCHEMA)
    persons = spark.createDataFrame(
        [(10, True), (11, True), (1, False)], "person_id long, is_tourist boolean"
    )
    devices = spark.createDataFrame(
        [
            (10, "mno_a", True, 234, None, 0),  # switches to mno_b on day 1
            (10, "mno_b", True, 234, 1, None),
            (11, "mno_a", True, 208, None, None),
            (1, "mno_a", False, 214, None, None),
        ],
        "person_id long, mno_id string, is_inbound boolean, mcc int, from_day int, to_day int",
    )
    return sched, persons, devices


def test_nights_are_counted_where_the_visitor_is_at_the_functional_midnight(spark):
    sched, persons, devices = _frames(spark)
    night_s = [int(d * 24 * H + 4 * H) for d in range(len(DATES) + 1)]
    out = compute_inbound_nights(
        sched, persons, devices, t=TERR, muni_region=MUNI_REGION, night_s=night_s, dates=DATES
    ).collect()
    got = sorted((str(r.date), r.zone_level, r.zone_id, r.country, r.nights) for r in out)
    a, b = MUNIS[HOTEL_A], MUNIS[HOTEL_B]
    expected = [
        # visitor 10 sleeps at hotel A on the nights of days 0 and 1 (its last day is 2)
        ("2024-05-13", 1, MUNI_REGION[a], "GB", 1), ("2024-05-13", 2, a, "GB", 1),
        ("2024-05-14", 1, MUNI_REGION[a], "GB", 1), ("2024-05-14", 2, a, "GB", 1),
        # visitor 11 is there on day 1 only: the night of day 0 (it is at its hotel at 04:00)
        ("2024-05-13", 1, MUNI_REGION[b], "FR", 1), ("2024-05-13", 2, b, "FR", 1),
    ]  # fmt: skip
    assert got == sorted(expected)


def test_visitors_per_day_and_the_share_of_each_origin_on_each_mno(spark):
    sched, persons, devices = _frames(spark)
    visitors = compute_inbound_visitors(sched, persons, devices, dates=DATES).collect()
    assert sorted((str(r.date), r.country, r.visitors) for r in visitors) == [
        ("2024-05-13", "GB", 1), ("2024-05-14", "FR", 1), ("2024-05-14", "GB", 1),
        ("2024-05-15", "GB", 1),
    ]  # fmt: skip
    share = compute_inbound_share(sched, persons, devices, dates=DATES).collect()
    assert sorted((r.mno_id, r.country, round(r.share, 6)) for r in share) == [
        ("mno_a", "FR", 1.0), ("mno_a", "GB", round(1 / 3, 6)), ("mno_b", "GB", round(2 / 3, 6)),
    ]  # fmt: skip
