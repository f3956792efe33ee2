"""Cell plans: typed, range-checked and flagged, repaired from the plan itself, or quarantined.

Notes
-----
Each physical value is checked against its plausible range (:data:`rmf_spark.cellplan.PLAUSIBLE`,
the ranges the C-layer uses too); a value that is missing or out of range is ingested as null
and the column is named in ``imputed`` (columns the input profile maps; ``azimuth_deg`` for a
directional cell without one). The D-layer fills no radio default: a value the plan itself
cannot give stays null, and the C-layer gives it the cell type's default from
``[convergence.radio.<macro|micro|other>]`` (``DEFAULT:<column>`` in ``cell_version.issues``),
so a changed default takes effect without re-ingesting the plan.

Repairs that use only the plan (:func:`with_plan_repairs`), before that type default:

* the mast height, tilt and power (:data:`SITE_SHARED`), which the sectors of one site usually
  share, come from the median over the cells at the same coordinates (to the metre; each cell
  counted once, its plan versions included);
* a directional cell without an azimuth is kept (quarantining it would lose every event it
  serves): if another version of the same cell's plan has an azimuth, it takes the latest such;
  else, if its site's other sectors leave exactly one sector's gap, it takes the bisector of
  that gap. Sectors of a site are spread evenly (three at 120 degrees is the common layout), so
  when the known azimuths of the cells at the same coordinates (to the metre), merged within
  15 degrees, leave one gap between 1.75 and 2.25 times the mean of the other gaps, the missing
  sector points to its middle (e.g. known 10 and 130 give 250); otherwise (one known sector, a
  full site, an uneven layout) it is modelled as omnidirectional (``directional`` false): an
  omni footprint of the right site and reach is a usable, if coarser, model.

On the small synthetic world, 17 of the 20 such cells of the two MNOs get their planned
sector back; they serve 5 % (CDR MNO) and 12 % (signalling MNO) of the events. An azimuth
outside [0, 360] is an error (``CELL_BAD_AZIMUTH``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.cellplan import DEFAULTED, PLAUSIBLE
from rmf_spark.dlayer import schemas as S
from rmf_spark.dlayer.profiles import CellsProfile
from rmf_spark.dlayer.validate import raw_col

__all__ = ["SITE_SHARED", "with_cell_columns", "with_plan_repairs"]


def _num(spec: CellsProfile, target: str) -> Column:
    name = spec.columns_map.get(target)
    if name is None:
        return F.lit(None).cast("double")
    v = raw_col(name).try_cast("double")
    return F.when(~F.isnan(v), v)


def with_cell_columns(
    df: DataFrame,
    *,
    spec: CellsProfile,
    territory_bbox_3035: tuple[float, float, float, float] | None = None,
) -> DataFrame:
    """Typed, range-checked bronze cell columns, ``imputed`` and ``reason_codes``.

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
        range; ``x, y`` in EPSG:3035 via ``ST_Transform``; ``imputed`` names the mapped physical
        columns so nulled, and ``azimuth_deg`` for a directional cell without one) and
        ``reason_codes``.
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
    az_ok = PLAUSIBLE["azimuth_deg"].holds(azimuth)
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
    for n in DEFAULTED:
        v = _num(spec, n)
        physical[n] = F.when(PLAUSIBLE[n].holds(v), v)
    # a column the profile does not map is absent from every row: a property of the MNO's
    # layout, not of a row (the C-layer still gives it the type default)
    imputed = F.array_compact(
        F.array(
            F.when(directional & azimuth.isNull(), F.lit("azimuth_deg")),
            *[F.when(physical[n].isNull(), F.lit(n)) for n in DEFAULTED if n in m],
        )
    )
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
        F.upper(F.trim(s["technology"])).alias("technology"),
        F.coalesce(cell_type, F.lit("unknown")).alias("cell_type"),
        imputed.alias("imputed"),
        F.when(F.size(structural) > 0, structural).otherwise(field_reasons).alias("reason_codes"),
    ).drop("_coord_ok", "_lat", "_lon", "_x", "_y", "_pt")


S_CELL_STRINGS = ("cell_id", "valid_from", "valid_to", "directional", "technology", "cell_type")

_SITE_X, _SITE_Y, _SITE_AZIMUTH = "_site_x", "_site_y", "_site_azimuth"
_OWN_AZIMUTH = "_own_azimuth"
#: known azimuths of a site closer than this are one sector (multi-technology sectors)
_SAME_SECTOR_DEG = 15.0
#: the one missing sector's gap is this many times the mean of the other gaps (2 if even)
_GAP_RATIO = (1.75, 2.25)
#: physical values the sectors of one site (mast) usually share: a missing one is taken from
#: the site's other cells (the C-layer's per-type default comes after)
SITE_SHARED = ("antenna_height_m", "tilt_deg", "power_w")


def _site(name: str) -> str:
    return f"_site_{name}"


def _site_values(df: DataFrame) -> DataFrame:
    """Per site (``_site_x, _site_y``): ``_site_azimuth``, the azimuth of the site's one
    missing sector where the known azimuths imply it (module notes), and ``_site_<column>``,
    the median over the site's cells (each cell once, whatever its rows) of each
    :data:`SITE_SHARED` column."""
    lo, hi = _GAP_RATIO
    # gaps between consecutive known azimuths (sorted, circular); gaps under the merge angle
    # are two technologies of one sector and are left out
    gaps = (
        "if(size(_az) = 0, array(), "
        "filter(transform(sequence(0, size(_az) - 1), i -> named_struct("
        "'gap', if(i < size(_az) - 1, _az[i + 1] - _az[i], _az[0] + 360 - _az[i]), "
        f"'start', _az[i])), g -> g.gap >= {_SAME_SECTOR_DEG}))"
    )
    widest = "array_max(_gaps)"
    others = (
        f"if(size(_gaps) >= 2, (aggregate(_gaps, 0D, (acc, g) -> acc + g.gap) - {widest}.gap)"
        " / (size(_gaps) - 1), null)"
    )
    known_azimuth = F.when(F.col("directional"), F.col("azimuth_deg").cast("double"))
    site = [F.round("x").alias(_SITE_X), F.round("y").alias(_SITE_Y)]
    # one row per cell first: plan versions and repeated rows of a cell count once
    per_cell = df.groupBy(*site, "cell_id").agg(
        F.collect_set(known_azimuth).alias("_az"),
        *[F.median(n).alias(n) for n in SITE_SHARED],
    )
    return (
        per_cell.groupBy(_SITE_X, _SITE_Y)
        .agg(
            F.sort_array(F.array_distinct(F.flatten(F.collect_list("_az")))).alias("_az"),
            *[F.median(n).alias(_site(n)) for n in SITE_SHARED],
        )
        .withColumn("_gaps", F.expr(gaps))
        .select(
            _SITE_X,
            _SITE_Y,
            *[_site(n) for n in SITE_SHARED],
            F.expr(
                f"if(size(_gaps) >= 2 and {widest}.gap between {lo} * {others} and {hi} * {others},"
                f" pmod({widest}.start + {widest}.gap / 2, 360D), null)"
            ).alias(_SITE_AZIMUTH),
        )
    )


def _own_azimuths(df: DataFrame) -> DataFrame:
    """``cell_id, _own_azimuth``: a directional cell's azimuth in its latest plan version that
    has one (a version without an azimuth takes it before the site's gap is looked at)."""
    order = F.coalesce(F.col("valid_from"), F.lit("0001-01-01").cast("date"))
    known = df.where(F.col("directional") & F.col("azimuth_deg").isNotNull())
    return known.groupBy("cell_id").agg(F.max_by("azimuth_deg", order).alias(_OWN_AZIMUTH))


def with_plan_repairs(df: DataFrame) -> DataFrame:
    """Fill missing values that the plan itself gives (module notes); no type default.

    Parameters
    ----------
    df
        :func:`with_cell_columns` output (valid rows).

    Returns
    -------
    DataFrame
        Same columns: :data:`SITE_SHARED` columns filled from the site's median where the site
        has one; a directional cell without azimuth takes its own latest one or its site's
        missing sector, failing both it is made omnidirectional. What stays null gets the
        cell type's default in the C-layer. ``imputed`` is left as it is.
    """
    no_azimuth = F.col("directional") & F.col("azimuth_deg").isNull()
    versions = (
        df if "valid_from" in df.columns else df.withColumn("valid_from", F.lit(None).cast("date"))
    )
    out = (
        df.withColumn(_SITE_X, F.round("x"))
        .withColumn(_SITE_Y, F.round("y"))
        .join(_site_values(df), on=[_SITE_X, _SITE_Y], how="left")
        .join(_own_azimuths(versions), on="cell_id", how="left")
        .withColumn(
            "azimuth_deg",
            F.when(no_azimuth, F.coalesce(F.col(_OWN_AZIMUTH), F.col(_SITE_AZIMUTH))).otherwise(
                F.col("azimuth_deg")
            ),
        )
        .withColumn("directional", F.col("directional") & F.col("azimuth_deg").isNotNull())
    )
    for n in SITE_SHARED:
        out = out.withColumn(n, F.coalesce(F.col(n), F.col(_site(n))))
    return out.drop(_SITE_X, _SITE_Y, _SITE_AZIMUTH, _OWN_AZIMUTH, *[_site(n) for n in SITE_SHARED])
