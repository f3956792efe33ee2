"""D-layer: raw MNO events and cell plans into validated, pseudonymised bronze Delta tables.

Public entry points: :func:`run_ingest` and :func:`run_ingest_cells` (the stage runner),
:func:`load_profile` (input profiles in ``conf/inputs/``). See docs/bronze.md.
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = ["load_profile", "run_ingest", "run_ingest_cells"]

_WHERE = {"run_ingest": "runner", "run_ingest_cells": "runner", "load_profile": "profiles"}

__getattr__ = lazy_getattr(__name__, _WHERE)
