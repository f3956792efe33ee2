"""Pruning across cells, P(cell | tile) and the per-cell posterior P(tile | cell).

Formulas (mobloc, Tennekes & Gootzen 2022; MultiMNO cell connection probability):

* ``P(c | g) = SD_cg / sum_{c' covering g} SD_c'g`` after pruning;
* ``P(g | c) = P(c | g) pi_g / sum_{g'} P(c | g') pi_g'`` with the prior ``pi`` uniform,
  network (``pi_g ∝ sum_c SD_cg``) or land use (``pi_g ∝ w(land_use_g)``). A global normalising
  constant of ``pi`` cancels, so the weights need not sum to one. When every tile of a cell has
  prior weight 0 the cell falls back to the uniform prior (so ``sum_g P(g | c) = 1`` always).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.settings import PriorSettings, PruningSettings
from rmf_spark.errors import InputDataError

__all__ = ["connection_probability", "land_use_prior", "prune"]


def prune(footprint: DataFrame, *, pruning: PruningSettings) -> DataFrame:
    """Keep, per tile, cells with dominance >= ``best_share`` x the tile's best, and at most
    ``max_cells_per_tile`` of them (highest dominance first; ties by ``cell_id``).

    ``footprint`` is :data:`~rmf_spark.clayer.schemas.CELL_FOOTPRINT` rows of the cell
    versions active on one date (the per-cell dominance threshold is already applied).
    """
    by_tile = Window.partitionBy("tile_id")
    ranked = Window.partitionBy("tile_id").orderBy(F.desc("signal_dominance"), "cell_id")
    out = footprint.withColumn("_rank", F.row_number().over(ranked)).withColumn(
        "_best", F.max("signal_dominance").over(by_tile)
    )
    cond = F.col("_rank") <= pruning.max_cells_per_tile
    if pruning.best_share > 0:
        cond = cond & (F.col("signal_dominance") >= F.lit(pruning.best_share) * F.col("_best"))
    return out.where(cond).drop("_rank", "_best")


def land_use_prior(land_use: DataFrame, grid: DataFrame, *, prior: PriorSettings) -> DataFrame:
    """``tile_id, prior_weight`` from a land-use table (``inspire_100m, land_use``).

    A tile with several land-use rows gets the mean of their weights; a land-use class not in
    ``prior.land_use_weights`` raises, so a typo in the config cannot silently zero a class.
    """
    classes = [r[0] for r in land_use.select("land_use").distinct().limit(1000).collect()]
    unknown = sorted(str(c) for c in classes if c not in prior.land_use_weights)
    if unknown:
        raise InputDataError(
            f"land-use classes {unknown} have no weight in convergence.prior.land_use_weights",
            code="LAND_USE_WEIGHT_MISSING",
        )
    mapping = F.create_map(
        *[x for k, v in prior.land_use_weights.items() for x in (F.lit(k), F.lit(float(v)))]
    )
    w = land_use.select("inspire_100m", mapping[F.col("land_use")].alias("w"))
    return (
        grid.select("tile_id", "inspire_100m")
        .join(w, "inspire_100m")
        .groupBy("tile_id")
        .agg(F.avg("w").alias("prior_weight"))
    )


def connection_probability(
    pruned: DataFrame,
    *,
    prior: PriorSettings,
    tile_prior: DataFrame | None = None,
) -> DataFrame:
    """P(cell | tile) and P(tile | cell) from pruned footprints of one date.

    Parameters
    ----------
    pruned
        ``cell_id, footprint_version, tile_id, signal_dominance`` (output of :func:`prune`).
    prior
        Prior settings; ``kind = "land_use"`` needs ``tile_prior``.
    tile_prior
        ``tile_id, prior_weight`` (see :func:`land_use_prior`); tiles without a row get
        ``prior.missing_weight``.

    Returns
    -------
    DataFrame
        ``cell_id, footprint_version, tile_id, signal_dominance, p_cell_given_tile,
        p_tile_given_cell, distance_m`` (``distance_m`` null when the footprint has none).
    """
    by_tile = Window.partitionBy("tile_id")
    by_cell = Window.partitionBy("cell_id", "footprint_version")
    distance = F.col("distance_m") if "distance_m" in pruned.columns else F.lit(None)
    df = pruned.select(
        "cell_id",
        "footprint_version",
        "tile_id",
        "signal_dominance",
        distance.cast("double").alias("distance_m"),
    )
    df = df.withColumn(
        "p_cell_given_tile", F.col("signal_dominance") / F.sum("signal_dominance").over(by_tile)
    )
    if prior.kind == "uniform":
        weight = F.lit(1.0)
    elif prior.kind == "network":
        weight = F.sum("signal_dominance").over(by_tile)
    else:
        if tile_prior is None:
            raise InputDataError(
                "convergence.prior.kind = 'land_use' but no land-use table was found",
                code="LAND_USE_MISSING",
            )
        df = df.join(tile_prior.select("tile_id", "prior_weight"), "tile_id", "left")
        weight = F.coalesce(F.col("prior_weight"), F.lit(float(prior.missing_weight)))
    df = df.withColumn("_num", F.col("p_cell_given_tile") * weight)
    den = F.sum("_num").over(by_cell)
    uniform = F.col("p_cell_given_tile") / F.sum("p_cell_given_tile").over(by_cell)
    df = df.withColumn("p_tile_given_cell", F.when(den > 0, F.col("_num") / den).otherwise(uniform))
    return df.select(
        "cell_id",
        "footprint_version",
        "tile_id",
        "signal_dominance",
        "p_cell_given_tile",
        "p_tile_given_cell",
        "distance_m",
    )
