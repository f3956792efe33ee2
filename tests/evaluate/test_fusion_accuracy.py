"""The fusion products scored against the true residents: NAE, shape NAE, released zones."""

from __future__ import annotations

import pandas as pd
import pytest

from rmf_spark.evaluate.fusion_accuracy import fusion_accuracy


def _product(path, values, suppressed, column="value"):
    pd.DataFrame(
        {
            "zone_id": ["a", "b", "c"],
            "region_id": "R",
            column: values,
            "suppressed": suppressed,
            "suppression": [("primary" if s else None) for s in suppressed],
        }
    ).to_parquet(path)


def test_scores_on_released_zones_only(tmp_path):
    truth = pd.DataFrame({"zone_id": ["a", "b", "c"], "residents": [100, 300, 600]})
    # half the devices of each zone: NAE 0.5, the shape exact
    _product(tmp_path / "naive_sum.parquet", [50.0, 150.0, 300.0], [False] * 3)
    # c suppressed: scored on a and b, each 10 % over
    _product(tmp_path / "deduplicated.parquet", [110.0, 330.0, None], [False, False, True])
    cal = pd.DataFrame(
        {
            "zone_id": ["a", "b", "c"],
            "ratio_population": [100.0, 300.0, 600.0],
            "population": [90.0, 300.0, 630.0],
            "suppressed": False,
        }
    )
    cal.to_parquet(tmp_path / "calibrated.parquet")
    acc = fusion_accuracy(tmp_path, truth)
    assert acc["naive_sum"]["nae"] == pytest.approx(0.5)
    assert acc["naive_sum"]["shape_nae"] == pytest.approx(0.0)
    assert acc["deduplicated"]["zones"] == 2
    assert acc["deduplicated"]["nae"] == pytest.approx(0.1)
    assert acc["deduplicated"]["total_ratio"] == pytest.approx(1.1)
    assert acc["calibrated"]["nae"] == pytest.approx(40 / 1000)
    assert acc["calibrated_ratio"]["nae"] == pytest.approx(0.0)
    assert "weighted_sum" not in acc  # no such file


def test_nothing_released_gives_none(tmp_path):
    truth = pd.DataFrame({"zone_id": ["a", "b", "c"], "residents": [1, 2, 3]})
    _product(tmp_path / "naive_sum.parquet", [None, None, None], [True] * 3)
    assert fusion_accuracy(tmp_path, truth)["naive_sum"] == {
        "zones": 0,
        "nae": None,
        "shape_nae": None,
        "total_ratio": None,
    }
