"""NAE on a hand example; accuracy and report on the tiny world."""

from __future__ import annotations

import base64
import re
from datetime import datetime

import pytest
from chispa import assert_approx_df_equality

from rmf_spark import tables
from rmf_spark.evaluate.accuracy import compute_nae
from rmf_spark.evaluate.report import choose_time_points, tile_xy
from rmf_spark.evaluate.runner import run_evaluate
from tests.slayer import tiny_world as tw

T0 = datetime(2024, 3, 5, 10)
T1 = datetime(2024, 3, 5, 11)


def test_compute_nae_hand_example(spark):
    est = spark.createDataFrame(
        [
            (T0, "1km", "a", "em", 8.0),
            (T0, "1km", "b", "em", 12.0),
            (T0, "1km", "x", "em", 5.0),  # no truth: all error
            (T1, "1km", "a", "em", 10.0),
        ],
        "time_point timestamp, level string, area_id string, method string, devices double",
    )
    truth = spark.createDataFrame(
        [
            (T0, "1km", "a", 10.0),
            (T0, "1km", "b", 10.0),
            (T0, "1km", "c", 5.0),  # not estimated: all error
            (T1, "1km", "a", 10.0),
            (datetime(2024, 3, 5, 12), "1km", "a", 99.0),  # time point not estimated: ignored
        ],
        "time_point timestamp, level string, area_id string, truth double",
    )
    # |8-10| + |12-10| + |5-0| + |0-5| + |10-10| = 14 over 10 + 10 + 5 + 10 = 35
    assert_approx_df_equality(
        compute_nae(est, truth=truth, by=("method",)),
        spark.createDataFrame(
            [("em", "1km", 14 / 35, 35.0, 35.0)],
            "method string, level string, nae double, truth_total double, estimate_total double",
        ),
        precision=1e-12,
        ignore_nullable=True,
    )


def test_tile_xy_and_choose_time_points():
    assert tile_xy("1kmN2654E4436") == (4_436_000.0, 2_654_000.0, 1000.0)
    assert tile_xy("100mN26543E44361") == (4_436_100.0, 2_654_300.0, 100.0)
    with pytest.raises(ValueError):
        tile_xy("R01")
    pts = [datetime(2024, 1, 1, h) for h in range(24)]
    assert (
        choose_time_points(pts, n=3) == [pts[0], pts[12], pts[23]]
        or len(choose_time_points(pts, n=3)) == 3
    )


def test_run_evaluate_tiny_world(spark, test_config, tmp_path):
    world = tw.pipeline_lake(spark, test_config)
    tw.write_truth(spark, world, tmp_path / "truth")
    result = run_evaluate(
        spark,
        test_config,
        mno=tw.MNO,
        start=world["start"],
        end=world["end"],
        truth_dir=tmp_path / "truth",
        out=tmp_path / "report.html",
    )
    pp = result["accuracy"]["present_population"]
    # hmm rows are there when the device tests ran first on this session's lake
    methods = {
        r[0] for r in tables.PRESENT_POPULATION.read(spark, test_config, mno=tw.MNO)
        .select("method").distinct().collect()
    }  # fmt: skip
    assert set(pp) == methods | {"population_nae_zone"}
    for m in ("em", "naive"):
        assert set(pp[m]) == {"nae_1km", "nae_zone"}
        assert 0 <= pp[m]["nae_1km"] < 1 and 0 <= pp[m]["nae_zone"] < 1
    # the tiny world's truth is drawn from the same radio model: EM must do well and beat naive
    assert pp["em"]["nae_zone"] < pp["naive"]["nae_zone"]
    assert pp["em"]["nae_zone"] < 0.15
    assert 0 <= pp["population_nae_zone"] < 0.2
    text = (tmp_path / "report.html").read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(images) == tw.HOURS * len(methods)  # a map per time point and estimator
    assert base64.b64decode(images[0])[:4] == b"\x89PNG"
