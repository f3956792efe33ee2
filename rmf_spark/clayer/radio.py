"""The nominal radio model of a cell: pure, vectorised numpy (no Spark).

One implementation of each formula, used by the C-layer footprint (inside ``mapInPandas``). The
synthetic world's true radio model is written independently (:mod:`rmf_spark.synth.propagation`),
so an error here shows in the evaluation; a test checks that the two agree. Settings (back
losses, beam widths, logistic parameters, mobile height, environment) have no defaults here:
the caller passes the cell's prepared values or ``[convergence.radio]``.

Conventions: angles in degrees; ``dx, dy`` = tile centre minus antenna position (EPSG:3035
metres, east and north); ``dz`` = antenna altitude above the tile (antenna ground altitude +
antenna height - tile altitude, metres, positive when the antenna is above); azimuth clockwise
from north; tilt positive downwards; back losses negative dB (e.g. -30).

Sources (restated, no code copied; full citations in ``docs/references.md``): the ESS
``mobloc`` signal-strength model (Tennekes & Gootzen 2022, "Bayesian location estimation of
mobile devices using a signal strength model"; R package ``mobloc``, ``R/signal_strength.R``);
the Eurostat MultiMNO cell footprint estimation (``eurostat/multimno`` 1.0.0); Okumura-Hata
(Hata 1980) and COST-231 Hata (COST Action 231 final report, 1999).

Examples
--------
>>> import numpy as np
>>> round(float(power_dbm(10.0)), 1)
40.0
>>> s = signal_strength_dbm(dx=np.array([100.0, 1000.0]), dy=np.zeros(2), dz=np.zeros(2),
...                         power_w=10.0, ple=3.75)  # omnidirectional: no antenna pattern
>>> bool(s[0] > s[1])
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

__all__ = [
    "HATA_ENVIRONMENTS",
    "azimuth_loss_db",
    "bearing_deg",
    "cost231_path_loss_db",
    "directional_loss_db",
    "elevation_loss_db",
    "empirical_path_loss_db",
    "empirical_strength_dbm",
    "log_distance_strength_dbm",
    "okumura_hata_path_loss_db",
    "pattern_loss_db",
    "pattern_sd",
    "power_dbm",
    "signal_dominance",
    "signal_strength_dbm",
    "wrap_deg",
]

Array = NDArray[np.float64]

#: Environments understood by the empirical (Hata / COST-231) models.
HATA_ENVIRONMENTS = ("metropolitan", "urban", "suburban", "open")

_SD_MIN, _SD_MAX = 0.01, 1.0e4  # search bracket of the pattern's standard deviation (degrees)


def _f(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def power_dbm(power_w: ArrayLike) -> Array:
    """Transmit power in dBm: ``P_dBm = 10 log10(P_W) + 30``.

    Non-positive powers give ``nan`` (the caller reports such cells as unusable).
    """
    p = _f(power_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, 10.0 * np.log10(np.where(p > 0, p, 1.0)) + 30.0, np.nan)


def wrap_deg(angle: ArrayLike) -> Array:
    """Wrap angles to ``(-180, 180]`` degrees."""
    a = _f(angle)
    w = np.mod(a + 180.0, 360.0) - 180.0
    return np.where(w == -180.0, 180.0, w)


def bearing_deg(dx: ArrayLike, dy: ArrayLike) -> Array:
    """Bearing of ``(dx, dy)`` clockwise from north in ``[0, 360)``: ``90 - atan2(dy, dx)``."""
    return np.mod(90.0 - np.degrees(np.arctan2(_f(dy), _f(dx))), 360.0)


def log_distance_strength_dbm(
    power_w: ArrayLike, distance_m: ArrayLike, ple: ArrayLike, *, min_distance_m: float = 0.01
) -> Array:
    """Log-distance received strength (dBm).

    ``S(r) = 10 log10(P_W) + 30 - 10 * ple * log10(r)``, ``r`` the 3-D distance in metres,
    floored at ``min_distance_m``. Source: mobloc ``signal_strength`` (distance term), MultiMNO
    cell footprint estimation.
    """
    r = np.maximum(_f(distance_m), min_distance_m)
    return power_dbm(power_w) - 10.0 * _f(ple) * np.log10(r)


# ---------------------------------------------------------------------------------------------
# Antenna pattern (mobloc normal-density model)


def _pattern_shape(angle: Array, sd: Array, db_back: Array) -> Array:
    # [phi(a) - phi(0)] * (-db_back) / [phi(0) - phi(180)]; the pdf constant cancels.
    a = np.minimum(np.abs(wrap_deg(angle)), 180.0)
    num = np.exp(-0.5 * (a / sd) ** 2) - 1.0
    den = 1.0 - np.exp(-0.5 * (180.0 / sd) ** 2)
    return num * (-db_back) / den


@lru_cache(maxsize=1024)
def _pattern_sd_scalar(beam_deg: float, db_back: float) -> float:
    half = beam_deg / 2.0
    if not (0.0 < half < 180.0) or not db_back < -3.0:
        return float("nan")

    def f(sd: float) -> float:
        return float(_pattern_shape(np.array(half), np.array(sd), np.array(db_back))) + 3.0

    lo, hi = f(_SD_MIN), f(_SD_MAX)
    if lo > 0.0:  # even the narrowest pattern loses less than 3 dB: beam too narrow to model
        return _SD_MIN
    if hi < 0.0:  # even the widest (quadratic) pattern loses more than 3 dB at beam/2
        return _SD_MAX
    return float(brentq(f, _SD_MIN, _SD_MAX, xtol=1e-9, rtol=1e-12))


def pattern_sd(beam_deg: ArrayLike, db_back: ArrayLike) -> Array:
    """Standard deviation (degrees) of the normal-density pattern for a 3-dB beam width.

    Solves ``L(beam/2; sd, db_back) = -3`` for ``sd`` with Brent's method, once per distinct
    ``(beam, db_back)`` (cached). When no exact solution exists (for ``db_back = -30`` beams
    wider than about 114 degrees the loss at ``beam/2`` is always below -3 dB) the closest
    achievable ``sd`` is used, as mobloc's lookup table does. Beams outside ``(0, 360)`` or
    ``db_back >= -3`` give ``nan``.

    Source: mobloc ``find_sd`` (here solved exactly, not looked up).
    """
    b = np.broadcast_arrays(_f(beam_deg), _f(db_back))
    pairs = np.stack([b[0].ravel(), b[1].ravel()], axis=1)
    if pairs.size == 0:
        return np.empty(b[0].shape)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    sds = np.array([_pattern_sd_scalar(float(w), float(k)) for w, k in uniq])
    return sds[inverse.ravel()].reshape(b[0].shape)


def pattern_loss_db(angle_deg: ArrayLike, *, beam_deg: ArrayLike, db_back: ArrayLike) -> Array:
    """Directional loss (dB, <= 0) of the normal-density antenna pattern.

    ``L(a) = [phi(a; 0, sd) - phi(0; 0, sd)] * (-db_back) / [phi(0; 0, sd) - phi(180; 0, sd)]``
    with ``phi`` the normal density, ``a`` wrapped to ``|a| <= 180`` and ``sd`` from
    :func:`pattern_sd`, so ``L(0) = 0``, ``L(beam/2) = -3`` and ``L(180) = db_back``.
    Source: mobloc ``signal_strength`` (radiation-pattern loss; not the 3GPP TR 38.901 pattern).
    """
    sd = pattern_sd(beam_deg, db_back)
    return _pattern_shape(_f(angle_deg), sd, _f(db_back))


def azimuth_loss_db(
    *,
    dx: ArrayLike,
    dy: ArrayLike,
    dz: ArrayLike,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
    beam_h_deg: ArrayLike,
    db_back: ArrayLike,
) -> Array:
    """Horizontal-pattern loss (dB), the azimuth measured in the tilted antenna plane.

    With ``a = r_xy sin(az)`` (across the boresight) and ``b = r_xy cos(az)`` (along it),
    ``az`` the tile's bearing minus the antenna azimuth, the tile vector is rotated into the
    antenna frame pitched down by ``tilt``: the component along the boresight is
    ``e = b cos(tilt) + dz sin(tilt)`` and the in-plane angle ``az2 = atan2(a, e)``; the loss is
    ``L(az2; sd_h, db_back)``. This is the exact projection onto the tilted plane (mobloc builds
    the same angle with a four-case construction in ``signal_strength``). With ``tilt = 0`` or
    ``dz = 0`` it reduces to ``L(az)``.
    """
    dx, dy, dz = _f(dx), _f(dy), _f(dz)
    az = np.radians(wrap_deg(bearing_deg(dx, dy) - _f(azimuth_deg)))
    r_xy = np.hypot(dx, dy)
    tilt = np.radians(_f(tilt_deg))
    a = r_xy * np.sin(az)
    e = r_xy * np.cos(az) * np.cos(tilt) + dz * np.sin(tilt)
    az2 = np.degrees(np.arctan2(a, e))
    return pattern_loss_db(az2, beam_deg=beam_h_deg, db_back=db_back)


def elevation_loss_db(
    *,
    dx: ArrayLike,
    dy: ArrayLike,
    dz: ArrayLike,
    tilt_deg: ArrayLike,
    beam_v_deg: ArrayLike,
    db_back: ArrayLike,
) -> Array:
    """Vertical-pattern loss (dB): ``L(gamma - tilt; sd_v, db_back)``.

    ``gamma = atan2(dz, r_xy)`` is the depression angle of the tile seen from the antenna.
    Source: mobloc ``signal_strength`` (vertical loss).
    """
    gamma = np.degrees(np.arctan2(_f(dz), np.hypot(_f(dx), _f(dy))))
    return pattern_loss_db(gamma - _f(tilt_deg), beam_deg=beam_v_deg, db_back=db_back)


def directional_loss_db(
    *,
    dx: ArrayLike,
    dy: ArrayLike,
    dz: ArrayLike,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
    beam_h_deg: ArrayLike,
    beam_v_deg: ArrayLike,
    azim_db_back: ArrayLike,
    elev_db_back: ArrayLike,
) -> Array:
    """Total directional loss (dB): azimuth loss + elevation loss (added, as in mobloc)."""
    return azimuth_loss_db(
        dx=dx,
        dy=dy,
        dz=dz,
        azimuth_deg=azimuth_deg,
        tilt_deg=tilt_deg,
        beam_h_deg=beam_h_deg,
        db_back=azim_db_back,
    ) + elevation_loss_db(
        dx=dx, dy=dy, dz=dz, tilt_deg=tilt_deg, beam_v_deg=beam_v_deg, db_back=elev_db_back
    )


def signal_strength_dbm(
    *,
    dx: ArrayLike,
    dy: ArrayLike,
    dz: ArrayLike,
    power_w: ArrayLike,
    ple: ArrayLike,
    directional: ArrayLike = False,
    azimuth_deg: ArrayLike | None = None,
    tilt_deg: ArrayLike | None = None,
    beam_h_deg: ArrayLike | None = None,
    beam_v_deg: ArrayLike | None = None,
    azim_db_back: ArrayLike | None = None,
    elev_db_back: ArrayLike | None = None,
    min_distance_m: float = 0.01,
) -> Array:
    """Received signal strength (dBm) of the nominal log-distance model with antenna pattern.

    ``S = 10 log10(P_W) + 30 - 10 ple log10(sqrt(dx^2 + dy^2 + dz^2))`` plus, where
    ``directional`` is true, :func:`directional_loss_db` (whose antenna parameters are then
    required). Source: mobloc ``signal_strength``, MultiMNO cell footprint estimation.
    """
    dx, dy, dz = _f(dx), _f(dy), _f(dz)
    s = log_distance_strength_dbm(
        power_w, np.sqrt(dx * dx + dy * dy + dz * dz), ple, min_distance_m=min_distance_m
    )
    directional = np.broadcast_to(np.asarray(directional, dtype=bool), s.shape)
    if not directional.any():
        return s
    pattern = {
        "azimuth_deg": azimuth_deg,
        "tilt_deg": tilt_deg,
        "beam_h_deg": beam_h_deg,
        "beam_v_deg": beam_v_deg,
        "azim_db_back": azim_db_back,
        "elev_db_back": elev_db_back,
    }
    missing = [k for k, v in pattern.items() if v is None]
    if missing:
        raise ValueError(f"directional cells need {missing}")
    loss = directional_loss_db(dx=dx, dy=dy, dz=dz, **pattern)
    return np.where(directional, s + loss, s)


def signal_dominance(strength_dbm: ArrayLike, *, midpoint_dbm: float, steepness: float) -> Array:
    """Signal dominance in ``(0, 1)``: ``1 / (1 + exp(-steepness (S - midpoint)))``.

    Source: mobloc ``db2s``, MultiMNO cell footprint, ESSnet simulator (Oancea et al. 2019), all
    with midpoint -92.5 dBm and steepness 0.2.
    """
    return 1.0 / (1.0 + np.exp(-steepness * (_f(strength_dbm) - midpoint_dbm)))


# ---------------------------------------------------------------------------------------------
# Empirical path-loss models


def _mobile_correction_db(f_mhz: Array, h_mobile_m: Array, large_city: Array) -> Array:
    lf = np.log10(f_mhz)
    medium = (1.1 * lf - 0.7) * h_mobile_m - (1.56 * lf - 0.8)
    large = np.where(
        f_mhz < 200.0,
        8.29 * np.log10(1.54 * h_mobile_m) ** 2 - 1.1,
        3.2 * np.log10(11.75 * h_mobile_m) ** 2 - 4.97,
    )
    return np.where(large_city, large, medium)


def _env_codes(environment: ArrayLike, shape: tuple[int, ...]) -> NDArray[np.str_]:
    env_arr = np.asarray(environment, dtype=str)
    env = np.broadcast_to(env_arr, np.broadcast_shapes(shape, env_arr.shape))
    bad = ~np.isin(env, HATA_ENVIRONMENTS)
    if bad.any():
        raise ValueError(
            f"environment {sorted(set(env[bad].tolist()))} not one of {HATA_ENVIRONMENTS}"
        )
    return env


def _hata_inputs(
    frequency_mhz: ArrayLike,
    h_base_m: ArrayLike,
    h_mobile_m: ArrayLike,
    distance_m: ArrayLike,
    environment: ArrayLike,
) -> tuple[Array, Array, Array, Array, NDArray[np.str_]]:
    # base height floored at 1 m, distance at 10 m (then in km); environment checked
    f = _f(frequency_mhz)
    h_b = np.maximum(_f(h_base_m), 1.0)
    h_m = _f(h_mobile_m)
    d_km = np.maximum(_f(distance_m), 10.0) / 1000.0
    shape = np.broadcast_shapes(f.shape, h_b.shape, h_m.shape, d_km.shape)
    return f, h_b, h_m, d_km, _env_codes(environment, shape)


def okumura_hata_path_loss_db(
    *,
    frequency_mhz: ArrayLike,
    h_base_m: ArrayLike,
    distance_m: ArrayLike,
    h_mobile_m: ArrayLike,
    environment: ArrayLike,
) -> Array:
    """Okumura-Hata path loss (dB), valid 150-1500 MHz, base 30-200 m, mobile 1-10 m, 1-20 km.

    ``L_u = 69.55 + 26.16 log f - 13.82 log h_B - a(h_M) + (44.9 - 6.55 log h_B) log d_km``;
    ``a(h_M)`` the large-city correction for ``metropolitan``, the small/medium-city one
    ``(1.1 log f - 0.7) h_M - (1.56 log f - 0.8)`` otherwise; ``suburban``:
    ``L_u - 2 (log(f/28))^2 - 5.4``; ``open``: ``L_u - 4.78 (log f)^2 + 18.33 log f - 40.94``.
    Outside the validity ranges the formula is extrapolated (distance floored at 10 m, base
    height at 1 m). Source: Hata (1980), as in Signal-Server ``models/hata.cc``.
    """
    f, h_b, h_m, d_km, env = _hata_inputs(
        frequency_mhz, h_base_m, h_mobile_m, distance_m, environment
    )
    lf = np.log10(f)
    l_u = (
        69.55
        + 26.16 * lf
        - 13.82 * np.log10(h_b)
        - _mobile_correction_db(f, h_m, env == "metropolitan")
        + (44.9 - 6.55 * np.log10(h_b)) * np.log10(d_km)
    )
    return np.select(
        [env == "suburban", env == "open"],
        [l_u - 2.0 * np.log10(f / 28.0) ** 2 - 5.4, l_u - 4.78 * lf**2 + 18.33 * lf - 40.94],
        default=l_u,
    )


def cost231_path_loss_db(
    *,
    frequency_mhz: ArrayLike,
    h_base_m: ArrayLike,
    distance_m: ArrayLike,
    h_mobile_m: ArrayLike,
    environment: ArrayLike,
) -> Array:
    """COST-231 Hata path loss (dB), valid 1500-2000 MHz, 1-20 km.

    ``L = 46.3 + 33.9 log f - 13.82 log h_B - a(h_M) + (44.9 - 6.55 log h_B) log d_km + C_m``,
    ``a(h_M) = (1.1 log f - 0.7) h_M - (1.56 log f - 0.8)``, ``C_m = 3`` dB for
    ``metropolitan``, 0 otherwise (the model has no separate open-area correction).
    Extrapolated outside its ranges (distance floored at 10 m). Source: COST Action 231 final
    report (1999), COST-231 Hata model.
    """
    f, h_b, h_m, d_km, env = _hata_inputs(
        frequency_mhz, h_base_m, h_mobile_m, distance_m, environment
    )
    lf = np.log10(f)
    return (
        46.3
        + 33.9 * lf
        - 13.82 * np.log10(h_b)
        - _mobile_correction_db(f, h_m, np.zeros(env.shape, dtype=bool))
        + (44.9 - 6.55 * np.log10(h_b)) * np.log10(d_km)
        + np.where(env == "metropolitan", 3.0, 0.0)
    )


def empirical_path_loss_db(
    *,
    frequency_mhz: ArrayLike,
    h_base_m: ArrayLike,
    distance_m: ArrayLike,
    h_mobile_m: ArrayLike,
    environment: ArrayLike,
) -> Array:
    """Path loss (dB) chosen by frequency: Okumura-Hata below 1500 MHz, COST-231 from 1500 MHz.

    Frequencies outside 150-2000 MHz extrapolate the nearer model (e.g. 2600 MHz LTE or 3500 MHz
    5G use COST-231). Sources: Hata (1980); COST Action 231 final report (1999).
    """
    kw = {
        "frequency_mhz": frequency_mhz,
        "h_base_m": h_base_m,
        "distance_m": distance_m,
        "h_mobile_m": h_mobile_m,
        "environment": environment,
    }
    return np.where(
        _f(frequency_mhz) < 1500.0, okumura_hata_path_loss_db(**kw), cost231_path_loss_db(**kw)
    )


def empirical_strength_dbm(
    *,
    power_w: ArrayLike,
    frequency_mhz: ArrayLike,
    h_base_m: ArrayLike,
    distance_m: ArrayLike,
    h_mobile_m: ArrayLike,
    environment: ArrayLike,
) -> Array:
    """Received strength (dBm) = ``P_dBm`` - :func:`empirical_path_loss_db` (no antenna gains;
    add :func:`directional_loss_db` for directional cells)."""
    return power_dbm(power_w) - empirical_path_loss_db(
        frequency_mhz=frequency_mhz,
        h_base_m=h_base_m,
        distance_m=distance_m,
        h_mobile_m=h_mobile_m,
        environment=environment,
    )
