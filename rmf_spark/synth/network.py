"""One network per MNO: sites placed where people live, sectors, technologies, validity.

A few hundred to a few thousand cells: made on the driver with numpy (seeded by the global
seed and the MNO's position in the profile), returned as one pandas frame holding both the
planned values (what the MNO's cell plan says, some missing) and the true ones (what the
radio truth uses: ``true_ple``, ``true_azimuth_deg``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from rmf_spark.synth.profile import MnoParams, RadioTruthParams
from rmf_spark.synth.territory import Territory

__all__ = ["EPOCH_START", "active_mask", "build_network", "cell_epochs"]

#: valid_from of cells that exist before the period
EPOCH_START = dt.date(2020, 1, 1)
_FREQ = {"2G": [900.0], "3G": [2100.0], "4G": [800.0, 1800.0, 2600.0], "5G": [3500.0]}
_PLANNED_OPTIONAL = (
    "azimuth_deg", "tilt_deg", "beam_h_deg", "beam_v_deg", "power_w", "antenna_height_m",
    "range_m",
)  # fmt: skip


def _sites(t: Territory, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points with density ``~ rho^0.6`` (rejection sampling on the density surface)."""
    peak = (1.0 + t.rural_density) ** 0.6
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        x = t.x0 + t.width_m * rng.uniform(0, 1, 4 * n)
        y = t.y0 + t.height_m * rng.uniform(0, 1, 4 * n)
        keep = rng.uniform(0, peak, 4 * n) < t.density(x, y) ** 0.6
        out.append(np.column_stack([x, y])[keep])
    return np.concatenate(out)[:n]


def build_network(
    t: Territory,
    mno: MnoParams,
    *,
    radio: RadioTruthParams,
    mno_index: int,
    seed: int,
    start: dt.date,
    n_days: int,
) -> pd.DataFrame:
    """The MNO's cells: plan columns, true columns, validity (``valid_to`` inclusive).

    Macro sites carry three directional sectors (azimuths ``a0 + 0/120/240``, power 10-40 W,
    height 20-40 m, tilt 2-8 degrees, beams 65/9 degrees, range 10 km, 20 km on 2G); micro
    cells are omnidirectional (1-5 W, 6-12 m, range 1 km) around towns. True path-loss
    exponent ``ple + N(0, ple_sd)``; true azimuth ``planned + N(0, azimuth_error_sd)``.
    """
    rng = np.random.default_rng([seed, 100 + mno_index])
    techs = list(mno.technology_mix)
    mix = np.array([mno.technology_mix[k] for k in techs])
    mix = mix / mix.sum()
    sites = _sites(t, mno.n_macro_sites, rng)
    rows = []
    for s, (x, y) in enumerate(sites):
        a0 = rng.uniform(0, 120)
        height, tilt, power = rng.uniform(20, 40), rng.uniform(2, 8), rng.choice([10, 20, 40])
        for sector in range(3):
            tech = techs[rng.choice(len(techs), p=mix)]
            range_m = 20000.0 if tech == "2G" else 10000.0
            azimuth = (a0 + 120 * sector) % 360
            rows.append((s, sector, x, y, "macro", True, azimuth, tilt, 65.0, 9.0, float(power),
                         height, range_m, tech))  # fmt: skip
    k = rng.choice(
        len(t.town_weight), size=mno.n_micro_cells, p=t.town_weight / t.town_weight.sum()
    )
    for i, town in enumerate(k):
        x = np.clip(
            t.town_xy[town, 0] + rng.normal(0, t.town_radius[town]), t.x0 + 1, t.x0 + t.width_m - 1
        )
        y = np.clip(
            t.town_xy[town, 1] + rng.normal(0, t.town_radius[town]), t.y0 + 1, t.y0 + t.height_m - 1
        )
        tech = rng.choice(["4G", "5G"])
        rows.append((len(sites) + i, 0, x, y, "micro", False, np.nan, np.nan, np.nan, np.nan,
                     float(rng.uniform(1, 5)), rng.uniform(6, 12), 1000.0, tech))  # fmt: skip
    cells = pd.DataFrame(
        rows,
        columns=["site", "sector", "x", "y", "cell_type", "directional", "azimuth_deg",
                 "tilt_deg", "beam_h_deg", "beam_v_deg", "power_w", "antenna_height_m",
                 "range_m", "technology"],
    )  # fmt: skip
    n = len(cells)
    cells.insert(0, "cell_idx", np.arange(n, dtype=np.int32))
    cells["frequency_mhz"] = [float(rng.choice(_FREQ[tc])) for tc in cells["technology"]]
    cells["altitude_m"] = 0.0
    lac = 1000 + cells["site"] // 50
    ci = cells["site"] * 10 + cells["sector"]
    if mno.raw_format == "mno_a":
        cells["cell_id"] = [f"{mno.mcc}-{mno.mnc}-{a}-{b}" for a, b in zip(lac, ci, strict=True)]
    else:
        cells["cell_id"] = [f"5{c:06d}" for c in ci]
    base = np.where(cells["cell_type"] == "macro", radio.ple_macro, radio.ple_micro)
    cells["true_ple"] = np.clip(base + rng.normal(0, radio.ple_sd, n), 2.0, 8.0)
    cells["true_azimuth_deg"] = (
        cells["azimuth_deg"] + rng.normal(0, radio.azimuth_error_sd_deg, n)
    ) % 360
    cells["valid_from"] = EPOCH_START
    cells["valid_to"] = pd.Series([None] * n, dtype=object)
    if n_days > 1:
        changed = rng.choice(n, size=min(n, mno.n_cells_added + mno.n_cells_removed), replace=False)
        for j, c in enumerate(changed):
            if j < mno.n_cells_added:
                cells.loc[c, "valid_from"] = start + dt.timedelta(days=int(rng.integers(1, n_days)))
            else:
                cells.loc[c, "valid_to"] = start + dt.timedelta(
                    days=int(rng.integers(0, n_days - 1))
                )
    for col in _PLANNED_OPTIONAL:
        miss = rng.uniform(0, 1, n) < mno.missing_value_rate
        cells[f"plan_{col}"] = cells[col].where(~miss)
    return cells


def active_mask(cells: pd.DataFrame, day: dt.date) -> np.ndarray:
    """Cells valid on ``day``: ``valid_from <= day`` and (``valid_to`` null or ``>= day``)."""
    vt = cells["valid_to"]
    return ((cells["valid_from"] <= day) & (vt.isna() | (vt >= day))).to_numpy()


def cell_epochs(cells: pd.DataFrame, days: list[dt.date]) -> tuple[list[int], np.ndarray]:
    """Group the days by their set of active cells: ``(epoch of each day, masks per epoch)``."""
    masks: list[np.ndarray] = []
    epoch_of_day = []
    for d in days:
        m = active_mask(cells, d)
        idx = next((i for i, e in enumerate(masks) if (e == m).all()), None)
        if idx is None:
            masks.append(m)
            idx = len(masks) - 1
        epoch_of_day.append(idx)
    return epoch_of_day, np.array(masks)
