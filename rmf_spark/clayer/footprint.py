"""Cell footprints: candidate (cell, tile) pairs by a Sedona distance join, then the radio model.

Candidates are the tiles whose centre lies within the cell's range (``ST_DWithin`` join of the
cell points, broadcast as the small side, with the tile centres): the cost grows with the area
the cells cover, never with cells x all tiles. Signal strength and dominance are computed in
``mapInPandas`` with the numpy functions of :mod:`rmf_spark.clayer.radio` (one implementation of
each formula, shared with the synthetic world).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer import radio, schemas
from rmf_spark.clayer.cells import RADIO_COLUMNS
from rmf_spark.clayer.grid import TILE_M, tile_centre
from rmf_spark.clayer.settings import PruningSettings, RadioSettings

__all__ = [
    "candidate_pairs",
    "cell_footprint",
    "computed_versions",
    "covered_tiles",
    "signal_batch",
    "uncovered_markers",
]

_VERSION_KEY = ["cell_id", "footprint_version"]


def candidate_pairs(cells: DataFrame, grid: DataFrame) -> DataFrame:
    """(cell version, tile) pairs with the tile centre within the cell's range.

    Parameters
    ----------
    cells
        Usable prepared cells (``cell_id, footprint_version`` and
        :data:`~rmf_spark.clayer.cells.RADIO_COLUMNS`).
    grid
        :data:`~rmf_spark.clayer.schemas.GRID`.

    Returns
    -------
    DataFrame
        The cell columns plus ``tile_id, dx, dy`` (tile centre minus antenna, metres).
    """
    c = cells.select("cell_id", "footprint_version", *RADIO_COLUMNS).withColumn(
        "cell_pt", F.expr("ST_Point(x, y)")
    )
    t = grid.select("tile_id", "x_ll", "y_ll").withColumn("centre", tile_centre())
    pairs = t.join(F.broadcast(c), F.expr("ST_DWithin(cell_pt, centre, range_m)"))
    half = TILE_M / 2
    return pairs.select(
        "cell_id",
        "footprint_version",
        *RADIO_COLUMNS,
        "tile_id",
        (F.col("x_ll") + half - F.col("x")).alias("dx"),
        (F.col("y_ll") + half - F.col("y")).alias("dy"),
    )


def signal_batch(pdf: pd.DataFrame, *, radio_settings: RadioSettings) -> pd.DataFrame:
    """Signal strength (dBm) and dominance for a pandas batch of candidate pairs.

    ``log_distance``: :func:`~rmf_spark.clayer.radio.signal_strength_dbm`; ``empirical``:
    :func:`~rmf_spark.clayer.radio.empirical_strength_dbm` plus the directional loss. The
    antenna is ``antenna_height_m`` above the tile (flat terrain at the antenna's ground).
    """
    dx, dy = pdf["dx"].to_numpy(float), pdf["dy"].to_numpy(float)
    dz = pdf["antenna_height_m"].to_numpy(float)
    directional = pdf["directional"].to_numpy(bool)
    az = np.nan_to_num(pdf["azimuth_deg"].to_numpy(float))
    pattern = {
        "azimuth_deg": az,
        "tilt_deg": pdf["tilt_deg"].to_numpy(float),
        "beam_h_deg": pdf["beam_h_deg"].to_numpy(float),
        "beam_v_deg": pdf["beam_v_deg"].to_numpy(float),
        "azim_db_back": pdf["azim_db_back"].to_numpy(float),
        "elev_db_back": pdf["elev_db_back"].to_numpy(float),
    }
    if radio_settings.path_loss_model == "empirical":
        s = radio.empirical_strength_dbm(
            power_w=pdf["power_w"].to_numpy(float),
            frequency_mhz=pdf["frequency_mhz"].to_numpy(float),
            h_base_m=dz,
            distance_m=np.sqrt(dx * dx + dy * dy + dz * dz),
            h_mobile_m=radio_settings.mobile_height_m,
            environment=pdf["environment"].to_numpy(str),
        )
        if directional.any():
            loss = radio.directional_loss_db(dx=dx, dy=dy, dz=dz, **pattern)
            s = np.where(directional, s + loss, s)
    else:
        s = radio.signal_strength_dbm(
            dx=dx,
            dy=dy,
            dz=dz,
            power_w=pdf["power_w"].to_numpy(float),
            ple=pdf["path_loss_exponent"].to_numpy(float),
            directional=directional,
            **pattern,
        )
    sd = radio.signal_dominance(
        s, midpoint_dbm=radio_settings.midpoint_dbm, steepness=radio_settings.steepness
    )
    return pd.DataFrame(
        {
            "cell_id": pdf["cell_id"].to_numpy(),
            "footprint_version": pdf["footprint_version"].to_numpy(),
            "tile_id": pdf["tile_id"].to_numpy("int64"),
            "signal_dbm": s,
            "signal_dominance": sd,
            # antenna to tile centre: the timing-advance likelihood of the S-layer uses it
            "distance_m": np.sqrt(dx * dx + dy * dy + dz * dz),
        }
    )


def cell_footprint(
    cells: DataFrame, grid: DataFrame, *, radio_settings: RadioSettings, pruning: PruningSettings
) -> DataFrame:
    """Footprint of each usable cell version: ``signal_dbm`` and ``signal_dominance`` per tile.

    Pairs with dominance below ``pruning.dominance_threshold`` are dropped here (a property of
    the cell alone); the pruning that compares cells of a tile is in
    :func:`rmf_spark.clayer.connection.prune`.

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.clayer.schemas.CELL_FOOTPRINT`.
    """
    pairs = candidate_pairs(cells.where("usable"), grid)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            yield signal_batch(pdf, radio_settings=radio_settings)

    out = pairs.mapInPandas(run, schema=schemas.CELL_FOOTPRINT)
    return out.where(F.col("signal_dominance") >= pruning.dominance_threshold)


def uncovered_markers(versions: DataFrame, footprint: DataFrame) -> DataFrame:
    """One marker row per cell version of ``versions`` that has no row in ``footprint``.

    ``cell_footprint`` keeps a computed version that covers no tile as one row with a null
    ``tile_id`` (and null values), so the table alone tells which versions are computed.

    Parameters
    ----------
    versions
        ``cell_id, footprint_version`` (the versions just computed).
    footprint
        Their :data:`~rmf_spark.clayer.schemas.CELL_FOOTPRINT` rows.

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.clayer.schemas.CELL_FOOTPRINT` rows, ``tile_id`` and values null.
    """
    empty = (
        versions.select(*_VERSION_KEY)
        .distinct()
        .join(footprint.select(*_VERSION_KEY).distinct(), _VERSION_KEY, "left_anti")
    )
    return empty.select(
        *[
            F.col(f.name) if f.name in _VERSION_KEY else F.lit(None).cast(f.dataType).alias(f.name)
            for f in schemas.CELL_FOOTPRINT.fields
        ]
    )


def computed_versions(footprint: DataFrame) -> DataFrame:
    """``cell_id, footprint_version`` of every version in ``cell_footprint`` (markers too)."""
    return footprint.select(*_VERSION_KEY).distinct()


def covered_tiles(footprint: DataFrame) -> DataFrame:
    """The ``cell_footprint`` rows of real tiles (without the :func:`uncovered_markers`)."""
    return footprint.where(F.col(schemas.TILE_ID).isNotNull())
