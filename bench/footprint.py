"""Benchmark of the C-layer footprint: seconds and (cell, tile) pairs per second.

Runs the footprint (Sedona distance join of cell ranges with the 100 m tiles + radio model in
``mapInPandas`` + dominance threshold) on a random bench network at two territory sizes with the
same cell density, and prints JSON. The number of pairs, and the time, grow with the area the
cells cover, not with cells x all tiles (which grows with the square of the area).

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/footprint.py            # 20 and 40 km
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/footprint.py --sizes 10 20 --density 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

import numpy as np
import pandas as pd

from rmf_spark.clayer import cells, footprint, grid
from rmf_spark.config import load_config
from rmf_spark.session import get_spark

X0, Y0 = 3_400_000.0, 2_000_000.0


def bench_network(size_km: float, density: float, range_m: float, seed: int) -> pd.DataFrame:
    """Random plan: ``density`` cells per km2, 1/3 omni, 2/3 three-sector directional."""
    rng = np.random.default_rng(seed)
    n = round(size_km * size_km * density)
    side = size_km * 1000.0
    directional = rng.random(n) < 2 / 3
    return pd.DataFrame(
        {
            "mno_id": "bench",
            "cell_id": [f"c{i}" for i in range(n)],
            "valid_from": dt.date(2024, 1, 1),
            "valid_to": None,
            "x": X0 + rng.random(n) * side,
            "y": Y0 + rng.random(n) * side,
            "altitude_m": 0.0,
            "antenna_height_m": rng.uniform(15, 40, n),
            "directional": directional,
            "azimuth_deg": np.where(directional, rng.choice([0.0, 120.0, 240.0], n), np.nan),
            "tilt_deg": 5.0,
            "beam_h_deg": 65.0,
            "beam_v_deg": 9.0,
            "power_w": rng.uniform(5, 20, n),
            "range_m": range_m,
            "frequency_mhz": 1800.0,
            "technology": "4G",
            "cell_type": "macro",
            "path_loss_exponent": 3.75,
        }
    )


def run_size(spark, cfg, *, size_km: float, density: float, range_m: float) -> dict:
    side = size_km * 1000.0
    wkt = f"POLYGON(({X0} {Y0}, {X0 + side} {Y0}, {X0 + side} {Y0 + side}, {X0} {Y0 + side}, {X0} {Y0}))"  # noqa: E501
    t0 = time.perf_counter()
    g = grid.generate_grid(spark.createDataFrame([(wkt,)], "wkt string"), buffer_m=0.0).cache()
    n_tiles = g.count()
    t_grid = time.perf_counter() - t0
    pdf = bench_network(size_km, density, range_m, seed=int(size_km))
    plan = spark.createDataFrame(pdf.astype({"valid_to": "object"}))
    conv = cfg.convergence
    prepared = cells.prepare_cells(plan, radio=conv.radio, pruning=conv.pruning).cache()
    n_cells = prepared.count()
    t1 = time.perf_counter()
    pairs = footprint.candidate_pairs(prepared.where("usable"), g).count()
    t_join = time.perf_counter() - t1
    t2 = time.perf_counter()
    fp = footprint.cell_footprint(prepared, g, radio_settings=conv.radio, pruning=conv.pruning)
    fp.write.format("noop").mode("overwrite").save()
    t_fp = time.perf_counter() - t2
    kept = fp.count()
    g.unpersist()
    prepared.unpersist()
    return {
        "territory_km": size_km,
        "cells": n_cells,
        "tiles": n_tiles,
        "cells_x_tiles": n_cells * n_tiles,
        "candidate_pairs": pairs,
        "pairs_kept": kept,
        "grid_seconds": round(t_grid, 2),
        "join_seconds": round(t_join, 2),
        "footprint_seconds": round(t_fp, 2),
        "pairs_per_second": round(pairs / t_fp) if t_fp > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/footprint.py")
    p.add_argument("--config", default=None)
    p.add_argument("--sizes", type=float, nargs=2, default=[20.0, 40.0], help="side, km")
    p.add_argument("--density", type=float, default=2.5, help="cells per km2")
    p.add_argument("--range-m", type=float, default=2000.0, help="cell range")
    args = p.parse_args(argv)
    cfg = load_config(args.config)
    spark = get_spark(cfg)
    runs = [
        run_size(spark, cfg, size_km=s, density=args.density, range_m=args.range_m)
        for s in args.sizes
    ]
    a, b = runs
    out = {
        "runs": runs,
        "area_ratio": round((b["territory_km"] / a["territory_km"]) ** 2, 2),
        "pairs_ratio": round(b["candidate_pairs"] / a["candidate_pairs"], 2),
        "cells_x_tiles_ratio": round(b["cells_x_tiles"] / a["cells_x_tiles"], 2),
        "footprint_seconds_ratio": round(b["footprint_seconds"] / a["footprint_seconds"], 2),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
