"""Long-term permanence: mid-term periods added up per device, day type, interval and tile."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pyspark.sql import functions as F

from rmf_spark.slayer.device.schemas import PERMANENCE_SCHEMA
from rmf_spark.slayer.usual_environment.longterm import (
    compute_longterm_observation,
    compute_longterm_permanence,
    select_season,
    stack_periods,
)
from rmf_spark.slayer.usual_environment.midterm import (
    compute_midterm_observation,
    compute_midterm_permanence,
    with_day_type_and_intervals,
)
from rmf_spark.slayer.usual_environment.settings import UsualEnvironmentSettings

S = UsualEnvironmentSettings()
JAN, FEB, JUL = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 7, 1)
MIDTERM = (
    "device_id string, day_type string, time_interval string, tile_id long, permanence int, "
    "frequency int, regularity_mean double, regularity_std double"
)
OBSERVATION = (
    "device_id string, day_type string, time_interval string, grid_slots int, unknown_slots int, "
    "abroad_slots int, days int"
)


def test_hand_example_sums_means_and_spreads_over_periods(spark):
    jan = [
        ("d", "all", "all", 1, 40, 10, 2.0, 1.0),
        ("d", "all", "all", 2, 5, 2, None, None),  # one gap-less month for tile 2
    ]
    feb = [
        ("d", "all", "all", 1, 60, 20, 1.0, 0.0),
        ("d", "all", "night_time", 1, 30, 15, 1.0, 0.0),
    ]
    jul = [("d", "all", "all", 1, 20, 6, 4.0, 2.0)]
    midterm = stack_periods(
        {
            p: spark.createDataFrame(rows, MIDTERM)
            for p, rows in ((JAN, jan), (FEB, feb), (JUL, jul))
        }
    )
    got = {(r.time_interval, r.tile_id): r for r in compute_longterm_permanence(midterm).collect()}
    one = got["all", 1]
    assert (one.permanence, one.frequency, one.periods) == (120, 36, 3)
    assert one.frequency_mean == pytest.approx(12.0)
    assert one.frequency_std == pytest.approx(7.2111, abs=1e-4)  # sample sd of 10, 20, 6
    # MultiMNO: the mean and sample sd of the periods' mean gaps (2, 1, 4)
    assert one.regularity_mean == pytest.approx(7 / 3)
    assert one.regularity_std == pytest.approx(1.5275, abs=1e-4)
    two = got["all", 2]
    assert (two.permanence, two.periods, two.frequency_std, two.regularity_mean) == (
        5,
        1,
        None,
        None,
    )
    assert got["night_time", 1].permanence == 30

    winter = select_season(midterm, "winter", settings=S)
    got = {(r.time_interval, r.tile_id): r for r in compute_longterm_permanence(winter).collect()}
    assert (got["all", 1].permanence, got["all", 1].periods) == (100, 2)

    observation = stack_periods(
        {
            JAN: spark.createDataFrame([("d", "all", "all", 45, 3, 1, 12)], OBSERVATION),
            FEB: spark.createDataFrame([("d", "all", "all", 60, 0, 0, 20)], OBSERVATION),
        }
    )
    (row,) = compute_longterm_observation(observation).collect()
    assert (row.grid_slots, row.unknown_slots, row.abroad_slots, row.days, row.periods) == (
        105,
        3,
        1,
        32,
        2,
    )


def test_seasons_are_checked(spark):
    with pytest.raises(ValueError, match="'monsoon' is not 'all' nor one of"):
        select_season(spark.createDataFrame([(JAN,)], "period_start date"), "monsoon", settings=S)
    with pytest.raises(ValidationError, match="distinct months 1-12"):
        UsualEnvironmentSettings.model_validate({"longterm": {"seasons": {"wet": [12, 13]}}})
    with pytest.raises(ValidationError, match="'all' is every period"):
        UsualEnvironmentSettings.model_validate({"longterm": {"seasons": {"all": [1]}}})
    with pytest.raises(ValueError, match="no mid-term period"):
        stack_periods({})
    assert S.longterm.seasons["winter"] == [12, 1, 2]


MON = dt.date(2024, 5, 13)


@settings(max_examples=4, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 13), st.integers(0, 23), st.sets(st.integers(1, 3), max_size=2)),
        min_size=1,
        max_size=14,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_two_periods_add_up_to_the_midterm_of_both(spark, slots):
    # permanence and frequency are counts of disjoint days' slots: two weeks are their sum
    rows = []
    for day, hour, tiles in slots:
        start = dt.datetime.combine(MON, dt.time(hour)) + dt.timedelta(days=day)
        kind = "grid" if tiles else "unknown"
        rows.append(("d", start.date(), hour, start, kind, sorted(tiles), None))
    all_slots = with_day_type_and_intervals(
        spark.createDataFrame(rows, PERMANENCE_SCHEMA), holidays=None, settings=S
    )
    weeks = {
        MON: all_slots.where(all_slots.local_day < MON + dt.timedelta(days=7)),
        MON + dt.timedelta(days=7): all_slots.where(all_slots.local_day >= MON + dt.timedelta(7)),
    }

    def both(long, whole, keys, values):
        # one Spark job for the two sides: {side: {key: values}}
        tagged = long.select(*keys, *values, F.lit("long").alias("side")).unionByName(
            whole.select(*keys, *values, F.lit("whole").alias("side"))
        )
        got = {"long": {}, "whole": {}}
        for r in tagged.collect():
            got[r.side][tuple(r[k] for k in keys)] = tuple(r[v] for v in values)
        return got["long"], got["whole"]

    keys = ("day_type", "time_interval")
    parts = stack_periods({p: compute_midterm_permanence(s) for p, s in weeks.items()})
    long, whole = both(
        compute_longterm_permanence(parts),
        compute_midterm_permanence(all_slots),
        (*keys, "tile_id"),
        ("permanence", "frequency"),
    )
    assert long == whole
    seen = stack_periods({p: compute_midterm_observation(s) for p, s in weeks.items()})
    long, whole = both(
        compute_longterm_observation(seen),
        compute_midterm_observation(all_slots),
        keys,
        ("grid_slots", "unknown_slots", "abroad_slots", "days"),
    )
    assert long == whole
