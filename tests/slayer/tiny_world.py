"""A tiny world in the C-layer contract (docs/tables.md section 3), built inline for tests.

3 km x 1 km of 100 m tiles (300 tiles, three 1 km tiles), regions R1 (municipalities M1, M2)
and R2 (M3), six cells with overlapping footprints, devices placed on tiles with events
around each hour. The true device positions are returned as a truth table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

X0, Y0 = 4_000_000.0, 3_000_000.0
NX, NY = 30, 10
START = datetime(2024, 3, 5, 8, 0, 0)
HOURS = 3
MNO = "mno_t"


def grid() -> pd.DataFrame:
    ix, iy = np.meshgrid(np.arange(NX), np.arange(NY), indexing="ij")
    x = X0 + 100.0 * ix.ravel()
    y = Y0 + 100.0 * iy.ravel()
    x1 = np.floor(x / 1000) * 1000
    y1 = np.floor(y / 1000) * 1000
    return pd.DataFrame(
        {
            # the C-layer's id: (E / 100) * 2**20 + N / 100
            "tile_id": ((x // 100).astype("int64") << 20) + (y // 100).astype("int64"),
            "inspire_100m": [
                f"100mN{int(b) // 100}E{int(a) // 100}" for a, b in zip(x, y, strict=True)
            ],
            "inspire_1km": [
                f"1kmN{int(b) // 1000}E{int(a) // 1000}" for a, b in zip(x1, y1, strict=True)
            ],
            "tile_1km_id": ((x1 - X0) // 1000).astype("int64"),
            "x_ll": x,
            "y_ll": y,
        }
    )


def tile_zone(g: pd.DataFrame) -> pd.DataFrame:
    col = ((g["x_ll"] - X0) // 100).astype(int)
    muni = np.where(col < 12, "M1", np.where(col < 20, "M2", "M3"))
    region = np.where(muni == "M3", "R2", "R1")
    return pd.concat(
        [
            pd.DataFrame({"tile_id": g["tile_id"], "zone_level": 1, "zone_id": region}),
            pd.DataFrame({"tile_id": g["tile_id"], "zone_level": 2, "zone_id": muni}),
        ],
        ignore_index=True,
    )


def connection_probability(g: pd.DataFrame) -> pd.DataFrame:
    cells = {f"C{i}": (X0 + 250 + 500 * i, Y0 + 500) for i in range(6)}
    cx = g["x_ll"].to_numpy() + 50
    cy = g["y_ll"].to_numpy() + 50
    sig = np.stack(
        [np.exp(-((cx - a) ** 2 + (cy - b) ** 2) / (2 * 450.0**2)) for a, b in cells.values()]
    )
    sig[sig < 0.05] = 0.0
    p_cell = sig / sig.sum(axis=0, keepdims=True)
    p_tile = p_cell / p_cell.sum(axis=1, keepdims=True)
    rows = []
    for i, cid in enumerate(cells):
        nz = np.nonzero(p_cell[i])[0]
        rows.append(
            pd.DataFrame(
                {
                    "cell_id": cid,
                    "footprint_version": "v1",
                    "tile_id": g["tile_id"].to_numpy()[nz],
                    "p_cell_given_tile": p_cell[i, nz],
                    "p_tile_given_cell": p_tile[i, nz],
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out["date"] = START.date()  # connection_probability is per date (C-layer)
    return out


def events_and_truth(
    g: pd.DataFrame, cp: pd.DataFrame, *, n_devices: int = 400, seed: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (event_location layout) and the true tile of each device at each hour."""
    rng = np.random.default_rng(seed)
    # denser on the west side so tiles differ
    weight = np.exp(-(g["x_ll"].to_numpy() - X0) / 1200.0)
    tiles = g["tile_id"].to_numpy()
    by_tile = dict(iter(cp.groupby("tile_id")))
    ev, truth = [], []
    for h in range(HOURS):
        tp = START + timedelta(hours=h)
        pos = rng.choice(tiles, size=n_devices, p=weight / weight.sum())
        for d, t in enumerate(pos):
            truth.append((f"dev{d:04d}", tp, int(t)))
            opts = by_tile[t]
            for _ in range(rng.integers(1, 3)):
                cell = rng.choice(
                    opts["cell_id"].to_numpy(), p=opts["p_cell_given_tile"].to_numpy()
                )
                ts = tp + timedelta(seconds=int(rng.integers(-1700, 1700)))
                ev.append((f"dev{d:04d}", ts, cell, "v1", True, ts.date(), d % 4))
    events = pd.DataFrame(
        ev,
        columns=[
            "device_id",
            "event_ts",
            "cell_id",
            "footprint_version",
            "usable",
            "date",
            "device_bucket",
        ],
    )
    return events, pd.DataFrame(truth, columns=["device_id", "time_point", "tile_id"])


def write_world(spark, cfg) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """Write grid, tile_zone, connection_probability, event_location and the convergence
    parameters (as ``rmf convergence`` records them) into cfg's lake."""
    from rmf_spark import lake, tables
    from rmf_spark.clayer.parameters import convergence_parameters

    g = grid()
    tz = tile_zone(g)
    cp = connection_probability(g)
    ev, truth = events_and_truth(g, cp)
    frames = {tables.GRID: g, tables.TILE_ZONE: tz, tables.CONNECTION_PROBABILITY: cp}
    for spec, pdf in frames.items():
        lake.write_delta(spark.createDataFrame(pdf), spec.path(cfg, mno=MNO))
    lake.write_delta(
        spark.createDataFrame(ev),
        tables.EVENT_LOCATION.path(cfg, mno=MNO),
        partition_by=("date",),
    )
    tables.CONVERGENCE_PARAMETERS.write(
        convergence_parameters(spark, cfg.convergence, date=START.date()),
        cfg,
        mno=MNO,
        replace_where=f"date = DATE'{START.date()}'",
    )
    return {"grid": g, "tile_zone": tz, "connection_probability": cp, "events": ev, "truth": truth}


_LAKES: dict[str, dict[str, Any]] = {}


def pipeline_lake(spark, cfg) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The tiny world in ``cfg``'s lake with present population computed (once per lake)."""
    from rmf_spark.slayer.present_population.runner import run_present_population

    key = cfg.lake.root
    if key not in _LAKES:
        world = write_world(spark, cfg)
        shares = spark.createDataFrame(
            [("R1", 0.5), ("R2", 0.25)], "region_id string, share double"
        )
        end = START + timedelta(hours=HOURS - 1)
        summary = run_present_population(
            spark, cfg, mno=MNO, start=START, end=end, market_share=shares
        )
        _LAKES[key] = {**world, "summary": summary, "start": START, "end": end}
    return _LAKES[key]


def write_truth(spark, world: dict[str, Any], truth_dir) -> None:  # type: ignore[no-untyped-def]
    """``truth/present_devices`` and ``truth/present_population`` as the synthetic world
    writes them; persons = 2 x devices in R1 and 4 x in R2 (the shares of the tiny world)."""
    from rmf_spark import lake

    g = world["grid"].set_index("tile_id")
    tz = world["tile_zone"]
    muni = tz[tz["zone_level"] == 2].set_index("tile_id")["zone_id"]
    reg = tz[tz["zone_level"] == 1].set_index("tile_id")["zone_id"]
    tr = world["truth"].assign(
        inspire_100m=lambda d: g.loc[d["tile_id"], "inspire_100m"].to_numpy(),
        inspire_1km=lambda d: g.loc[d["tile_id"], "inspire_1km"].to_numpy(),
        municipality=lambda d: muni.loc[d["tile_id"]].to_numpy(),
        region=lambda d: reg.loc[d["tile_id"]].to_numpy(),
    )
    dev = tr.groupby(["time_point", "inspire_100m"]).size().rename("devices").reset_index()
    dev.insert(0, "mno_id", MNO)
    tr["persons"] = np.where(tr["region"] == "R1", 2, 4)
    pop = pd.concat(
        [
            tr.groupby(["time_point", col])["persons"]
            .sum()
            .reset_index()
            .rename(columns={col: "area_id"})
            .assign(level=name)
            for name, col in (
                ("100m", "inspire_100m"),
                ("1km", "inspire_1km"),
                ("municipality", "municipality"),
                ("region", "region"),
            )
        ],
        ignore_index=True,
    )
    lake.write_delta(spark.createDataFrame(dev), lake.uri_join(truth_dir, "present_devices"))
    lake.write_delta(
        spark.createDataFrame(pop[["time_point", "level", "area_id", "persons"]]),
        lake.uri_join(truth_dir, "present_population"),
    )
