"""Mid-term permanence: slots and days per tile by day type and local time interval."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rmf_spark.slayer.device.schemas import PERMANENCE_SCHEMA
from rmf_spark.slayer.usual_environment.midterm import (
    compute_midterm_observation,
    compute_midterm_permanence,
    with_day_type_and_intervals,
)
from rmf_spark.slayer.usual_environment.settings import TimeInterval, UsualEnvironmentSettings

MON = dt.date(2024, 5, 13)  # Wednesday the 15th is the holiday of these tests
S = UsualEnvironmentSettings()


def _slot(device, day_offset, hour, kind="grid", tiles=(), date=None):
    start = dt.datetime.combine(MON, dt.time(0)) + dt.timedelta(days=day_offset, hours=hour)
    return (device, date or start.date(), hour, start, kind, list(tiles), None)


def _frames(spark, rows, holidays=(dt.date(2024, 5, 15),), settings_=S):
    perm = spark.createDataFrame(rows, PERMANENCE_SCHEMA)
    hol = spark.createDataFrame([(d,) for d in holidays], "date date") if holidays else None
    slots = with_day_type_and_intervals(perm, holidays=hol, settings=settings_)
    return compute_midterm_permanence(slots), compute_midterm_observation(slots)


def test_hand_example_day_types_intervals_and_regularity(spark):
    rows = [
        _slot("d1", 0, 23, tiles=[1, 2]),  # Monday night
        _slot("d1", 1, 2, tiles=[1]),  # 02:00 Tuesday: still Monday's night (day starts at 4)
        _slot("d1", 1, 10, tiles=[3]),  # Tuesday, working hours
        _slot("d1", 2, 23, tiles=[1]),  # Wednesday: a holiday
        _slot("d1", 5, 23, tiles=[1]),  # Saturday
        _slot("d1", 1, 12, kind="unknown"),
        _slot("d1", 3, 12, kind="abroad"),
    ]
    per_tile, observed = _frames(spark, rows)
    got = {
        (r.day_type, r.time_interval, r.tile_id): r
        for r in per_tile.collect()
        if r.device_id == "d1"
    }
    # tile 1: the nights of Monday (two slots), Wednesday and Saturday
    all_night = got["all", "night_time", 1]
    assert (all_night.permanence, all_night.frequency) == (4, 3)
    # gaps between Monday, Wednesday and Saturday: 2 and 3 days
    assert all_night.regularity_mean == pytest.approx(2.5)
    assert all_night.regularity_std == pytest.approx(0.5)
    assert (got["workdays", "night_time", 1].permanence, got["holidays", "all", 1].frequency) == (
        2,
        2,
    )
    assert got["workdays", "night_time", 1].regularity_mean is None  # one day only
    assert got["workdays", "working_hours", 3].permanence == 1
    assert ("holidays", "all", 3) not in got and ("all", "evening_time", 3) not in got
    assert got["all", "all", 2].permanence == 1
    obs = {(r.day_type, r.time_interval): r for r in observed.collect()}
    assert (obs["all", "all"].grid_slots, obs["all", "all"].days) == (5, 4)
    assert (obs["all", "all"].unknown_slots, obs["all", "all"].abroad_slots) == (1, 1)
    assert obs["workdays", "all"].abroad_slots == 1  # Thursday
    assert obs["holidays", "night_time"].grid_slots == 2


def test_local_time_zone_moves_slots_between_intervals(spark):
    # 07:00 UTC is 09:00 in Madrid in May: working hours there, night time in UTC
    rows = [_slot("d1", 0, 7, tiles=[9])]
    utc, _ = _frames(spark, rows)
    madrid, _ = _frames(spark, rows, settings_=UsualEnvironmentSettings(time_zone="Europe/Madrid"))
    assert {r.time_interval for r in utc.collect()} == {"all", "night_time"}
    assert {r.time_interval for r in madrid.collect()} == {"all", "working_hours"}


def test_settings_reject_bad_intervals_and_zones():
    with pytest.raises(ValidationError, match="empty interval"):
        TimeInterval(start_hour=5, end_hour=5)
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        UsualEnvironmentSettings(time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="'all' is every slot"):
        UsualEnvironmentSettings(time_intervals={"all": TimeInterval(start_hour=0, end_hour=24)})


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 23), st.sets(st.integers(1, 4), min_size=1)),
        min_size=1,
        max_size=12,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_permanence_adds_up_to_the_grid_slots_of_each_tile(spark, slots):
    # every (day type, interval) cell: the slots of a tile are those whose tiles hold it
    rows = [_slot("d", d, h, tiles=sorted(t)) for d, h, t in slots]
    per_tile, observed = _frames(spark, rows)
    got = {(r.day_type, r.time_interval, r.tile_id): r.permanence for r in per_tile.collect()}
    everything = {k: v for k, v in got.items() if k[:2] == ("all", "all")}
    for tile in range(1, 5):
        want = sum(tile in t for _, _, t in slots)
        assert everything.get(("all", "all", tile), 0) == want
    # day types split "all": workdays + holidays = all, per interval and tile
    for (kind, interval, tile), n in got.items():
        if kind == "all":
            parts = [got.get((k, interval, tile), 0) for k in ("workdays", "holidays")]
            assert sum(parts) == n
    totals = {(r.day_type, r.time_interval): r.grid_slots for r in observed.collect()}
    assert totals["all", "all"] == len(slots)
