"""Two codes, one physics: the world's true propagation against the estimator's radio model.

The synthetic world (:mod:`rmf_spark.synth.propagation`) and the C-layer
(:mod:`rmf_spark.clayer.radio`) implement the same mobloc model independently; they must agree
wherever both are defined, and each must show the model's defining properties.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rmf_spark.clayer import radio
from rmf_spark.synth import propagation

BACK = -30.0
# a 16 x 16 km grid of points at 250 m around the antenna (its foot and the axes included)
_AXIS = np.arange(-8000.0, 8001.0, 250.0)
DX, DY = (a.ravel() for a in np.meshgrid(_AXIS, _AXIS))


@pytest.mark.parametrize(
    ("directional", "azimuth", "tilt", "height", "beam_h", "beam_v", "power", "ple"),
    [
        (False, np.nan, np.nan, 30.0, np.nan, np.nan, 10.0, 3.75),
        (False, np.nan, np.nan, 8.0, np.nan, np.nan, 5.0, 6.0),
        *itertools.product(
            [True], [0.0, 77.0, 300.0], [0.0, 5.0, -4.0], [0.0, 30.0], [65.0, 40.0],
            [9.0, 20.0], [20.0], [3.2],
        ),
    ],
)  # fmt: skip
def test_true_and_nominal_models_agree(
    directional, azimuth, tilt, height, beam_h, beam_v, power, ple
):
    cell = {"power_w": power, "ple": ple, "directional": directional}
    # the antenna's own position has no direction (each code picks one): left out
    at_antenna = (DX == 0) & (DY == 0) & (height == 0)
    dx, dy = DX[~at_antenna], DY[~at_antenna]
    truth = propagation.strength_dbm(
        dx=dx, dy=dy, dz=height, **cell, azimuth_deg=azimuth, tilt_deg=tilt,
        beam_h_deg=beam_h, beam_v_deg=beam_v, back_loss_db=BACK,
    )  # fmt: skip
    pattern = {}
    if directional:
        pattern = {"azimuth_deg": azimuth, "tilt_deg": tilt, "beam_h_deg": beam_h,
                   "beam_v_deg": beam_v, "azim_db_back": BACK, "elev_db_back": BACK}  # fmt: skip
    nominal = radio.signal_strength_dbm(dx=dx, dy=dy, dz=height, **cell, **pattern)
    assert np.isfinite(truth).all()
    np.testing.assert_allclose(truth, nominal, rtol=0, atol=1e-9)
    logistic = {"midpoint_dbm": -92.5, "steepness": 0.2}
    np.testing.assert_allclose(
        propagation.dominance(truth, **logistic),
        radio.signal_dominance(nominal, **logistic),
        rtol=0,
        atol=1e-10,
    )


@pytest.mark.parametrize("beam", [65.0, 9.0, 100.0])
def test_true_pattern_minus_3db_at_half_beam_and_back_loss_behind(beam):
    angles = np.array([0.0, beam / 2, -beam / 2, 180.0, -180.0, 540.0])
    loss = propagation.pattern_loss_db(angles, beam_deg=beam, back_loss_db=BACK)
    np.testing.assert_allclose(loss, [0.0, -3.0, -3.0, BACK, BACK, BACK], atol=1e-9)
    # the same width as the estimator's own search (Brent's method there, bisection here)
    assert propagation.pattern_width_deg(beam, back_loss_db=BACK) == pytest.approx(
        float(radio.pattern_sd(beam, BACK)), rel=1e-8
    )


def test_true_model_geometry():
    """Boresight and a tile seen at the tilt angle lose nothing; behind loses the back loss;
    the omnidirectional strength falls with distance as ``10 ple log10 d``."""
    d = 30.0 / np.tan(np.radians(5.0))  # the boresight, tilted 5 degrees, meets the ground
    kw = {"power_w": 10.0, "ple": 3.0, "azimuth_deg": 90.0, "tilt_deg": 5.0,
          "beam_h_deg": 65.0, "beam_v_deg": 9.0, "back_loss_db": BACK}  # fmt: skip
    pts = {"dx": np.array([d, -d]), "dy": np.zeros(2), "dz": 30.0}
    dire = propagation.strength_dbm(**pts, directional=True, **kw)
    omni = propagation.strength_dbm(**pts, directional=False, **kw)
    assert dire[0] == pytest.approx(omni[0], abs=1e-9)
    # behind, at the same depression: the back loss in azimuth, nothing in elevation
    assert dire[1] - omni[1] == pytest.approx(BACK, abs=1e-9)
    far = propagation.strength_dbm(
        dx=np.array([100.0, 1000.0]), dy=0.0, dz=0.0, directional=False, **kw
    )
    assert far[0] - far[1] == pytest.approx(10 * 3.0, abs=1e-9)


def test_unreachable_beam_is_an_error():
    with pytest.raises(ValueError, match=r"beam width 200\.0 cannot be modelled"):
        propagation.pattern_width_deg(np.array([65.0, 200.0]), back_loss_db=BACK)
