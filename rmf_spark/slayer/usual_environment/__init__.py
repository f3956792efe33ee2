"""Usual environment, home and work: mid-term permanence over a period, labels, residents.

Files: ``settings`` (``[usual_environment]``), ``midterm`` (mid-term permanence per device and
tile by day type and time interval, and the device's observation totals; Spark), ``longterm``
(several mid-term periods added up; Spark), ``labels`` (usual environment, home and work tiles
per device with the rule that fired, and every device's labelling status; Spark).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

_MIDTERM = [
    "compute_midterm_observation",
    "compute_midterm_permanence",
    "with_day_type_and_intervals",
]
_LONGTERM = [
    "compute_longterm_observation",
    "compute_longterm_permanence",
    "select_season",
    "stack_periods",
]
_LABELS = ["compute_label_status", "compute_labels"]

__all__ = sorted(_MIDTERM + _LONGTERM + _LABELS)

_WHERE = {
    **{name: "midterm" for name in _MIDTERM},
    **{name: "longterm" for name in _LONGTERM},
    **{name: "labels" for name in _LABELS},
}

__getattr__ = lazy_getattr(__name__, _WHERE)
