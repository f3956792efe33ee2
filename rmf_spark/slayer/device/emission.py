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
from rmf_spark.slayer.device.schemas import CELL_KEY
from rmf_spark.slayer.present_population.em import key_codes, observation_structure
from rmf_spark.slayer.present_population.schemas import TA_STEP_M

__all__ = ["DeviceEmission", "device_emission"]

_CELL = [CELL_ID, FOOTPRINT_VERSION]


def _cell_columns(events: pd.DataFrame, cp: pd.DataFrame) -> list[str]:
    """``[cell_key]`` when both frames carry Spark's hash of the cell (checked one-to-one on
    the device's own cells, the only ones its footprints hold), else the two strings."""
    if CELL_KEY not in events.columns or CELL_KEY not in cp.columns:
        return _CELL
    cells = events[[CELL_KEY, *_CELL]].dropna(subset=[CELL_KEY]).drop_duplicates()
    if cells[CELL_KEY].duplicated().any():
        clash = cells[cells[CELL_KEY].duplicated(keep=False)]
        raise ValueError(
            f"{CELL_KEY} collision: cells {clash[CELL_ID].tolist()} share a hash; run "
            "without it (the footprints keep cell_id and footprint_version)"
        )
    return [CELL_KEY]


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
    events: pd.DataFrame, cp: pd.DataFrame, ta_buffer: int, cell: list[str]
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    # one matrix row per distinct observation; columns follow cp's tiles
    obs = [*cell, TIMING_ADVANCE, TA_STEP_M]
    (codes,) = key_codes(obs, events)
    first = pd.Series(np.arange(len(events))).groupby(codes).first().to_numpy()
    observations = events.iloc[first][obs].reset_index(drop=True)
    structure = observation_structure(observations, cp, ta_buffer=ta_buffer, cell_key=cell)
    matrix = structure.matrix(cp[P_CELL_GIVEN_TILE].to_numpy(dtype=float))
    matrix.sum_duplicates()  # the HMM sorts the indices it needs
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
        Connection probabilities of the device's cells: ``cell_id, footprint_version``
        (or ``cell_key``, when ``events`` has it too), ``tile_id, p_cell_given_tile, x_ll,
        y_ll`` and optionally ``distance_m`` (for the TA).
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
    positive = footprints[P_CELL_GIVEN_TILE].to_numpy(dtype=float) > 0
    # Spark sends only positive pairs: no copy of the (large) frame then
    cp = footprints if positive.all() else footprints[positive]
    cp = cp.reset_index(drop=True)
    cell_columns = _cell_columns(ev, cp)
    emission, observation, tiles = _distinct(ev, cp, ta_buffer, cell_columns)
    # the footprints: one row per cell of cp (and an empty last row for a row whose cell has
    # none), the columns of the emission (both factorise cp's tile column, sorted)
    pair_cell, cell = key_codes(cell_columns, cp, ev)
    n_cells = int(pair_cell.max()) + 1 if len(pair_cell) else 0
    tile_codes, _ = pd.factorize(cp[TILE_ID], sort=True)
    footprint = sparse.csr_matrix(
        (np.ones(len(cp)), (pair_cell, tile_codes)), shape=(n_cells + 1, len(tiles))
    )
    footprint.sum_duplicates()
    footprint.data[:] = 1.0
    cell[cell < 0] = n_cells
    # the corner of each tile from its first pair:
    # written from the last pair to the first, the first one stays
    first_pair = np.empty(len(tiles), dtype=np.int64)
    first_pair[tile_codes[::-1]] = np.arange(len(cp) - 1, -1, -1)
    corner = np.column_stack(
        [cp[X_LL].to_numpy(dtype=float)[first_pair], cp[Y_LL].to_numpy(dtype=float)[first_pair]]
    )
    return DeviceEmission(
        emission, observation, footprint, cell, tiles, corner + GRID_SPACING_M / 2
    )
