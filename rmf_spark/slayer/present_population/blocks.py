"""Spatial blocks of cells: bounded pandas groups for the EM and the reach calibration.

Notes
-----
The EM couples two cells only through the tiles they share (``p_ij > 0`` for both), and so do
the reach calibration's rounds: on the bipartite graph of cells and tiles the problem
factorises over connected components. A national network is one component, so it is cut into
square blocks of side ``B`` on the grid. A tile's block is ``(floor(x / B), floor(y / B))`` of
its centre ``(x, y)``, read from ``tile_id = (E/100) * 2**20 + N/100`` (the C-layer grid). A
cell's home is the block of its tile of largest ``P(cell | tile)`` (next to its antenna; ties
to the smallest tile id). The group of block b holds every cell with a footprint tile in b's
square widened by the halo ``H`` on each side, with its whole footprint: the cells homed in b
are reported (their devices, their offsets), the others are context, so every cell is
reported by exactly one group and every total is kept.

A group is exact when its cells hold every cell that shares a tile with them (whole
components; ``B = 0`` makes one block per date, the whole network). Otherwise cells beyond the
halo are missing from the context: the tiles at the group's edge lack their devices, which
the EM then spreads a little differently; ``docs/present-population.md`` (section "Memory per
pandas group") gives the memory bound and the error measured against the halo.
"""

from __future__ import annotations

from typing import NamedTuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.group_ops import PandasCogroupedOps

from rmf_spark.clayer.schemas import DATE, P_CELL_GIVEN_TILE, TILE_ID
from rmf_spark.slayer.present_population.settings import BlockSettings

__all__ = ["BLOCK", "HOME", "Groups", "block_groups", "compute_cell_blocks", "tile_centre_m"]

BLOCK, HOME = "block", "home"

# the C-layer's tile id: (E / 100) * 2**20 + N / 100, E and N the lower-left corner in metres
_TILE_M = 100.0
_SHIFT = 1 << 20
# a block id packs (bx, by) into one long; |by| < 2**24 for any block side >= 1 m in EPSG:3035
_BLOCK_SHIFT = 1 << 24


class Groups(NamedTuple):
    """The two sides of a ``cogroup`` and the columns naming a group."""

    left: DataFrame
    right: DataFrame
    by: list[str]

    def cogroup(self) -> PandasCogroupedOps:
        """``left`` and ``right`` cogrouped by ``by``."""
        return self.left.groupBy(*self.by).cogroup(self.right.groupBy(*self.by))


def tile_centre_m(tile_id: Column) -> tuple[Column, Column]:
    """Easting and northing in metres of the centre of the tile ``tile_id``."""
    tid = tile_id.cast("long")
    e = F.floor(tid / F.lit(_SHIFT))
    n = tid - e * F.lit(_SHIFT)
    return e * _TILE_M + _TILE_M / 2, n * _TILE_M + _TILE_M / 2


def _block_id(bx: Column, by: Column) -> Column:
    return bx.cast("long") * F.lit(_BLOCK_SHIFT) + by.cast("long")


def compute_cell_blocks(
    connection_probability: DataFrame, *, keys: list[str], blocks: BlockSettings
) -> DataFrame:
    """The blocks whose group holds each cell, and whether it is the cell's home.

    Parameters
    ----------
    connection_probability
        ``keys`` (the cell: ``cell_id, footprint_version`` and, per date, ``date``),
        ``tile_id, p_cell_given_tile``.
    keys
        The columns naming a cell (and its date).
    blocks
        ``[present_population.blocks]``: block side ``km`` (0: one block) and ``halo_km``.

    Returns
    -------
    DataFrame
        ``keys, block long, home boolean``: one row per (cell, block) with a footprint tile
        in the block's square widened by the halo, for the blocks that are some cell's home;
        ``home`` in exactly one block per cell.

    Notes
    -----
    Block of a point: ``(floor(x / B), floor(y / B))``; cell i is in block b when some tile j
    of its footprint has ``x_j`` in ``[B bx - H, B (bx + 1) + H)`` (and y alike); its home is
    the block of ``argmax_j P(cell i | tile j)`` (module notes).
    """
    cells = connection_probability.select(*keys).distinct()
    if blocks.km <= 0:
        return cells.select(*keys, F.lit(0).cast("long").alias(BLOCK), F.lit(True).alias(HOME))
    side, halo = blocks.km * 1000.0, blocks.halo_km * 1000.0
    x, y = tile_centre_m(F.col(TILE_ID))
    tiles = connection_probability.select(
        *keys,
        F.col(TILE_ID).cast("long").alias(TILE_ID),
        P_CELL_GIVEN_TILE,
        x.alias("x"),
        y.alias("y"),
    )

    def span(v: str) -> Column:
        return F.sequence(
            F.floor((F.col(v) - halo) / side).cast("long"),
            F.floor((F.col(v) + halo) / side).cast("long"),
        )

    # one pass over the probabilities: each row to the blocks it is near, then per cell the
    # set of those blocks and the block of its most probable tile
    cells = (
        tiles.select(*keys, TILE_ID, P_CELL_GIVEN_TILE, "x", "y", F.explode(span("x")).alias("bx"))
        .select(*keys, TILE_ID, P_CELL_GIVEN_TILE, "x", "y", "bx", F.explode(span("y")).alias("by"))
        .groupBy(*keys)
        .agg(
            F.collect_set(_block_id(F.col("bx"), F.col("by"))).alias("near"),
            F.max_by(F.struct("x", "y"), F.struct(F.col(P_CELL_GIVEN_TILE), -F.col(TILE_ID))).alias(
                "t"
            ),
        )
        .select(
            *keys,
            "near",
            _block_id(F.floor(F.col("t.x") / side), F.floor(F.col("t.y") / side)).alias(
                "home_block"
            ),
        )
    )
    # a block no cell calls home would only repeat its neighbours' work
    per = [DATE] if DATE in keys else []
    homes = cells.select(*per, F.col("home_block").alias(BLOCK)).distinct()
    return (
        cells.select(*keys, "home_block", F.explode("near").alias(BLOCK))
        .join(homes, on=[*per, BLOCK])
        .select(*keys, BLOCK, (F.col(BLOCK) == F.col("home_block")).alias(HOME))
    )


def block_groups(
    left: DataFrame, right: DataFrame, *, cell_blocks: DataFrame, keys: list[str]
) -> Groups:
    """``left`` (with each cell's ``home`` flag) and ``right``, every row once per block of
    its cell (:func:`compute_cell_blocks`), grouped by date and block."""
    # a fresh block column on the right: the two sides of a cogroup must not share one
    right_blocks = cell_blocks.select(*keys, F.col(BLOCK).alias(BLOCK))
    by = [DATE, BLOCK] if DATE in keys else [BLOCK]
    return Groups(left.join(cell_blocks, on=keys), right.join(right_blocks, on=keys), by)
