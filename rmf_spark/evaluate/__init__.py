"""Evaluation of estimates against the synthetic world's ground truth (tests, demo, bench)."""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = ["compute_accuracy", "compute_nae", "run_evaluate", "write_report"]

_WHERE = {
    "compute_accuracy": "accuracy",
    "compute_nae": "accuracy",
    "run_evaluate": "runner",
    "write_report": "report",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
