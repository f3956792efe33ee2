"""Outbound tourism on constructed devices: trips and nights abroad by destination and home
(docs/mobility.md section 7). The synthetic world has no outbound records yet: these abroad
segments are made by hand, as the device stage writes them."""

from __future__ import annotations

import datetime as dt

import pytest

from rmf_spark.slayer.tourism.outbound import (
    compute_outbound_tourism,
    home_areas,
    home_factors,
)
from rmf_spark.slayer.tourism.schemas import OUTBOUND_TOURISM_SCHEMA
from rmf_spark.slayer.tourism.settings import TourismSettings
from tests.slayer.tourism_timelines import D, abroad, at, segment_rows, stay, unknown

S = TourismSettings()
FR, DE = "20801", "26201"


def day(i: int) -> dt.date:
    return D.date() + dt.timedelta(days=i)


FIRST, LAST = day(0), day(5)


def outbound(spark, timelines, *, start=FIRST, end=LAST, settings=S, **kw):
    segs = segment_rows(spark, timelines, inbound=False)
    result = compute_outbound_tourism(segs, start=start, end=end, settings=settings, **kw)
    assert result.indicators.schema.simpleString() == OUTBOUND_TOURISM_SCHEMA.simpleString()
    return result.trips.collect(), result.indicators.collect()


def cells(rows, level="territory"):
    out: dict[tuple, float] = {}
    for r in rows:
        if r.level == level:
            out[(r.indicator, r.country_of_destination, r.date, r.area_id)] = r.devices
    return out


#: to France, on to Germany without coming home, back on day 5
TWO_COUNTRIES = [
    stay(at(0, 8), at(0, 20), 1),
    abroad(at(1, 6), at(3, 10), FR),
    abroad(at(3, 12), at(5, 9), DE),
    stay(at(5, 12), at(5, 20), 1),
]


def test_one_trip_through_two_countries_counts_once_for_each_with_its_nights(spark):
    trips, rows = outbound(spark, {"o1": TWO_COUNTRIES})
    got = sorted((t.country_of_destination, t.entry_ts, t.exit_ts, t.nights) for t in trips)
    assert got == [("DE", at(3, 12), at(5, 9), 2), ("FR", at(1, 6), at(3, 10), 2)]
    assert {(t.trip_start, t.trip_end) for t in trips} == {(at(1, 6), at(5, 9))}
    assert not any(t.began_before or t.ends_after for t in trips)
    # nights at 04:00 in Paris and Berlin (02:00 UTC in May): FR days 1, 2; DE days 3, 4
    assert cells(rows) == {
        ("trips", "FR", day(1), "all"): 1.0,
        ("trips", "DE", day(3), "all"): 1.0,
        ("nights", "FR", day(1), "all"): 1.0,
        ("nights", "FR", day(2), "all"): 1.0,
        ("nights", "DE", day(3), "all"): 1.0,
        ("nights", "DE", day(4), "all"): 1.0,
    }


def test_the_functional_midnight_abroad_may_be_the_territory_s(spark):
    short_night = {"o1": [abroad(at(1, 1), at(1, 7), FR)]}  # 03:00-09:00 Paris, 01:00-07:00 UTC
    _, paris = outbound(spark, short_night, settings=TourismSettings(min_night_stay_s=5 * 3600))
    assert ("nights", "FR", day(0), "all") in cells(paris)
    utc = TourismSettings.model_validate(
        {"min_night_stay_s": 5 * 3600, "outbound": {"destination_time_zone": False}}
    )
    _, at_utc = outbound(spark, short_night, settings=utc)
    assert ("nights", "FR", day(0), "all") in cells(at_utc)  # 04:00 UTC is inside too
    late = {"o1": [abroad(at(1, 2, 30), at(1, 8), FR)]}  # from 04:30 Paris, 02:30 UTC
    _, paris = outbound(spark, late, settings=TourismSettings(min_night_stay_s=5 * 3600))
    _, at_utc = outbound(spark, late, settings=utc)
    assert [k for k in cells(paris) if k[0] == "nights"] == []
    assert [k for k in cells(at_utc) if k[0] == "nights"] == [("nights", "FR", day(0), "all")]


def test_coming_home_or_a_long_silence_ends_a_trip_and_a_blip_abroad_is_none(spark):
    home_between = [
        abroad(at(1, 6), at(1, 20), FR),
        stay(at(1, 22), at(2, 8), 1),
        abroad(at(2, 10), at(2, 22), FR),
    ]
    silence = [
        abroad(at(0, 6), at(0, 12), FR),
        unknown(at(0, 12), at(4, 12)),  # 96 h > 72 h
        abroad(at(4, 12), at(4, 20), FR),
    ]
    blip = [stay(at(1, 8), at(1, 9), 1), abroad(at(1, 9), at(1, 9, 10), FR)]  # 10 minutes
    trips, rows = outbound(spark, {"a": home_between, "b": silence, "c": blip})
    per_device = sorted((t.device_id, t.entry_ts) for t in trips)
    assert per_device == [("a", at(1, 6)), ("a", at(2, 10)), ("b", at(0, 6)), ("b", at(4, 12))]
    assert sum(v for k, v in cells(rows).items() if k[0] == "trips") == 4.0
    # a silence shorter than the gap keeps one trip
    long_gap = TourismSettings.model_validate({"outbound": {"max_trip_gap_s": 5 * 86400}})
    trips, _ = outbound(spark, {"b": silence}, settings=long_gap)
    assert {t.trip_start for t in trips} == {at(0, 6)}


def test_trips_cut_by_the_period_are_flagged_and_counted_on_their_entry_day_only(spark):
    trips, rows = outbound(spark, {"o1": TWO_COUNTRIES}, start=day(2), end=day(3))
    flags = {t.country_of_destination: (t.began_before, t.ends_after, t.nights) for t in trips}
    assert flags == {"FR": (True, True, 1), "DE": (True, True, 1)}
    assert [k for k in cells(rows) if k[0] == "trips"] == [("trips", "DE", day(3), "all")]


def test_travellers_are_placed_and_expanded_by_their_home(spark):
    areas = spark.createDataFrame(
        [(1, "zone_1", "R1"), (2, "zone_1", "R1"), (3, "zone_1", "R2"),
         (1, "zone_2", "M1"), (2, "zone_2", "M2"), (3, "zone_2", "M3")],
        "tile_id long, level string, area_id string",
    )  # fmt: skip
    tile_zone = areas.selectExpr(
        "tile_id", "cast(substring(level, 6) as int) as zone_level", "area_id as zone_id"
    )
    home = spark.createDataFrame([("o1", 1), ("o1", 3)], "device_id string, tile_id long")
    factors = home_factors(
        home,
        tile_zone=tile_zone,
        factors=spark.createDataFrame([("R1", 2.0), ("R2", 4.0)], "region_id string, "
                                      "expansion_factor double"),
        region_level=1,
    )  # fmt: skip
    assert [(r.device_id, r.expansion_factor) for r in factors.collect()] == [("o1", 3.0)]
    other = [abroad(at(1, 6), at(1, 20), DE)]
    _, rows = outbound(
        spark, {"o1": TWO_COUNTRIES, "o2": other}, homes=home_areas(home, areas=areas),
        factors=factors, default_factor=10.0,
    )  # fmt: skip
    by_region = cells(rows, "zone_1")
    assert by_region[("trips", "FR", day(1), "R1")] == 0.5
    assert by_region[("trips", "FR", day(1), "R2")] == 0.5
    assert by_region[("trips", "DE", day(1), "unknown")] == 1.0  # o2 has no home label
    assert cells(rows, "zone_2")[("trips", "FR", day(1), "M3")] == 0.5
    person = {
        (r.indicator, r.country_of_destination, r.date, r.level): r.population
        for r in rows
        if r.level == "territory"
    }
    assert person[("trips", "FR", day(1), "territory")] == pytest.approx(3.0)
    assert person[("trips", "DE", day(1), "territory")] == pytest.approx(10.0)
    # nights: the home levels sum to the territory's
    for level in ("zone_1", "zone_2"):
        assert sum(v for k, v in cells(rows, level).items() if k[0] == "nights") == sum(
            v for k, v in cells(rows).items() if k[0] == "nights"
        )


def test_inbound_devices_are_not_outbound_travellers(spark):
    segs = segment_rows(spark, {"v1": [abroad(at(1, 6), at(2, 20), FR)]}, inbound=True)
    result = compute_outbound_tourism(segs, start=day(0), end=day(5), settings=S)
    assert result.trips.count() == 0 and result.indicators.count() == 0
