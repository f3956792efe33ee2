"""Device-level inference: continuous time segments, daily permanence, HMM location posteriors.

Files: ``settings`` (``[device]``), ``schemas`` (its tables; personal data that never leaves
the MNO), ``compress`` (runs of identical observations, bounded rows per device-day, Spark),
``emission`` (the EM's observation model per device), ``hmm`` (sparse forward-backward,
numpy), ``segments`` and ``permanence`` (pandas, one device-day), ``inference`` (their
composition for one device-day), ``device_days`` (the ``cogroup`` in Spark).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "compress_runs",
    "compute_daily_permanence",
    "compute_segments",
    "compute_time_point_posteriors",
    "daily_permanence",
    "forward_backward",
    "infer_device_day",
    "posterior_tiles",
    "segment_device_day",
    "with_day_context",
]

_WHERE = {
    "compress_runs": "compress",
    "compute_daily_permanence": "device_days",
    "compute_segments": "device_days",
    "compute_time_point_posteriors": "device_days",
    "with_day_context": "device_days",
    "posterior_tiles": "device_days",
    "daily_permanence": "permanence",
    "forward_backward": "hmm",
    "infer_device_day": "inference",
    "segment_device_day": "segments",
}

__getattr__ = lazy_getattr(__name__, _WHERE)
