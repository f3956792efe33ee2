"""S-layer: statistics inferred from the C-layer structures (present population, ...).

Public names are imported lazily so that ``rmf_spark.config`` can import the settings module
without pulling in pyspark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "compute_cell_counts",
    "compute_em_tile_devices",
    "compute_naive_tile_devices",
    "compute_present_population",
    "compute_rollups",
    "em_density",
    "run_present_population",
    "to_device_time_points",
    "with_expansion",
]

_WHERE = {
    "compute_cell_counts": "time_points",
    "to_device_time_points": "time_points",
    "compute_em_tile_devices": "present_population",
    "compute_naive_tile_devices": "present_population",
    "em_density": "present_population",
    "compute_rollups": "rollup",
    "with_expansion": "expansion",
    "compute_present_population": "runner",
    "run_present_population": "runner",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
