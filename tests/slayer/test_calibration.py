"""Residents calibrated to the register: the model's intervals cover what it simulates, the
estimate beats the scalar ratio and the register alone when the register is noisy, and bad
registers fail by name or fall back as recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from rmf_spark.errors import InputDataError
from rmf_spark.slayer.usual_environment.calibration import (
    CalibrationSettings,
    calibrate_residents,
    calibrate_zones,
)
from rmf_spark.slayer.usual_environment.residents import compute_residents

S = CalibrationSettings()


def _calibrate(region, share, register, devices, settings=S):
    """``calibrate_zones`` on arrays, one share per region."""
    ids = [f"z{i}" for i in range(len(devices))]
    zones = pd.DataFrame({"zone_id": ids, "region_id": region, "devices": devices})
    shares = pd.Series(share, index=region).groupby(level=0).first()
    return calibrate_zones(
        zones,
        register=pd.DataFrame({"zone_id": ids, "residents": register}),
        market_share=pd.DataFrame({"region_id": shares.index, "share": shares.to_numpy()}),
        settings=settings,
    )


def _world(rng, n_regions, per_region, median):
    """Regions with their own share and share of labelled devices (k), zones of many sizes."""
    region = np.repeat([f"r{i}" for i in range(n_regions)], per_region)
    share = np.repeat(rng.uniform(0.2, 0.5, n_regions), per_region)
    k = np.repeat(rng.uniform(0.7, 0.95, n_regions), per_region)
    size = np.round(rng.lognormal(np.log(median), 0.9, n_regions * per_region)) + 20
    return region, share, k, size


def test_interval_covers_95_percent_of_zones_drawn_from_the_model():
    rng = np.random.default_rng(20240513)
    c, phi, psi = S.register_cv, 1.5, 0.002
    region, share, k, register = _world(rng, n_regions=40, per_region=50, median=2000)
    truth = rng.gamma(1 / c**2, register * c**2)  # the prior: mean R, cv c
    pi = share * k
    g = phi + psi * pi * register
    devices = g * rng.poisson(pi * truth / g)  # mean pi N, variance g pi N
    res = _calibrate(region, share, register, devices)
    z = res.zones
    covered = (z["population_lower"] <= truth) & (truth <= z["population_upper"])
    # 2000 zones: a binomial sd of 0.005 around 0.95, plus the fitted parameters' error
    assert 0.93 <= covered.mean() <= 0.97
    assert res.dispersion == pytest.approx(phi, rel=0.3)
    assert res.proportional == pytest.approx(psi, rel=0.4)
    np.testing.assert_allclose(z["detection_rate"], pi, rtol=0.05)


def test_estimate_beats_the_scalar_ratio_and_the_register_alone():
    # the truth is fixed; the register is 3 % noisy, the devices a binomial sample of the
    # labelled share (k < 1: some residents' devices have no home, which the ratio ignores)
    rng = np.random.default_rng(7)
    region, share, k, truth = _world(rng, n_regions=10, per_region=20, median=3000)
    register = np.round(truth * (1 + S.register_cv * rng.standard_normal(truth.size)))
    devices = rng.binomial(truth.astype(int), share * k).astype(float)
    z = _calibrate(region, share, register, devices).zones

    def nae(estimate):
        return np.abs(estimate - truth).sum() / truth.sum()

    assert nae(z["population"]) < 0.8 * nae(register)
    assert nae(z["population"]) < 0.5 * nae(z["ratio_population"])
    np.testing.assert_allclose(z["ratio_population"], devices / share)
    covered = (z["population_lower"] <= truth) & (truth <= z["population_upper"])
    assert covered.mean() >= 0.85


def test_regions_sum_their_zones_and_detection_modes():
    rng = np.random.default_rng(3)
    region, share, k, register = _world(rng, n_regions=3, per_region=6, median=800)
    devices = rng.binomial(register.astype(int), share * k).astype(float)
    res = _calibrate(region, share, register, devices)
    sums = res.zones.groupby("region_id")[["devices", "register", "population"]].sum()
    regions = res.regions.set_index("region_id")
    np.testing.assert_allclose(regions[sums.columns], sums, rtol=1e-12)
    assert (regions["population_lower"] < regions["population"]).all()
    assert (regions["population"] < regions["population_upper"]).all()
    # k per region: the region's devices over share x register
    expected_k = sums["devices"] / (regions["share"] * sums["register"])
    got_k = pd.Series(res.detection_factor)[expected_k.index]
    np.testing.assert_allclose(got_k, expected_k, rtol=1e-12)

    territory = _calibrate(
        region, share, register, devices, S.model_copy(update={"detection": "territory"})
    )
    assert len(set(territory.detection_factor.values())) == 1
    as_is = _calibrate(
        region, share, register, devices, S.model_copy(update={"detection": "market_share"})
    )
    np.testing.assert_allclose(as_is.zones["detection_rate"], share)


def _three(register, devices=(300.0, 150.0, 0.0), **settings):
    zones = pd.DataFrame({"zone_id": ["a", "b", "c"], "region_id": "r", "devices": devices})
    return calibrate_zones(
        zones,
        register=register,
        market_share=pd.DataFrame({"region_id": ["r"], "share": [0.4]}),
        settings=CalibrationSettings(**settings),
    )


def _register(*rows):
    return pd.DataFrame(rows, columns=["zone_id", "residents"])


def test_a_register_missing_a_zone_is_an_error_naming_it_or_a_recorded_fallback():
    partial = _register(("a", 1000), ("b", 500))
    with pytest.raises(InputDataError, match=r"register: no row for zone_id c") as err:
        _three(partial)
    assert err.value.code == "REGISTER_ZONE_MISSING"

    as_zero = _three(partial, missing_register="zero").zones.set_index("zone_id")
    assert as_zero.loc["c", "fallback"] == "register_missing_as_zero"
    assert as_zero.loc["c", ["population", "population_upper"]].tolist() == [0.0, 0.0]

    res = _three(partial, devices=(300.0, 150.0, 40.0), missing_register="devices_only")
    z = res.zones.set_index("zone_id")
    assert z.loc["c", "fallback"] == "register_missing"
    assert res.summary()["fallbacks"] == {"register_missing": ["c"]}
    # a flat prior: about the devices over the detection rate, with a wide interval
    ratio = 40.0 / z.loc["c", "detection_rate"]
    assert z.loc["c", "population"] == pytest.approx(ratio, rel=0.1)
    assert z.loc["c", "population_lower"] < ratio < z.loc["c", "population_upper"]
    assert z[["fallback"]].loc[["a", "b"]].isna().all().all()


def test_a_register_zone_unknown_to_the_grid_is_an_error_or_left_out():
    full = _register(("a", 1000), ("b", 500), ("c", 10), ("x9", 70))
    with pytest.raises(InputDataError, match=r"register: zone_id x9 not among") as err:
        _three(full)
    assert err.value.code == "REGISTER_ZONE_UNKNOWN"
    res = _three(full, unknown_register_zone="ignore")
    assert res.ignored_zones == ("x9",)
    assert res.summary()["ignored_register_zones"] == ["x9"]
    assert "x9" not in set(res.zones["zone_id"])


@pytest.mark.parametrize(
    ("register", "share", "code"),
    [
        (_register(("a", 1), ("a", 2), ("b", 1), ("c", 1)), 0.4, "REGISTER_ZONE_DUPLICATE"),
        (_register(("a", -1), ("b", 1), ("c", 1)), 0.4, "REGISTER_VALUE_INVALID"),
        (_register(("a", None), ("b", 1), ("c", 1)), 0.4, "REGISTER_VALUE_INVALID"),
        (_register(("a", 1), ("b", 1), ("c", 1)), 1.5, "MARKET_SHARE_INVALID"),
    ],
)
def test_bad_tables_are_errors_with_a_code(register, share, code):
    zones = pd.DataFrame({"zone_id": ["a", "b", "c"], "region_id": "r", "devices": 1.0})
    with pytest.raises(InputDataError) as err:
        calibrate_zones(
            zones,
            register=register,
            market_share=pd.DataFrame({"region_id": ["r"], "share": [share]}),
            settings=S,
        )
    assert err.value.code == code


def test_a_region_without_a_share_is_named():
    zones = pd.DataFrame({"zone_id": ["a", "b"], "region_id": ["r", "q"], "devices": 1.0})
    with pytest.raises(InputDataError, match=r"region_id q \(zones b\)") as err:
        calibrate_zones(
            zones,
            register=_register(("a", 10), ("b", 10)),
            market_share=pd.DataFrame({"region_id": ["r"], "share": [0.3]}),
            settings=S,
        )
    assert err.value.code == "MARKET_SHARE_REGION_MISSING"


def test_register_zero_no_devices_in_a_region_and_too_few_zones():
    zones = pd.DataFrame(
        {"zone_id": ["a", "b", "c"], "region_id": ["r", "r", "q"], "devices": [30.0, 5.0, 0.0]}
    )
    res = calibrate_zones(
        zones,
        register=_register(("a", 100), ("b", 0), ("c", 400)),
        market_share=pd.DataFrame({"region_id": ["r", "q"], "share": [0.4, 0.4]}),
        settings=S,
    )
    z = res.zones.set_index("zone_id")
    # the register says nobody lives in b: so does the model, and it says it disagrees
    assert z.loc["b", "fallback"] == "register_zero_with_devices"
    assert z.loc["b", ["population", "population_lower", "population_upper"]].tolist() == [0, 0, 0]
    # no resident device in region q: the register and its cv alone
    assert z.loc["c", "fallback"] == "no_detection"
    assert z.loc["c", "population"] == pytest.approx(400)
    assert z.loc["c", "population_sd"] == pytest.approx(400 * S.register_cv)
    assert any("fewer than 3 zones" in n for n in res.notes)
    assert (res.dispersion, res.proportional) == (1.0, 0.0)


def test_settings_are_typed_and_strict():
    with pytest.raises(ValidationError):
        CalibrationSettings(register_cv=0)
    with pytest.raises(ValidationError):
        CalibrationSettings(detection="national")
    with pytest.raises(ValidationError):
        CalibrationSettings(registr_cv=0.1)


def test_spark_callers_get_zones_and_regions(spark):
    # four 100 m tiles: municipalities m1, m2 in region R1, m3 in R2; ten devices
    tile_zone = spark.createDataFrame(
        [(1, 1, "R1"), (2, 1, "R1"), (3, 1, "R2"), (4, 1, "R2"),
         (1, 2, "m1"), (2, 2, "m2"), (3, 2, "m3"), (4, 2, "m3")],
        "tile_id long, zone_level int, zone_id string",
    )  # fmt: skip
    grid = spark.createDataFrame(
        [(t, f"100m{t}", "1km0") for t in (1, 2, 3, 4)],
        "tile_id long, inspire_100m string, inspire_1km string",
    )
    homes = spark.createDataFrame(
        [(f"d{i}", t) for i, t in enumerate([1, 1, 1, 2, 2, 3, 3, 4, 4, 4])],
        "device_id string, tile_id long",
    )
    shares = spark.createDataFrame([("R1", 0.5), ("R2", 0.25)], "region_id string, share double")
    register = spark.createDataFrame(
        [("m1", 2, 7), ("m2", 2, 4), ("m3", 2, 20), ("R1", 1, 11), ("R2", 1, 20)],
        "zone_id string, zone_level int, residents long",
    )
    residents = compute_residents(
        homes, grid=grid, tile_zone=tile_zone, market_share=shares, region_level=1
    )
    out, res = calibrate_residents(
        residents,
        tile_zone=tile_zone,
        register=register,
        market_share=shares,
        region_level=1,
        settings=S,
    )
    rows = {(r.level, r.area_id): r for r in out.collect()}
    assert set(rows) == {("zone_2", "m1"), ("zone_2", "m2"), ("zone_2", "m3"),
                         ("zone_1", "R1"), ("zone_1", "R2")}  # fmt: skip
    assert (rows["zone_2", "m3"].devices, rows["zone_2", "m3"].ratio_population) == (5.0, 20.0)
    assert rows["zone_2", "m1"].region_id == "R1"
    r1 = rows["zone_1", "R1"]
    assert r1.population == pytest.approx(
        rows["zone_2", "m1"].population + rows["zone_2", "m2"].population
    )
    assert r1.register == 11.0
    assert res.detection_factor["R1"] == pytest.approx(5 / (0.5 * 11))

    stray = spark.createDataFrame(
        [("zone_2", "m9", 3.0)], "level string, area_id string, devices double"
    )
    with pytest.raises(InputDataError, match="m9") as err:
        calibrate_residents(
            stray.unionByName(residents.select("level", "area_id", "devices")),
            tile_zone=tile_zone,
            register=register,
            market_share=shares,
            region_level=1,
            settings=S,
        )
    assert err.value.code == "ZONE_UNKNOWN"
