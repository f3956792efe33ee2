"""Analytic tests of the nominal radio model (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from rmf_spark.clayer import radio

# the mobile at 1.5 m in an urban area, the [convergence.radio] defaults
HATA = {"h_mobile_m": 1.5, "environment": "urban"}


def test_power_and_log_distance():
    assert radio.power_dbm(10.0) == pytest.approx(40.0)
    assert radio.power_dbm(1.0) == pytest.approx(30.0)
    assert np.isnan(radio.power_dbm(0.0))
    # S(r) = 40 - 10 * 3.75 * log10(1000) = -72.5 dBm
    assert radio.log_distance_strength_dbm(10.0, 1000.0, 3.75) == pytest.approx(-72.5)


def test_omni_rotationally_symmetric_and_decreasing():
    angles = np.radians(np.arange(0, 360, 15))
    for r in (150.0, 700.0, 3000.0):
        s = radio.signal_strength_dbm(
            dx=r * np.sin(angles), dy=r * np.cos(angles), dz=30.0, power_w=10.0, ple=3.75
        )
        assert np.ptp(s) < 1e-9
    radii = np.linspace(50, 10_000, 200)
    s = radio.signal_strength_dbm(dx=radii, dy=0.0, dz=30.0, power_w=10.0, ple=3.75)
    assert np.all(np.diff(s) < 0)


@pytest.mark.parametrize(("beam", "back"), [(65.0, -30.0), (9.0, -30.0), (90.0, -20.0)])
def test_pattern_minus_3db_at_half_beam_and_back_loss(beam, back):
    loss = radio.pattern_loss_db(
        np.array([0.0, beam / 2, -beam / 2, 180.0, -180.0]), beam_deg=beam, db_back=back
    )
    assert loss[0] == pytest.approx(0.0)
    assert loss[1] == pytest.approx(-3.0, abs=0.01)
    assert loss[2] == pytest.approx(-3.0, abs=0.01)
    assert loss[3] == pytest.approx(back, abs=1e-9)
    assert loss[4] == pytest.approx(back, abs=1e-9)
    a = np.linspace(0, 180, 181)
    assert np.all(np.diff(radio.pattern_loss_db(a, beam_deg=beam, db_back=back)) <= 1e-12)


def test_directional_cell_azimuth_loss_in_the_full_model():
    # Antenna at tile height with no tilt: the elevation loss is 0, so the total directional
    # loss is the azimuth pattern: -3 dB at half the beam width, the back loss behind.
    r, az, beam = 1000.0, 120.0, 65.0
    bearings = np.radians(np.array([az, az + beam / 2, az - beam / 2, az + 180.0]))
    kw = {"dz": 0.0, "power_w": 10.0, "ple": 3.75}
    pattern = {"azimuth_deg": az, "tilt_deg": 0.0, "beam_h_deg": beam, "beam_v_deg": 9.0,
               "azim_db_back": -30.0, "elev_db_back": -30.0}  # fmt: skip
    omni = radio.signal_strength_dbm(dx=r * np.sin(bearings), dy=r * np.cos(bearings), **kw)
    dire = radio.signal_strength_dbm(
        dx=r * np.sin(bearings), dy=r * np.cos(bearings), directional=True, **kw, **pattern
    )
    loss = dire - omni
    assert loss[0] == pytest.approx(0.0, abs=1e-9)
    assert loss[1] == pytest.approx(-3.0, abs=0.05)
    assert loss[2] == pytest.approx(-3.0, abs=0.05)
    assert loss[3] == pytest.approx(-30.0, abs=0.05)
    with pytest.raises(ValueError, match="beam_h_deg"):  # no silent default for a pattern
        radio.signal_strength_dbm(dx=r, dy=0.0, directional=True, **kw, azimuth_deg=az)


def test_tilted_antenna_projection():
    # With tilt the boresight azimuth still has no azimuth loss, and far away (dz << r) the
    # azimuth loss at half the beam width tends to -3 dB.
    az = radio.azimuth_loss_db(
        dx=np.array([0.0, 50_000 * np.sin(np.radians(32.5))]),
        dy=np.array([500.0, 50_000 * np.cos(np.radians(32.5))]),
        dz=30.0,
        azimuth_deg=0.0,
        tilt_deg=5.0,
        beam_h_deg=65.0,
        db_back=-30.0,
    )
    assert az[0] == pytest.approx(0.0, abs=1e-9)
    assert az[1] == pytest.approx(-3.0, abs=0.05)
    # Elevation: the tile seen exactly at the tilt angle below the antenna has no loss.
    d = 30.0 / np.tan(np.radians(5.0))
    el = radio.elevation_loss_db(dx=0.0, dy=d, dz=30.0, tilt_deg=5.0, beam_v_deg=9.0, db_back=-30)
    assert el == pytest.approx(0.0, abs=1e-9)


def test_pattern_sd_is_cached_and_handles_unreachable_beams():
    sd = radio.pattern_sd(np.array([65.0, 65.0, 200.0, 0.0, 400.0]), -30.0)
    assert sd[0] == sd[1] and 60 < sd[0] < 90
    assert sd[2] == pytest.approx(1.0e4)  # wider than the pattern can model: closest sd
    assert np.isnan(sd[3]) and np.isnan(sd[4])


def test_signal_dominance_logistic():
    sd = radio.signal_dominance(
        np.array([-92.5, -92.5 + 5, -200.0, 0.0]), midpoint_dbm=-92.5, steepness=0.2
    )
    assert sd[0] == pytest.approx(0.5)
    assert sd[1] == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert sd[2] < 1e-9 and sd[3] > 1 - 1e-8


def test_okumura_hata_reference_value_and_model_choice():
    # 900 MHz, h_B 30 m, h_M 1.5 m, 1 km, medium city: 69.55 + 26.16 log 900 - 13.82 log 30
    # - a(1.5) with a(1.5) = (1.1 log 900 - 0.7) 1.5 - (1.56 log 900 - 0.8).
    lf = np.log10(900.0)
    a = (1.1 * lf - 0.7) * 1.5 - (1.56 * lf - 0.8)
    expected = 69.55 + 26.16 * lf - 13.82 * np.log10(30.0) - a
    got = radio.okumura_hata_path_loss_db(
        frequency_mhz=900.0, h_base_m=30.0, distance_m=1000.0, **HATA
    )
    assert got == pytest.approx(expected, abs=1e-9)
    assert got == pytest.approx(126.4, abs=0.1)
    env = np.array(["metropolitan", "urban", "suburban", "open"])
    per_env = radio.okumura_hata_path_loss_db(
        frequency_mhz=900.0, h_base_m=30.0, distance_m=5000.0, h_mobile_m=1.5, environment=env
    )
    assert per_env[1] > per_env[2] > per_env[3]
    chosen = radio.empirical_path_loss_db(
        frequency_mhz=np.array([900.0, 1800.0]), h_base_m=30.0, distance_m=2000.0, **HATA
    )
    assert chosen[0] == pytest.approx(
        radio.okumura_hata_path_loss_db(
            frequency_mhz=900.0, h_base_m=30.0, distance_m=2000.0, **HATA
        )
    )
    cost = radio.cost231_path_loss_db(
        frequency_mhz=1800.0, h_base_m=30.0, distance_m=2000.0, **HATA
    )
    assert chosen[1] == pytest.approx(cost)
    metro = radio.cost231_path_loss_db(
        frequency_mhz=1800.0,
        h_base_m=30.0,
        distance_m=2000.0,
        h_mobile_m=1.5,
        environment="metropolitan",
    )
    assert metro - cost == pytest.approx(3.0)
    d = np.linspace(1000, 20_000, 50)
    s = radio.empirical_strength_dbm(
        power_w=10.0, frequency_mhz=1800.0, h_base_m=30.0, distance_m=d, **HATA
    )
    assert np.all(np.diff(s) < 0)
    with pytest.raises(ValueError, match="environment"):
        radio.cost231_path_loss_db(
            frequency_mhz=1800.0,
            h_base_m=30.0,
            distance_m=2000.0,
            h_mobile_m=1.5,
            environment="jungle",
        )
