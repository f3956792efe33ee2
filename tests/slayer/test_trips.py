"""Trips between stays: constructed devices, one rule each (docs/mobility.md section 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rmf_spark.slayer.device.schemas import SEGMENTS_SCHEMA
from rmf_spark.slayer.mobility.settings import MobilitySettings
from rmf_spark.slayer.mobility.trips import TRIPS_SCHEMA, compute_trips

D = dt.datetime(2024, 5, 13)  # a Monday, local midnight (UTC unless a test says otherwise)
S = MobilitySettings()


def h(hours: int, day: int = 0, minutes: int = 0) -> dt.datetime:
    """``hours:minutes`` after midnight of day ``D + day``."""
    return D + dt.timedelta(days=day, hours=hours, minutes=minutes)


def stay(start, end, loc=(1,), tiles=None, best=None):
    """A stay; ``tiles`` (its footprint) defaults to its location tiles."""
    return ("stay", start, end, list(tiles if tiles is not None else loc), best, loc)


def seg(state, start, end):
    return (state, start, end, [], None, None)


def segments(spark, timelines: dict[str, list[tuple]]):
    """The device stage's rows of the device timelines: each segment cut at midnights, as the
    stage clips segments to the day, and numbered within its day."""
    rows = []
    for device, timeline in timelines.items():
        index: dict[dt.date, int] = {}
        for state, start, end, tiles, best, loc in timeline:
            cut = start
            while cut < end or cut == start:
                day_end = dt.datetime.combine(cut.date() + dt.timedelta(days=1), dt.time())
                part_end = min(end, day_end)
                i = index.get(cut.date(), 0)
                index[cut.date()] = i + 1
                location = None if loc is None else list(loc)
                rows.append(
                    (device, cut.date(), i, state, cut, part_end, 1, [], tiles, None, best,
                     None, location, False)
                )  # fmt: skip
                if part_end >= end:
                    break
                cut = part_end
    return spark.createDataFrame(rows, SEGMENTS_SCHEMA)


def trips_of(spark, timelines, settings=S):
    out = compute_trips(segments(spark, timelines), settings)
    assert out.schema.simpleString() == TRIPS_SCHEMA.simpleString()
    return sorted(out.collect(), key=lambda r: (r.device_id, r.departure_ts))


def test_a_day_home_work_home_gives_two_trips_with_their_bands_and_weights(spark):
    day = [
        stay(h(0), h(8), loc=(1,)),
        seg("move", h(8), h(8, minutes=30)),
        stay(h(8, minutes=30), h(17), loc=(10, 11)),  # two location tiles: half each
        seg("move", h(17), h(17, minutes=30)),
        stay(h(17, minutes=30), h(24), loc=(1,)),
    ]
    out = trips_of(spark, {"d1": day})
    assert [(r.departure_ts, r.arrival_ts, r.time_band, r.date) for r in out] == [
        (h(8), h(8, minutes=30), "morning_peak", D.date()),
        (h(17), h(17, minutes=30), "evening", D.date()),
    ]
    first, second = out
    assert (first.origin_tile_ids, first.origin_weights) == ([1], [1.0])
    assert (first.destination_tile_ids, first.destination_weights) == ([10, 11], [0.5, 0.5])
    assert (second.origin_tile_ids, second.origin_weights) == ([10, 11], [0.5, 0.5])
    assert (first.origin_stay_s, first.destination_stay_s, first.unknown_s) == (
        8 * 3600.0,
        8.5 * 3600.0,
        0.0,
    )


def test_a_stay_shorter_than_the_minimum_does_not_end_a_trip(spark):
    day = [
        stay(h(0), h(8), loc=(1,)),
        seg("move", h(8), h(8, minutes=15)),
        stay(h(8, minutes=15), h(8, minutes=36), loc=(5,)),  # 21 minutes: a stop for coffee
        seg("move", h(8, minutes=36), h(9)),
        stay(h(9), h(17), loc=(10,)),
    ]
    default = trips_of(spark, {"d1": day})
    assert [(r.origin_tile_ids, r.destination_tile_ids) for r in default] == [
        ([1], [5]),
        ([5], [10]),
    ]
    (one,) = trips_of(spark, {"d1": day}, MobilitySettings(min_stay_s=1800))
    assert (one.origin_tile_ids, one.destination_tile_ids) == ([1], [10])
    assert (one.departure_ts, one.arrival_ts) == (h(8), h(9))


def test_an_unknown_gap_between_two_places_is_a_trip_that_counts_its_unknown_time(spark):
    day = [
        stay(h(0), h(10), loc=(1,)),
        seg("unknown", h(10), h(14)),  # silent for four hours, then seen elsewhere
        stay(h(14), h(20), loc=(10,)),
        seg("undetermined", h(20), h(20, minutes=6)),
        seg("unknown", h(20, minutes=6), h(22)),
        stay(h(22), h(24), loc=(1,)),
    ]
    out = trips_of(spark, {"d1": day})
    assert [(r.origin_tile_ids, r.destination_tile_ids, r.unknown_s) for r in out] == [
        ([1], [10], 4 * 3600.0),
        ([10], [1], 114 * 60.0),
    ]
    short = trips_of(spark, {"d1": day}, MobilitySettings(max_unknown_s=3 * 3600))
    assert [r.origin_tile_ids for r in short] == [[10]]


def test_a_silence_at_the_same_place_is_no_trip_but_a_seen_round_trip_is(spark):
    silent = [
        stay(h(0), h(9), loc=(1,), tiles=(1, 2)),
        seg("unknown", h(9), h(22)),  # longer than a stay's largest silence, same place
        stay(h(22), h(24), loc=(2,), tiles=(2, 3)),
    ]
    seen = [
        stay(h(0), h(9), loc=(1,), tiles=(1, 2)),
        seg("move", h(9), h(9, minutes=12)),
        seg("unknown", h(9, minutes=12), h(21, minutes=48)),
        seg("move", h(21, minutes=48), h(22)),
        stay(h(22), h(24), loc=(2,), tiles=(2, 3)),
    ]
    out = trips_of(spark, {"silent": silent, "seen": seen})
    assert [(r.device_id, r.origin_tile_ids, r.destination_tile_ids) for r in out] == [
        ("seen", [1], [2])
    ]


def test_a_stay_across_midnight_is_one_stay_and_its_trips_take_the_adjacent_part(spark):
    night = [
        stay(h(18), h(23), loc=(7,)),
        seg("move", h(23), h(23, minutes=50)),
        # ten minutes either side of midnight: too short on each day, 20 minutes in all
        ("stay", h(23, minutes=50), h(0, 1), [1, 2], None, [1]),
        ("stay", h(0, 1), h(0, 1, minutes=10), [1, 2], None, [2]),
        seg("move", h(0, 1, minutes=10), h(0, 1, minutes=30)),
        stay(h(0, 1, minutes=30), h(8, 1), loc=(9,)),
    ]
    out = trips_of(spark, {"d1": night})
    assert [
        (r.date, r.time_band, r.origin_tile_ids, r.destination_tile_ids, r.origin_stay_s)
        for r in out
    ] == [
        (D.date(), "night", [7], [1], 5 * 3600.0),
        (D.date() + dt.timedelta(days=1), "night", [2], [9], 1200.0),
    ]
    # the cut parts are not stays of their own: without the join one trip 7 -> 9 would remain
    assert out[1].departure_ts == h(0, 1, minutes=10)


def test_a_night_at_home_is_one_stay_whatever_the_day_cut(spark):
    two_days = [
        stay(h(18), h(31), loc=(1,)),  # 18:00 to 07:00 the next morning
        seg("move", h(7, 1), h(7.5, 1)),
        stay(h(7.5, 1), h(16, 1), loc=(5,)),
    ]
    (trip,) = trips_of(spark, {"d1": two_days})
    assert (trip.date, trip.time_band, trip.origin_stay_s) == (
        D.date() + dt.timedelta(days=1),
        "morning_peak",
        13 * 3600.0,
    )


def test_going_abroad_breaks_the_chain(spark):
    day = [
        stay(h(0), h(8), loc=(1,)),
        seg("move", h(8), h(9)),
        seg("abroad", h(9), h(15)),
        seg("move", h(15), h(16)),
        stay(h(16), h(24), loc=(1,)),
    ]
    assert trips_of(spark, {"d1": day}) == []


def test_the_trip_ends_fall_back_from_location_tiles_to_best_tile_to_footprint(spark):
    day = [
        ("stay", h(0), h(8), [1, 2, 3], 2, None),  # no location tiles: best tile
        seg("move", h(8), h(9)),
        ("stay", h(9), h(12), [4, 5], None, None),  # not located by the HMM: footprint
        seg("move", h(12), h(13)),
        ("stay", h(13), h(17), [6, 7, 8], 7, [6, 7]),
    ]
    ends = [(r.origin_tile_ids, r.destination_tile_ids) for r in trips_of(spark, {"d": day})]
    assert ends == [([2], [4, 5]), ([4, 5], [6, 7])]
    footprint = MobilitySettings(stay_location="footprint")
    ends = [
        (r.origin_tile_ids, r.destination_weights) for r in trips_of(spark, {"d": day}, footprint)
    ]
    assert ends == [([1, 2, 3], [0.5, 0.5]), ([4, 5], [1 / 3] * 3)]


def test_the_day_and_band_are_local_and_the_functional_midnight_moves_the_day(spark):
    day = [
        stay(h(18), h(22, minutes=30), loc=(1,)),
        seg("move", h(22, minutes=30), h(23)),  # 22:30 UTC: 00:30 in Madrid (UTC+2), May 14
        stay(h(23), h(30), loc=(2,)),
    ]
    madrid = MobilitySettings(time_zone="Europe/Madrid")
    (trip,) = trips_of(spark, {"d": day}, madrid)
    assert (trip.date, trip.time_band) == (D.date() + dt.timedelta(days=1), "night")
    shifted = MobilitySettings(time_zone="Europe/Madrid", day_start_hour=4)
    (trip,) = trips_of(spark, {"d": day}, shifted)
    assert trip.date == D.date()


def test_time_bands_must_cover_each_hour_once_and_levels_be_known():
    with pytest.raises(ValidationError, match="9:00 is in"):
        MobilitySettings(
            time_bands={
                "a": {"start_hour": 0, "end_hour": 10},
                "b": {"start_hour": 9, "end_hour": 0},
            }
        )
    with pytest.raises(ValidationError, match="levels"):
        MobilitySettings(levels=["zone_2", "municipality"])
    assert MobilitySettings().band_of(7) == "morning_peak"


# --- property: the Spark windows give the trips of a plain reading of the rules -------------

STATES = ("stay", "stay", "move", "undetermined", "unknown", "abroad")


@st.composite
def timelines(draw):
    """A few devices, each a run of segments from D's midnight over up to three days (no two
    stays in a row: the device stage puts a move or a gap between two places)."""
    out = {}
    for d in range(draw(st.integers(1, 4))):
        t, timeline, last = D, [], None
        for _ in range(draw(st.integers(1, 12))):
            state = draw(st.sampled_from(STATES))
            if state == "stay" and last == "stay":
                state = "move"
            end = t + dt.timedelta(minutes=draw(st.integers(1, 900)))
            if state == "stay":
                loc = draw(st.sets(st.integers(1, 12), min_size=1, max_size=3))
                extra = draw(st.sets(st.integers(1, 12), max_size=2))
                timeline.append(stay(t, end, loc=sorted(loc), tiles=sorted(loc | extra)))
            else:
                timeline.append(seg(state, t, end))
            t, last = end, state
        out[f"d{d}"] = timeline
    return out


def reference_trips(timeline, s: MobilitySettings):
    """(departure, arrival) of a timeline's trips, read off the rules one segment at a time."""
    out, origin, unknown, seen = [], None, 0.0, 0
    for state, start, end, tiles, _, _ in timeline:
        duration = (end - start).total_seconds()
        if state == "stay" and duration >= s.min_stay_s:
            if origin is not None and unknown <= s.max_unknown_s:
                silent_same_place = seen == 0 and set(origin[1]) & set(tiles)
                if not silent_same_place:
                    out.append((origin[0], start))
            origin, unknown, seen = (end, tiles), 0.0, 0
        elif state == "abroad":
            origin = None
        elif state == "unknown":
            unknown += duration
        else:
            seen += 1
    return out


@settings(max_examples=10, deadline=None)
@given(
    devices=timelines(),
    min_stay_s=st.sampled_from([900, 3600]),
    max_unknown_s=st.sampled_from([3600, 86_400]),
)
def test_property_trips_follow_the_rules_read_segment_by_segment(
    spark, devices, min_stay_s, max_unknown_s
):
    s = MobilitySettings(min_stay_s=min_stay_s, max_unknown_s=max_unknown_s)
    got: dict[str, list] = {d: [] for d in devices}
    for r in trips_of(spark, devices, s):
        got[r.device_id].append((r.departure_ts, r.arrival_ts))
        for weights in (r.origin_weights, r.destination_weights):
            assert sum(weights) == pytest.approx(1.0)
    assert got == {d: reference_trips(t, s) for d, t in devices.items()}
