"""Inbound tourism accuracy on a hand example: relative errors of the nights per region and
country and of the visitors per day."""

from __future__ import annotations

import datetime as dt

import pytest

from rmf_spark.evaluate.tourism_accuracy import inbound_accuracy

DAY, NEXT, OTHER = dt.date(2024, 5, 13), dt.date(2024, 5, 14), dt.date(2024, 5, 20)


def test_inbound_accuracy_hand_example(spark):
    rows = [
        (DAY, "GB", "nights", "zone_1", "R1", 2.0, 4.0),
        (NEXT, "GB", "nights", "zone_1", "R1", 1.0, 2.0),  # R1 GB: 6 against 5
        (DAY, "GB", "nights", "zone_2", "M1", 3.0, 6.0),  # another level: ignored
        (DAY, "FR", "nights", "zone_1", "R2", 1.0, None),  # no share: 0 against 2
        (DAY, "ZZ", "nights", "zone_1", "R1", 1.0, 1.0),  # no truth
        (DAY, "GB", "visitors", "territory", "all", 4.0, 8.0),  # 8 against 10
        (NEXT, "GB", "visitors", "territory", "all", 5.0, 10.0),  # 10 against 10
        (DAY, "GB", "arrivals", "territory", "all", 4.0, 8.0),  # not compared
    ]
    inbound = spark.createDataFrame(
        [(d, c, i, lv, a, dev, pop, None) for d, c, i, lv, a, dev, pop in rows],
        "date date, country_of_origin string, indicator string, level string, area_id string, "
        "devices double, population double, expansion_factor double",
    )
    truth_nights = spark.createDataFrame(
        [
            (DAY, 1, "R1", "GB", 3), (NEXT, 1, "R1", "GB", 2), (DAY, 1, "R2", "FR", 2),
            (DAY, 2, "M1", "GB", 3),  # another level
            (OTHER, 1, "R1", "GB", 50),  # a day not estimated
        ],
        "date date, zone_level int, zone_id string, country string, nights long",
    )  # fmt: skip
    truth_visitors = spark.createDataFrame(
        [(DAY, "GB", 10), (NEXT, "GB", 10), (OTHER, "GB", 99)],
        "date date, country string, visitors long",
    )
    summary, nights, visitors = inbound_accuracy(
        inbound, truth_nights=truth_nights, truth_visitors=truth_visitors
    )
    assert summary["days"] == 2 and summary["cells_without_value"] == 1
    n = summary["nights"]
    assert (n["cells"], n["truth_total"], n["estimate_total"]) == (3, 7.0, 7.0)
    assert n["nae"] == pytest.approx((1 + 2 + 1) / 7, abs=1e-6)
    assert n["total_relative_error"] == 0.0
    assert (n["cells_within_10pct"], n["cells_with_truth"], n["max_abs_relative_error"]) == (
        0, 2, 1.0,
    )  # fmt: skip
    assert n["by_country"] == {"FR": -1.0, "GB": 0.2, "ZZ": None}
    cells = {(r.zone_id, r.country): r.relative_error for r in nights.collect()}
    assert cells == {("R1", "GB"): pytest.approx(0.2), ("R2", "FR"): -1.0, ("R1", "ZZ"): None}
    v = summary["visitors"]
    assert (v["cells_within_10pct"], v["total_relative_error"]) == (1, -0.1)
    assert sorted((r.date, r.relative_error) for r in visitors.collect()) == [
        (DAY, pytest.approx(-0.2)), (NEXT, 0.0),
    ]  # fmt: skip


def test_outbound_accuracy_hand_example(spark):
    from rmf_spark.evaluate.tourism_accuracy import outbound_accuracy

    rows = [
        (DAY, "FR", "trips", "territory", "all", 1.0, 3.0),  # FR: 3 + 2 trips against 4
        (NEXT, "FR", "trips", "territory", "all", 1.0, 2.0),
        (NEXT, "FR", "trips", "zone_1", "R1", 1.0, 2.0),  # a home level: ignored
        (OTHER, "FR", "trips", "territory", "all", 9.0, 9.0),  # after the period
        (DAY, "PT", "trips", "territory", "all", 1.0, None),  # no factor: 0 against 1
        (DAY, "FR", "nights", "territory", "all", 2.0, 4.0),  # the night ending on NEXT
        (DAY - dt.timedelta(days=1), "FR", "nights", "territory", "all", 1.0, 1.0),
    ]
    outbound = spark.createDataFrame(
        [(d, c, i, lv, a, dev, pop, None) for d, c, i, lv, a, dev, pop in rows],
        "date date, country_of_destination string, indicator string, level string, "
        "area_id string, devices double, population double, expansion_factor double",
    )
    truth = spark.createDataFrame(
        [
            (1, "FR", DAY, NEXT), (2, "FR", DAY, DAY), (3, "FR", NEXT, OTHER),
            (4, "FR", NEXT, NEXT), (5, "PT", DAY, DAY),
            (6, "FR", DAY - dt.timedelta(days=3), DAY),  # began before: no trip, one morning
        ],
        "person_id long, destination_country string, abroad_from date, abroad_to date",
    )  # fmt: skip
    summary, cells = outbound_accuracy(outbound, truth_trips=truth, start=DAY, end=NEXT)
    by = {r["country"]: r for r in cells.collect()}
    assert by["FR"]["estimate"] == 5.0 and by["FR"]["truth"] == 4.0
    assert by["FR"]["relative_error"] == pytest.approx(0.25)
    assert by["PT"]["estimate"] == 0.0 and by["PT"]["truth"] == 1.0
    trips = summary["trips"]
    assert trips["truth_total"] == 5.0 and trips["estimate_total"] == 5.0
    assert trips["nae"] == pytest.approx(2 / 5)
    # mornings DAY..NEXT away: 2 + 1 + 1 + 1 + 1 + 1 = 7 (FR 6); estimated nights 1 + 4 = 5
    nights = summary["nights"]
    assert nights["truth_total"] == 7.0 and nights["estimate_total"] == 5.0
