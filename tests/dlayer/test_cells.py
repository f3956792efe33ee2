"""Repairs of a cell plan from the plan itself: a directional cell's missing azimuth from its
other versions or its site's other sectors, a missing mast value from the site; no type
default in the D-layer."""

from __future__ import annotations

import datetime as dt

import pytest

from rmf_spark.dlayer.cells import with_plan_repairs

_SCHEMA = (
    "cell_id string, x double, y double, directional boolean, azimuth_deg double, "
    "cell_type string, power_w double, range_m double, antenna_height_m double, "
    "tilt_deg double, beam_h_deg double, beam_v_deg double"
)


def _site(spark, site: int, azimuths: list[float | None]):
    rows = [
        (f"s{site}-{i}", 1000.0 * site, 2000.0, True, az, "macro", *[None] * 6)
        for i, az in enumerate(azimuths)
    ]
    return spark.createDataFrame(rows, _SCHEMA)


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        ([10.0, 130.0], 250.0),  # three sectors at 120 degrees, one missing
        ([350.0, 110.0], 230.0),  # the gap crosses north
        ([10.0, 12.0, 130.0, 131.0], 250.0),  # two technologies per sector merge (250.5)
        ([0.0, 90.0, 180.0], 270.0),  # four sectors at 90 degrees, one missing
        ([10.0], None),  # one known sector: the missing one could be either of two
        ([10.0, 130.0, 250.0], None),  # a full site: the missing cell's sector is unknown
        ([0.0, 180.0], None),  # two opposite sectors: two equal gaps
        ([0.0, 90.0], None),  # two gaps of 90 and 270: more than one sector missing
    ],
)
def test_missing_azimuth_from_the_site_or_omni(spark, known, expected):
    df = _site(spark, 1, [*known, None])
    out = {r["cell_id"]: r for r in with_plan_repairs(df).collect()}
    missing = out[f"s1-{len(known)}"]
    if expected is None:
        assert not missing["directional"] and missing["azimuth_deg"] is None
    else:
        assert missing["directional"] and missing["azimuth_deg"] == pytest.approx(expected, abs=1)
    for i, az in enumerate(known):  # known sectors are untouched
        cell = out[f"s1-{i}"]
        assert cell["azimuth_deg"] == az and cell["directional"]


def test_sites_do_not_mix(spark):
    """Known azimuths of another site (other coordinates) never fill a gap."""
    df = _site(spark, 1, [10.0, None]).unionByName(_site(spark, 2, [130.0, 250.0]))
    out = {r["cell_id"]: r for r in with_plan_repairs(df).collect()}
    assert not out["s1-1"]["directional"] and out["s1-1"]["azimuth_deg"] is None
    assert len(out) == 4


def test_shared_site_values_and_no_type_default(spark):
    """A missing mast height, tilt or power comes from the site's other cells (median); what
    the plan cannot give stays null (the C-layer applies the cell type's default)."""
    rows = [
        ("a0", 0.0, 0.0, True, 0.0, "macro", 40.0, None, 35.0, 4.0, None, None),
        ("a1", 0.0, 0.0, True, 120.0, "macro", 20.0, None, 33.0, None, None, None),
        ("a2", 0.0, 0.0, True, 240.0, "macro", None, None, None, None, None, None),
        ("b0", 5000.0, 0.0, False, None, "macro", None, None, None, None, None, None),
    ]
    out = {
        r["cell_id"]: r for r in with_plan_repairs(spark.createDataFrame(rows, _SCHEMA)).collect()
    }
    a2 = out["a2"]
    assert (a2["power_w"], a2["antenna_height_m"], a2["tilt_deg"]) == (30.0, 34.0, 4.0)
    assert a2["range_m"] is None  # range is per technology, not shared: left to the C-layer
    assert a2["beam_h_deg"] is None and a2["beam_v_deg"] is None
    assert out["a1"]["tilt_deg"] == 4.0
    assert out["a0"]["power_w"] == 40.0
    b0 = out["b0"]  # alone on its site: nothing to repair from
    assert (b0["power_w"], b0["antenna_height_m"], b0["tilt_deg"]) == (None, None, None)


def test_site_median_counts_each_cell_once(spark):
    """A cell listed twice (two plan versions, same power) weighs like one cell."""
    rows = [
        ("a0", 0.0, 0.0, True, 0.0, "macro", 40.0, None, None, None, None, None),
        ("a0", 0.0, 0.0, True, 0.0, "macro", 40.0, None, None, None, None, None),
        ("a1", 0.0, 0.0, True, 120.0, "macro", 20.0, None, None, None, None, None),
        ("a2", 0.0, 0.0, True, 240.0, "macro", None, None, None, None, None, None),
    ]
    out = with_plan_repairs(spark.createDataFrame(rows, _SCHEMA)).collect()
    assert {r["power_w"] for r in out if r["cell_id"] == "a2"} == {30.0}


def test_a_version_without_azimuth_takes_the_cells_own_latest(spark):
    """The same cell's other plan versions come before the site's gap: here the site looks
    full (10, 130, 250), yet version 2 of x keeps the 250 of its version 1."""
    schema = _SCHEMA + ", valid_from date"
    v1, v2 = dt.date(2024, 1, 1), dt.date(2024, 3, 1)
    base = (0.0, 0.0, True)
    rows = [
        ("s0", *base, 10.0, "macro", *[None] * 6, v1),
        ("s1", *base, 130.0, "macro", *[None] * 6, v1),
        ("x", *base, 250.0, "macro", *[None] * 6, v1),
        ("x", *base, None, "macro", *[None] * 6, v2),
    ]
    out = with_plan_repairs(spark.createDataFrame(rows, schema)).collect()
    x2 = next(r for r in out if r["cell_id"] == "x" and r["valid_from"] == v2)
    assert x2["directional"] and x2["azimuth_deg"] == 250.0
