"""The observation model of one device-day: emission rows and footprint tile sets.

Notes
-----
An event's emission is the EM's observation row (cell, or cell and TA band):
``e(j) = P(cell | tile j) * P(TA band | cell, tile j)``, built by
:func:`~rmf_spark.slayer.present_population.em.observation_structure` from the connection
probabilities of the device's cells, so the HMM and the EM read the network the same way.
An event's footprint is the set of tiles of its cell with ``P(cell | tile) > 0`` (its TA is not
used there: the continuous time segmentation intersects cell footprints, as MultiMNO's).
Both are held once per distinct observation (or cell), with an index per row, so a group's
memory grows with its cells, not its rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from rmf_spark.clayer.schemas import (
    CELL_ID,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    TILE_ID,
    TIMING_ADVANCE,
    X_LL,
    Y_LL,
)
from rmf_spark.slayer.device.hmm import GRID_SPACING_M
from rmf_spark.slayer.present_population.em import observation_structure, row_keys
from rmf_spark.slayer.present_population.schemas import TA_STEP_M

__all__ = ["DeviceEmission", "device_emission"]

_OBS = [CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE, TA_STEP_M]
_CELL = [CELL_ID, FOOTPRINT_VERSION]


class DeviceEmission(NamedTuple):
    """``emission`` (csr, distinct observations x tiles) and ``observation`` (its row for each
    input row); ``footprint`` (csr of ones, the cells of the footprints x tiles) and ``cell``
    (its row for each input row); the tile ids of the columns and their centres in metres
    (tiles x 2). A row whose cell has no footprint has an empty emission and footprint row."""

    emission: sparse.csr_matrix
    observation: np.ndarray
    footprint: sparse.csr_matrix
    cell: np.ndarray
    tiles: np.ndarray
    xy_m: np.ndarray

    def row_tiles(self, k: int) -> np.ndarray:
        """The footprint tiles (column indices) of input row ``k``."""
        c = self.cell[k]
        return self.footprint.indices[self.footprint.indptr[c] : self.footprint.indptr[c + 1]]


def _distinct(
    events: pd.DataFrame, cp: pd.DataFrame, ta_buffer: int
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    # one matrix row per distinct observation; columns follow cp's tiles
    codes, _ = pd.factorize(row_keys(events, _OBS))
    first = pd.Series(np.arange(len(events))).groupby(codes).first().to_numpy()
    observations = events.iloc[first][_OBS].reset_index(drop=True)
    structure = observation_structure(observations, cp, ta_buffer=ta_buffer)
    matrix = structure.matrix(cp[P_CELL_GIVEN_TILE].to_numpy(dtype=float))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix, codes.astype(np.int64), structure.tiles


def device_emission(
    events: pd.DataFrame, footprints: pd.DataFrame, *, ta_buffer: int
) -> DeviceEmission:
    """Emission and footprint of a device's rows over the tiles of its cells.

    Parameters
    ----------
    events
        ``cell_id, footprint_version`` and optionally ``timing_advance, ta_step_m`` (both
        null for an event without TA), one row per event (or compressed run).
    footprints
        Connection probabilities of the device's cells: ``cell_id, footprint_version,
        tile_id, p_cell_given_tile, x_ll, y_ll`` and optionally ``distance_m`` (for the TA).
    ta_buffer
        TA bands added either side (``present_population.timing_advance_buffer``).

    Returns
    -------
    DeviceEmission
        Indexed like ``events``.
    """
    ev = events.copy()
    for col in (TIMING_ADVANCE, TA_STEP_M):
        if col not in ev.columns:
            ev[col] = np.nan
    cp = footprints[footprints[P_CELL_GIVEN_TILE] > 0].reset_index(drop=True)
    emission, observation, tiles = _distinct(ev, cp, ta_buffer)
    # the footprints: one row per cell of cp (and an empty last row for a row whose cell has
    # none), the columns of the emission (both factorise cp's tile column in its order)
    pair_cell, cells = pd.factorize(row_keys(cp, _CELL))
    tile_codes, _ = pd.factorize(cp[TILE_ID])
    footprint = sparse.csr_matrix(
        (np.ones(len(cp)), (pair_cell, tile_codes)), shape=(len(cells) + 1, len(tiles))
    )
    footprint.sum_duplicates()
    footprint.data[:] = 1.0
    cell = pd.Index(cells).get_indexer(row_keys(ev, _CELL)).astype(np.int64)
    cell[cell < 0] = len(cells)
    corner = cp.groupby(TILE_ID)[[X_LL, Y_LL]].first().reindex(tiles).to_numpy(dtype=float)
    return DeviceEmission(
        emission, observation, footprint, cell, tiles, corner + GRID_SPACING_M / 2
    )
