"""Cell plan -> radio parameters, footprint version and usability (``clayer/cell_version``).

Every bronze cell-plan row is kept. This is the one place where a cell type's defaults
(``[convergence.radio.<macro|micro|other>]``) enter: a parameter the plan leaves empty (after
the D-layer's repairs from the plan itself) takes its type's default (``DEFAULT:<column>`` in
``issues``); one outside its plausible range (:data:`rmf_spark.cellplan.PLAUSIBLE`, the
D-layer's ranges, so only bronze written by other means has any) is replaced by it
(``FIXED:<column>``), as is a range above ``max_range_m``. Rows that cannot be modelled get
``usable = false`` and an upper-case reason code: ``NO_POSITION`` (x or y missing or not
finite), ``NO_AZIMUTH`` (directional without azimuth), ``BAD_AZIMUTH`` (outside [0, 360]),
``BAD_VALIDITY`` (valid_to before valid_from).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.cellplan import DEFAULTED, PLAUSIBLE
from rmf_spark.clayer import schemas
from rmf_spark.clayer.settings import CellTypeDefaults, PruningSettings, RadioSettings
from rmf_spark.errors import SchemaMismatchError

__all__ = ["RADIO_COLUMNS", "active_cells", "prepare_cells"]

#: Radio parameters carried from the prepared plan into the footprint computation.
RADIO_COLUMNS = (
    "x", "y", "antenna_height_m", "directional", "azimuth_deg", "tilt_deg", "beam_h_deg",
    "beam_v_deg", "azim_db_back", "elev_db_back", "power_w", "range_m", "path_loss_exponent",
    "frequency_mhz", "environment",
)  # fmt: skip


def _type_key() -> Column:
    t = F.lower(F.coalesce(F.col("cell_type"), F.lit("")))
    return F.when(t.startswith("macro"), "macro").when(t.startswith("micro"), "micro")


def _default(column: str, radio: RadioSettings) -> Column:
    def val(d: CellTypeDefaults) -> object:
        return getattr(d, column)

    k = _type_key()
    return (
        F.when(k == "macro", F.lit(val(radio.macro)))
        .when(k == "micro", F.lit(val(radio.micro)))
        .otherwise(F.lit(val(radio.other)))
    )


def prepare_cells(cells: DataFrame, *, radio: RadioSettings, pruning: PruningSettings) -> DataFrame:
    """Fill, check and version every cell-plan row.

    Parameters
    ----------
    cells
        ``bronze/cells`` (columns :data:`~rmf_spark.clayer.schemas.BRONZE_CELL_COLUMNS`).
    radio, pruning
        Settings; the per-type defaults fill the plan's gaps, and with the model settings they
        enter the footprint version, so changing them recomputes the footprints concerned.

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.clayer.schemas.CELL_VERSION` columns plus :data:`RADIO_COLUMNS`.
        ``footprint_version`` is the first 16 hex digits of SHA-256 over the cell id, every
        radio parameter after filling and the model settings: equal plans share a version, so
        a footprint is computed once per distinct plan, and only changed cells get new ones.
    """
    missing = [c for c in schemas.BRONZE_CELL_COLUMNS if c not in cells.columns]
    if missing:
        raise SchemaMismatchError(f"bronze cells lack columns {missing}", code="CELLS_COLUMNS")
    df = cells.select(*schemas.BRONZE_CELL_COLUMNS)
    issues: list[Column] = []
    values: dict[str, Column] = {}
    for col in DEFAULTED:  # every expression reads the bronze column: one select below
        c = F.col(col).cast("double")
        is_null = c.isNull() | F.isnan(c)
        bad = ~is_null & ~PLAUSIBLE[col].holds(c)
        issues.append(F.when(is_null, F.lit(f"DEFAULT:{col}")))
        issues.append(F.when(bad, F.lit(f"FIXED:{col}")))
        values[col] = F.when(is_null | bad, _default(col, radio)).otherwise(c).cast("double")
    cap = float(radio.max_range_m)
    issues.append(F.when(values["range_m"] > cap, F.lit("FIXED:range_m")))
    values["range_m"] = F.least(values["range_m"], F.lit(cap))
    # an azimuth has no default: an implausible one makes a directional cell unusable
    azimuth = F.col("azimuth_deg").cast("double")
    bad_azimuth = azimuth.isNotNull() & ~PLAUSIBLE["azimuth_deg"].holds(azimuth)
    df = df.select(
        *[c for c in df.columns if c not in values and c != "azimuth_deg"],
        *[v.alias(k) for k, v in values.items()],
        F.when(~bad_azimuth, F.pmod(azimuth, F.lit(360.0))).alias("azimuth_deg"),
        bad_azimuth.alias("_bad_azimuth"),
        F.filter(F.array(*issues), lambda v: v.isNotNull()).alias("_fixes"),
    )
    df = (
        df.withColumn("directional", F.coalesce(F.col("directional").cast("boolean"), F.lit(False)))
        .withColumn("azim_db_back", _default("azim_db_back", radio).cast("double"))
        .withColumn("elev_db_back", _default("elev_db_back", radio).cast("double"))
        .withColumn("environment", _default("environment", radio))
        .withColumn("x", F.col("x").cast("double"))
        .withColumn("y", F.col("y").cast("double"))
    )
    directional = F.col("directional")
    fatal = [
        (F.col("x").isNull() | F.col("y").isNull() | F.isnan("x") | F.isnan("y"), "NO_POSITION"),
        (directional & F.col("azimuth_deg").isNull() & ~F.col("_bad_azimuth"), "NO_AZIMUTH"),
        (directional & F.col("_bad_azimuth"), "BAD_AZIMUTH"),
        (F.col("valid_to") < F.col("valid_from"), "BAD_VALIDITY"),
    ]
    fatal_issues = F.filter(
        F.array(*[F.when(cond, F.lit(code)) for cond, code in fatal]), lambda v: v.isNotNull()
    )
    settings_key = (
        f"{radio.path_loss_model}|{radio.midpoint_dbm}|{radio.steepness}|"
        f"{radio.mobile_height_m}|{pruning.dominance_threshold}"
    )
    version = F.substring(
        F.sha2(
            F.concat_ws(
                "|",
                F.col("cell_id"),
                *[F.coalesce(F.col(c).cast("string"), F.lit("~")) for c in RADIO_COLUMNS],
                F.lit(settings_key),
            ),
            256,
        ),
        1,
        16,
    )
    return df.select(
        F.col("cell_id").cast("string").alias("cell_id"),
        F.col("valid_from").cast("date").alias("valid_from"),
        F.col("valid_to").cast("date").alias("valid_to"),
        version.alias("footprint_version"),
        (F.size(fatal_issues) == 0).alias("usable"),
        F.concat(fatal_issues, F.col("_fixes")).alias("issues"),
        *[c for c in RADIO_COLUMNS if c not in ("x", "y", "range_m")],
        "x",
        "y",
        "range_m",
    )


def active_cells(cell_version: DataFrame, *, date: str) -> DataFrame:
    """The plan row of each cell valid on ``date`` (``valid_from <= date <= valid_to``, null =
    open). If several rows of a cell are valid (overlapping intervals), the one with the latest
    ``valid_from`` is used (ties: the greatest ``footprint_version``), so a cell never appears
    twice in one day's probabilities."""
    d = F.lit(date).cast("date")
    valid = cell_version.where(
        (F.col("valid_from").isNull() | (F.col("valid_from") <= d))
        & (F.col("valid_to").isNull() | (F.col("valid_to") >= d))
    )
    w = Window.partitionBy("cell_id").orderBy(
        F.desc_nulls_last("valid_from"), F.desc("footprint_version")
    )
    return valid.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")
