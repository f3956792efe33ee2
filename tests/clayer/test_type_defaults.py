"""A cell type's radio defaults come from the profile, end to end (ingest-cells + convergence).

Two omnidirectional macro cells in a 4 x 4 km territory: ``full`` gives its power and range,
``bare`` gives neither (and is alone on its site, so the plan cannot repair them). The plan is
ingested once; convergence runs with the default profile, then with
``convergence.radio.macro.power_w`` and ``range_m`` changed: only ``bare``'s footprint follows
the new defaults (stronger by exactly ``10 log10`` of the power ratio, over the tiles of the new
range), without re-ingesting the plan, and the parameters used are recorded per date.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import functions as F

from rmf_spark.clayer.parameters import read_convergence_parameters
from rmf_spark.clayer.runner import run_convergence
from rmf_spark.config import load_config
from rmf_spark.dlayer.runner import run_ingest_cells
from rmf_spark.lake import read_delta, table_path, write_delta
from tests.clayer.helpers import X0, Y0, square_wkt, territory_df
from tests.conftest import ROOT
from tests.dlayer.rawfiles import A_CELLS_HEADER

# ingest-cells and two convergence runs end to end: `make test-integration` (CI runs it)
pytestmark = pytest.mark.integration

MNO, DAY = "mno_a", dt.date(2024, 1, 15)
FULL, BARE = "214-07-1-1", "214-07-2-1"
CELLS = [  # cgi;valid_from;valid_to;x;y;altitude;height;directional;azimuth;tilt;beams;power;range
    f"{FULL};2024-01-01;;{X0 + 1000};{Y0 + 2000};0;30;0;;;;;20;2000;1800;4G;macro",
    f"{BARE};2024-01-01;;{X0 + 2500};{Y0 + 2000};0;30;0;;;;;;;1800;4G;macro",
]
NEW_DEFAULTS = {"convergence.radio.macro.power_w": 40.0, "convergence.radio.macro.range_m": 1500.0}


def _config(test_config, root, **overrides):
    return load_config(
        ROOT / "conf" / "local.toml",
        overrides={
            **{f"spark.{k}": v for k, v in test_config.spark.model_dump().items()},
            "lake.root": str(root / "lake"),
            "ingest.mno": {MNO: {"raw_dir": str(root / "raw"), "profile": "inputs/mno_a.toml"}},
            "convergence.reference_dir": str(root / "reference"),
            **overrides,
        },
    )


def _footprints(spark, cfg):
    """``{cell_id: {tile_id: (signal_dbm, signal_dominance)}}`` of the versions active on DAY."""
    versions = read_delta(spark, table_path(cfg, "clayer", "cell_version", mno=MNO))
    fp = read_delta(spark, table_path(cfg, "clayer", "cell_footprint", mno=MNO))
    rows = fp.join(
        versions.select("cell_id", "footprint_version"), ["cell_id", "footprint_version"]
    )
    out: dict[str, dict[int, tuple[float, float]]] = {}
    for r in rows.collect():
        out.setdefault(r["cell_id"], {})[r["tile_id"]] = (r["signal_dbm"], r["signal_dominance"])
    return out


def test_changed_type_default_changes_the_footprint_of_a_cell_without_the_value(
    spark, test_config, tmp_path
):
    cells = tmp_path / "raw" / "cells" / "cells.csv"
    cells.parent.mkdir(parents=True)
    cells.write_text("\n".join([A_CELLS_HEADER, *CELLS]) + "\n", encoding="utf-8")
    write_delta(
        territory_df(spark, square_wkt(X0, Y0, 4000, 4000)),
        str(tmp_path / "reference" / "territory"),
    )
    before_cfg = _config(test_config, tmp_path)
    run_ingest_cells(spark, before_cfg, mno=MNO)
    bronze_path = table_path(before_cfg, "bronze", "cells", mno=MNO)
    bronze = {r["cell_id"]: r for r in read_delta(spark, bronze_path).collect()}
    # the D-layer flags the gaps and leaves them to the C-layer
    assert bronze[BARE]["power_w"] is None and bronze[BARE]["range_m"] is None
    assert {"power_w", "range_m"} <= set(bronze[BARE]["imputed"])
    assert bronze[FULL]["power_w"] == 20.0 and bronze[FULL]["imputed"] == [
        "tilt_deg", "beam_h_deg", "beam_v_deg"
    ]  # fmt: skip

    run_convergence(spark, before_cfg, mno=MNO, date=DAY)
    before = _footprints(spark, before_cfg)
    after_cfg = _config(test_config, tmp_path, **NEW_DEFAULTS)  # same lake, plan not re-ingested
    summary = run_convergence(spark, after_cfg, mno=MNO, date=DAY)
    after = _footprints(spark, after_cfg)

    assert summary["footprints_computed"] == 1  # only the cell that uses the defaults
    assert after[FULL] == before[FULL]
    # the default range: the whole territory (10 km) before, the tiles within 1.5 km after
    assert len(before[BARE]) == 1600
    assert len(after[BARE]) == pytest.approx(math.pi * 15**2, abs=40)
    assert set(after[BARE]) < set(before[BARE])
    gain = 10 * math.log10(40.0 / 10.0)  # the macro default power: 10 W, then 40 W
    for tile, (signal, dominance) in after[BARE].items():
        assert signal - before[BARE][tile][0] == pytest.approx(gain, abs=1e-9)
        assert dominance > before[BARE][tile][1]
    issues = {
        r["cell_id"]: r["issues"]
        for r in read_delta(spark, table_path(after_cfg, "clayer", "cell_version", mno=MNO))
        .where(F.col("cell_id") == BARE)
        .collect()
    }
    assert {"DEFAULT:power_w", "DEFAULT:range_m"} <= set(issues[BARE])
    # what the date was computed with is recorded, replaced by the second run
    used = read_convergence_parameters(spark, after_cfg, mno=MNO, date=DAY)
    assert (used.radio.macro.power_w, used.radio.macro.range_m) == (40.0, 1500.0)
    assert used.radio.steepness == after_cfg.convergence.radio.steepness
    assert used.model_dump(exclude={"reference_dir"}) == after_cfg.convergence.model_dump(
        exclude={"reference_dir"}
    )
