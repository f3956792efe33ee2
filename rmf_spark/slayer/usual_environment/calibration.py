"""From resident devices to residents per zone, calibrated to the statistical office's register,
with a 95 % interval.

Notes
-----
Per zone ``z`` of region ``r``: ``D_z`` resident devices (:mod:`~.residents`, fractional),
``R_z`` the register's residents, ``s_r`` the MNO's market share.

*Baseline* (MultiMNO): ``ratio_z = D_z / s_r``.

*Model* (empirical Bayes, Poisson-Gamma; the register is the prior, the devices a thinned
count). Unknown residents ``N_z``:

    N_z            ~ Gamma(shape a, rate a / R_z),  a = 1 / c^2     (mean R_z, cv c)
    D_z | N_z      has mean pi_r N_z and variance g_z pi_r N_z       (quasi-Poisson)
    pi_r           = s_r k_r                                         (detection rate)
    g_z            = phi + psi pi_r R_z                              (dispersion)
    N_z | D_z      ~ Gamma(a + D_z / g_z, a / R_z + pi_r / g_z)

``c`` is the register's relative error (``register_cv``, given: two noisy measures of one
truth cannot tell whose noise is whose). ``k_r``, the share of the MNO's residents that the
labels place in their region at all (devices without a home, a home outside the territory,
several devices per person), comes from the register's regional total,
``k_r = sum_z D_z / (s_r sum_z R_z)`` (``detection = 'region'``; ``'territory'``: one ``k``;
``'market_share'``: ``k = 1``). ``phi`` (a binomial thinning has ``1 - pi``) and ``psi`` (an
error proportional to the zone, e.g. homes placed in the next zone) are fitted by the moments
of ``e_z = D_z - pi_r R_z``: ``E e_z^2 = phi A1_z + (psi + c^2) A2_z`` with ``A1, A2`` the
variances ``pi R`` and ``(pi R)^2`` corrected for ``k_r`` being fitted to the same zones
(``(1 - 2 h_z) x_z + h_z^2 sum_r x``, ``h_z = R_z / sum_r R``), by non-negative least squares
weighted by the inverse squared variance, iterated; ``phi >= min_dispersion``.

The estimate is the posterior mean ``(a + D/g) / (a/R + pi/g)``, a precision-weighted mean of
``R_z`` and ``D_z / pi_r``; the interval the posterior's quantiles. A region's figures sum its
zones, its interval that of a Gamma with the summed mean and variance (zones independent).
The model ignores the uncertainty of ``k_r`` and ``s_r``; it is wrong when the register is
biased, not noisy (the estimate follows it), when ``c`` is far from the truth (the intervals
follow ``c``), and when a region has one zone (``k_r`` makes it equal the register).

Fallbacks, in the ``fallback`` column and :meth:`CalibrationResult.summary`:
``register_missing`` (``missing_register = 'devices_only'``: a flat prior, ``a = 1, rate
0``, as the ESSnet's inference package), ``register_missing_as_zero`` (``'zero'``),
``register_zero_with_devices`` (the register says 0: so does the model, whatever the
devices), ``no_detection`` (no resident device in the region: the register alone),
``no_information`` (neither).

This module imports no numpy, pandas or Spark until a function runs: its settings section is
part of the profile, which loads without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from rmf_spark.config_base import Section
from rmf_spark.errors import InputDataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark.sql import DataFrame

__all__ = [
    "CALIBRATED_RESIDENTS_DDL",
    "CalibrationResult",
    "CalibrationSettings",
    "calibrate_residents",
    "calibrate_zones",
]

#: one row per zone (level ``zone_<zone_level>``) and per region (``zone_<region_level>``)
CALIBRATED_RESIDENTS_DDL = (
    "level string, area_id string, region_id string, devices double, register double, "
    "share double, detection_rate double, ratio_population double, population double, "
    "population_sd double, population_lower double, population_upper double, fallback string"
)
_ZONE, _REGION, _DEVICES, _RESIDENTS, _SHARE = (
    "zone_id",
    "region_id",
    "devices",
    "residents",
    "share",
)
_MEASURES = (
    "devices", "register", "share", "detection_rate", "ratio_population", "population",
    "population_sd", "population_lower", "population_upper", "fallback",
)  # fmt: skip


class CalibrationSettings(Section):
    """Residents per zone calibrated to the register: the model's inputs and fallbacks."""

    zone_level: int = Field(
        2, ge=1, description="tile_zone zone_level of the register's zones (municipalities)"
    )
    register_cv: float = Field(
        0.03,
        gt=0,
        le=1,
        description=(
            "relative standard error of the register per zone (coverage errors of a "
            "population register: a few per cent); the prior's coefficient of variation"
        ),
    )
    detection: Literal["region", "territory", "market_share"] = Field(
        "region",
        description=(
            "devices per resident: the market share times a factor fitted to the register's "
            "total of each region ('region') or of the territory ('territory'), or the "
            "market share as it is ('market_share')"
        ),
    )
    interval_level: float = Field(0.95, gt=0, lt=1, description="coverage of the intervals")
    min_dispersion: float = Field(
        0.5,
        gt=0,
        le=100,
        description=(
            "floor of the fitted dispersion phi (variance of the devices over their mean): "
            "0.5 is a binomial thinning of half the residents"
        ),
    )
    missing_register: Literal["error", "zero", "devices_only"] = Field(
        "error",
        description=(
            "a zone of the grid absent from the register: an error, 0 registered residents, "
            "or an estimate from the devices alone (flat prior)"
        ),
    )
    unknown_register_zone: Literal["error", "ignore"] = Field(
        "error",
        description="a register zone the grid does not know: an error, or left out (recorded)",
    )


@dataclass(frozen=True)
class CalibrationResult:
    """The calibrated residents per zone and region (pandas), and the fitted model.

    ``zones`` has ``zone_id, region_id`` and ``regions`` has ``region_id``, both followed by
    the measures of :data:`CALIBRATED_RESIDENTS_DDL`. ``dispersion`` is ``phi``,
    ``proportional`` ``psi`` and ``detection_factor`` ``k_r`` per region (module notes);
    ``notes`` says what was not fitted as documented and ``ignored_zones`` lists the
    register's zones left out.
    """

    zones: pd.DataFrame
    regions: pd.DataFrame
    dispersion: float
    proportional: float
    detection_factor: dict[str, float]
    notes: tuple[str, ...] = ()
    ignored_zones: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """What a manifest records: the fitted parameters and the zones per fallback.

        >>> import pandas as pd
        >>> z = pd.DataFrame({"zone_id": ["m1"], "fallback": ["register_missing"]})
        >>> CalibrationResult(z, z, 1.0, 0.0, {"r1": 0.9}).summary()["fallbacks"]
        {'register_missing': ['m1']}
        """
        used = self.zones.dropna(subset=["fallback"])
        return {
            "model": "poisson_gamma_register_prior",
            "dispersion": self.dispersion,
            "proportional": self.proportional,
            "detection_factor": dict(self.detection_factor),
            "fallbacks": {str(k): sorted(map(str, g[_ZONE])) for k, g in used.groupby("fallback")},
            "ignored_register_zones": list(self.ignored_zones),
            "notes": list(self.notes),
        }


def _named(keys: Any, most: int = 5) -> str:
    keys = sorted(map(str, keys))
    more = f" and {len(keys) - most} more" if len(keys) > most else ""
    return ", ".join(keys[:most]) + more


def _unique(df: pd.DataFrame, key: str, table: str, code: str) -> None:
    dup = df[key][df[key].duplicated()]
    if len(dup):
        raise InputDataError(
            f"{table}: {key} {_named(dup.unique())} appear more than once; one row per {key}",
            code=code,
        )


def _with_register(
    zones: pd.DataFrame, register: pd.DataFrame, settings: CalibrationSettings
) -> tuple[pd.DataFrame, list[str]]:
    """``zones`` with ``register`` and ``fallback`` columns; the register's unknown zones."""
    reg = register[[_ZONE, _RESIDENTS]].copy()
    reg[_ZONE] = reg[_ZONE].astype(str)
    _unique(reg, _ZONE, "register", "REGISTER_ZONE_DUPLICATE")
    bad = reg[~(reg[_RESIDENTS].astype(float) >= 0)]
    if len(bad):
        raise InputDataError(
            f"register: residents null or negative for zone_id {_named(bad[_ZONE])}",
            code="REGISTER_VALUE_INVALID",
        )
    unknown = sorted(set(reg[_ZONE]) - set(zones[_ZONE]))
    if unknown and settings.unknown_register_zone == "error":
        raise InputDataError(
            f"register: zone_id {_named(unknown)} not among the grid's zones of level "
            f"{settings.zone_level} (tile_zone); fix the register or set the calibration "
            "section's unknown_register_zone = 'ignore'",
            code="REGISTER_ZONE_UNKNOWN",
        )
    table = zones.merge(
        reg.rename(columns={_RESIDENTS: "register"}), on=_ZONE, how="left", validate="1:1"
    )
    table["register"] = table["register"].astype(float)
    missing = table["register"].isna()
    if missing.any() and settings.missing_register == "error":
        raise InputDataError(
            f"register: no row for zone_id {_named(table.loc[missing, _ZONE])} of the grid "
            f"(tile_zone level {settings.zone_level}); complete the register or set the "
            "calibration section's missing_register to 'zero' or 'devices_only'",
            code="REGISTER_ZONE_MISSING",
        )
    table["fallback"] = None
    if settings.missing_register == "zero":
        table.loc[missing, "register"] = 0.0
        table.loc[missing, "fallback"] = "register_missing_as_zero"
    else:
        table.loc[missing, "fallback"] = "register_missing"
    return table, unknown


def _with_share(table: pd.DataFrame, market_share: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the ``share`` of each zone's region, every zone with one in (0, 1]."""
    shares = market_share[[_REGION, _SHARE]].copy()
    shares[_REGION] = shares[_REGION].astype(str)
    _unique(shares, _REGION, "market share", "MARKET_SHARE_DUPLICATE")
    table = table.merge(shares, on=_REGION, how="left")
    no_share = table[table[_SHARE].isna() | table[_REGION].isna()]
    if len(no_share):
        regions = no_share[_REGION].fillna("<none>").unique()
        raise InputDataError(
            f"market share: no share for region_id {_named(regions)} (zones "
            f"{_named(no_share[_ZONE])})",
            code="MARKET_SHARE_REGION_MISSING",
        )
    outside = table[~((table[_SHARE] > 0) & (table[_SHARE] <= 1))]
    if len(outside):
        raise InputDataError(
            f"market share: share outside (0, 1] for region_id {_named(outside[_REGION].unique())}",
            code="MARKET_SHARE_INVALID",
        )
    return table


def _inputs(
    zone_devices: pd.DataFrame,
    register: pd.DataFrame,
    market_share: pd.DataFrame,
    settings: CalibrationSettings,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The per-zone table ``zone_id, region_id, devices, register, fallback, share``, checked;
    the notes and the register's zones left out."""
    zones = zone_devices[[_ZONE, _REGION, _DEVICES]].copy()
    zones[_ZONE] = zones[_ZONE].astype(str)
    zones[_DEVICES] = zones[_DEVICES].astype(float).fillna(0.0)
    _unique(zones, _ZONE, "zone devices", "ZONE_DUPLICATE")
    negative = zones[zones[_DEVICES] < 0]
    if len(negative):
        raise InputDataError(
            f"zone devices: negative devices in zone_id {_named(negative[_ZONE])}",
            code="ZONE_DEVICES_INVALID",
        )
    table, unknown = _with_register(zones, register, settings)
    notes = [f"{len(unknown)} register zones unknown to the grid left out"] if unknown else []
    return _with_share(table, market_share), notes, unknown


def _groups(table: pd.DataFrame, mode: str) -> pd.Series:
    """The zones sharing one detection factor: a region, the territory, or none (``''``)."""
    if mode == "region":
        return table[_REGION].astype(str)
    return table[_REGION].astype(str).map(lambda _: "all" if mode == "territory" else "")


def _detection_factors(table: pd.DataFrame, groups: pd.Series, notes: list[str]) -> np.ndarray:
    """``k`` per zone: devices over the share times the register, summed over its group of
    registered zones (module notes); 1 for ``detection = 'market_share'``."""
    import numpy as np

    R = table["register"].to_numpy(float)
    registered = np.isfinite(R)
    d = np.where(registered, table[_DEVICES].to_numpy(float), 0.0)
    m = np.where(registered, table[_SHARE].to_numpy(float) * np.nan_to_num(R), 0.0)
    if (groups == "").all():
        return np.ones(len(table))
    if m.sum() <= 0:
        notes.append("no registered residents: detection factor 1 (the market share)")
        return np.ones(len(table))
    sums = table.assign(_d=d, _m=m).groupby(groups.to_numpy())[["_d", "_m"]].transform("sum")
    alone = (sums["_m"] <= 0).to_numpy()
    for g in sorted(set(groups[alone])):
        notes.append(f"region {g}: no registered residents, the territory's factor used")
    return np.where(alone, d.sum() / m.sum(), sums["_d"] / np.where(alone, 1.0, sums["_m"]))


def _fit_dispersion(
    devices: np.ndarray,
    x1: np.ndarray,
    groups: np.ndarray,
    settings: CalibrationSettings,
    notes: list[str],
) -> tuple[float, float]:
    """``phi, psi`` by weighted non-negative least squares of the squared residuals of the
    registered, detected zones ``x1 = pi R`` (module notes)."""
    import numpy as np
    import pandas as pd
    from scipy.optimize import nnls

    grouped = pd.DataFrame({"x1": x1, "x2": x1**2}).groupby(groups)
    if (groups != "").all():  # k fitted to the group: a zone alone in it tells nothing
        keep = (grouped["x1"].transform("size") > 1).to_numpy()
        devices, x1, groups = devices[keep], x1[keep], groups[keep]
        grouped = pd.DataFrame({"x1": x1, "x2": x1**2}).groupby(groups)
    if len(x1) < 3:
        notes.append("fewer than 3 zones to fit the dispersion: phi = 1, psi = 0 (Poisson)")
        return 1.0, 0.0
    totals = grouped.transform("sum").to_numpy()
    h = x1 / totals[:, 0] if (groups != "").all() else np.zeros(len(x1))
    x = np.column_stack([x1, x1**2])
    A = (1 - 2 * h)[:, None] * x + (h**2)[:, None] * totals
    e2 = (devices - x1) ** 2
    c2 = settings.register_cv**2
    theta = np.array([1.0, c2])
    for _ in range(50):
        v = np.maximum(A @ theta, 1e-12)
        new, _ = nnls(A / v[:, None], e2 / v)
        done = np.allclose(new, theta, rtol=1e-6, atol=1e-12)
        theta = new
        if done:
            break
    return max(float(theta[0]), settings.min_dispersion), max(float(theta[1]) - c2, 0.0)


def _posterior(
    D: np.ndarray,
    R: np.ndarray,
    pi: np.ndarray,
    phi: float,
    psi: float,
    settings: CalibrationSettings,
) -> dict[str, np.ndarray]:
    """Posterior mean, sd and interval per zone; ``zero`` (register 0) and ``none`` (no
    information) masks."""
    import numpy as np

    has_reg = np.isfinite(R) & (R > 0)
    detected = pi > 0
    n_hat = np.where(has_reg, np.nan_to_num(R), D / np.where(detected, pi, 1.0) * detected)
    g = phi + psi * pi * n_hat
    a0 = 1 / settings.register_cv**2
    a = np.where(has_reg, a0, 1.0)  # a flat prior where the register is missing
    b = np.where(has_reg, a0 / np.where(has_reg, R, 1.0), 0.0)
    shape, rate = a + D / g, b + pi / g
    zero = np.isfinite(R) & (R == 0)
    none = ~zero & ~(rate > 0)
    safe = np.where(zero | none, 1.0, rate)
    lower, upper = _gamma_interval(np.where(zero | none, 0, shape), rate, settings.interval_level)
    nan = np.where(none, np.nan, 0.0)
    return {
        "population": np.where(zero, 0.0, shape / safe) + nan,
        "population_sd": np.where(zero, 0.0, np.sqrt(shape) / safe) + nan,
        "population_lower": lower + nan,
        "population_upper": upper + nan,
        "zero": zero,
        "none": none,
    }


def _gamma_interval(
    shape: np.ndarray, rate: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    from scipy.stats import gamma

    q = (1 - level) / 2
    ok = (shape > 0) & (rate > 0)
    s, r = np.where(ok, shape, 1.0), np.where(ok, rate, 1.0)
    lower = np.where(ok, gamma.ppf(q, s, scale=1 / r), 0.0)
    upper = np.where(ok, gamma.ppf(1 - q, s, scale=1 / r), 0.0)
    return lower, upper


def _regions(zones: pd.DataFrame, level: float) -> pd.DataFrame:
    """Regions' sums, their interval from a Gamma with the summed mean and variance."""
    import numpy as np

    z = zones.assign(_var=zones["population_sd"] ** 2)
    g = z.groupby(_REGION, sort=True)
    out = g[[_DEVICES, "ratio_population"]].sum()
    for col in ("register", "population", "_var"):
        out[col] = g[col].sum(min_count=1).where(~g[col].apply(lambda s: s.isna().any()))
    out[_SHARE] = g[_SHARE].first()
    out["detection_rate"] = g["detection_rate"].first()
    out["fallback"] = g["fallback"].apply(lambda s: ",".join(sorted(set(s.dropna()))) or None)
    mean, var = out["population"].to_numpy(float), out["_var"].to_numpy(float)
    point = ~(var > 0)
    lower, upper = _gamma_interval(
        np.where(point, 0.0, mean**2 / np.where(point, 1.0, var)),
        np.where(point, 0.0, mean / np.where(point, 1.0, var)),
        level,
    )
    out["population_sd"] = np.sqrt(var)
    out["population_lower"] = np.where(point, mean, lower)
    out["population_upper"] = np.where(point, mean, upper)
    return out.reset_index()[[_REGION, *_MEASURES]]


def calibrate_zones(
    zone_devices: pd.DataFrame,
    *,
    register: pd.DataFrame,
    market_share: pd.DataFrame,
    settings: CalibrationSettings,
) -> CalibrationResult:
    """Residents per zone from resident devices and the register, with an interval (pandas).

    Parameters
    ----------
    zone_devices
        ``zone_id, region_id, devices``: every zone of the grid at ``settings.zone_level``
        (devices 0 or null where none), with the region of its market share.
    register
        ``zone_id, residents``: the office's residents per zone of that level.
    market_share
        ``region_id, share`` of this MNO.
    settings
        The ``calibration`` section.

    Returns
    -------
    CalibrationResult
        Per zone and per region: the scalar ratio ``D / s``, the model's estimate, standard
        deviation and interval, and the fallback taken (module notes).

    Raises
    ------
    rmf_spark.errors.InputDataError
        ``REGISTER_ZONE_MISSING`` / ``REGISTER_ZONE_UNKNOWN`` (unless the settings allow
        them), ``REGISTER_ZONE_DUPLICATE``, ``REGISTER_VALUE_INVALID``,
        ``MARKET_SHARE_REGION_MISSING``, ``MARKET_SHARE_DUPLICATE``, ``MARKET_SHARE_INVALID``,
        ``ZONE_DUPLICATE``, ``ZONE_DEVICES_INVALID``: each names the table and the keys.

    Examples
    --------
    >>> import pandas as pd
    >>> zones = pd.DataFrame({"zone_id": ["m1", "m2", "m3"], "region_id": "r1",
    ...                       "devices": [330.0, 170.0, 900.0]})
    >>> register = pd.DataFrame({"zone_id": ["m1", "m2", "m3"], "residents": [1000, 500, 2500]})
    >>> res = calibrate_zones(zones, register=register, settings=CalibrationSettings(),
    ...     market_share=pd.DataFrame({"region_id": ["r1"], "share": [0.4]}))
    >>> cols = ["zone_id", "ratio_population", "population", "population_lower",
    ...         "population_upper"]
    >>> for row in res.zones[cols].round(0).values.tolist():  # k = 1400 / (0.4 * 4000)
    ...     print(row)
    ['m1', 825.0, 987.0, 936.0, 1039.0]
    ['m2', 425.0, 498.0, 471.0, 525.0]
    ['m3', 2250.0, 2520.0, 2397.0, 2647.0]
    """
    import numpy as np
    import pandas as pd

    notes: list[str] = []
    table, more, unknown = _inputs(zone_devices, register, market_share, settings)
    notes += more
    groups = _groups(table, settings.detection)
    k = _detection_factors(table, groups, notes)
    D = table[_DEVICES].to_numpy(float)
    R = table["register"].to_numpy(float)
    s = table[_SHARE].to_numpy(float)
    pi = s * k
    fit = np.isfinite(R) & (R > 0) & (pi > 0)
    phi, psi = _fit_dispersion(
        D[fit], pi[fit] * R[fit], groups.to_numpy(object)[fit], settings, notes
    )
    post = _posterior(D, R, pi, phi, psi, settings)

    fallback = pd.Series(table["fallback"].to_numpy(object))
    fallback[post["zero"] & (D > 0) & fallback.isna().to_numpy()] = "register_zero_with_devices"
    fallback[np.isfinite(R) & (R > 0) & ~(pi > 0)] = "no_detection"
    fallback[post["none"]] = "no_information"
    zones = table.assign(
        detection_rate=pi,
        ratio_population=D / s,
        **{c: post[c] for c in _MEASURES if c.startswith("population")},
        fallback=fallback.where(fallback.notna(), None).to_numpy(object),
    )[[_ZONE, _REGION, *_MEASURES]]
    return CalibrationResult(
        zones=zones.reset_index(drop=True),
        regions=_regions(zones, settings.interval_level),
        dispersion=phi,
        proportional=psi,
        detection_factor=dict(zip(table[_REGION].astype(str), k.tolist(), strict=True)),
        notes=tuple(notes),
        ignored_zones=tuple(unknown),
    )


def calibrate_residents(
    residents: DataFrame,
    *,
    tile_zone: DataFrame,
    register: DataFrame,
    market_share: DataFrame,
    region_level: int,
    settings: CalibrationSettings,
) -> tuple[DataFrame, CalibrationResult]:
    """:func:`calibrate_zones` for Spark callers: residents per zone and region, calibrated.

    The per-zone table is small (thousands of zones): it is collected, fitted with numpy and
    returned as a DataFrame.

    Parameters
    ----------
    residents
        :func:`~.residents.compute_residents` rows without keys (``level, area_id,
        devices``, ...); only the level ``zone_<settings.zone_level>`` is read.
    tile_zone
        C-layer ``tile_zone``: its zones of ``settings.zone_level`` are the grid's zones; a
        zone's region is the ``region_level`` zone holding most of its tiles.
    register
        ``zone_id, residents`` and, optionally, ``zone_level`` (the synthetic world's
        ``reference/register``).
    market_share
        ``region_id, share`` of this MNO.
    region_level
        The ``zone_level`` of the share's regions.
    settings
        The ``calibration`` section.

    Returns
    -------
    tuple
        The DataFrame :data:`CALIBRATED_RESIDENTS_DDL` (zones and regions) and the
        :class:`CalibrationResult` (for the manifest: :meth:`~CalibrationResult.summary`).
    """
    import pandas as pd
    from pyspark.sql import functions as F

    from rmf_spark.clayer.schemas import TILE_ID, ZONE_ID, ZONE_LEVEL
    from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, LEVEL, zone_level_name

    spark = residents.sparkSession
    level = settings.zone_level
    zone_tiles = tile_zone.where(F.col(ZONE_LEVEL) == level).select(TILE_ID, ZONE_ID)
    region_tiles = tile_zone.where(F.col(ZONE_LEVEL) == region_level).select(
        TILE_ID, F.col(ZONE_ID).alias(_REGION)
    )
    pairs = (
        zone_tiles.join(region_tiles, TILE_ID, "left")
        .groupBy(ZONE_ID, _REGION)
        .agg(F.count("*").alias("_n"))
        .toPandas()
        .sort_values([ZONE_ID, "_n", _REGION], ascending=[True, False, True], na_position="last")
        .drop_duplicates(ZONE_ID)
    )
    devices = (
        residents.where(F.col(LEVEL) == zone_level_name(level))
        .groupBy(F.col(AREA_ID).alias(ZONE_ID))
        .agg(F.sum(DEVICES).alias(DEVICES))
        .toPandas()
    )
    zones = pairs[[ZONE_ID, _REGION]].merge(devices, on=ZONE_ID, how="left")
    outside = sorted(set(devices[ZONE_ID]) - set(zones[ZONE_ID]))
    if outside:
        raise InputDataError(
            f"residents: area_id {_named(outside)} of level {zone_level_name(level)} not in "
            "tile_zone: the residents and the tile_zone come from different grids",
            code="ZONE_UNKNOWN",
        )
    if ZONE_LEVEL in register.columns:
        register = register.where(F.col(ZONE_LEVEL) == level)
    result = calibrate_zones(
        zones,
        register=register.select(ZONE_ID, _RESIDENTS).toPandas(),
        market_share=market_share.select(_REGION, _SHARE).toPandas(),
        settings=settings,
    )
    rows = pd.concat(
        [
            result.zones.rename(columns={ZONE_ID: AREA_ID}).assign(
                **{LEVEL: zone_level_name(level)}
            ),
            result.regions.assign(
                **{LEVEL: zone_level_name(region_level), AREA_ID: result.regions[_REGION]}
            ),
        ],
        ignore_index=True,
    )
    columns = [c.split()[0] for c in CALIBRATED_RESIDENTS_DDL.split(", ")]
    rows = rows[columns].astype({c: float for c in _MEASURES if c != "fallback"})
    rows = rows.astype(object).where(rows.notna(), None)
    return spark.createDataFrame(rows, CALIBRATED_RESIDENTS_DDL), result
