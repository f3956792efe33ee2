"""Usual environment accuracy on hand examples: home and work distances, residents, migration."""

from __future__ import annotations

import datetime as dt

import pytest

from rmf_spark.evaluate.usual_environment_accuracy import (
    home_work_accuracy,
    migration_accuracy,
    period_residents,
    residents_accuracy,
)

D = dt.date
P0, P1 = D(2024, 3, 4), D(2024, 3, 10)  # a 7-day period
PERSONS_SCHEMA = (
    "person_id long, is_tourist boolean, is_worker boolean, home_x double, home_y double, "
    "home_municipality_id string, work_x double, work_y double, is_migrant boolean, "
    "migration_date date, new_home_inspire_100m string, new_home_municipality_id string"
)
DEVICE_PERSON_SCHEMA = "device_id string, person_id long"


def _person(pid, *, home=(0.0, 0.0), muni="M1", work=None, migration=None, tourist=False):
    """A ``truth/persons`` row; ``migration = (date, new 100 m tile code, municipality)``."""
    mdate, tile, new_muni = migration or (None, None, None)
    wx, wy = work or (None, None)
    return (
        pid,
        tourist,
        work is not None,
        *home,
        muni,
        wx,
        wy,
        migration is not None,
        mdate,
        tile,
        new_muni,
    )


# --- home and work ------------------------------------------------------------------------------


@pytest.fixture
def home_world(spark):
    # tile 1 centre (50, 50) in M1, tile 2 centre (1050, 50) in M2; tile 99 is off the grid
    grid = spark.createDataFrame(
        [(1, 0.0, 0.0), (2, 1000.0, 0.0)], "tile_id long, x_ll double, y_ll double"
    )
    tile_zone = spark.createDataFrame(
        [(1, 2, "M1"), (2, 2, "M2"), (1, 1, "R1"), (2, 1, "R1")],
        "tile_id long, zone_level int, zone_id string",
    )
    persons = spark.createDataFrame(
        [
            _person(1, home=(950.0, 50.0), work=(1050.0, 950.0)),  # 900 m: within
            _person(2, home=(1150.0, 50.0), muni="M2", work=(1050.0, 1150.0)),  # 1100 m: not
            _person(3, home=(50.0, 1050.0)),  # two home tiles, not a worker
            # moves on day 3 of 7: the new home (tile 2's centre) is the period's
            _person(
                4, home=(50.0, 50.0), work=(0.0, 0.0), migration=(D(2024, 3, 6), "100mN0E10", "M2")
            ),
            _person(5, tourist=True),
            _person(7),
        ],
        PERSONS_SCHEMA,
    )
    device_person = spark.createDataFrame(
        [("d1", 1), ("d2", 2), ("d3", 3), ("d4", 4), ("d5", 5), ("d7", 7), ("d8", 1), ("d9", 2)],
        DEVICE_PERSON_SCHEMA,
    )
    labels = spark.createDataFrame(
        [
            (P0, P1, device, label, tile, "r")
            for device, label, tile in [
                ("d1", "ue", 1),
                ("d1", "home", 1),
                ("d1", "home", 1),
                ("d1", "work", 2),
                ("d2", "home", 1),
                ("d2", "work", 2),
                ("d3", "home", 1),
                ("d3", "home", 2),
                ("d3", "work", 1),
                ("d4", "home", 2),
                ("d5", "home", 1),
                ("d6", "home", 1),  # not in the map
                ("d7", "home", 99),  # off the grid
            ]
        ],
        "period_start date, period_end date, device_id string, label string, tile_id long, "
        "rule string",
    )
    status = spark.createDataFrame(
        [(P0, d, "labelled") for d in ("d1", "d2", "d3", "d4", "d5", "d6", "d7")]
        + [(P0, "d8", "insufficient_observation"), (P0, "d9", "no_ue_rule_fired")],
        "period_start date, device_id string, status string",
    )
    return dict(
        labels=labels,
        status=status,
        grid=grid,
        tile_zone=tile_zone,
        truth_persons=persons,
        device_person=device_person,
    )


def test_home_work_accuracy_hand_example(home_world):
    summary, devices = home_work_accuracy(**home_world)
    rows = {(r.device_id, r.role): r for r in devices.collect()}
    assert rows[("d1", "home")].distance_m == pytest.approx(900.0)
    assert rows[("d1", "home")].within is True
    assert rows[("d2", "home")].distance_m == pytest.approx(1100.0)
    assert rows[("d2", "home")].within is False
    # two tiles: their centre (550, 50) is 1118 m away, the nearest tile 1000 m (counts)
    d3 = rows[("d3", "home")]
    assert (d3.tiles, d3.x, d3.y) == (2, 550.0, 50.0)
    assert d3.distance_m == pytest.approx((500**2 + 1000**2) ** 0.5)
    assert d3.nearest_m == pytest.approx(1000.0)
    assert d3.zone_share == 0.5
    d4 = rows[("d4", "home")]
    assert (d4.moved, d4.true_x, d4.true_y, d4.true_zone, d4.distance_m) == (
        True,
        1050.0,
        50.0,
        "M2",
        0.0,
    )
    assert rows[("d7", "home")].distance_m is None and rows[("d7", "home")].off_grid_tiles == 1
    assert rows[("d6", "home")].person_id is None
    assert rows[("d3", "work")].true_x is None  # not a worker
    assert summary == {
        "devices": 9,
        "status": {
            "labelled": 7,
            "insufficient_observation": 1,
            "no_ue_rule_fired": 1,
            "no_home_rule_fired": 0,
        },
        "labelled_share": round(7 / 9, 6),
        "max_distance_m": 1000.0,
        "home": {
            "devices": 7,
            "unmapped": 1,
            "visitors": 1,
            "off_grid": 1,
            "evaluated": 4,  # d1, d2, d3, d4
            "within_share": 0.5,  # d1 (900 m), d4 (0 m)
            "within_share_nearest": 0.75,  # and d3 (its nearest tile at 1000 m)
            "p50_m": 900.0,  # of 0, 900, 1100, 1118 m
            "p90_m": round((500**2 + 1000**2) ** 0.5, 6),
            "municipality_correct_share": 2.5 / 4,  # d1, d4 right, d2 wrong, d3 half
            "moved": 1,
        },
        "work": {
            "devices": 3,
            "unmapped": 0,
            "visitors": 0,
            "off_grid": 0,
            "evaluated": 2,  # workers only: d1 (900 m), d2 (1100 m)
            "within_share": 0.5,
            "within_share_nearest": 0.5,
            "p50_m": 900.0,
            "p90_m": 1100.0,
            "non_workers": 1,
            "worker_devices_labelled": 3,  # d1, d2, d4 (d9 of worker 2 is not labelled)
            "worker_work_labelled_share": round(2 / 3, 6),
        },
    }


def test_home_work_accuracy_threshold_is_a_parameter(home_world):
    summary, _ = home_work_accuracy(**home_world, max_distance_m=1100.0)
    assert summary["home"]["within_share"] == 0.75  # d2 at exactly 1100 m now counts
    with pytest.raises(ValueError, match="max_distance_m"):
        home_work_accuracy(**home_world, max_distance_m=0)


def test_period_residents_counts_migrants_at_the_home_of_most_days(spark):
    persons = spark.createDataFrame(
        [
            _person(1, muni="M1"),
            _person(2, muni="M1", migration=(D(2024, 3, 6), "100mN0E0", "M2")),  # 2 old, 5 new
            _person(3, muni="M1", migration=(D(2024, 3, 8), "100mN0E0", "M2")),  # 4 old, 3 new
            _person(4, muni="M1", migration=(D(2024, 3, 2), "100mN0E0", "M2")),  # before: new
            _person(5, muni="M3", tourist=True),
        ],
        PERSONS_SCHEMA,
    )
    got = {
        (r.zone_id, r.zone_level): r.residents
        for r in period_residents(persons, start=P0, end=P1).collect()
    }
    assert got == {("M1", 2): 2, ("M2", 2): 2}
    # a tie (3 days each of 6) keeps the old home
    tie = period_residents(persons.where("person_id = 2"), start=D(2024, 3, 3), end=D(2024, 3, 8))
    assert [(r.zone_id, r.residents) for r in tie.collect()] == [("M1", 1)]


# --- residents ----------------------------------------------------------------------------------

CALIBRATED_SCHEMA = (
    "period_start date, level string, area_id string, register double, "
    "ratio_population double, population double, population_lower double, "
    "population_upper double"
)


def test_residents_accuracy_hand_example(spark):
    calibrated = spark.createDataFrame(
        [
            (P0, "zone_2", "M1", 105.0, 90.0, 102.0, 95.0, 110.0),  # covers 100
            (P0, "zone_2", "M2", 190.0, 180.0, 199.0, 201.0, 230.0),  # misses 200
            (P0, "zone_2", "M3", 5.0, 10.0, 0.0, 0.0, 3.0),  # covers 0 (no truth)
            (P0, "zone_1", "R1", 300.0, 280.0, 301.0, 250.0, 350.0),  # other level: ignored
        ],
        CALIBRATED_SCHEMA,
    )
    truth = spark.createDataFrame(
        [("M1", 2, 100), ("M2", 2, 200), ("M4", 2, 50), ("R1", 1, 350)],
        "zone_id string, zone_level int, residents long",
    )
    residents = spark.createDataFrame(
        [
            ("home", "zone_2", "M1", 95.0),
            ("home", "zone_2", "M2", 200.0),
            ("work", "zone_2", "M1", 1000.0),  # workers: ignored
        ],
        "role string, level string, area_id string, population double",
    )
    summary, per_zone = residents_accuracy(calibrated, truth_residents=truth, residents=residents)
    assert summary == {
        "level": "zone_2",
        "zones": 4,  # M1..M4: either side
        "truth_total": 350.0,
        "nae": {
            "calibrated": round((2 + 1 + 0 + 50) / 350, 6),
            "ratio": round((10 + 20 + 10 + 50) / 350, 6),
            "register": round((5 + 10 + 5 + 50) / 350, 6),
            "scalar_residents": round((5 + 0 + 50) / 350, 6),
        },
        "estimate_total": {
            "calibrated": 301.0,
            "ratio": 280.0,
            "register": 300.0,
            "scalar_residents": 295.0,
        },
        "interval_coverage": 0.5,  # M1 and M3 of M1..M4 (M4 has no interval)
        "mean_width": round((15 + 29 + 3) / 3, 6),
        "mean_relative_width": round((15 / 102 + 29 / 199) / 2, 6),  # M3: estimate 0
    }
    zones = {r.area_id: r for r in per_zone.collect()}
    assert set(zones) == {"M1", "M2", "M3", "M4"}
    assert (zones["M1"].truth, zones["M1"].covered) == (100.0, True)
    assert zones["M2"].covered is False
    assert (zones["M3"].truth, zones["M3"].covered) == (None, True)
    assert (zones["M4"].population, zones["M4"].covered) == (None, None)


# --- migration ----------------------------------------------------------------------------------

BEFORE = (D(2024, 3, 4), D(2024, 3, 6))
AFTER = (D(2024, 3, 8), D(2024, 3, 10))


@pytest.fixture
def migration_world(spark):
    persons = spark.createDataFrame(
        [
            _person(1, muni="M1", migration=(D(2024, 3, 7), None, "M3")),  # mover R1 -> R2
            _person(2, muni="M1"),
            _person(3, muni="M1", migration=(D(2024, 3, 5), None, "M3")),  # new home in both
            _person(4, muni="M2", migration=(D(2024, 3, 9), None, "M4")),  # mover inside R1
            _person(5, tourist=True),
            _person(6, muni="M1", migration=(D(2024, 3, 7), None, "M3")),  # R1 -> R2, no device
            _person(7, muni="M3", migration=(D(2024, 3, 7), None, "M1")),  # R2 -> R1
        ],
        PERSONS_SCHEMA,
    )
    device_person = spark.createDataFrame(
        [("d1", 1), ("d2", 2), ("d3", 3), ("d4", 4), ("d5", 5), ("d7", 1), ("d8", 2)],
        DEVICE_PERSON_SCHEMA,
    )
    overlap = spark.createDataFrame(
        [
            ("d1", "migrant"),  # true positive
            ("d2", "migrant"),  # false positive
            ("d3", "stayer"),  # true negative: new home in both periods
            ("d4", "stayer"),  # missed
            ("d5", "migrant"),  # a visitor
            ("d6", "stayer"),  # not in the map
            ("d7", "home_before_only"),
            ("d8", "stayer"),
        ],
        "device_id string, status string",
    )
    zones = spark.createDataFrame(
        [("M1", 2, "R1"), ("M2", 2, "R1"), ("M3", 2, "R2"), ("M4", 2, "R1"), ("R1", 1, None)],
        "zone_id string, zone_level int, parent_id string",
    )
    flows = spark.createDataFrame(
        [
            (1, "R1", "R2", 2.2),  # truth 2 (persons 1, 6): within 20 %
            (1, "R2", "R1", 1.5),  # truth 1: not within
            (1, "R1", "R1", 5.0),  # inside R1 (truth 1): compared with include_internal only
            (1, "R2", "R3", 0.5),  # no truth
            (2, "M1", "M3", 99.0),  # other level: ignored
        ],
        "zone_level int, origin_zone_id string, destination_zone_id string, population double",
    )
    return dict(
        overlap=overlap,
        truth_persons=persons,
        device_person=device_person,
        zones=zones,
        flows=flows,
    )


def test_migration_accuracy_hand_example(migration_world):
    summary, devices = migration_accuracy(**migration_world, before=BEFORE, after=AFTER)
    assert summary == {
        "confusion": {
            "migrant": {"true_mover": 1, "true_stayer": 1},
            "stayer": {"true_mover": 1, "true_stayer": 2},
            "home_before_only": {"true_mover": 1, "true_stayer": 0},
            "home_after_only": {"true_mover": 0, "true_stayer": 0},
        },
        "unmapped": 1,
        "visitors": 1,
        "recall": 0.5,
        "precision": 0.5,
        "flows": {
            "zone_level": 1,
            "pairs": 3,  # R1 -> R2, R2 -> R1, R2 -> R3
            "truth_total": 3.0,
            "estimate_total": 4.2,
            "total_relative_error": 0.4,
            "nae": 0.4,  # (0.2 + 0.5 + 0.5) / 3
            "pairs_within_share": 0.5,
            "max_relative_error": 0.2,
        },
    }
    moved = {r.device_id: r.true_mover for r in devices.collect()}
    assert moved == {
        "d1": True,
        "d2": False,
        "d3": False,
        "d4": True,
        "d5": False,
        "d6": None,
        "d7": True,
        "d8": False,
    }


def test_migration_flows_with_internal_moves_and_municipalities(migration_world):
    common = {**migration_world, "before": BEFORE, "after": AFTER}
    summary, _ = migration_accuracy(**common, include_internal=True)
    assert summary["flows"]["nae"] == round((0.2 + 0.5 + 0.5 + 4.0) / 4, 6)
    assert summary["flows"]["pairs"] == 4
    # municipalities: only M1 -> M3 is estimated (99 against the truth's 2)
    summary, _ = migration_accuracy(**common, zone_level=2)
    f = summary["flows"]
    assert (f["truth_total"], f["estimate_total"], f["pairs"]) == (4.0, 99.0, 3)
    assert f["nae"] == round((97 + 1 + 1) / 4, 6)
    with pytest.raises(ValueError, match="follow each other"):
        migration_accuracy(**{**common, "after": BEFORE})
    with pytest.raises(ValueError, match="zones"):
        migration_accuracy(**{**common, "zones": None})
