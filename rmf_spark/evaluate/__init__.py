"""Evaluation of estimates against the synthetic world's ground truth (tests, demo, bench)."""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "compute_accuracy",
    "compute_nae",
    "compute_position_errors",
    "compute_stay_recovery",
    "position_error_summary",
    "run_evaluate",
    "truth_device_map",
    "write_report",
]

_WHERE = {
    "compute_accuracy": "accuracy",
    "compute_nae": "accuracy",
    "compute_position_errors": "device_accuracy",
    "compute_stay_recovery": "device_accuracy",
    "position_error_summary": "device_accuracy",
    "truth_device_map": "device_accuracy",
    "run_evaluate": "runner",
    "write_report": "report",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
