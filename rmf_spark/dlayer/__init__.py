"""D-layer: raw MNO events and cell plans into validated, pseudonymised bronze Delta tables.

Public entry points: :func:`ingest_events` and :func:`ingest_cells` (the stage runner),
:func:`load_profile` (input profiles in ``conf/inputs/``). See docs/bronze.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ingest_cells", "ingest_events", "load_profile"]

if TYPE_CHECKING:
    from rmf_spark.dlayer.profiles import load_profile
    from rmf_spark.dlayer.runner import ingest_cells, ingest_events


def __getattr__(name: str) -> Any:
    # Lazy: rmf_spark.config imports dlayer.settings, which must not pull in pyspark.
    if name in ("ingest_events", "ingest_cells"):
        from rmf_spark.dlayer import runner

        return getattr(runner, name)
    if name == "load_profile":
        from rmf_spark.dlayer.profiles import load_profile

        return load_profile
    raise AttributeError(f"module 'rmf_spark.dlayer' has no attribute {name!r}")
