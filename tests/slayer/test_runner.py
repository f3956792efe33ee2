"""Present population from the lake: levels, conservation, expansion, idempotence."""

from __future__ import annotations

import pytest

from rmf_spark import tables
from rmf_spark.errors import ConfigError, InputDataError
from rmf_spark.slayer.inputs import read_market_share
from rmf_spark.slayer.present_population.runner import run_present_population
from tests.slayer import tiny_world as tw


@pytest.fixture(scope="module")
def world(spark, test_config):
    return tw.pipeline_lake(spark, test_config)


def _table(spark, cfg):
    return tables.PRESENT_POPULATION.read(spark, cfg, mno=tw.MNO)


def test_run_present_population_conserves_devices_across_levels(spark, test_config, world):
    # the device stage's tests may add the hmm rows to this shared lake; these two methods
    # are the ones this lake's own run computed (no posteriors existed then)
    assert world["summary"]["methods"] == ["em", "naive"]
    pdf = _table(spark, test_config).toPandas()
    pdf = pdf[pdf["method"].isin(["em", "naive"])]
    assert set(pdf["level"]) == {"100m", "1km", "zone_1", "zone_2"}
    assert set(pdf["method"]) == {"em", "naive"}
    assert "device_id" not in pdf.columns
    sums = pdf.groupby(["time_point", "method", "level"])["devices"].sum().unstack("level")
    # every device with an event in the window counted once per time point, at every level
    events = world["events"]
    tol = tw.timedelta(seconds=test_config.present_population.tolerance_s)
    for tp, row in sums.iterrows():
        lo, hi = tp[0] - tol, tp[0] + tol
        in_window = events[(events["event_ts"] >= lo) & (events["event_ts"] <= hi)]
        assert row.to_numpy() == pytest.approx([in_window["device_id"].nunique()] * 4)
    assert world["summary"]["time_points"] == tw.HOURS
    assert set(world["summary"]["input_versions"]) == {
        "event_location",
        "connection_probability",
        "grid",
        "tile_zone",
    }


def test_run_present_population_expansion_factor_is_inverse_share(spark, test_config, world):
    pdf = _table(spark, test_config).toPandas()
    regions = pdf[pdf["level"] == "zone_1"].set_index(["time_point", "method", "area_id"])
    assert regions.xs("R1", level="area_id")["expansion_factor"].to_numpy() == pytest.approx(2.0)
    assert regions.xs("R2", level="area_id")["expansion_factor"].to_numpy() == pytest.approx(4.0)
    assert (pdf["population"] - pdf["devices"] * pdf["expansion_factor"]).abs().max() < 1e-6


def test_cli_present_population_rerun_is_idempotent(spark, test_config, world):
    from rmf_spark.cli import main

    before = _table(spark, test_config).count()
    hour = world["start"].strftime("%Y-%m-%dT%H:%M:%S")
    code = main(
        [
            "statistics", "present-population", "--mno", tw.MNO, "--start", hour, "--end", hour,
            "--set", f"lake.root={test_config.lake.root}",
            "--set", "present_population.market_share={R1 = 0.5, R2 = 0.25}",
        ]
    )  # fmt: skip
    assert code == 0
    assert _table(spark, test_config).count() == before


def test_cli_bad_time_is_an_error_not_a_trace():
    from rmf_spark.cli import main

    assert main(["release", "--mno", tw.MNO, "--start", "tomorrow", "--end", "2024-03-05"]) == 2


def test_run_present_population_missing_input_names_table(spark, test_config):
    with pytest.raises(InputDataError) as err:
        run_present_population(spark, test_config, mno="no_such_mno", start=tw.START, end=tw.START)
    assert err.value.code == "INPUT_TABLE_MISSING"


def test_read_market_share_requires_a_source(spark, test_config):
    with pytest.raises(ConfigError) as err:
        read_market_share(spark, test_config, mno=tw.MNO)
    assert err.value.code == "MARKET_SHARE_MISSING"


def test_clayer_column_names_are_those_of_the_clayer_schemas():
    from rmf_spark.clayer import schemas as c
    from rmf_spark.clayer import schemas as s

    assert {s.TILE_ID, s.INSPIRE_100M, s.INSPIRE_1KM, s.X_LL, s.Y_LL} <= set(c.GRID.names)
    assert {s.TILE_ID, s.ZONE_LEVEL, s.ZONE_ID} <= set(c.TILE_ZONE.names)
    assert {
        s.CELL_ID,
        s.FOOTPRINT_VERSION,
        s.TILE_ID,
        s.P_CELL_GIVEN_TILE,
        s.P_TILE_GIVEN_CELL,
    } <= set(c.CONNECTION_PROBABILITY.names)
    assert {s.DEVICE_ID, s.EVENT_TS, s.CELL_ID, s.FOOTPRINT_VERSION, s.USABLE} <= set(
        c.EVENT_LOCATION.names
    )


def test_recorded_convergence_value_is_what_convergence_recorded(spark, test_config, tmp_path):
    import datetime as dt

    from rmf_spark import tables
    from rmf_spark.clayer.parameters import convergence_parameters
    from rmf_spark.slayer.inputs import recorded_convergence_value

    cfg = test_config.model_copy(
        update={"lake": test_config.lake.model_copy(update={"root": str(tmp_path)})}
    )
    d1, d2 = dt.date(2024, 3, 5), dt.date(2024, 3, 6)
    spec = tables.CONVERGENCE_PARAMETERS

    def write(conv, day):
        spec.write(
            convergence_parameters(spark, conv, date=day),
            cfg,
            mno="m",
            replace_where=f"date = DATE'{day}'",
        )

    def value(start, end):
        return recorded_convergence_value(
            spark, cfg, mno="m", key="radio.steepness", start=start, end=end
        )

    with pytest.raises(InputDataError) as err:
        value(d1, d2)
    assert err.value.code == "CONVERGENCE_PARAMETERS_MISSING"
    # the profile says 0.2 today; the C-layer of d1 was computed with 0.35
    used = cfg.convergence.model_copy(
        update={"radio": cfg.convergence.radio.model_copy(update={"steepness": 0.35})}
    )
    write(used, d1)
    assert value(d1, d2) == 0.35
    write(cfg.convergence, d2)
    assert value(d2, d2) == 0.2
    with pytest.raises(InputDataError) as err:
        value(d1, d2)
    assert err.value.code == "CONVERGENCE_PARAMETERS_MIXED"
    assert "0.2" in str(err.value) and "0.35" in str(err.value)
