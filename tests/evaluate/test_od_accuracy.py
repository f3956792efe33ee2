"""OD accuracy on a hand example: NAE per day over the time bands, intra-zone shares."""

from __future__ import annotations

import datetime as dt

import pytest

from rmf_spark.evaluate.od_accuracy import od_accuracy

DAY, OTHER_DAY = dt.date(2024, 3, 5), dt.date(2024, 3, 6)


def test_od_accuracy_hand_example(spark):
    od = spark.createDataFrame(
        [
            (DAY, "morning_peak", "zone_2", "A", "B", 2.0, 3.0),
            (DAY, "evening", "zone_2", "A", "B", 1.0, 2.0),  # the day: 5 against 4
            (DAY, "morning_peak", "zone_2", "A", "A", 0.5, 1.0),  # 1 against 2
            (DAY, "evening", "zone_2", "B", "A", 1.0, None),  # no factor: 0 against 3
            (DAY, "day", "zone_2", "C", "A", 1.0, 1.5),  # no truth
            (DAY, "day", "zone_1", "R", "R", 3.0, 4.0),  # 4 against 5
            (DAY, "day", "1km", "x", "y", 3.0, 4.0),  # other level: ignored
        ],
        "date date, time_band string, level string, origin_area_id string, "
        "destination_area_id string, trips double, person_trips double",
    )
    truth = spark.createDataFrame(
        [
            (DAY, 2, "A", "B", 4),
            (DAY, 2, "A", "A", 2),
            (DAY, 2, "B", "A", 3),
            (DAY, 2, "B", "C", 1),  # not estimated
            (DAY, 1, "R", "R", 5),
            (OTHER_DAY, 2, "A", "B", 100),  # a day not estimated: ignored
        ],
        "date date, zone_level int, origin_zone_id string, destination_zone_id string, trips long",
    )
    summary, cells = od_accuracy(od, truth_od_flows=truth)
    assert summary == {
        "value": "person_trips",
        "days": 1,
        "cells_without_value": 1,
        "zone_2": {
            "nae": 0.75,  # (1 + 1 + 3 + 1.5 + 1) / (4 + 2 + 3 + 1)
            "truth_total": 10.0,
            "estimate_total": 7.5,
            "pairs": 5,
            "intra_share_truth": 0.2,
            "intra_share_estimate": round(1 / 7.5, 6),
            "intra_share_difference_points": round(100 * (1 / 7.5 - 0.2), 6),
        },
        "zone_1": {
            "nae": 0.2,
            "truth_total": 5.0,
            "estimate_total": 4.0,
            "pairs": 1,
            "intra_share_truth": 1.0,
            "intra_share_estimate": 1.0,
            "intra_share_difference_points": 0.0,
        },
    }
    got = {
        (r.level, r.origin_area_id, r.destination_area_id): (r.estimate, r.truth)
        for r in cells.collect()
    }
    assert got[("zone_2", "A", "B")] == (5.0, 4.0)
    assert got[("zone_2", "B", "C")] == (0.0, 1.0)
    assert len(got) == 6


def test_od_accuracy_device_trips_and_a_level_without_estimate(spark):
    od = spark.createDataFrame(
        [(DAY, "day", "zone_2", "A", "B", 2.0, None)],
        "date date, time_band string, level string, origin_area_id string, "
        "destination_area_id string, trips double, person_trips double",
    )
    truth = spark.createDataFrame(
        [(DAY, 2, "A", "B", 4), (DAY, 1, "R", "R", 4)],
        "date date, zone_level int, origin_zone_id string, destination_zone_id string, trips long",
    )
    summary, _ = od_accuracy(od, truth_od_flows=truth, value_col="trips")
    assert summary["cells_without_value"] == 0
    assert summary["zone_2"]["nae"] == pytest.approx(0.5)
    assert summary["zone_1"] == {
        "nae": None,
        "truth_total": None,
        "estimate_total": None,
        "pairs": 0,
        "intra_share_truth": None,
        "intra_share_estimate": None,
        "intra_share_difference_points": None,
    }
