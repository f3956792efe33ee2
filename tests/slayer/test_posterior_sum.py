"""The hmm estimator: sums of device posteriors, its variance per level, its interval."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from rmf_spark.slayer.present_population.posterior_sum import compute_hmm_present_population
from rmf_spark.slayer.present_population.settings import PresentPopulationSettings

T = datetime(2024, 3, 5, 12)
# four 100 m tiles: 1 and 2 in the 1 km square K0 and region R1, 3 and 4 in K1 and R2
GRID = pd.DataFrame(
    {
        "tile_id": [1, 2, 3, 4],
        "inspire_100m": ["T1", "T2", "T3", "T4"],
        "inspire_1km": ["K0", "K0", "K1", "K1"],
        "x_ll": [0.0, 100.0, 1000.0, 1100.0],
        "y_ll": [0.0] * 4,
    }
)
ZONES = pd.DataFrame(
    {"tile_id": [1, 2, 3, 4], "zone_level": [1] * 4, "zone_id": ["R1", "R1", "R2", "R2"]}
)
SHARES = pd.DataFrame({"region_id": ["R1", "R2"], "share": [0.5, 0.25]})  # f = 2 and 4


def _run(spark, posteriors, **settings):
    pp = PresentPopulationSettings(**settings)
    return (
        compute_hmm_present_population(
            spark.createDataFrame(posteriors),
            grid=spark.createDataFrame(GRID),
            tile_zone=spark.createDataFrame(ZONES),
            market_share=spark.createDataFrame(SHARES),
            start=T,
            end=T,
            settings=pp,
        )
        .toPandas()
        .set_index(["level", "area_id"])
    )


def test_sums_and_bernoulli_variance_by_hand(spark):
    # device a: 0.5 on tile 1, 0.3 on tile 2, 0.2 on tile 3; device b: all on tile 4
    post = pd.DataFrame(
        {
            "device_id": ["a", "a", "a", "b"],
            "time_point": [T] * 4,
            "tile_id": [1, 2, 3, 4],
            "probability": [0.5, 0.3, 0.2, 1.0],
        }
    )
    got = _run(spark, post, hmm={"market_share_rse": 0.0})
    assert (got["method"] == "hmm").all()
    z = norm.ppf(0.975)
    k0 = got.loc[("1km", "K0")]
    # K0 holds 0.8 of device a: N = 0.8, Var = 0.8 * 0.2 (not 0.5*0.5 + 0.3*0.7: one device)
    assert k0["devices"] == pytest.approx(0.8)
    assert k0["devices_upper"] == pytest.approx(0.8 + z * np.sqrt(0.16))
    assert k0["devices_lower"] == pytest.approx(max(0.0, 0.8 - z * np.sqrt(0.16)))
    k1 = got.loc[("1km", "K1")]
    # K1: device a with 0.2 (f = 4) and device b surely there (no variance)
    assert k1["devices"] == pytest.approx(1.2)
    assert k1["population"] == pytest.approx(0.2 * 4 + 4.0)
    var_people = (0.2 * 16 - (0.2 * 4) ** 2) + 0.0
    assert k1["population_upper"] == pytest.approx(4.8 + z * np.sqrt(var_people))
    t4 = got.loc[("100m", "T4")]
    assert t4["devices_lower"] == t4["devices_upper"] == pytest.approx(1.0)
    # the region mixes two expansion factors for device a (2 on tiles 1-2)
    r1 = got.loc[("zone_1", "R1")]
    assert r1["population"] == pytest.approx(0.8 * 2)
    assert r1["expansion_factor"] == pytest.approx(2.0)


def test_levels_conserve_devices_and_intervals_hold_the_estimate(spark):
    rng = np.random.default_rng(3)
    rows = []
    for d in range(30):
        tiles = rng.choice([1, 2, 3, 4], size=rng.integers(1, 5), replace=False)
        p = rng.dirichlet(np.ones(len(tiles)))
        rows += [(f"d{d}", T, int(t), float(q)) for t, q in zip(tiles, p, strict=True)]
    post = pd.DataFrame(rows, columns=["device_id", "time_point", "tile_id", "probability"])
    got = _run(spark, post, hmm={"market_share_rse": 0.05, "interval_level": 0.9})
    for level in ("100m", "1km", "zone_1"):
        assert got.xs(level)["devices"].sum() == pytest.approx(30.0)
    assert (got["devices_lower"] <= got["devices"] + 1e-12).all()
    assert (got["devices"] <= got["devices_upper"] + 1e-12).all()
    assert (got["population_lower"] <= got["population"] + 1e-12).all()
    assert (got["population"] <= got["population_upper"] + 1e-12).all()
    assert (got["devices_lower"] >= 0).all()
    # a wider share error widens the population interval
    exact = _run(spark, post, hmm={"market_share_rse": 0.0, "interval_level": 0.9})
    width = got["population_upper"] - got["population_lower"]
    exact_width = exact["population_upper"] - exact["population_lower"]
    assert (width >= exact_width - 1e-9).all() and (width > exact_width).any()
