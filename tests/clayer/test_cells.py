"""prepare_cells: the type defaults of the profile fill the plan's gaps and replace values outside
the plausible ranges shared with the D-layer (rmf_spark.cellplan)."""

from __future__ import annotations

import pytest

from rmf_spark.cellplan import PLAUSIBLE
from rmf_spark.clayer import cells
from rmf_spark.clayer.settings import CellTypeDefaults, PruningSettings, RadioSettings
from rmf_spark.errors import ConfigError
from tests.clayer.helpers import X0, Y0, cell, cells_df

RADIO = RadioSettings(
    micro=CellTypeDefaults(power_w=2.0, range_m=800.0, tilt_deg=7.0, antenna_height_m=9.0)
)


def test_defaults_per_type_and_implausible_values_replaced(spark):
    rows = [
        cell("m", X0, Y0, cell_type="micro", power_w=None, antenna_height_m=None, range_m=None),
        cell("low", X0, Y0, power_w=-1.0, tilt_deg=70.0),  # both outside their ranges
        cell("odd", X0, Y0, cell_type="femto", power_w=None),
        cell("bad_az", X0, Y0, directional=True, azimuth_deg=400.0),
        cell("no_az", X0, Y0, directional=True),
    ]
    prepared = cells.prepare_cells(cells_df(spark, rows), radio=RADIO, pruning=PruningSettings())
    out = {r["cell_id"]: r for r in prepared.collect()}
    m = out["m"]
    assert (m["power_w"], m["range_m"], m["tilt_deg"], m["antenna_height_m"]) == (2, 800, 7, 9)
    assert {"DEFAULT:power_w", "DEFAULT:range_m", "DEFAULT:antenna_height_m"} <= set(m["issues"])
    low = out["low"]
    assert (low["power_w"], low["tilt_deg"]) == (RADIO.macro.power_w, RADIO.macro.tilt_deg)
    assert {"FIXED:power_w", "FIXED:tilt_deg"} <= set(low["issues"]) and low["usable"]
    assert out["odd"]["power_w"] == RADIO.other.power_w  # any other type
    assert not out["bad_az"]["usable"] and "BAD_AZIMUTH" in out["bad_az"]["issues"]
    assert not out["no_az"]["usable"] and "NO_AZIMUTH" in out["no_az"]["issues"]
    assert all(PLAUSIBLE[c].holds(r[c]) for r in out.values() for c in ("power_w", "tilt_deg"))


def test_type_defaults_must_be_plausible():
    """A default outside the shared range is refused when the profile is loaded."""
    with pytest.raises(ValueError, match=r"must lie in \[-30, 60\] deg"):
        CellTypeDefaults(tilt_deg=80.0)
    from rmf_spark.config import load_config
    from tests.conftest import ROOT

    with pytest.raises(ConfigError, match=r"convergence\.radio\.micro\.power_w"):
        load_config(ROOT / "conf" / "local.toml", overrides={"convergence.radio.micro.power_w": 0})
