"""Release: disclosure control, manifests, method cards and exports, the boundary of the MNO;
``rmf verify`` (:mod:`~.verify`) checks a release against its manifest.

Public names are imported lazily so that ``rmf_spark.config`` can import the settings module
without pulling in pyspark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

__all__ = [
    "apply_disclosure_control",
    "build_hierarchy",
    "build_manifest",
    "release_estimates",
    "run_release",
    "suppress_values",
    "verify_release",
]

_WHERE = {
    "apply_disclosure_control": "disclosure",
    "suppress_values": "disclosure",
    "build_hierarchy": "hierarchy",
    "build_manifest": "manifest",
    "release_estimates": "runner",
    "run_release": "runner",
    "verify_release": "verify",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
