"""Usual environment, home and work: mid-term permanence over a period, labels, residents.

Files: ``settings`` (``[usual_environment]``), ``midterm`` (mid-term permanence per device and
tile by day type and time interval, and the device's observation totals; Spark).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "compute_midterm_observation",
    "compute_midterm_permanence",
    "with_day_type_and_intervals",
]

_WHERE = {name: "midterm" for name in __all__}

__getattr__ = lazy_getattr(__name__, _WHERE)
