"""Propagation in the synthetic world: the true received strength of a cell at a point.

Written from the published formulas (mobloc's signal-strength model, the model MultiMNO's cell
footprint also uses), on purpose apart from the estimator's :mod:`rmf_spark.clayer.radio`: the
synthetic truth must not share the estimator's code, or a mistake there would be reproduced
by the world it is evaluated on. Same physics, two codes; ``tests/synth/test_propagation.py``
checks that they agree.

Model (``dx, dy`` east and north from the antenna to the point, ``dz`` the antenna's height
above it, angles in degrees, azimuth clockwise from north, tilt downwards):

* distance: ``S = 10 log10(P_W) + 30 - 10 ple log10(d)``, ``d`` the 3-D distance (>= 1 cm);
* antenna pattern of a directional cell, a normal-density shape
  ``L(a) = back * (1 - exp(-a^2 / 2 w^2)) / (1 - exp(-180^2 / 2 w^2))`` (0 on the boresight,
  ``back`` dB behind it), the width ``w`` such that ``L(beam / 2) = -3`` dB;
* horizontally, the angle between the boresight, tilted down by ``tilt``, and the point's
  direction projected onto the antenna's tilted plane: with the unit vectors
  ``f = (sin az cos t, cos az cos t, -sin t)`` (boresight) and ``h = (cos az, -sin az, 0)``
  (across it) and the point at ``v = (dx, dy, -dz)``, the angle is ``atan2(v.h, v.f)``;
* vertically, the point's depression below the horizon minus the tilt,
  ``atan2(dz, sqrt(dx^2 + dy^2)) - tilt``; the two losses add;
* dominance ``1 / (1 + exp(-steepness (S - midpoint)))``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["dominance", "pattern_loss_db", "pattern_width_deg", "strength_dbm"]

Array = NDArray[np.float64]

_MIN_DISTANCE_M = 0.01
_WIDTH_BRACKET_DEG = (0.01, 1.0e4)  # pattern widths searched for a beam's -3 dB point


def _shape(angle_deg: Array, width_deg: Array, back_loss_db: float) -> Array:
    """``L(a)`` for ``|a| <= 180`` (module notes)."""
    rise = 1.0 - np.exp(-(angle_deg * angle_deg) / (2.0 * width_deg * width_deg))
    full = 1.0 - np.exp(-(180.0 * 180.0) / (2.0 * width_deg * width_deg))
    return back_loss_db * rise / full


@lru_cache(maxsize=256)
def _width_deg(beam_deg: float, back_loss_db: float) -> float:
    """:func:`pattern_width_deg` of one beam (a network has a handful: cached)."""
    if math.isnan(beam_deg):
        return math.nan
    half = np.float64(beam_deg / 2.0)

    def excess(log_w: float) -> float:  # loss + 3 dB at half the beam: negative below the root
        return float(_shape(half, np.exp(np.float64(log_w)), back_loss_db)) + 3.0

    lo, hi = (math.log(w) for w in _WIDTH_BRACKET_DEG)
    if not (0.0 < beam_deg < 360.0 and excess(lo) <= 0.0 <= excess(hi)):
        raise ValueError(
            f"beam width {beam_deg} cannot be modelled with a {back_loss_db} dB back loss"
        )
    while True:  # bisection down to adjacent doubles
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return math.exp(mid)
        lo, hi = (mid, hi) if excess(mid) < 0.0 else (lo, mid)


def pattern_width_deg(beam_deg: ArrayLike, *, back_loss_db: float) -> Array:
    """Width ``w`` of the pattern whose loss at half the 3-dB beam width is -3 dB.

    Found by bisection on ``log w`` (the loss at a fixed angle shrinks as ``w`` grows), to
    machine precision. ``nan`` beams give ``nan``; a beam the shape cannot reach (too narrow,
    or too wide for ``back_loss_db``) is an error.
    """
    beam = np.asarray(beam_deg, dtype=np.float64)
    uniq, inverse = np.unique(beam.ravel(), return_inverse=True)
    widths = np.array([_width_deg(float(b), float(back_loss_db)) for b in uniq])
    return widths[inverse].reshape(beam.shape)


def pattern_loss_db(angle_deg: ArrayLike, *, beam_deg: ArrayLike, back_loss_db: float) -> Array:
    """Loss (dB, <= 0) at ``angle_deg`` off the boresight (any sign, wrapped to 180)."""
    a = np.abs(np.asarray(angle_deg, dtype=np.float64)) % 360.0
    a = np.minimum(a, 360.0 - a)
    width = pattern_width_deg(beam_deg, back_loss_db=back_loss_db)  # broadcast to the angles
    return _shape(a, width, back_loss_db)


def strength_dbm(
    *,
    dx: ArrayLike,
    dy: ArrayLike,
    dz: ArrayLike,
    power_w: ArrayLike,
    ple: ArrayLike,
    directional: ArrayLike,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
    beam_h_deg: ArrayLike,
    beam_v_deg: ArrayLike,
    back_loss_db: float,
) -> Array:
    """True received strength (dBm) at the points (module notes); arrays broadcast.

    Omnidirectional cells have no pattern (their azimuth, tilt and beams may be ``nan``).
    """
    east, north, up = (np.asarray(v, dtype=np.float64) for v in (dx, dy, dz))
    distance = np.maximum(np.sqrt(east * east + north * north + up * up), _MIN_DISTANCE_M)
    s = 10.0 * np.log10(np.asarray(power_w, dtype=np.float64)) + 30.0
    s = s - 10.0 * np.asarray(ple, dtype=np.float64) * np.log10(distance)
    directional = np.broadcast_to(np.asarray(directional, dtype=bool), s.shape)
    if not directional.any():
        return s
    az = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    tilt = np.radians(np.asarray(tilt_deg, dtype=np.float64))
    # the point's vector v = (east, north, -up) against the tilted boresight f and across h
    along = (east * np.sin(az) + north * np.cos(az)) * np.cos(tilt) + up * np.sin(tilt)
    across = east * np.cos(az) - north * np.sin(az)
    horizontal = np.degrees(np.arctan2(across, along))
    vertical = np.degrees(np.arctan2(up, np.hypot(east, north))) - np.degrees(tilt)
    with np.errstate(invalid="ignore"):  # nan patterns of omnidirectional cells
        loss = pattern_loss_db(
            horizontal, beam_deg=beam_h_deg, back_loss_db=back_loss_db
        ) + pattern_loss_db(vertical, beam_deg=beam_v_deg, back_loss_db=back_loss_db)
    return np.where(directional, s + loss, s)


def dominance(strength: ArrayLike, *, midpoint_dbm: float, steepness: float) -> Array:
    """Signal dominance ``1 / (1 + exp(-steepness (S - midpoint)))``."""
    return 1.0 / (
        1.0 + np.exp(-steepness * (np.asarray(strength, dtype=np.float64) - midpoint_dbm))
    )
