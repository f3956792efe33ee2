"""Continuous time segmentation and daily permanence of constructed devices on a line world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rmf_spark.slayer.device import permanence as permanence_module
from rmf_spark.slayer.device.emission import device_emission
from rmf_spark.slayer.device.hmm import forward_backward
from rmf_spark.slayer.device.inference import hmm_events, infer_device_day, prior_weights
from rmf_spark.slayer.device.permanence import daily_permanence, slot_bounds
from rmf_spark.slayer.device.settings import DeviceSettings, PermanenceSettings
from tests.slayer.device import line_world as lw

S = DeviceSettings()
FP = lw.footprints()
DAY0, DAY1 = lw.DAY, lw.DAY + pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
MIN = pd.Timedelta(minutes=1)


def _segments(rows: pd.DataFrame, settings: DeviceSettings = S) -> pd.DataFrame:
    return infer_device_day(
        rows, FP, day_start=DAY0, day_end=DAY1, settings=settings, ta_buffer=1
    ).segments


def _permanence(seg: pd.DataFrame, slot_s: int = 3600, tiles: str = "footprint") -> pd.DataFrame:
    # the footprint intersection by default: these tests follow MultiMNO's rules
    settings = PermanenceSettings(slot_s=slot_s, tiles=tiles)
    return daily_permanence(seg, day_start=DAY0, day_end=DAY1, settings=settings)


def _tiles_of(*cells: str) -> list[int]:
    sets = [set(FP.loc[FP["cell_id"] == c, "tile_id"]) for c in cells]
    return sorted(set.intersection(*sets))


def _assert_covers_the_day(seg: pd.DataFrame) -> None:
    assert seg["start_ts"].iloc[0] == DAY0 and seg["end_ts"].iloc[-1] == DAY1
    assert (seg["start_ts"].iloc[1:].to_numpy() == seg["end_ts"].iloc[:-1].to_numpy()).all()
    assert (seg["end_ts"] > seg["start_ts"]).all()


def test_a_device_staying_in_one_place_is_one_stay_between_unknowns():
    # every 10 minutes from 08:00 to 11:50, alternating two overlapping cells
    rows = lw.rows(
        [
            (f"{h:02d}:{m:02d}",) * 2 + ("C2" if (m // 10) % 2 else "C3",)
            for h in range(8, 12)
            for m in range(0, 60, 10)
        ]
    )
    seg = _segments(rows)
    _assert_covers_the_day(seg)
    assert seg["state"].tolist() == ["unknown", "stay", "unknown"]
    stay = seg.iloc[1]
    pad = pd.Timedelta(seconds=S.segments.pad_s)
    assert stay["start_ts"] == DAY0 + 8 * H - pad
    assert stay["end_ts"] == DAY0 + 11 * H + 50 * MIN + pad
    assert stay["n_events"] == 24 and stay["cells"] == ["C2", "C3"]
    assert stay["tiles"] == _tiles_of("C2", "C3")
    assert stay["best_tile"] in stay["tiles"] and 0 < stay["radius_m"] <= lw.REACH_M
    perm = _permanence(seg)
    assert len(perm) == 24
    assert perm["id_type"].iloc[8:12].eq("grid").all()
    assert all(list(t) == stay["tiles"] for t in perm["tiles"].iloc[8:12])
    # 07:00-08:00 holds 5 minutes of the padded stay: mostly unknown
    assert perm["id_type"].iloc[:8].eq("unknown").all()
    assert perm["id_type"].iloc[12:].eq("unknown").all()
    # by default a stay holds its location tiles: the HMM's most probable ones, holding half
    # of its location posterior, among its footprint tiles and around its best tile
    located = list(stay["location_tiles"])
    assert located == sorted(located) and set(located) < set(stay["tiles"])
    assert stay["best_tile"] in located
    by_location = _permanence(seg, tiles="location")
    assert by_location["id_type"].tolist() == perm["id_type"].tolist()
    assert all(list(t) == located for t in by_location["tiles"].iloc[8:12])


def _line_trip(speed_m_s: float, step_s: int, duration_s: int, start: pd.Timestamp):
    t = np.arange(0, duration_s + 1, step_s)
    x = 300.0 + speed_m_s * t
    nearest = np.argmin(np.abs(x[:, None] - [lw.antenna_x(i) for i in range(lw.N_CELLS)]), axis=1)
    ts = start + pd.to_timedelta(t, unit="s")
    rows = lw.rows([("00:00", "00:00", f"C{i}") for i in nearest])
    rows["first_ts"], rows["last_ts"] = ts, ts
    return rows, x


def test_a_device_moving_along_the_line_is_a_move_and_the_hmm_tracks_it():
    rows, x = _line_trip(10.0, 30, 480, DAY0 + 10 * H)  # 36 km/h for 8 minutes
    seg = _segments(rows)
    _assert_covers_the_day(seg)
    assert seg["state"].tolist() == ["unknown", "undetermined", "move", "undetermined", "unknown"]
    move = seg.iloc[2]
    assert move["tiles"] == [] and move["n_events"] > 0
    # with 15-minute slots, 10:00-10:15 holds no tile for half of it: a grid slot without tiles
    perm = _permanence(seg, slot_s=900)
    assert len(perm) == 96
    assert perm.iloc[40]["id_type"] == "grid" and len(perm.iloc[40]["tiles"]) == 0
    # the HMM (a kernel between events 30 s apart) locates the device better than each event
    # alone (jump probability 1: independent events)
    model = device_emission(rows, FP, ta_buffer=1)
    event_row, times = hmm_events(rows, model)
    prior = prior_weights(FP, model.tiles, uniform_share=0.01)
    errors = []
    for jump in (S.hmm.jump_probability, 1.0):
        got = forward_backward(
            times,
            model.emission,
            model.xy_m,
            prior,
            settings=S.hmm.model_copy(update={"jump_probability": jump}),
            mass=1.0,
            observation=model.observation[event_row],
        )
        mean_x = got.posterior @ model.xy_m[:, 0]
        errors.append(np.abs(mean_x - x[event_row]).mean())
    assert errors[0] < 0.7 * errors[1]


def test_a_gap_is_unknown_unless_the_device_comes_back_to_the_same_place():
    pad = pd.Timedelta(seconds=S.segments.pad_s)
    away = lw.rows([("08:00", "09:00", "C1"), ("14:00", "15:00", "C4")])
    seg = _segments(away)
    _assert_covers_the_day(seg)
    assert seg["state"].tolist() == ["unknown", "stay", "unknown", "stay", "unknown"]
    assert seg.iloc[2]["start_ts"] == DAY0 + 9 * H + pad
    assert seg.iloc[2]["end_ts"] == DAY0 + 14 * H - pad
    # 5 h of silence in the same cell (under max_gap_stay_s = 12 h): still one stay
    back = lw.rows([("08:00", "09:00", "C1"), ("14:00", "15:00", "C1")])
    seg = _segments(back)
    assert seg["state"].tolist() == ["unknown", "stay", "unknown"]
    assert seg.iloc[1]["start_ts"] == DAY0 + 8 * H - pad
    assert seg.iloc[1]["end_ts"] == DAY0 + 15 * H + pad
    perm = _permanence(seg)
    assert perm["id_type"].iloc[8:15].eq("grid").all()
    assert all(list(t) == _tiles_of("C1") for t in perm["tiles"].iloc[8:15])


def test_a_device_abroad_is_one_abroad_segment_reached_by_a_move():
    home = lw.rows([("06:00", "08:00", "C0")])
    trip = lw.rows(
        [(f"{h:02d}:00", f"{h:02d}:00", "F1") for h in range(10, 21)],
        abroad=True,
        visited_plmn="20801",
        footprint_version=None,
    )
    seg = _segments(pd.concat([home, trip], ignore_index=True))
    _assert_covers_the_day(seg)
    assert seg["state"].tolist() == ["unknown", "stay", "move", "abroad", "unknown"]
    abroad = seg.iloc[3]
    assert abroad["visited_plmn"] == "20801" and abroad["n_events"] == 11
    assert abroad["start_ts"] == DAY0 + 10 * H
    assert abroad["tiles"] == [] and pd.isna(abroad["best_tile"])
    perm = _permanence(seg)
    assert perm["id_type"].iloc[10:20].eq("abroad").all()
    assert perm["visited_plmn"].iloc[10:20].eq("20801").all()
    assert perm.iloc[8]["id_type"] == "grid" and len(perm.iloc[8]["tiles"]) == 0  # the move


def test_a_stay_crossing_midnight_continues_from_the_context_row():
    # the previous day's last row (context) and this day's first: 8 h apart, same cell
    rows = lw.rows([("-21:00", "-22:00", "C3"), ("06:00", "07:00", "C3")])
    rows["context"] = [True, False]
    rows["n_events"] = [40, 7]
    seg = _segments(rows)
    _assert_covers_the_day(seg)
    assert seg["state"].tolist() == ["stay", "unknown"]
    pad = pd.Timedelta(seconds=S.segments.pad_s)
    assert seg.iloc[0]["end_ts"] == DAY0 + 7 * H + pad
    assert seg.iloc[0]["n_events"] == 7  # the context row's events belong to its own day
    perm = _permanence(seg)
    assert perm["id_type"].iloc[:7].eq("grid").all()
    assert all(list(t) == _tiles_of("C3") for t in perm["tiles"].iloc[:7])
    # without the context row the night is unknown
    alone = _segments(rows.iloc[[1]].assign(context=False))
    assert alone["state"].tolist() == ["unknown", "stay", "unknown"]


def test_the_segments_do_not_depend_on_the_hmm_except_for_locations():
    rows, _ = _line_trip(10.0, 30, 480, DAY0 + 10 * H)
    with_hmm = _segments(rows)
    without = _segments(rows, DeviceSettings(hmm={"enabled": False}))
    cols = ["state", "start_ts", "end_ts", "n_events", "cells", "tiles"]
    pd.testing.assert_frame_equal(with_hmm[cols], without[cols])
    assert without["best_tile"].isna().all() and with_hmm["best_tile"].notna().sum() == 3


def test_slots_follow_the_length_of_the_day():
    starts, ends = slot_bounds(DAY0, DAY0 + 23 * H, slot_s=1800)  # a spring-forward day
    assert len(starts) == 46 and (ends - starts == np.timedelta64(1800, "s")).all()
    seg = pd.DataFrame(
        {
            "state": ["unknown", "stay", "unknown"],
            "start_ts": [DAY0, DAY0 + 30 * MIN, DAY0 + 89 * MIN],
            "end_ts": [DAY0 + 30 * MIN, DAY0 + 89 * MIN, DAY0 + 23 * H],
            "tiles": [[], [5, 7], []],
            "visited_plmn": [None, None, None],
        }
    )
    perm = daily_permanence(
        seg, day_start=DAY0, day_end=DAY0 + 23 * H, settings=PermanenceSettings(slot_s=1800)
    )
    # 00:30-01:00 holds 30 minutes of stay, 01:00-01:30 holds 29 (over half): both grid
    assert perm["id_type"].iloc[:3].tolist() == ["unknown", "grid", "grid"]
    assert list(perm["tiles"].iloc[2]) == [5, 7]
    loose = daily_permanence(
        seg,
        day_start=DAY0,
        day_end=DAY0 + 23 * H,
        settings=PermanenceSettings(slot_s=1800, min_share=0.99),
    )
    assert len(loose["tiles"].iloc[2]) == 0


def test_permanence_takes_location_tiles_and_falls_back_to_the_footprint():
    seg = pd.DataFrame(
        {
            "state": ["stay", "stay"],
            "start_ts": [DAY0, DAY0 + 2 * H],
            "end_ts": [DAY0 + 2 * H, DAY0 + 24 * H],
            "tiles": [[5, 7, 9], [1, 2, 3]],
            "visited_plmn": [None, None],
            "location_tiles": [np.array([7]), None],  # the second one not located
        }
    )
    for tiles, first, second in (("location", [7], [1, 2, 3]), ("footprint", [5, 7, 9], [1, 2, 3])):
        perm = _permanence(seg, tiles=tiles)
        assert list(perm["tiles"].iloc[0]) == first and list(perm["tiles"].iloc[5]) == second


def test_slots_reject_an_empty_day():
    with pytest.raises(ValueError, match="not after"):
        permanence_module.slot_bounds(DAY0, DAY0, slot_s=3600)


def test_a_time_point_inside_a_long_run_is_answered_by_the_run():
    # one cell from 08:00 to 12:00 (a run: silences of at most run_max_gap_s), then 14:00
    rows = lw.rows([("08:00", "12:00", "C2"), ("14:00", "14:00", "C3")])
    points = pd.Series(DAY0 + H * np.arange(24))
    day = infer_device_day(
        rows, FP, day_start=DAY0, day_end=DAY1, settings=S, ta_buffer=1,
        time_points=points, tolerance_s=1800,
    )  # fmt: skip
    answered = sorted({t.hour for t in day.posteriors["time_point"]})
    # 10:00 is two hours from either end of the run: the device was on C2 all along;
    # 13:00 lies between two rows, an hour from each: beyond the tolerance
    assert answered == [8, 9, 10, 11, 12, 14]
    assert day.posteriors["time_point"].is_unique
    assert all(np.isclose(p.sum(), 1.0) for p in day.posteriors["probabilities"])
