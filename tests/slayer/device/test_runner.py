"""The device stage from the lake (the S-layer's tiny world): tables, coverage, idempotence."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from rmf_spark import tables
from rmf_spark.errors import InputDataError
from rmf_spark.slayer.device.runner import day_time_points, run_device
from tests.slayer import tiny_world as tw

# the device stage from the lake, run twice: `make test-integration` (CI runs it); the
# device-day pass in Spark is in test_spark.py, which `make test` runs
pytestmark = pytest.mark.integration

DAY = tw.START.date()
#: MultiMNO's tolerance (an hour), not the default 12 h that answers every time point of the
#: day: the tiny world's devices stay on one cell for hours, so time points fall inside runs
#: longer than twice the tolerance, which must still be answered (inference.answering_events)
TOLERANCE = {"present_population.tolerance_s": 3600}


@pytest.fixture(scope="module")
def device_config(test_overrides):
    """The tests' profile (the same lake) with :data:`TOLERANCE`."""
    from rmf_spark.config import load_config
    from tests.conftest import ROOT

    return load_config(ROOT / "conf" / "local.toml", overrides={**test_overrides, **TOLERANCE})


@pytest.fixture(scope="module")
def device_run(spark, test_config, device_config):
    tw.pipeline_lake(spark, test_config)  # the EM density the HMM prior uses (as elsewhere)
    return run_device(spark, device_config, mno=tw.MNO, date=DAY)


def _read(spark, cfg, spec):
    return spec.read(spark, cfg, mno=tw.MNO).where(f"date = DATE'{DAY}'").toPandas()


def test_every_device_day_is_accounted_for_and_covered_by_segments(
    spark, device_config, device_run
):
    events = tw.pipeline_lake(spark, device_config)["events"]
    days = _read(spark, device_config, tables.DEVICE_DAY)
    assert sorted(days["device_id"]) == sorted(events["device_id"].unique())
    assert (days["status"] == "located").all()
    assert days["log_likelihood"].notna().all() and (days["log_likelihood"] < 0).all()
    per_device = events.groupby("device_id").size()
    rows = days.set_index("device_id")["rows"]
    assert rows.le(per_device.reindex(rows.index)).all()  # runs: at most one row per event
    assert device_run["prior"] == "em"
    assert device_run["metrics"]["device_days_located"] == len(days)

    seg = _read(spark, device_config, tables.TIME_SEGMENTS).sort_values(
        ["device_id", "segment_index"]
    )
    day0 = pd.Timestamp(DAY)
    for _, s in seg.groupby("device_id"):
        # the segments tile the day: no gap, no overlap
        assert s["start_ts"].iloc[0] == day0
        assert s["end_ts"].iloc[-1] == day0 + pd.Timedelta(days=1)
        assert (s["start_ts"].iloc[1:].to_numpy() == s["end_ts"].iloc[:-1].to_numpy()).all()
    located = seg[seg["state"].isin(["stay", "undetermined"])]
    assert located["best_tile"].notna().all()
    n_buckets = device_config.ingest.n_device_buckets
    assert seg["device_bucket"].between(0, n_buckets - 1).all()
    assert (seg.groupby("device_id")["device_bucket"].nunique() == 1).all()

    perm = _read(spark, device_config, tables.DAILY_PERMANENCE)
    assert perm.groupby("device_id").size().eq(24).all()


def test_posteriors_sum_to_one_at_the_time_points_within_tolerance(
    spark, device_config, device_run
):
    post = _read(spark, device_config, tables.LOCATION_POSTERIOR)
    points = day_time_points(
        DAY, time_zone="UTC", step_s=device_config.present_population.time_step_s
    )
    assert set(post["time_point"]) <= {pd.Timestamp(p) for p in points}
    assert not post.duplicated(["device_id", "time_point"]).any()
    sums = post["probabilities"].map(sum)
    assert ((sums - 1).abs() < 1e-9).all()
    assert (post["tile_ids"].map(len) == post["probabilities"].map(len)).all()
    events = tw.pipeline_lake(spark, device_config)["events"]
    tol = timedelta(seconds=device_config.present_population.tolerance_s)
    for tp in tw.START + pd.to_timedelta(range(tw.HOURS), unit="h"):
        near = events[(events["event_ts"] - tp).abs() <= tol]["device_id"].unique()
        answered = post[post["time_point"] == tp]["device_id"].unique()
        assert sorted(answered) == sorted(near)
    assert device_run["posterior_rows"] == len(post)


def test_cli_rerun_replaces_the_day_and_missing_input_is_named(spark, device_config, device_run):
    from rmf_spark.cli import main

    before = {
        s.name: _read(spark, device_config, s) for s in (tables.TIME_SEGMENTS, tables.DEVICE_DAY)
    }
    overrides = ["--set", f"lake.root={device_config.lake.root}"]
    overrides += [a for k, v in TOLERANCE.items() for a in ("--set", f"{k}={v}")]
    assert main(["statistics", "device", "--mno", tw.MNO, "--date", str(DAY), *overrides]) == 0
    for name, frame in before.items():
        again = _read(spark, device_config, tables.CATALOG[f"slayer/{name}"])
        keys = ["device_id", "segment_index"] if "segment_index" in frame else ["device_id"]
        pd.testing.assert_frame_equal(
            frame.sort_values(keys).reset_index(drop=True),
            again.sort_values(keys).reset_index(drop=True),
        )
    with pytest.raises(InputDataError) as err:
        run_device(spark, device_config, mno="no_such_mno", date=DAY)
    assert err.value.code == "INPUT_TABLE_MISSING"
    assert "rmf convergence" in str(err.value)


def test_hmm_present_population_from_the_posteriors_leaves_the_other_methods(
    spark, device_config, device_run
):
    from rmf_spark.errors import ConfigError
    from rmf_spark.slayer.present_population.runner import run_present_population

    world = tw.pipeline_lake(spark, device_config)
    shares = spark.createDataFrame([("R1", 0.5), ("R2", 0.25)], "region_id string, share double")
    pp = tables.PRESENT_POPULATION
    before = pp.read(spark, device_config, mno=tw.MNO).where("method != 'hmm'").toPandas()
    summary = run_present_population(
        spark,
        device_config,
        mno=tw.MNO,
        start=world["start"],
        end=world["end"],
        market_share=shares,
        methods=("hmm",),
    )
    assert summary["methods"] == ["hmm"]
    table = pp.read(spark, device_config, mno=tw.MNO).toPandas()
    others = table[table["method"] != "hmm"]
    key = ["time_point", "method", "level", "area_id"]
    pd.testing.assert_frame_equal(
        before.sort_values(key).reset_index(drop=True),
        others.sort_values(key).reset_index(drop=True),
    )
    hmm = table[table["method"] == "hmm"]
    post = _read(spark, device_config, tables.LOCATION_POSTERIOR)
    answered = post.groupby("time_point")["device_id"].nunique()
    for level, rows in hmm.groupby("level"):
        totals = rows.groupby("time_point")["devices"].sum()
        assert totals.to_numpy() == pytest.approx(answered.loc[totals.index].to_numpy()), level
    assert (hmm["devices_lower"] <= hmm["devices"]).all()
    assert (hmm["devices"] <= hmm["devices_upper"]).all()
    assert others[["devices_lower", "devices_upper"]].isna().all().all()
    with pytest.raises(ConfigError, match="choose among"):
        run_present_population(
            spark, device_config, mno=tw.MNO, start=tw.START, end=tw.START, methods=("mle",)
        )


def test_od_from_the_segments_accounts_for_every_trip_and_is_idempotent(
    spark, device_config, device_run
):
    from rmf_spark.slayer.mobility.runner import run_od

    cfg = device_config.model_copy(
        update={
            "present_population": device_config.present_population.model_copy(
                update={"market_share": {"R1": 0.5, "R2": 0.25}}
            )
        }
    )
    first = run_od(spark, cfg, mno=tw.MNO, start=DAY, end=DAY)
    trips = _read(spark, cfg, tables.TRIPS)
    assert first["trips"] == len(trips) > 0
    for side in ("origin", "destination"):
        sums = trips[f"{side}_weights"].map(sum)
        assert ((sums - 1).abs() < 1e-9).all(), side
    od = _read(spark, cfg, tables.OD_MATRIX)
    # every trip adds 1 per level (the tiny world's tiles all lie in a zone of each level)
    for level, rows in od.groupby("level"):
        assert rows["trips"].sum() == pytest.approx(len(trips)), level
    assert (od["person_trips"] >= od["trips"] - 1e-9).all()  # shares <= 1
    assert set(first["flows"]) == set(od["level"])
    again = run_od(spark, cfg, mno=tw.MNO, start=DAY, end=DAY)
    assert (again["trips"], again["od_rows"]) == (first["trips"], first["od_rows"])


def test_usual_environment_labels_every_device_and_names_what_is_missing(
    spark, device_config, device_run
):
    from rmf_spark.slayer.usual_environment.runner import run_usual_environment

    pp = device_config.present_population.model_copy(
        update={"market_share": {"R1": 0.5, "R2": 0.25}}
    )
    ue = device_config.usual_environment
    # one day of a few hours: MultiMNO's demo thresholds (a month's are 1500 slots, 50 days)
    labels = ue.labels.model_copy(update={"min_slots": 2, "min_days": 1})
    strict = device_config.model_copy(
        update={
            "present_population": pp,
            "usual_environment": ue.model_copy(update={"labels": labels}),
        }
    )
    with pytest.raises(InputDataError, match="reference/holidays") as err:
        run_usual_environment(spark, strict, mno=tw.MNO, start=DAY, end=DAY)
    assert err.value.code == "INPUT_TABLE_MISSING"
    cfg = strict.model_copy(
        update={
            "usual_environment": strict.usual_environment.model_copy(
                update={"holidays": "weekends_only"}
            )
        }
    )
    summary = run_usual_environment(spark, cfg, mno=tw.MNO, start=DAY, end=DAY)
    assert any("holidays" in f for f in summary["fallbacks"])
    assert "skipped" in summary["calibration"]  # the tiny lake holds no register
    where = f"period_start = DATE'{DAY}'"
    status = tables.UE_LABEL_STATUS.read(spark, cfg, mno=tw.MNO).where(where).toPandas()
    perm = _read(spark, cfg, tables.DAILY_PERMANENCE)
    # every device with a slot in the period has exactly one status row
    assert sorted(status["device_id"]) == sorted(perm["device_id"].unique())
    assert sum(summary["devices"].values()) == len(status)
    assert summary["devices"].get("labelled", 0) > 0
    residents = tables.RESIDENTS.read(spark, cfg, mno=tw.MNO).where(where).toPandas()
    homes = residents[(residents["role"] == "home") & (residents["level"] == "zone_1")]
    # each labelled device counts once among the residents (weights 1/n over its home tiles)
    assert homes["devices"].sum() == pytest.approx(summary["devices"]["labelled"])
    again = run_usual_environment(spark, cfg, mno=tw.MNO, start=DAY, end=DAY)
    assert again["devices"] == summary["devices"]
