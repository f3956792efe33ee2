"""Serving cells follow the true radio model; true positions follow the trip speeds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from rmf_spark.clayer.radio import signal_dominance, signal_strength_dbm
from rmf_spark.synth.events import with_serving_cell
from rmf_spark.synth.network import build_network, cell_epochs
from rmf_spark.synth.profile import load_profile
from rmf_spark.synth.radio_truth import compute_tile_cells
from rmf_spark.synth.rng import uniform
from rmf_spark.synth.runner import local_day_starts
from rmf_spark.synth.schedules import positions_at, schedules_pandas
from rmf_spark.synth.territory import build_territory

PROFILE = load_profile("tiny")
TERR = build_territory(PROFILE.territory, seed=PROFILE.seed)


@pytest.fixture(scope="module")
def network():
    mno = PROFILE.mnos[1]
    cells = build_network(TERR, mno, radio=PROFILE.radio, mno_index=1, seed=PROFILE.seed,
                          start=PROFILE.start_date, n_days=PROFILE.n_days)  # fmt: skip
    _, masks = cell_epochs(cells, PROFILE.days)
    return cells, masks


def test_serving_cell_frequencies_follow_true_radio_model(spark, network):
    cells, masks = network
    site = cells[(cells["cell_type"] == "macro")].iloc[0]
    # the tile 300 m in front of the first sector of the first macro site
    az = np.radians(site["azimuth_deg"])
    x, y = site["x"] + 300 * np.sin(az), site["y"] + 300 * np.cos(az)
    n_cols = int(TERR.width_m // 100)
    tile = int((y - TERR.y0) // 100) * n_cols + int((x - TERR.x0) // 100)
    tile_cells = compute_tile_cells(
        spark, cells, t=TERR, masks=masks[:1], radio=PROFILE.radio, seed=PROFILE.seed, stream=51
    )
    dist = tile_cells.where(F.col("tile_idx") == tile).toPandas().iloc[0]
    p_model = pd.Series(dist["p"], index=dist["cell_idx"])
    # recomputation of the true model for this tile (all active cells, top k) with the
    # estimator's code, independent of the world's own propagation code
    xc = TERR.x0 + (tile % n_cols) * 100 + 50
    yc = TERR.y0 + (tile // n_cols) * 100 + 50
    key = (cells["cell_idx"].to_numpy().astype(np.uint64) << np.uint64(32)) + np.uint64(tile)
    from rmf_spark.synth.rng import normal

    s = signal_strength_dbm(
        dx=xc - cells["x"].to_numpy(), dy=yc - cells["y"].to_numpy(),
        dz=cells["antenna_height_m"].to_numpy(), power_w=cells["power_w"].to_numpy(),
        ple=cells["true_ple"].to_numpy(), directional=cells["directional"].to_numpy(),
        azimuth_deg=cells["true_azimuth_deg"].fillna(0).to_numpy(),
        tilt_deg=cells["tilt_deg"].fillna(0).to_numpy(),
        beam_h_deg=cells["beam_h_deg"].fillna(65).to_numpy(),
        beam_v_deg=cells["beam_v_deg"].fillna(9).to_numpy(),
        azim_db_back=PROFILE.radio.back_loss_db, elev_db_back=PROFILE.radio.back_loss_db,
    ) + PROFILE.radio.shadowing_sd_db * normal(key, 51, PROFILE.seed)  # fmt: skip
    logistic = {"midpoint_dbm": PROFILE.radio.midpoint_dbm, "steepness": PROFILE.radio.steepness}
    dom = np.where(masks[0], signal_dominance(s, **logistic), 0.0)
    top = np.argsort(-dom, kind="stable")[: PROFILE.radio.top_k]
    expected = pd.Series(dom[top] / dom[top].sum(), index=cells["cell_idx"].to_numpy()[top])
    assert np.allclose(p_model.sort_index(), expected.sort_index(), atol=1e-9)
    # 20 000 events in that tile: the chosen cells' frequencies match P(c | g)
    n = 20_000
    ev = spark.createDataFrame(pd.DataFrame({
        "ts_ms": np.full(n, 1705662000000), "tile_idx": np.full(n, tile),
        "x": np.full(n, x), "y": np.full(n, y),
        "u_cell": uniform(np.arange(n, dtype=np.uint64), 3, 1),
    }))  # fmt: skip
    cells_sdf = spark.createDataFrame(
        cells[["cell_idx", "cell_id", "technology", "x", "y", "antenna_height_m"]]
    )
    served = with_serving_cell(
        ev, tile_cells=tile_cells, cells=cells_sdf, file_date=F.to_date(F.lit("2024-01-19")),
        epoch_of_date={"2024-01-19": 0},
    )  # fmt: skip
    freq = served.groupBy("cell_idx").count().toPandas().set_index("cell_idx")["count"] / n
    freq = freq.reindex(p_model.index, fill_value=0.0)
    assert served.count() == n
    assert np.abs(freq - p_model).max() < 4 * np.sqrt(0.25 / n)
    # the nominal model (planned parameters, no shadowing) gives a different distribution
    nominal = signal_dominance(signal_strength_dbm(
        dx=xc - cells["x"].to_numpy(), dy=yc - cells["y"].to_numpy(),
        dz=cells["antenna_height_m"].to_numpy(), power_w=cells["power_w"].to_numpy(),
        ple=np.where(cells["cell_type"] == "macro", 3.75, 6.0),
        directional=cells["directional"].to_numpy(),
        azimuth_deg=cells["azimuth_deg"].fillna(0).to_numpy(),
        tilt_deg=cells["tilt_deg"].fillna(0).to_numpy(),
        beam_h_deg=65.0, beam_v_deg=9.0, azim_db_back=-30.0, elev_db_back=-30.0,
    ), **logistic)  # fmt: skip
    nominal = np.where(masks[0], nominal, 0.0)
    nominal_p = pd.Series(nominal / nominal.sum(), index=cells["cell_idx"].to_numpy())
    tv = 0.5 * np.abs(nominal_p.reindex(p_model.index) - p_model).sum()
    assert tv > 0.05


def _day_schedules(n: int = 400) -> tuple[pd.DataFrame, list[int]]:
    rng = np.random.default_rng(0)
    pdf = pd.DataFrame({
        "person_id": np.arange(n), "day": np.zeros(n, dtype=int),
        "home_x": TERR.x0 + rng.uniform(0, TERR.width_m, n),
        "home_y": TERR.y0 + rng.uniform(0, TERR.height_m, n),
        "work_x": TERR.x0 + rng.uniform(0, TERR.width_m, n),
        "work_y": TERR.y0 + rng.uniform(0, TERR.height_m, n),
        "is_worker": rng.uniform(size=n) < 0.6, "is_tourist": rng.uniform(size=n) < 0.1,
    })  # fmt: skip
    starts = local_day_starts(dt.date(2024, 1, 19), 3, "Europe/Madrid")
    sched = schedules_pandas(pdf, t=TERR, p=PROFILE.population, seed=1, day_start_s=starts,
                             workday=[True, False])  # fmt: skip
    return sched, starts


def test_true_positions_follow_trip_speeds():
    sched, starts = _day_schedules()
    p = PROFILE.population
    step = 10.0
    times = np.arange(starts[0], starts[1], step)
    row = np.repeat(np.arange(len(sched)), len(times))
    x, y, moving = positions_at(sched, row, np.tile(times, len(sched)))
    x, y = x.reshape(len(sched), -1), y.reshape(len(sched), -1)
    speed = np.hypot(np.diff(x, axis=1), np.diff(y, axis=1)) / step
    assert speed.max() <= p.drive_speed_m_s + 1e-6
    # whole 10 s steps inside a leg move at exactly the leg's speed: walk or drive
    inner = speed[
        (speed > 0) & moving.reshape(len(sched), -1)[:, :-1] & moving.reshape(len(sched), -1)[:, 1:]
    ]
    assert (
        np.isin(np.round(inner, 6), np.round([p.walk_speed_m_s, p.drive_speed_m_s], 6)).mean()
        > 0.97
    )
    # a day starts and ends at home, and nobody travels at night
    night = (times - starts[0]) < 4 * 3600
    assert np.allclose(x[:, night], sched["p0x"].to_numpy()[:, None])
    assert np.allclose(x[:, -1], sched["p0x"].to_numpy())


def test_truth_positions_match_schedules_of_persons(spark, tiny_world):
    persons = spark.read.format("delta").load(str(tiny_world / "truth/persons")).where(
        "NOT is_tourist AND NOT is_migrant AND NOT is_outbound"
    ).orderBy("person_id").limit(60).toPandas()  # fmt: skip
    pos = spark.read.format("delta").load(str(tiny_world / "truth/positions")).where(
        F.col("person_id").isin(persons["person_id"].tolist())
    ).toPandas()  # fmt: skip
    starts = local_day_starts(PROFILE.start_date, PROFILE.n_days + 2, PROFILE.time_zone)
    pdf = persons.assign(day=0)[["person_id", "day", "home_x", "home_y", "work_x", "work_y",
                                 "is_worker", "is_tourist"]]  # fmt: skip
    sched = schedules_pandas(pdf, t=TERR, p=PROFILE.population, seed=PROFILE.seed,
                             day_start_s=starts, workday=[True, False, False])  # fmt: skip
    ts = pos["time_point"].astype("int64").to_numpy() // 10**9
    day0 = (ts >= starts[0]) & (ts < starts[1])
    idx = pd.Index(sched["person_id"]).get_indexer(pos["person_id"][day0])
    x, y, _ = positions_at(sched, idx, ts[day0].astype(float))
    assert day0.sum() >= 60 * 23
    assert np.allclose(x, pos["x"][day0]) and np.allclose(y, pos["y"][day0])


def test_spark_device_ids_equal_the_devices_table_ids(spark):
    from rmf_spark.synth.subscriptions import devices_pandas, regional_shares, spark_device_ids

    sub = PROFILE.subscriptions

    persons = pd.DataFrame({
        "person_id": np.r_[np.arange(0, 4_000_000, 9_973), 900_000_000 + np.arange(40)],
        "home_region_id": "R00",
        "first_day": 0,
        "last_day": PROFILE.n_days,
    })  # fmt: skip
    persons["is_tourist"] = persons["person_id"] >= 900_000_000
    shares = regional_shares(PROFILE.mnos, n_regions=1, jitter=0.0, seed=PROFILE.seed)
    dev = devices_pandas(persons, mnos=PROFILE.mnos, shares=shares, sub=sub,
                         seed=PROFILE.seed, n_days=PROFILE.n_days)  # fmt: skip
    assert dev["is_inbound"].any() and set(dev["mno_id"]) == {"mno_a", "mno_b"}
    assert dev["from_day"].notna().any()  # visitors who switch network (one row per network)
    sdf = spark.createDataFrame(dev[["device_key", "mno_id", "is_inbound"]])
    for mno in PROFILE.mnos:
        raw_id, mcc, mnc = spark_device_ids(
            F.col("device_key"), F.col("is_inbound"), mno, PROFILE.seed, sub.roamer_plmns
        )
        got = (
            sdf.where(F.col("mno_id") == mno.mno_id)
            .select("device_key", raw_id.alias("raw_id"), mcc.alias("mcc"), mnc.alias("mnc"))
            .toPandas()
            .sort_values("device_key")
        )
        want = dev[dev["mno_id"] == mno.mno_id].sort_values("device_key")
        assert got["raw_id"].tolist() == want["raw_id"].tolist()
        assert got["mcc"].tolist() == want["mcc"].tolist()
        assert got["mnc"].tolist() == want["mnc"].tolist()
