"""Inbound tourism on constructed devices: visits, nights, stays, indicators
(docs/mobility.md section 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rmf_spark.slayer.tourism.inbound import (
    compute_inbound_nights,
    compute_inbound_tourism,
    compute_seen_days,
    compute_visits,
    factors_from_inbound_share,
    inbound_origins,
)
from rmf_spark.slayer.tourism.schemas import INBOUND_TOURISM_SCHEMA
from rmf_spark.slayer.tourism.settings import TourismSettings
from tests.slayer.tourism_timelines import D, at, move, segment_rows, stay, unknown

S = TourismSettings()
DAY0 = D.date()


def day(i: int) -> dt.date:
    return DAY0 + dt.timedelta(days=i)


#: tiles 1, 2 in region R1 (municipalities M1, M2), 3 in R2 (M3); tile 9 is in no zone
AREA_ROWS = [
    (1, "zone_1", "R1"), (2, "zone_1", "R1"), (3, "zone_1", "R2"),
    (1, "zone_2", "M1"), (2, "zone_2", "M2"), (3, "zone_2", "M3"),
]  # fmt: skip


@pytest.fixture(scope="module")
def areas(spark):
    return spark.createDataFrame(AREA_ROWS, "tile_id long, level string, area_id string")


def origins(spark, rows=(("v1", "GB"),)):
    return spark.createDataFrame(list(rows), "device_id string, country_of_origin string")


def nights_of(spark, timelines, settings=S, tz="UTC"):
    segs = segment_rows(spark, timelines, inbound=True, tz=tz)
    rows = compute_inbound_nights(segs, settings).collect()
    return sorted((r.device_id, r.date, tuple(r.tiles)) for r in rows)


def test_a_night_is_where_the_joined_stay_holds_the_functional_midnight(spark):
    hotel = [
        stay(at(0, 10), at(0, 12), 3),
        move(at(0, 12), at(0, 13)),
        stay(at(0, 20), at(1, 9), 1, 2),  # across midnight: two parts, 04:00 in the second
        move(at(1, 9), at(1, 10)),
        stay(at(1, 10), at(1, 16), 3),
    ]
    # the night of day 0 (functional midnight: day 1, 04:00), spread over the hotel's tiles
    assert nights_of(spark, {"v1": hotel}) == [("v1", day(0), (1, 2))]
    # a functional midnight at 12:00 falls in the afternoon stay's place on day 1
    late = TourismSettings(functional_midnight_hour=12, min_night_stay_s=3600, min_stay_s=3600)
    assert nights_of(spark, {"v1": hotel}, late) == [("v1", day(0), (3,))]


def test_the_overnight_minimum_applies_to_the_whole_stay_not_to_its_part_after_midnight(spark):
    # 22:00 - 04:30: 6.5 h in all, only 4.5 h after midnight (MultiMNO's rule would miss it)
    joined = {"v1": [stay(at(0, 22), at(1, 4, 30), 1)]}
    assert nights_of(spark, joined) == [("v1", day(0), (1,))]
    # 01:00 - 05:00 holds 04:00 but lasts 4 h < 300 min: no night, unless the minimum is 4 h
    short = {"v1": [stay(at(1, 1), at(1, 5), 1)]}
    assert nights_of(spark, short) == []
    four_hours = TourismSettings(min_night_stay_s=4 * 3600)
    assert nights_of(spark, short, four_hours) == [("v1", day(0), (1,))]
    # a stay ending at 04:00 sharp does not hold the functional midnight (half-open)
    assert nights_of(spark, {"v1": [stay(at(0, 20), at(1, 4), 1)]}) == []
    # no stay at 04:00 (silent, or moving): no night
    silent = [
        stay(at(0, 18), at(0, 23), 1),
        unknown(at(0, 23), at(1, 8)),
        stay(at(1, 8), at(1, 14), 1),
    ]
    assert nights_of(spark, {"v1": silent}) == []


def test_the_functional_midnight_is_local(spark):
    # Europe/Madrid in May is UTC+2: 04:00 local is 02:00 UTC
    madrid = TourismSettings(time_zone="Europe/Madrid")
    until_three = {"v1": [stay(at(0, 19), at(1, 3), 1)]}  # until 05:00 local
    assert nights_of(spark, until_three, madrid, tz="Europe/Madrid") == [("v1", day(0), (1,))]
    assert nights_of(spark, until_three) == []  # 03:00 UTC < 04:00 UTC


def test_a_device_seen_on_two_separate_visits(spark):
    timeline = [
        stay(at(0, 9), at(0, 22), 1),
        stay(at(0, 22), at(1, 20), 1),
        stay(at(4, 8), at(4, 18), 3),
        stay(at(5, 8), at(5, 12), 3),
    ]
    segs = segment_rows(spark, {"v1": timeline}, inbound=True)
    seen = compute_seen_days(segs)
    assert sorted(r.date for r in seen.collect()) == [day(0), day(1), day(4), day(5)]
    two = compute_visits(seen, max_unseen_days=0).collect()
    assert sorted((r.visit_start, r.visit_end) for r in two) == [(day(0), day(1)), (day(4), day(5))]
    one = compute_visits(seen, max_unseen_days=2).collect()
    assert [(r.visit_start, r.visit_end) for r in one] == [(day(0), day(5))]


def test_segments_without_events_or_domestic_sims_are_not_seen(spark):
    segs = segment_rows(
        spark,
        {"v1": [unknown(at(0, 0), at(1, 0)), stay(at(1, 8), at(1, 9), 1, events=0)]},
        inbound=True,
    )
    local = segment_rows(spark, {"r1": [stay(at(0, 8), at(0, 18), 1)]}, inbound=False)
    assert compute_seen_days(segs.unionByName(local)).count() == 0


def test_origins_take_the_most_frequent_inbound_mcc_and_unknown_mccs_are_zz(spark):
    events = spark.createDataFrame(
        [("v1", 234, "inbound"), ("v1", 234, "inbound"), ("v1", 208, "inbound"),
         ("v2", 999, "inbound"), ("r1", 214, "domestic")],
        "device_id string, mcc int, domain string",
    )  # fmt: skip
    got = {r.device_id: r.country_of_origin for r in inbound_origins(events).collect()}
    assert got == {"v1": "GB", "v2": "ZZ"}


def _indicators(spark, areas, timelines, *, start, end, origin_rows, **kw):
    segs = segment_rows(spark, timelines, inbound=True)
    result = compute_inbound_tourism(
        segs, origins=origins(spark, origin_rows), areas=areas, start=start, end=end,
        settings=kw.pop("settings", S), **kw,
    )  # fmt: skip
    ind = result.indicators
    assert ind.schema.simpleString() == INBOUND_TOURISM_SCHEMA.simpleString()
    return result.visits.collect(), ind.collect()


def test_visits_nights_stays_and_their_expansion_by_country(spark, areas):
    gb = [  # arrives day 1, two nights in M1 / M2, leaves day 3
        stay(at(1, 10), at(1, 14), 3),
        move(at(1, 14), at(1, 15)),
        stay(at(1, 20), at(2, 9), 1),
        stay(at(2, 9), at(2, 19), 2),  # touches the night stay: a new stay, same day
        stay(at(2, 19), at(3, 8), 2),
    ]
    xx = [stay(at(2, 12), at(3, 10), 3)]  # one night in M3, origin unknown
    share = factors_from_inbound_share(
        spark.createDataFrame([("GB", 0.5)], "country string, share double")
    )
    visits, rows = _indicators(
        spark, areas, {"v1": gb, "v2": xx}, start=day(1), end=day(3),
        origin_rows=[("v1", "GB")], factors=share,
    )  # fmt: skip
    by_device = {v.device_id: v for v in visits}
    v1 = by_device["v1"]
    assert (v1.country_of_origin, v1.visit_start, v1.visit_end) == ("GB", day(1), day(3))
    assert (v1.days_seen, v1.nights, v1.stays, v1.arrived_before, v1.departs_after) == (
        3, 2, 4, False, False,
    )  # fmt: skip
    assert by_device["v2"].country_of_origin == "ZZ" and by_device["v2"].nights == 1
    cell = {(r.date, r.country_of_origin, r.indicator, r.level, r.area_id): r for r in rows}
    gb_nights = {k[4]: r.devices for k, r in cell.items() if k[1:4] == ("GB", "nights", "zone_2")}
    assert gb_nights == {"M1": 1.0, "M2": 1.0}
    assert cell[(day(1), "GB", "nights", "zone_1", "R1")].population == 2.0  # 1 device / 0.5
    assert cell[(day(2), "ZZ", "nights", "zone_2", "M3")].population is None  # no share
    assert [cell[(day(i), "GB", "visitors", "territory", "all")].devices for i in (1, 2, 3)] == [
        1.0, 1.0, 1.0,
    ]  # fmt: skip
    assert cell[(day(1), "GB", "arrivals", "territory", "all")].devices == 1.0
    assert cell[(day(3), "GB", "departures", "territory", "all")].devices == 1.0
    assert (day(3), "ZZ", "departures", "territory", "all") in cell
    # visitors, arrivals, departures only at the territory level
    assert {k[3] for k in cell if k[2] in ("visitors", "arrivals", "departures")} == {"territory"}


def test_visits_cut_by_the_period_are_flagged_and_a_default_share_fills_the_gaps(spark, areas):
    long = [stay(at(d, 8), at(d + 1, 8), 1) for d in range(0, 5)]  # days 0..5
    visits, rows = _indicators(
        spark, areas, {"v1": long}, start=day(2), end=day(3),
        origin_rows=[("v1", "FR")], default_factor=4.0,
    )  # fmt: skip
    (v,) = visits
    assert (v.arrived_before, v.departs_after, v.days_seen, v.nights) == (True, True, 2, 2)
    indicators = {r.indicator for r in rows}
    assert "arrivals" not in indicators and "departures" not in indicators
    assert all(r.population == 4.0 * r.devices for r in rows)


def test_settings_are_checked():
    with pytest.raises(ValidationError, match="min_night_stay_s"):
        TourismSettings(min_stay_s=4 * 3600, min_night_stay_s=3600)
    with pytest.raises(ValidationError, match="ISO 3166"):
        TourismSettings.model_validate({"inbound": {"share": {"gbr": 0.5}}})
    with pytest.raises(ValidationError, match="levels"):
        TourismSettings(levels=["regions"])


# --- property: nights summed over the areas of a level equal the nights per device ----------

_PLACES = st.sampled_from([(1,), (2,), (3,), (1, 2), (2, 3), (1, 3), (9,), (1, 9)])


_PART = st.tuples(
    st.sampled_from(["stay", "stay", "stay", "move", "unknown"]),
    st.integers(15, 30 * 60),  # minutes
    _PLACES,
)


@st.composite
def _timeline(draw):
    """Stays of random length at random places, with moves and silences, from day 0."""
    t, parts = at(0, draw(st.integers(0, 23))), []
    for kind, minutes, place in draw(st.lists(_PART, min_size=1, max_size=10)):
        nxt = t + dt.timedelta(minutes=minutes)
        if kind == "stay":
            parts.append(stay(t, nxt, *place))
        else:
            parts.append(move(t, nxt) if kind == "move" else unknown(t, nxt))
        t = nxt
    return parts


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_timeline(), min_size=1, max_size=3))
def test_nights_over_the_areas_of_a_level_equal_the_nights_per_device(spark, areas, timelines):
    devices = {f"v{i}": tl for i, tl in enumerate(timelines)}
    visits, rows = _indicators(
        spark, areas, devices, start=day(1), end=day(3),
        origin_rows=[(d, "GB") for d in devices],
    )  # fmt: skip
    per_device = sum(v.nights for v in visits)
    territory = sum(r.devices for r in rows if r.indicator == "nights" and r.level == "territory")
    assert territory == per_device
    # every night with a zoned tile counts 1 at each level; tile 9 alone is in no zone
    zoned = {
        (r.device_id, r.date)
        for r in compute_inbound_nights(segment_rows(spark, devices, inbound=True), S).collect()
        if day(1) <= r.date <= day(3) and set(r.tiles) - {9}
    }
    for level in ("zone_1", "zone_2"):
        total = sum(r.devices for r in rows if r.indicator == "nights" and r.level == level)
        assert total == pytest.approx(len(zoned)), level
