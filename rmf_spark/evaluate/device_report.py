"""What the device model believes, for a few sample devices: one HTML page per MNO.

For each sample device-day (a quiet, a typical and a busy device: the device-days at about
the 25th, 50th and 75th percentile of located events), a map of its hourly posteriors (each
time point's tiles, shaded by probability and coloured by hour), the posterior means joined
in time order and, on a synthetic world, the person's true positions; beside it the day's
segments as a timeline coloured by state. Devices are shown as "device 1, 2, ...": their
pseudonyms stay in the lake, and the page is for the MNO's own evaluation (device-level
output never leaves the MNO).
"""

from __future__ import annotations

import base64
import html
import io
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DATE, DEVICE_ID, TILE_ID, X_LL, Y_LL
from rmf_spark.slayer.device.schemas import (
    DAY_STATUS,
    END_TS,
    LOCATED,
    LOCATED_EVENTS,
    PROBABILITY,
    START_TS,
    STATE,
    STATES,
)
from rmf_spark.slayer.present_population.schemas import TIME_POINT

__all__ = ["device_report_frames", "sample_device_days", "write_device_report"]

#: percentiles of located events of the sample device-days (quiet, typical, busy)
SAMPLE_QUANTILES = (0.25, 0.5, 0.75)
_STATE_COLOURS = {
    "stay": "#1b9e77",
    "move": "#d95f02",
    "undetermined": "#7570b3",
    "unknown": "#bbbbbb",
    "abroad": "#e7298a",
}


def sample_device_days(
    device_day: DataFrame, *, quantiles: tuple[float, ...] = SAMPLE_QUANTILES
) -> list[tuple[str, date]]:
    """The located device-days at (about: 1 % rank error) the given quantiles of
    ``located_events``: for each, the first at or above it by (events, device id, date), so
    every run shows the same; without repeats. A few small Spark jobs, no collect of the
    table."""
    located = device_day.where(F.col(DAY_STATUS) == LOCATED).select(DEVICE_ID, DATE, LOCATED_EVENTS)
    cuts = located.approxQuantile(LOCATED_EVENTS, list(quantiles), 0.01)
    picks: list[tuple[str, date]] = []
    for cut in cuts:
        row = (
            located.where(F.col(LOCATED_EVENTS) >= cut)
            .orderBy(LOCATED_EVENTS, DEVICE_ID, DATE)
            .first()
        )
        if row is not None and (row[DEVICE_ID], row[DATE]) not in picks:
            picks.append((row[DEVICE_ID], row[DATE]))
    return picks


def device_report_frames(
    *,
    device_day: DataFrame,
    segments: DataFrame,
    posteriors: DataFrame,
    grid: DataFrame,
    errors: DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The sample device-days' rows of the device tables, in pandas (a few thousand rows).

    ``errors``: :func:`~rmf_spark.evaluate.device_accuracy.compute_position_errors` output
    (posterior means and true positions), when a truth is there.
    """
    picks = sample_device_days(device_day)
    if not picks:
        return {}
    keys = F.lit(False)
    for device, day in picks:
        keys = keys | ((F.col(DEVICE_ID) == device) & (F.col(DATE) == F.lit(day)))
    post = posteriors.where(keys).join(grid.select(TILE_ID, X_LL, Y_LL), TILE_ID, "left")
    frames = {
        "picks": pd.DataFrame(picks, columns=[DEVICE_ID, DATE]),
        "segments": segments.where(keys)
        .select(DEVICE_ID, DATE, STATE, START_TS, END_TS)
        .toPandas(),
        "posteriors": post.select(DEVICE_ID, DATE, TIME_POINT, X_LL, Y_LL, PROBABILITY).toPandas(),
    }
    if errors is not None:
        days = [F.lit(d) for _, d in picks]
        chosen = errors.where(
            F.col(DEVICE_ID).isin(*[d for d, _ in picks]) & F.to_date(TIME_POINT).isin(*days)
        )
        frames["errors"] = chosen.select(
            DEVICE_ID, TIME_POINT, "x", "y", "true_x", "true_y", "error_m"
        ).toPandas()
    return frames


def _device_png(
    label: str,
    post: pd.DataFrame,
    seg: pd.DataFrame,
    err: pd.DataFrame | None,
    day: date,
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_map, ax_time) = plt.subplots(
        1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 1.3]}, constrained_layout=True
    )
    cmap = plt.get_cmap("twilight")
    hours = (post[TIME_POINT] - pd.Timestamp(day)).dt.total_seconds() / 3600
    cx, cy = post[X_LL] + 50, post[Y_LL] + 50
    ax_map.scatter(
        cx / 1000,
        cy / 1000,
        c=cmap(hours.to_numpy() / 24),
        s=8,
        marker="s",
        alpha=np.clip(post[PROBABILITY].to_numpy() * 5, 0.05, 1.0),
        linewidths=0,
    )
    if err is not None and not err.empty:
        e = err.sort_values(TIME_POINT)
        ax_map.plot(e["x"] / 1000, e["y"] / 1000, "-o", color="black", ms=3, lw=1,
                    label="posterior mean")  # fmt: skip
        ax_map.plot(e["true_x"] / 1000, e["true_y"] / 1000, "x--", color="red", ms=5, lw=0.8,
                    label="true position")  # fmt: skip
        ax_map.legend(loc="best", fontsize=8)
        p50 = float(np.nanmedian(e["error_m"])) if e["error_m"].notna().any() else float("nan")
        ax_map.set_title(f"{label}: posteriors by hour, median error {p50:.0f} m")
    else:
        ax_map.set_title(f"{label}: posteriors by hour")
    ax_map.set_xlabel("x (km)")
    ax_map.set_ylabel("y (km)")
    ax_map.set_aspect("equal", adjustable="datalim")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 24))
    fig.colorbar(sm, ax=ax_map, shrink=0.7, label="hour (UTC)")

    day0 = pd.Timestamp(day)
    for i, state in enumerate(STATES):
        rows = seg[seg[STATE] == state]
        spans = [
            ((s - day0).total_seconds() / 3600, (e - s).total_seconds() / 3600)
            for s, e in zip(rows[START_TS], rows[END_TS], strict=True)
        ]
        ax_time.broken_barh(
            spans,
            (i - 0.4, 0.8),
            facecolor=_STATE_COLOURS.get(state, "grey"),
            edgecolor="white",  # consecutive segments of one state stay apart
            linewidth=0.8,
        )
    ax_time.set_yticks(range(len(STATES)), list(STATES))
    ax_time.set_xlim(0, 24)
    ax_time.set_xticks(range(0, 25, 3))
    ax_time.set_xlabel("hour of the day (UTC)")
    ax_time.set_title(f"{label}: {len(seg)} segments")
    ax_time.grid(axis="x", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_device_report(path: str | Path, frames: dict[str, pd.DataFrame], *, mno: str) -> Path:
    """Write the page (PNG figures embedded: one self-contained file) from
    :func:`device_report_frames`; a page saying so when no device-day was located."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>rmf_spark device model: {html.escape(mno)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}</style></head><body>",
        f"<h1>What the device model believes, {html.escape(mno)}</h1>",
        "<p>Sample device-days (the 25th, 50th and 75th percentile of located events): on "
        "the left the hourly location posteriors (tiles shaded by probability, coloured by "
        "hour), their means in time order and the true positions where a truth exists; on "
        "the right the segments of the day by state (docs/device-inference.md).</p>",
    ]
    picks = frames.get("picks")
    if picks is None or picks.empty:
        parts.append("<p>No located device-day in the lake.</p>")
    else:
        err_all = frames.get("errors")
        for i, (device, day) in enumerate(zip(picks[DEVICE_ID], picks[DATE], strict=True)):
            label = f"device {i + 1}, {day}"
            post = frames["posteriors"]
            post = post[(post[DEVICE_ID] == device) & (post[DATE] == day)]
            seg = frames["segments"]
            seg = seg[(seg[DEVICE_ID] == device) & (seg[DATE] == day)]
            err = None
            if err_all is not None:
                err = err_all[
                    (err_all[DEVICE_ID] == device)
                    & (err_all[TIME_POINT].dt.date == pd.Timestamp(day).date())
                ]
            png = _device_png(label, post, seg, err, day)
            parts.append(f"<h2>{html.escape(label)}</h2>")
            parts.append(f"<img alt='{html.escape(label)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
