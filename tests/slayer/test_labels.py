"""Usual environment, home and work labels: MultiMNO's ordered rules on constructed devices.

Every device below is built for one rule or one threshold, with the device totals of
``_TOTALS`` (all: 20 slots on 10 days; night: 10 slots on 10 days; workdays' working hours:
10 slots on 5 days) and the settings ``S`` (MultiMNO's shares and gaps; at least 20 slots on
10 days), so that ``70 %`` of all slots is 14, ``80 %`` is 16, of the night 8, and so on.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rmf_spark.slayer.usual_environment.labels import (
    INSUFFICIENT_OBSERVATION,
    LABELLED,
    NO_HOME_RULE_FIRED,
    NO_UE_RULE_FIRED,
    compute_label_status,
    compute_labels,
)
from rmf_spark.slayer.usual_environment.settings import UsualEnvironmentSettings

PERMANENCE = (
    "device_id string, day_type string, time_interval string, tile_id long, permanence int, "
    "frequency int"
)
OBSERVATION = "device_id string, day_type string, time_interval string, grid_slots int, days int"
COMBINATIONS = {
    "aa": ("all", "all"),
    "an": ("all", "night_time"),
    "ww": ("workdays", "working_hours"),
}
_TOTALS = {"aa": (20, 10), "an": (10, 10), "ww": (10, 5)}
S = UsualEnvironmentSettings.model_validate({"labels": {"min_slots": 20, "min_days": 10}})

# device -> (totals, {tile: {combination: (slots, days)}})
DEVICES = {
    # one tile per usual environment rule, and one just under every rule
    "ue_rules": (
        _TOTALS,
        {
            1: {"aa": (14, 10), "an": (8, 8)},  # ue_1 (ue_3 holds too: the first rule wins)
            2: {"aa": (12, 6), "an": (7, 7)},  # ue_2_night
            3: {"aa": (11, 6), "an": (6, 6), "ww": (7, 4)},  # ue_2_work
            4: {"aa": (10, 7), "an": (6, 6), "ww": (6, 3)},  # ue_3
            5: {"aa": (13, 6), "an": (6, 6), "ww": (6, 3)},  # under all: 13, 6, 6 slots, 6 days
        },
    ),
    # the relative gap: a drop of 20 % of the top tile's 20 slots cuts, of 3 does not
    "ue_gap_cuts": (_TOTALS, {1: {"aa": (20, 10)}, 2: {"aa": (16, 10)}}),
    "ue_gap_keeps": (_TOTALS, {1: {"aa": (20, 10)}, 2: {"aa": (17, 10)}}),
    # home: both tiles tied at the top; h_2 holds for 1 only, h_3 for 2 only: 2 is no home
    "home_stops": (
        _TOTALS,
        {1: {"aa": (14, 10), "an": (8, 5)}, 2: {"aa": (14, 10), "an": (7, 9)}},
    ),
    "home_h1": (_TOTALS, {1: {"aa": (16, 10), "an": (1, 1)}}),
    "home_h3": (_TOTALS, {1: {"aa": (15, 10), "an": (7, 8)}}),
    "home_none": (_TOTALS, {1: {"aa": (15, 10), "an": (7, 7)}}),
    # home gap of one slot: 1 and 2 tied at the top, 3 one slot under (h_2 would hold for it)
    "home_gap": (
        _TOTALS,
        {
            1: {"aa": (15, 10), "an": (8, 8)},
            2: {"aa": (15, 10), "an": (9, 9)},
            3: {"aa": (14, 10), "an": (9, 9)},
        },
    ),
    # never observed at night: the night rules cannot hold, though 0 >= 80 % of 0
    "no_night": (
        {"aa": (20, 10), "an": (0, 0), "ww": (10, 5)},
        {1: {"aa": (15, 10)}},
    ),
    "work_w1": (_TOTALS, {1: {"aa": (16, 10), "ww": (8, 1)}, 2: {"aa": (15, 10), "ww": (7, 5)}}),
    "work_w2": (_TOTALS, {1: {"aa": (16, 10), "ww": (7, 4)}}),
    "work_none": (_TOTALS, {1: {"aa": (16, 10), "ww": (7, 3)}}),
    # the place of work must be in the usual environment
    "work_outside_ue": (
        _TOTALS,
        {1: {"aa": (16, 10), "ww": (1, 1)}, 2: {"aa": (4, 4), "ww": (9, 5)}},
    ),
    "no_ue": (_TOTALS, {1: {"aa": (13, 6)}, 2: {"aa": (12, 6)}}),
    # the minimum observation: one slot, one day under (both labelled devices otherwise)
    "few_slots": ({**_TOTALS, "aa": (19, 10)}, {1: {"aa": (16, 10)}}),
    "few_days": ({**_TOTALS, "aa": (20, 9)}, {1: {"aa": (16, 9)}}),
    "only_unknown": ({"aa": (0, 0)}, {}),
    # observed enough, but no tile
    "no_tiles": (_TOTALS, {}),
}


def _frames(spark, devices):
    perm, obs = [], []
    for device, (totals, tiles) in devices.items():
        for combo, (slots, days) in totals.items():
            obs.append((device, *COMBINATIONS[combo], slots, days))
        for tile, values in tiles.items():
            for combo, (slots, days) in values.items():
                perm.append((device, *COMBINATIONS[combo], tile, slots, days))
    return spark.createDataFrame(perm, PERMANENCE), spark.createDataFrame(obs, OBSERVATION)


def _run(spark, devices, settings_=S):
    perm, obs = _frames(spark, devices)
    labels = compute_labels(perm, obs, settings=settings_).cache()  # read twice below
    got: dict[str, dict[str, dict[int, str]]] = {}
    for r in labels.collect():
        got.setdefault(r.device_id, {}).setdefault(r.label, {})[r.tile_id] = r.rule
    status = {
        r.device_id: r for r in compute_label_status(obs, labels, settings=settings_).collect()
    }
    labels.unpersist()
    return got, status


@pytest.fixture(scope="module")
def result(spark):
    return _run(spark, DEVICES)


def test_each_usual_environment_rule_labels_its_tile_and_the_first_wins(result):
    got, _ = result
    assert got["ue_rules"]["ue"] == {1: "ue_1", 2: "ue_2_night", 3: "ue_2_work", 4: "ue_3"}


def test_usual_environment_gap_cuts_at_a_fifth_of_the_top_tile(result):
    got, _ = result
    assert got["ue_gap_cuts"]["ue"] == {1: "ue_1"}  # tile 2 holds ue_1 but is past the gap
    assert got["ue_gap_keeps"]["ue"] == {1: "ue_1", 2: "ue_1"}


def test_home_stops_at_the_first_rule_that_labels_per_device(result):
    got, status = result
    assert got["home_stops"]["home"] == {1: "h_2"}  # h_3 would label tile 2: not tried
    # another device's first rule does not stop this one (MultiMNO's code stops globally)
    assert got["home_h1"]["home"] == {1: "h_1"} and got["home_h3"]["home"] == {1: "h_3"}
    assert status["home_h3"].home_rule == "h_3"
    # ue_rules: its top usual environment tile is home by h_2 (14 < 16 slots; 8 of 10 nights)
    assert got["ue_rules"]["home"] == {1: "h_2"}


def test_home_thresholds_at_their_boundary(result):
    got, status = result
    assert "home" not in got["home_none"]  # 15 of 20 slots, 7 of 10 night slots and nights
    assert status["home_none"].status == NO_HOME_RULE_FIRED
    assert got["home_none"]["ue"] == {1: "ue_1"}


def test_home_candidates_are_the_usual_environment_tiles_tied_at_the_top(result):
    got, _ = result
    assert got["home_gap"]["home"] == {1: "h_2", 2: "h_2"}


def test_a_device_never_seen_at_night_has_no_night_rule(result):
    got, status = result
    assert got["no_night"] == {"ue": {1: "ue_1"}}
    assert status["no_night"].status == NO_HOME_RULE_FIRED


def test_work_rules_in_order_at_their_boundary(result):
    got, status = result
    assert got["work_w1"]["work"] == {1: "w_1"}  # tile 2 is one slot under: past the gap
    assert got["work_w2"]["work"] == {1: "w_2"}
    assert "work" not in got["work_none"]
    assert (status["work_w2"].work_rule, status["work_w2"].work_tiles) == ("w_2", 1)
    assert (status["work_none"].work_rule, status["work_none"].work_tiles) == (None, 0)
    assert "work" not in got["work_outside_ue"]  # tile 2's 9 of 10 slots: not its usual place


def test_minimum_observation_at_its_boundary(result):
    got, status = result
    for device in ("few_slots", "few_days", "only_unknown"):
        assert device not in got
        assert status[device].status == INSUFFICIENT_OBSERVATION
    assert (status["few_slots"].grid_slots, status["few_days"].days) == (19, 9)
    assert status["home_h1"].status == LABELLED  # exactly 20 slots on 10 days


def test_every_device_has_a_status(result):
    _, status = result
    assert set(status) == set(DEVICES)
    assert status["no_ue"].status == NO_UE_RULE_FIRED
    assert status["no_tiles"].status == NO_UE_RULE_FIRED
    row = status["ue_rules"]
    assert (row.status, row.ue_tiles, row.home_tiles, row.home_rule) == (LABELLED, 4, 1, "h_2")
    assert (row.work_tiles, row.work_rule) == (1, "w_2")  # tile 3: 7 of 10 slots, 4 of 5 days


def test_stops_at_first_rule_with_every_usual_environment_tile_a_candidate(spark):
    # no gap cut: the first rule that labels any tile is the only one, for home and for work
    wide = UsualEnvironmentSettings.model_validate(
        {
            "labels": {
                "min_slots": 20,
                "min_days": 10,
                "home": {"gap_slots": 100},
                "work": {"gap_slots": 100},
            }
        }
    )
    devices = {
        "d": (
            _TOTALS,
            {
                1: {"aa": (16, 10), "an": (2, 2), "ww": (8, 1)},  # h_1, w_1
                2: {"aa": (14, 10), "an": (9, 9), "ww": (6, 5)},  # would be h_2 and w_2
            },
        )
    }
    got, status = _run(spark, devices, wide)
    assert got["d"] == {"ue": {1: "ue_1", 2: "ue_1"}, "home": {1: "h_1"}, "work": {1: "w_1"}}
    assert status["d"].status == LABELLED


def test_settings_reject_a_missing_interval_and_bad_shares():
    with pytest.raises(ValidationError, match=r"labels\.night_interval = 'nights'"):
        UsualEnvironmentSettings.model_validate({"labels": {"night_interval": "nights"}})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        UsualEnvironmentSettings.model_validate({"labels": {"home": {"permanence_share": 80}}})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        UsualEnvironmentSettings.model_validate({"labels": {"work": {"gap_slots": 0}}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        UsualEnvironmentSettings.model_validate({"labels": {"ue_ps_threshold": 70}})
    defaults = UsualEnvironmentSettings().labels
    assert (defaults.min_slots, defaults.min_days, defaults.ue.gap_share) == (1500, 50, 0.2)
    assert (defaults.ue.permanence_share, defaults.home.frequency_share) == (0.7, 0.8)


_tile = st.fixed_dictionaries(
    {c: st.tuples(st.integers(0, 10), st.integers(0, 5)) for c in COMBINATIONS}
)
_device = st.tuples(
    st.fixed_dictionaries(
        {c: st.tuples(st.integers(0, 10), st.integers(0, 5)) for c in COMBINATIONS}
    ),
    st.dictionaries(st.integers(1, 5), _tile, max_size=4),
)


@settings(max_examples=5, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), _device, min_size=1, max_size=8))
def test_every_device_once_and_home_and_work_inside_the_usual_environment(spark, devices):
    small = UsualEnvironmentSettings.model_validate({"labels": {"min_slots": 5, "min_days": 2}})
    got, status = _run(spark, devices, small)
    assert set(status) == set(devices)  # a status row per device: none dropped, none twice
    for device, row in status.items():
        found = got.get(device, {})
        ue, home, work = (found.get(k, {}) for k in ("ue", "home", "work"))
        assert set(home) <= set(ue) and set(work) <= set(ue)
        assert (row.ue_tiles, row.home_tiles, row.work_tiles) == (len(ue), len(home), len(work))
        assert len(set(home.values())) <= 1 and len(set(work.values())) <= 1  # one rule each
        slots, days = devices[device][0]["aa"]
        if slots < 5 or days < 2:
            assert row.status == INSUFFICIENT_OBSERVATION and not found
        else:
            assert (row.status == LABELLED) == bool(home)
