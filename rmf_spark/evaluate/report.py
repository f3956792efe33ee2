"""A one-file HTML report: accuracy figures and maps (estimate, truth, error) per time point."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.evaluate.accuracy import TRUTH
from rmf_spark.slayer.aggregate.schemas import AREA_ID, DEVICES, LEVEL, LEVEL_1KM
from rmf_spark.slayer.present_population.schemas import METHOD, TIME_POINT

__all__ = ["choose_time_points", "tile_xy", "write_report"]

_CODE = re.compile(r"^(?:.*RES)?(100m|1km|1000m)N(\d+)E(\d+)$")
_SIZE = {"100m": 100, "1km": 1000, "1000m": 1000}


def tile_xy(code: str) -> tuple[float, float, float]:
    """Lower-left (x, y) and side in metres of an INSPIRE code (``1kmN2654E4436`` or
    ``100mN26543E44361``; the long ``CRS3035RES...`` form with metres is also read)."""
    m = _CODE.match(code)
    if m is None:
        raise ValueError(f"not an INSPIRE grid code: {code!r}")
    size = _SIZE[m.group(1)]
    scale = 1 if code.startswith("CRS") else size
    return float(m.group(3)) * scale, float(m.group(2)) * scale, float(size)


def choose_time_points(available: list[datetime], *, n: int = 4) -> list[datetime]:
    """Up to ``n`` time points spread evenly over ``available`` (sorted)."""
    pts = sorted(set(available))
    if len(pts) <= n:
        return pts
    return [pts[i] for i in np.linspace(0, len(pts) - 1, n).round().astype(int)]


def _raster(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[float]]:
    xy = np.array([tile_xy(c) for c in frame[AREA_ID]])
    size = xy[0, 2]
    x0, y0 = xy[:, 0].min(), xy[:, 1].min()
    ix = ((xy[:, 0] - x0) / size).astype(int)
    iy = ((xy[:, 1] - y0) / size).astype(int)
    grid = np.full((iy.max() + 1, ix.max() + 1), np.nan)
    grid[iy, ix] = frame[column].to_numpy(dtype=float)
    return grid, [x0, x0 + size * grid.shape[1], y0, y0 + size * grid.shape[0]]


def _maps_png(frame: pd.DataFrame, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = frame.assign(error=frame["estimate"] - frame[TRUTH])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    vmax = float(np.nanmax([frame["estimate"].max(), frame[TRUTH].max(), 1.0]))
    emax = float(max(frame["error"].abs().max(), 1.0))
    for ax, col, cmap, lims in (
        (axes[0], "estimate", "viridis", (0, vmax)),
        (axes[1], TRUTH, "viridis", (0, vmax)),
        (axes[2], "error", "RdBu_r", (-emax, emax)),
    ):
        img, extent = _raster(frame, col)
        shown = ax.imshow(img, origin="lower", extent=extent, cmap=cmap, vmin=lims[0], vmax=lims[1])
        ax.set_title(f"{col} (devices per 1 km)")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, shrink=0.8)
    fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_report(
    path: str | Path,
    *,
    estimates: DataFrame,
    truth_devices: DataFrame,
    accuracy: dict[str, Any],
    mno: str,
    time_points: list[datetime] | None = None,
    methods: Sequence[str] | None = None,
) -> Path:
    """Write the HTML report (PNG maps embedded as base64: one self-contained file).

    Parameters
    ----------
    path
        Output ``.html`` file.
    estimates
        S-layer ``present_population``.
    truth_devices
        :func:`rmf_spark.evaluate.accuracy.to_truth_devices` output.
    accuracy
        :func:`rmf_spark.evaluate.accuracy.compute_accuracy` output.
    mno
        MNO id (title).
    time_points
        Time points to map (default: up to four spread over each estimator's own).
    methods
        Estimators mapped, one section each (default: every one in ``estimates``, in the
        order em, naive, hmm).

    Returns
    -------
    pathlib.Path
        The report path.
    """
    km_all = estimates.where(F.col(LEVEL) == LEVEL_1KM)
    present = {r[0] for r in km_all.select(METHOD).distinct().collect()}
    order = [m for m in ("em", "naive", "hmm") if m in present] + sorted(
        present - {"em", "naive", "hmm"}
    )
    chosen_methods = [m for m in (methods or order) if m in present]
    rows = []
    for key, pp in accuracy.get("present_population", {}).items():
        if isinstance(pp, dict):
            rows += [f"<tr><td>{key}</td><td>{m}</td><td>{v}</td></tr>" for m, v in pp.items()]
        else:
            rows.append(f"<tr><td>{key}</td><td></td><td>{pp}</td></tr>")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>rmf_spark present population: {html.escape(mno)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px}</style></head><body>",
        f"<h1>Present population, {html.escape(mno)}: accuracy against the synthetic truth</h1>",
        "<p>NAE = sum |estimate - truth| / sum truth over areas and time points.</p>",
        "<table border='1'><tr><th>estimator</th><th>measure</th><th>value</th></tr>",
        *rows,
        "</table>",
    ]
    for method in chosen_methods:
        parts += _method_maps(km_all, truth_devices, method=method, time_points=time_points)
    parts.append("</body></html>")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def _method_maps(
    km_all: DataFrame,
    truth_devices: DataFrame,
    *,
    method: str,
    time_points: list[datetime] | None,
) -> list[str]:
    """HTML of one estimator's 1 km maps (estimate, truth, error) at a few time points."""
    km = km_all.where(F.col(METHOD) == method)
    if time_points is None:
        available = [r[0] for r in km.select(TIME_POINT).distinct().collect()]
        time_points = choose_time_points(available)
    chosen = [F.lit(t) for t in time_points]
    est = km.where(F.col(TIME_POINT).isin(*chosen)).select(
        TIME_POINT, AREA_ID, F.col(DEVICES).alias("estimate")
    )
    tru = truth_devices.where((F.col(LEVEL) == LEVEL_1KM) & F.col(TIME_POINT).isin(*chosen)).select(
        TIME_POINT, AREA_ID, TRUTH
    )
    data = est.join(tru, on=[TIME_POINT, AREA_ID], how="full_outer").fillna(0.0).toPandas()
    parts = []
    for t in time_points:
        frame = data[data[TIME_POINT] == pd.Timestamp(t)]
        if frame.empty:
            continue
        nae = (frame["estimate"] - frame[TRUTH]).abs().sum() / max(frame[TRUTH].sum(), 1e-12)
        title = f"{method.upper()} devices, {t:%Y-%m-%d %H:%M} UTC, NAE 1 km = {nae:.3f}"
        parts.append(f"<h2>{html.escape(title)}</h2>")
        png = _maps_png(frame, title)
        parts.append(f"<img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    return parts
