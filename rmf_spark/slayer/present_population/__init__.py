"""Present population: devices and people per area at each time point, from cell counts.

Files: ``settings`` (``[present_population]``), ``schemas`` (its tables), ``observations``
(time points, devices per cell and TA band), ``timing_advance`` (TA band geometry), ``em``
(the EM in numpy), ``reach_calibration`` (per-cell reach from the TA), ``estimators`` (EM and
naive in Spark), ``pipeline`` (the composition), ``runner`` (lake I/O).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "compute_cell_counts",
    "compute_em_tile_devices",
    "compute_naive_tile_devices",
    "compute_present_population",
    "em_density",
    "run_present_population",
    "to_device_time_points",
]

_WHERE = {
    "compute_cell_counts": "observations",
    "to_device_time_points": "observations",
    "compute_em_tile_devices": "estimators",
    "compute_naive_tile_devices": "estimators",
    "em_density": "em",
    "compute_present_population": "pipeline",
    "run_present_population": "runner",
}

__getattr__ = lazy_getattr(__name__, _WHERE)
