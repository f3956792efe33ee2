"""The true radio world: which cell serves a device in each tile, and with what probability.

Notes
-----
The nominal physics (mobloc's model, in the world's own implementation
:mod:`rmf_spark.synth.propagation`, not the estimator's code) with the *true* parameters:
strength ``S_cg = strength_dbm(dx, dy, dz; P_c, ple_c*, azimuth_c*, ...) + X_cg`` with
``ple_c* = ple_c + N(0, ple_sd)`` per cell, ``azimuth_c*`` the planned azimuth plus an error,
the profile's ``back_loss_db`` and shadowing ``X_cg ~ N(0, shadowing_sd_db^2)`` per (cell,
tile), log-normal in the linear domain. The dominance
``s_cg = 1 / (1 + exp(-steepness (S_cg - midpoint)))``; the serving cell of an event in tile
``g`` is drawn from ``P(c | g) = s_cg / sum_{c' in K_g} s_c'g`` over the
``top_k`` most dominant active cells ``K_g`` among the cells within about ``max_distance_m``
(whole 1 km blocks; mobloc, Tennekes & Gootzen 2022; ESSnet simulator, Oancea et al. 2019).
So the C-layer's inference meets a realistic mismatch: wrong exponent, wrong azimuth, no
shadowing in its model.

Computed per 1 km block with ``groupBy(block).applyInPandas``: the candidate cells are the
cells whose reach covers the block (an equi-join on the block id), the 100 tiles are
enumerated arithmetically; no cross join of tiles and cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark.synth.profile import RadioTruthParams
from rmf_spark.synth.propagation import dominance, strength_dbm
from rmf_spark.synth.rng import normal
from rmf_spark.synth.territory import TILE_M, Territory

__all__ = ["TILE_CELLS_SCHEMA", "compute_tile_cells", "tile_cell_probabilities"]

TILE_CELLS_SCHEMA = "epoch int, tile_idx long, cell_idx array<int>, p array<double>"
_CELL_COLS = ["cell_idx", "x", "y", "antenna_height_m", "power_w", "true_ple", "directional",
              "true_azimuth_deg", "tilt_deg", "beam_h_deg", "beam_v_deg"]  # fmt: skip


def tile_cell_probabilities(
    tile_x: np.ndarray,
    tile_y: np.ndarray,
    tile_idx: np.ndarray,
    cells: pd.DataFrame,
    *,
    radio: RadioTruthParams,
    seed: int,
    stream: int,
) -> np.ndarray:
    """Dominance matrix ``s_cg`` (tiles x cells) of the true model (module notes)."""
    dx = tile_x[:, None] - cells["x"].to_numpy()[None, :]
    dy = tile_y[:, None] - cells["y"].to_numpy()[None, :]
    dz = np.broadcast_to(cells["antenna_height_m"].to_numpy()[None, :], dx.shape)

    def col(name: str) -> np.ndarray:  # nan for what an omnidirectional cell lacks
        return cells[name].to_numpy(dtype=float)[None, :]

    s = strength_dbm(
        dx=dx,
        dy=dy,
        dz=dz,
        power_w=col("power_w"),
        ple=col("true_ple"),
        directional=cells["directional"].to_numpy(dtype=bool)[None, :],
        azimuth_deg=col("true_azimuth_deg"),
        tilt_deg=col("tilt_deg"),
        beam_h_deg=col("beam_h_deg"),
        beam_v_deg=col("beam_v_deg"),
        back_loss_db=radio.back_loss_db,
    )
    key = (cells["cell_idx"].to_numpy().astype(np.uint64)[None, :] << np.uint64(32)) + (
        tile_idx.astype(np.uint64)[:, None]
    )
    s = s + radio.shadowing_sd_db * normal(key, stream, seed)
    return dominance(s, midpoint_dbm=radio.midpoint_dbm, steepness=radio.steepness)


def _block_pandas(
    pdf: pd.DataFrame,
    *,
    t: Territory,
    masks: np.ndarray,
    radio: RadioTruthParams,
    seed: int,
    stream: int,
) -> pd.DataFrame:
    pdf = pdf.sort_values("cell_idx")
    bx, by = int(pdf["bx"].iloc[0]), int(pdf["by"].iloc[0])
    n_cols = int(t.width_m // TILE_M)
    n_rows = int(t.height_m // TILE_M)
    cols = np.arange(bx * 10, bx * 10 + 10)
    rows = np.arange(by * 10, by * 10 + 10)
    cc, rr = np.meshgrid(cols[cols < n_cols], rows[rows < n_rows])
    cc, rr = cc.ravel(), rr.ravel()
    tile_idx = (rr * n_cols + cc).astype(np.int64)
    tx = t.x0 + cc * TILE_M + TILE_M / 2
    ty = t.y0 + rr * TILE_M + TILE_M / 2
    dom = tile_cell_probabilities(tx, ty, tile_idx, pdf, radio=radio, seed=seed, stream=stream)
    cell_idx = pdf["cell_idx"].to_numpy()
    out = []
    k = min(radio.top_k, len(cell_idx))
    for e, mask in enumerate(masks):
        d = np.where(mask[cell_idx][None, :], dom, 0.0)
        top = np.argsort(-d, axis=1, kind="stable")[:, :k]
        dt = np.take_along_axis(d, top, axis=1)
        total = dt.sum(axis=1, keepdims=True)
        p = np.where(total > 0, dt / np.where(total > 0, total, 1.0), 0.0)
        keep = p > 0
        out.append(
            pd.DataFrame(
                {
                    "epoch": e,
                    "tile_idx": tile_idx,
                    "cell_idx": [
                        cell_idx[top[i][keep[i]]].astype(np.int32) for i in range(len(top))
                    ],
                    "p": [p[i][keep[i]] for i in range(len(top))],
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def compute_tile_cells(
    spark: SparkSession,
    cells: pd.DataFrame,
    *,
    t: Territory,
    masks: np.ndarray,
    radio: RadioTruthParams,
    seed: int,
    stream: int,
) -> DataFrame:
    """Per epoch and 100 m tile, the serving-cell distribution of the true model (schema
    :data:`TILE_CELLS_SCHEMA`, ``p`` sums to 1, tiles without any cell in reach omitted)."""
    reach_blocks = int(np.ceil(radio.max_distance_m / 1000.0)) + 1
    n_bx = int(np.ceil(t.width_m / 1000.0))
    n_by = int(np.ceil(t.height_m / 1000.0))
    sdf = spark.createDataFrame(cells[_CELL_COLS].astype({"directional": bool}))
    cbx = F.floor((F.col("x") - t.x0) / 1000).cast("int")
    cby = F.floor((F.col("y") - t.y0) / 1000).cast("int")
    blocks = sdf.withColumn(
        "bx",
        F.explode(
            F.sequence(
                F.greatest(cbx - reach_blocks, F.lit(0)),
                F.least(cbx + reach_blocks, F.lit(n_bx - 1)),
            )
        ),
    ).withColumn(
        "by",
        F.explode(
            F.sequence(
                F.greatest(cby - reach_blocks, F.lit(0)),
                F.least(cby + reach_blocks, F.lit(n_by - 1)),
            )
        ),
    )

    def fn(pdf: pd.DataFrame) -> pd.DataFrame:
        return _block_pandas(pdf, t=t, masks=masks, radio=radio, seed=seed, stream=stream)

    out = blocks.groupBy("bx", "by").applyInPandas(fn, TILE_CELLS_SCHEMA)
    return out.where(F.size("cell_idx") > 0)
