"""Cell plans: typed, range-checked, imputed from per-cell-type defaults, or quarantined.

Notes
-----
Default physical properties per cell type follow MultiMNO's ``default_cell_physical_properties``
(``../shared/reference/methodology.md`` section 2.2, "Cell footprint", step 1):

========== ======= ======== ===== ========== ======= ======= =======
cell_type  power_w range_m  PLE   height_m   tilt    beam_v  beam_h
========== ======= ======== ===== ========== ======= ======= =======
macro      10      10 000   3.75  30         5 deg   9 deg   65 deg
micro      5       1 000    6.0   8          5 deg   9 deg   65 deg
(other)    5       5 000    3.75  8          5 deg   9 deg   65 deg
========== ======= ======== ===== ========== ======= ======= =======

A physical value that is missing or out of range is replaced by the default and its column
name is added to ``imputed``. ``path_loss_exponent`` always comes from the type default. A
directional cell without an azimuth is modelled as omnidirectional (``directional`` false,
``azimuth_deg`` in ``imputed``): quarantining it would lose every event it serves, and an omni
footprint of the right site and reach is a usable, if coarser, model. An azimuth outside
[0, 360] is an error (``CELL_BAD_AZIMUTH``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.profiles import CellsProfile
from rmf_spark.dlayer.validate import raw_col

__all__ = ["CELL_DEFAULTS", "with_cell_columns", "with_imputed_defaults"]

#: per cell type defaults; "default" applies to every other type
CELL_DEFAULTS: dict[str, dict[str, float]] = {
    "macro": {
        "power_w": 10.0,
        "range_m": 10_000.0,
        "path_loss_exponent": 3.75,
        "antenna_height_m": 30.0,
    },
    "micro": {
        "power_w": 5.0,
        "range_m": 1_000.0,
        "path_loss_exponent": 6.0,
        "antenna_height_m": 8.0,
    },
    "default": {
        "power_w": 5.0,
        "range_m": 5_000.0,
        "path_loss_exponent": 3.75,
        "antenna_height_m": 8.0,
    },
}
#: defaults shared by every cell type
COMMON_DEFAULTS = {"tilt_deg": 5.0, "beam_v_deg": 9.0, "beam_h_deg": 65.0}

#: valid range (inclusive lower unless noted) of each imputable physical column
_RANGES: dict[str, tuple[float, float, bool]] = {  # (low, high, low exclusive)
    "power_w": (0.0, 1e4, True),
    "range_m": (0.0, 1e5, True),
    "antenna_height_m": (0.0, 500.0, False),
    "tilt_deg": (-90.0, 90.0, False),
    "beam_h_deg": (0.0, 360.0, True),
    "beam_v_deg": (0.0, 180.0, True),
}


def _num(spec: CellsProfile, target: str) -> Column:
    name = spec.columns_map.get(target)
    if name is None:
        return F.lit(None).cast("double")
    v = raw_col(name).try_cast("double")
    return F.when(~F.isnan(v), v)


def _in_range(v: Column, low: float, high: float, low_exclusive: bool) -> Column:
    lo_ok = (v > low) if low_exclusive else (v >= low)
    return lo_ok & (v <= high)


def with_cell_columns(
    df: DataFrame,
    *,
    spec: CellsProfile,
    territory_bbox_3035: tuple[float, float, float, float] | None = None,
) -> DataFrame:
    """Typed bronze cell columns (before imputation) and ``reason_codes``.

    Parameters
    ----------
    df
        :func:`rmf_spark.dlayer.validate.with_raw_columns` output of a cell plan.
    spec
        The profile's ``[cells]`` table.
    territory_bbox_3035
        ``(xmin, ymin, xmax, ymax)`` in EPSG:3035 metres; cells outside are
        ``CELL_OUTSIDE_TERRITORY``. None: only coordinate ranges are checked.

    Returns
    -------
    DataFrame
        ``df`` plus the :data:`CELLS_SCHEMA` columns (physical ones null when missing or out of
        range; ``x, y`` in EPSG:3035 via ``ST_Transform``) and ``reason_codes``.
    """
    m = spec.columns_map
    s = {t: (raw_col(m[t]) if t in m else F.lit(None).cast("string")) for t in S_CELL_STRINGS}
    fmts = spec.date_formats
    vf = F.coalesce(*[F.to_date(F.try_to_timestamp(s["valid_from"], F.lit(f))) for f in fmts])
    vt = F.coalesce(*[F.to_date(F.try_to_timestamp(s["valid_to"], F.lit(f))) for f in fmts])
    if spec.coordinates == "wgs84":
        lat, lon = _num(spec, "latitude"), _num(spec, "longitude")
        coord_ok = lat.between(-90, 90) & lon.between(-180, 180)
        point = F.expr("ST_Transform(ST_Point(_lon, _lat), 'EPSG:4326', 'EPSG:3035')")
        x, y = F.expr("ST_X(_pt)"), F.expr("ST_Y(_pt)")
    else:
        x0, y0 = _num(spec, "x"), _num(spec, "y")
        coord_ok = x0.between(0, 1e8) & y0.between(0, 1e8)
        point = F.expr("ST_Transform(ST_Point(_x, _y), 'EPSG:3035', 'EPSG:4326')")
        lat, lon = F.expr("ST_Y(_pt)"), F.expr("ST_X(_pt)")
    directional_raw = F.lower(F.trim(s["directional"]))
    azimuth = _num(spec, "azimuth_deg")
    directional = F.coalesce(directional_raw.isin(*spec.directional_values), azimuth.isNotNull())
    az_ok = azimuth.between(0, 360)
    cell_type = F.regexp_replace(F.lower(F.trim(s["cell_type"])), "cell$", "")
    out = df.withColumn("_coord_ok", F.coalesce(coord_ok, F.lit(False)))
    if spec.coordinates == "wgs84":
        out = out.withColumn("_lat", lat).withColumn("_lon", lon)
        out = out.withColumn("_pt", F.when(F.col("_coord_ok"), point))
        out = out.withColumn("x", x).withColumn("y", y)
        out = out.withColumn("latitude", F.col("_lat")).withColumn("longitude", F.col("_lon"))
    else:
        out = out.withColumn("_x", x0).withColumn("_y", y0)
        out = out.withColumn("_pt", F.when(F.col("_coord_ok"), point))
        out = out.withColumn("latitude", lat).withColumn("longitude", lon)
        out = out.withColumn("x", F.col("_x")).withColumn("y", F.col("_y"))
    inside = F.lit(True)
    if territory_bbox_3035 is not None:
        xmin, ymin, xmax, ymax = territory_bbox_3035
        inside = F.col("x").between(xmin, xmax) & F.col("y").between(ymin, ymax)
    physical = {}
    for name, (lo, hi, excl) in _RANGES.items():
        v = _num(spec, name)
        physical[name] = F.when(_in_range(v, lo, hi, excl), v)
    freq = _num(spec, "frequency_mhz")
    checks = [
        (s["cell_id"].isNull(), S.CELL_MISSING_ID),
        (~F.col("_coord_ok"), S.CELL_BAD_COORDINATES),
        (F.col("_coord_ok") & ~F.coalesce(inside, F.lit(False)), S.CELL_OUTSIDE_TERRITORY),
        (directional & azimuth.isNotNull() & ~F.coalesce(az_ok, F.lit(False)), S.CELL_BAD_AZIMUTH),
        (
            (s["valid_from"].isNotNull() & vf.isNull())
            | (s["valid_to"].isNotNull() & vt.isNull())
            | F.coalesce(vt < vf, F.lit(False)),
            S.CELL_BAD_VALIDITY,
        ),
    ]
    field_reasons = F.array_compact(F.array(*[F.when(c, F.lit(code)) for c, code in checks]))
    structural = F.array_compact(
        F.array(
            F.when(~F.col("_encoding_ok"), F.lit(S.INVALID_ENCODING)),
            F.when(~F.col("_structure_ok"), F.lit(S.MALFORMED_ROW)),
        )
    )
    return out.select(
        "*",
        s["cell_id"].alias("cell_id"),
        vf.alias("valid_from"),
        vt.alias("valid_to"),
        _num(spec, "altitude_m").alias("altitude_m"),
        directional.alias("directional"),
        F.when(directional, F.when(az_ok, azimuth % 360)).alias("azimuth_deg"),
        *[v.alias(k) for k, v in physical.items()],
        F.when(freq > 0, freq).alias("frequency_mhz"),
        F.upper(F.trim(s["technology"])).alias("technology"),
        F.coalesce(cell_type, F.lit("unknown")).alias("cell_type"),
        F.when(F.size(structural) > 0, structural).otherwise(field_reasons).alias("reason_codes"),
    ).drop("_coord_ok", "_lat", "_lon", "_x", "_y", "_pt")


S_CELL_STRINGS = ("cell_id", "valid_from", "valid_to", "directional", "technology", "cell_type")


def with_imputed_defaults(df: DataFrame) -> DataFrame:
    """Fill missing physical values from :data:`CELL_DEFAULTS` and record them in ``imputed``.

    Parameters
    ----------
    df
        :func:`with_cell_columns` output (valid rows).

    Returns
    -------
    DataFrame
        Same columns, physical ones filled, plus ``path_loss_exponent`` double and
        ``imputed`` array<string> (names of the filled columns, in schema order;
        ``azimuth_deg`` when a directional cell without azimuth is made omnidirectional).
    """
    ctype = F.col("cell_type")

    def default(name: str) -> Column:
        if name in COMMON_DEFAULTS:
            return F.lit(COMMON_DEFAULTS[name])
        per = F.when(ctype == "macro", F.lit(CELL_DEFAULTS["macro"][name]))
        per = per.when(ctype == "micro", F.lit(CELL_DEFAULTS["micro"][name]))
        return per.otherwise(F.lit(CELL_DEFAULTS["default"][name]))

    names = list(_RANGES)
    no_azimuth = F.col("directional") & F.col("azimuth_deg").isNull()
    imputed = F.array_compact(
        F.array(
            F.when(no_azimuth, F.lit("azimuth_deg")),
            *[F.when(F.col(n).isNull(), F.lit(n)) for n in names],
        )
    )
    out = df.withColumn("imputed", imputed).withColumn(
        "directional", ~F.coalesce(no_azimuth, F.lit(False)) & F.col("directional")
    )
    for n in names:
        out = out.withColumn(n, F.coalesce(F.col(n), default(n)))
    return out.withColumn("path_loss_exponent", default("path_loss_exponent"))
