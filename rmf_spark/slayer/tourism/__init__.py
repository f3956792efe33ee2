"""Inbound and outbound tourism (``docs/mobility.md``, section 7).

Files: ``settings`` (``[tourism]``), ``countries`` (the shipped MCC -> country table
``mcc_countries.csv`` and the PLMN / MCC lookups), ``nights`` (stays joined across midnight,
the functional midnight and overnight rule, area weights, indicator rows; Spark), ``inbound``
(visits, nights and tourism stays of foreign SIMs; Spark), ``outbound`` (trips and nights
abroad of the MNO's subscribers, by home area; Spark), ``schemas`` (the tables), ``runner``
(``rmf statistics tourism-inbound`` and ``tourism-outbound``).
Public names are imported lazily, so that loading a profile imports no Spark.
"""

from __future__ import annotations

from rmf_spark._lazy import lazy_getattr

_COUNTRIES = ["UNKNOWN_COUNTRY", "country_of_mcc", "country_of_plmn", "mcc_countries"]
_INBOUND = ["compute_inbound_tourism", "factors_from_inbound_share", "inbound_origins"]
_OUTBOUND = ["compute_outbound_tourism", "home_areas", "home_factors"]
_RUNNER = ["run_tourism_inbound", "run_tourism_outbound"]

__all__ = sorted(_COUNTRIES + _INBOUND + _OUTBOUND + _RUNNER)

_WHERE = {
    **{name: "countries" for name in _COUNTRIES},
    **{name: "inbound" for name in _INBOUND},
    **{name: "outbound" for name in _OUTBOUND},
    **{name: "runner" for name in _RUNNER},
}

__getattr__ = lazy_getattr(__name__, _WHERE)
