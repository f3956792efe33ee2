"""The ``[device]`` section: bounds, cross-field rules, and no heavy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from rmf_spark.slayer.device.settings import DeviceSettings


def test_defaults_follow_multimno():
    s = DeviceSettings()
    seg = s.segments
    assert (seg.min_stay_s, seg.max_gap_stay_s, seg.max_gap_move_s) == (900, 43_200, 7_200)
    assert (seg.max_gap_abroad_s, seg.pad_s) == (259_200, 300)
    assert (s.permanence.slot_s, s.permanence.min_share) == (3600, 0.5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"run_max_gap_s": 50_000}, "run_max_gap_s"),
        ({"segments": {"max_gap_move_s": 50_000}}, "max_gap_move_s"),
        ({"segments": {"pad_s": 3_600, "max_gap_move_s": 7_000}}, "pad_s"),
        ({"permanence": {"slot_s": 1200}}, "slot_s"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"hmm": {"jump_probability": 0.0}}, "jump_probability"),
        ({"hmm": {"typo": 1}}, "typo"),
    ],
)
def test_bad_values_name_their_key(values, message):
    with pytest.raises(ValidationError, match=message):
        DeviceSettings(**values)


def test_loading_the_section_imports_no_numpy_or_spark():
    code = (
        "import sys, rmf_spark.slayer.device.settings, rmf_spark.slayer.device; "
        "assert not {'numpy', 'pyspark', 'pandas'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
