"""Mobility: trips between stays and origin-destination matrices (``docs/mobility.md``).

Files: ``settings`` (``[mobility]``), ``trips`` (a device's trips from its time segments, with
their ends' tile weights, departure day and time band; Spark), ``od`` (OD matrices per day,
time band and level with the ends' uncertainty spread as weights, intra- and inter-area
totals, and the expansion of trips from devices to persons; Spark).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

_TRIPS = ["TRIPS_SCHEMA", "compute_trips"]
_OD = [
    "OD_FLOW_TOTALS_SCHEMA",
    "OD_SCHEMA",
    "compute_od_flow_totals",
    "compute_od_matrices",
    "factors_from_market_share",
    "with_trip_expansion",
]

__all__ = sorted(_TRIPS + _OD)

_WHERE = {
    **{name: "trips" for name in _TRIPS},
    **{name: "od" for name in _OD},
}

__getattr__ = lazy_getattr(__name__, _WHERE)
