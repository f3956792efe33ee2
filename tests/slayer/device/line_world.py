"""A line of 100 m tiles with antennas every kilometre, in the C-layer contract, for tests.

Tiles: a strip of ``NX`` x ``NY`` tiles; cell ``C{i}`` sits at ``x = 500 + 1000 i`` on the
middle row and covers the tiles within ``REACH_M`` of it (so neighbouring cells overlap, cells
two apart do not); ``P(cell | tile)`` decays with distance and sums to 1 over cells per tile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NX, NY = 60, 3
N_CELLS = 6
REACH_M = 650.0
DAY = pd.Timestamp("2024-03-05")


def tile_id(ix: int | np.ndarray, iy: int | np.ndarray) -> np.ndarray:
    return np.asarray(ix, dtype=np.int64) * 1000 + np.asarray(iy, dtype=np.int64)


def antenna_x(i: int) -> float:
    return 500.0 + 1000.0 * i


def footprints() -> pd.DataFrame:
    ix, iy = np.meshgrid(np.arange(NX), np.arange(NY), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    cx, cy = 100.0 * ix + 50.0, 100.0 * iy + 50.0
    parts = []
    for i in range(N_CELLS):
        d = np.hypot(cx - antenna_x(i), cy - 150.0)
        near = d <= REACH_M
        parts.append(
            pd.DataFrame(
                {
                    "cell_id": f"C{i}",
                    "footprint_version": "v1",
                    "tile_id": tile_id(ix[near], iy[near]),
                    "signal": np.exp(-d[near] / 300.0),
                    "distance_m": d[near],
                    "x_ll": 100.0 * ix[near],
                    "y_ll": 100.0 * iy[near],
                }
            )
        )
    fp = pd.concat(parts, ignore_index=True)
    fp["p_cell_given_tile"] = fp["signal"] / fp.groupby("tile_id")["signal"].transform("sum")
    return fp.drop(columns="signal")


def spark_tables(spark):  # type: ignore[no-untyped-def]
    """The footprints as the C-layer's ``connection_probability`` and ``grid`` frames."""
    fp = footprints()
    cp = spark.createDataFrame(
        fp[["cell_id", "footprint_version", "tile_id", "p_cell_given_tile", "distance_m"]]
    )
    return cp, spark.createDataFrame(fp[["tile_id", "x_ll", "y_ll"]].drop_duplicates())


def rows(events: list[tuple[str, str, str]], **extra: object) -> pd.DataFrame:
    """Rows from (first, last, cell) as 'HH:MM' offsets on DAY (a '-' prefix: the day before)."""

    def at(hhmm: str) -> pd.Timestamp:
        day = DAY - pd.Timedelta(days=1) if hhmm.startswith("-") else DAY
        if hhmm.startswith("+"):
            day = DAY + pd.Timedelta(days=1)
        h, m = hhmm.lstrip("-+").split(":")
        return day + pd.Timedelta(hours=int(h), minutes=int(m))

    out = pd.DataFrame(
        {
            "first_ts": [at(a) for a, _, _ in events],
            "last_ts": [at(b) for _, b, _ in events],
            "n_events": 1,
            "cell_id": [c for _, _, c in events],
            "footprint_version": "v1",
            "timing_advance": np.nan,
            "ta_step_m": np.nan,
            "abroad": False,
            "visited_plmn": None,
        }
    )
    for k, v in extra.items():
        out[k] = v
    return out
