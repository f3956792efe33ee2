"""Benchmark of the present-population stage: pandas groups per date (before) against groups per
date and spatial block (after), in the same Spark session.

Prepares, untimed, a world of the bench profile (or a reduced variant, as ``bench/synth.py``)
through the C-layer (synth, ingest, convergence) in ``--out``, or reuses the one found there.
Then, for every repetition and MNO, times the stage as the runner computes it (the reach
offsets materialised, then the tile estimates, EM and naive, persisted and rolled up to all
levels into Spark's no-op sink):

* ``before``: the reach calibration and the EM in one pandas group per date (the functions
  the package had before the blocks, kept here only, on the package's per-date groups);
* ``after``: the package's, with ``[present_population.blocks]`` from ``--block-km`` and
  ``--halo-km``;
* ``floor``: one plain scan plus one shuffle by device of the same bronze events (as
  ``bench/pipeline.py``).

Prints one JSON object: medians and runs (seconds), the largest pandas group of the EM and of
the calibration (rows, and bytes of the pandas frames it holds), and how far ``after`` is from
``before``: tile devices (largest relative difference, L1 difference over the total), reach
offsets (largest absolute difference) and the EM's NAE against the truth (1 km, municipality).

Usage::

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/present_population.py --scale 0.05
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python bench/present_population.py --profile tiny \\
        --block-km 0 --out /tmp/pp-tiny     # before = after (exact), world kept for reruns
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_profiles import add_reduction_arguments, add_world_arguments, reduced_profile
from pipeline import floor_seconds

PREPARED = "prepared.json"


def prepare(spark, cfg, prof, out: Path, *, mnos=None, world=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Synth, ingest and convergence of ``prof`` into ``out``, for ``mnos`` (default: all).

    What ``out`` already holds is skipped: the world, and the MNOs prepared before.
    ``world``: an already generated world of the same profile, linked as ``out/world``.
    """
    from rmf_spark.clayer.runner import run_convergence
    from rmf_spark.dlayer.runner import run_ingest, run_ingest_cells
    from rmf_spark.synth.runner import generate_world

    done = out / PREPARED
    info = json.loads(done.read_text()) if done.exists() else None
    wanted = list(mnos or [m.mno_id for m in prof.mnos])
    if info is not None and set(wanted) <= set(info["mnos"]):
        return info
    t0 = time.perf_counter()
    dates = [prof.start_date + dt.timedelta(days=i) for i in range(prof.n_days)]
    if info is None:
        if world is not None and not (out / "world").exists():
            (out / "world").symlink_to(Path(world).resolve(), target_is_directory=True)
        else:
            generate_world(spark, prof, out / "world")
        info = {
            "profile": prof.name,
            "mnos": [],
            "dates": [d.isoformat() for d in dates],
            "seconds": 0.0,
        }
    for mno in (m for m in wanted if m not in info["mnos"]):
        run_ingest_cells(spark, cfg, mno=mno)
        for day in dates:
            run_ingest(spark, cfg, mno=mno, date=day)
        for day in dates:
            run_convergence(spark, cfg, mno=mno, date=day)
        info["mnos"].append(mno)
    info["seconds"] = round(info["seconds"] + time.perf_counter() - t0, 1)
    done.write_text(json.dumps(info))
    return info


# ---- before: one pandas group per date (the package's functions before the spatial blocks) ----


def em_per_date(max_iterations, relative_tolerance, ta_buffer, steepness):  # type: ignore[no-untyped-def]
    """The EM of a whole date in one pandas group (matrix built once, shared by time points)."""
    import numpy as np
    import pandas as pd

    from rmf_spark.clayer.schemas import CELL_ID, FOOTPRINT_VERSION, TILE_ID, TIMING_ADVANCE
    from rmf_spark.slayer.aggregate.schemas import DEVICES
    from rmf_spark.slayer.present_population.em import em_iterate, observation_matrix
    from rmf_spark.slayer.present_population.reach_calibration import apply_reach_offsets
    from rmf_spark.slayer.present_population.schemas import PLE_OFFSET, TA_STEP_M, TIME_POINT

    def run(counts: pd.DataFrame, cp: pd.DataFrame) -> pd.DataFrame:
        out = [
            pd.DataFrame(
                {TIME_POINT: pd.Series([], dtype="datetime64[ns]"), TILE_ID: [], DEVICES: []}
            )
        ]
        if counts.empty or cp.empty:
            return out[0]
        if PLE_OFFSET in cp.columns and cp[PLE_OFFSET].notna().any():
            cp = apply_reach_offsets(cp, steepness=steepness)
        obs_cols = [CELL_ID, FOOTPRINT_VERSION, TIMING_ADVANCE, TA_STEP_M]
        obs_codes, _ = pd.factorize(pd.MultiIndex.from_frame(counts[obs_cols].astype(str)))
        first = pd.Series(np.arange(len(counts))).groupby(obs_codes).first().to_numpy()
        observations = counts.iloc[first][obs_cols].reset_index(drop=True)
        p, tiles = observation_matrix(observations, cp, ta_buffer=ta_buffer)
        pt = p.T.tocsr()
        devices = counts[DEVICES].to_numpy(dtype=float)
        for time_point, idx in counts.groupby(TIME_POINT).indices.items():
            c = np.bincount(obs_codes[idx], weights=devices[idx], minlength=len(observations))
            r = em_iterate(
                c, p, pt, max_iterations=max_iterations, relative_tolerance=relative_tolerance
            )
            keep = r.density > 0
            out.append(
                pd.DataFrame(
                    {TIME_POINT: time_point, TILE_ID: tiles[keep], DEVICES: r.density[keep]}
                )
            )
        return pd.concat(out, ignore_index=True)

    return run


def em_before(
    cell_counts, *, connection_probability, settings, dominance_steepness, reach_offsets=None
):  # type: ignore[no-untyped-def]
    """``compute_em_tile_devices`` with one pandas group per date."""
    from rmf_spark.clayer.schemas import DATE
    from rmf_spark.slayer.present_population.estimators import em_groups
    from rmf_spark.slayer.present_population.settings import BlockSettings

    g = em_groups(
        cell_counts,
        connection_probability=connection_probability,
        blocks=BlockSettings(km=0),
        reach_offsets=reach_offsets,
    )
    fn = em_per_date(
        settings.max_iterations,
        settings.relative_tolerance,
        settings.timing_advance_buffer,
        dominance_steepness,
    )
    schema = "time_point timestamp, tile_id long, devices double"
    return g.left.groupBy(DATE).cogroup(g.right.groupBy(DATE)).applyInPandas(fn, schema)


def offsets_before(cp, ta_events, *, settings, steepness, ta_buffer, blocks):  # type: ignore[no-untyped-def]
    """``compute_reach_offsets`` with one pandas group per date (``blocks`` ignored)."""
    import pandas as pd

    from rmf_spark.clayer.schemas import DATE
    from rmf_spark.slayer.present_population.reach_calibration import calibrate_reach, reach_groups
    from rmf_spark.slayer.present_population.schemas import REACH_OFFSETS_SCHEMA
    from rmf_spark.slayer.present_population.settings import BlockSettings

    g = reach_groups(cp, ta_events, blocks=BlockSettings(km=0))
    columns = REACH_OFFSETS_SCHEMA.fieldNames()

    def run(cp_date: pd.DataFrame, ta_date: pd.DataFrame) -> pd.DataFrame:
        if cp_date.empty or ta_date.empty:
            return pd.DataFrame({c: [] for c in columns})
        offsets = calibrate_reach(
            cp_date, ta_date, settings=settings, steepness=steepness, ta_buffer=ta_buffer
        ).offsets
        return offsets.assign(**{DATE: ta_date[DATE].iloc[0]})[columns]

    return (
        g.left.groupBy(DATE).cogroup(g.right.groupBy(DATE)).applyInPandas(run, REACH_OFFSETS_SCHEMA)
    )


@contextmanager
def em_replaced_by(em: Callable[..., Any] | None) -> Iterator[None]:
    """The pipeline's EM replaced by ``em`` (None: the package's) for the block."""
    from rmf_spark.slayer.present_population import pipeline

    kept = pipeline.compute_em_tile_devices
    pipeline.compute_em_tile_devices = em or kept
    try:
        yield
    finally:
        pipeline.compute_em_tile_devices = kept


# ---- the stage, its groups and its results ----


def run_stage(spark, cfg, mno: str, info: dict[str, Any], version: str):  # type: ignore[no-untyped-def]
    """Seconds of the stage (offsets, tiles, roll-ups) and its EM tiles and offsets (cached)."""
    from pyspark.sql import functions as F

    from rmf_spark.slayer.inputs import read_clayer, read_market_share
    from rmf_spark.slayer.present_population.pipeline import (
        compute_tile_estimates,
        to_present_population,
    )
    from rmf_spark.slayer.present_population.reach_calibration import (
        compute_reach_offsets,
        compute_ta_event_counts,
    )

    s = cfg.present_population
    t = read_clayer(
        spark, cfg, mno=mno, names=("event_location", "connection_probability", "grid", "tile_zone")
    ).tables
    start = dt.datetime.fromisoformat(info["dates"][0])
    end = dt.datetime.fromisoformat(info["dates"][-1]) + dt.timedelta(hours=23)
    steepness = cfg.convergence.radio.steepness
    offsets_fn = offsets_before if version == "before" else compute_reach_offsets
    t0 = time.perf_counter()
    ta = compute_ta_event_counts(
        t["event_location"], start=start, end=end, ta_step_m=s.timing_advance_step_m
    )
    offsets = offsets_fn(
        t["connection_probability"],
        ta,
        settings=s.reach_calibration,
        steepness=steepness,
        ta_buffer=s.timing_advance_buffer,
        blocks=s.blocks,
    ).cache()
    offsets.count()
    t1 = time.perf_counter()
    with em_replaced_by(em_before if version == "before" else None):
        tiles = compute_tile_estimates(
            t["event_location"],
            connection_probability=t["connection_probability"],
            tile_zone=t["tile_zone"],
            market_share=read_market_share(spark, cfg, mno=mno),
            start=start,
            end=end,
            settings=s,
            dominance_steepness=steepness,
            reach_offsets=offsets,
        ).persist()
        tiles.count()
    t2 = time.perf_counter()
    to_present_population(tiles, grid=t["grid"], tile_zone=t["tile_zone"]).write.format(
        "noop"
    ).mode("overwrite").save()
    t3 = time.perf_counter()
    em = tiles.where(F.col("method") == "em").select("time_point", "tile_id", "devices")
    return (
        {"offsets": t1 - t0, "tiles": t2 - t1, "rollups": t3 - t2, "stage": t3 - t0},
        em,
        offsets,
        tiles,
    )


def largest_group(groups) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Rows of the largest group of a cogroup (both sides) and the bytes of its pandas frames."""
    from pyspark.sql import functions as F

    sizes = (
        groups.left.groupBy(*groups.by)
        .agg(F.count(F.lit(1)).alias("left"))
        .join(
            groups.right.groupBy(*groups.by).agg(F.count(F.lit(1)).alias("right")),
            on=groups.by,
            how="full_outer",
        )
        .fillna(0, subset=["left", "right"])
        .withColumn("rows", F.col("left") + F.col("right"))
    )
    n_groups = sizes.count()
    top = sizes.orderBy(F.desc("rows")).first()
    key = F.lit(True)
    for c in groups.by:
        key = key & (F.col(c) == F.lit(top[c]))
    left, right = groups.left.where(key).toPandas(), groups.right.where(key).toPandas()
    nbytes = int(left.memory_usage(deep=True).sum() + right.memory_usage(deep=True).sum())
    return {
        "groups": n_groups,
        "largest": {
            "rows_left": int(top["left"]),
            "rows_right": int(top["right"]),
            "pandas_bytes": nbytes,
        },
    }


def group_sizes(spark, cfg, mno: str, info: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The largest pandas group of the EM and of the calibration, per date and per block."""
    from rmf_spark.slayer.inputs import read_clayer
    from rmf_spark.slayer.present_population.estimators import em_groups
    from rmf_spark.slayer.present_population.observations import (
        compute_cell_counts,
        to_device_time_points,
    )
    from rmf_spark.slayer.present_population.reach_calibration import (
        compute_ta_event_counts,
        reach_groups,
    )
    from rmf_spark.slayer.present_population.settings import BlockSettings

    s = cfg.present_population
    t = read_clayer(spark, cfg, mno=mno, names=("event_location", "connection_probability")).tables
    start = dt.datetime.fromisoformat(info["dates"][0])
    end = dt.datetime.fromisoformat(info["dates"][-1]) + dt.timedelta(hours=23)
    counts = compute_cell_counts(
        to_device_time_points(
            t["event_location"],
            start=start,
            end=end,
            step_s=s.time_step_s,
            tolerance_s=s.tolerance_s,
        ),
        ta_step_m=s.timing_advance_step_m,
    ).cache()
    ta = compute_ta_event_counts(
        t["event_location"], start=start, end=end, ta_step_m=s.timing_advance_step_m
    )
    out = {}
    for name, blocks in (("before", BlockSettings(km=0)), ("after", s.blocks)):
        em = em_groups(
            counts,
            connection_probability=t["connection_probability"],
            blocks=blocks,
            reach_offsets=None,
        )
        out[name] = {
            "em": largest_group(em),
            "reach_calibration": largest_group(
                reach_groups(t["connection_probability"], ta, blocks=blocks)
            ),
        }
    counts.unpersist()
    return out


def compare(spark, cfg, mno: str, res: dict[str, Any], out: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """How far ``after`` is from ``before``: tile devices, offsets and the EM's NAE."""
    from pyspark.sql import functions as F

    from rmf_spark import lake
    from rmf_spark.evaluate.accuracy import compute_nae, to_truth_devices
    from rmf_spark.slayer.present_population.pipeline import to_present_population

    b, a = res["before"], res["after"]
    keys = ["time_point", "tile_id"]
    both = (
        b["em"]
        .withColumnRenamed("devices", "b")
        .join(a["em"].withColumnRenamed("devices", "a"), on=keys, how="full_outer")
        .fillna(0.0, subset=["a", "b"])
    )
    d = both.agg(
        F.max(F.abs(F.col("a") - F.col("b")) / F.greatest(F.abs("a"), F.abs("b"))).alias("max_rel"),
        (F.sum(F.abs(F.col("a") - F.col("b"))) / F.sum("b")).alias("l1_rel"),
        F.sum("b").alias("total_before"),
        F.sum("a").alias("total_after"),
    ).first()
    okeys = ["date", "cell_id", "footprint_version"]
    od = (
        b["offsets"]
        .select(*okeys, F.col("ple_offset").alias("b"))
        .join(a["offsets"].select(*okeys, F.col("ple_offset").alias("a")), on=okeys)
        .agg(
            F.max(F.abs(F.col("a") - F.col("b"))).alias("max_abs"), F.count(F.lit(1)).alias("cells")
        )
        .first()
    )
    grid = lake.read_delta(spark, lake.table_path(cfg, "clayer", "grid"))
    tile_zone = lake.read_delta(spark, lake.table_path(cfg, "clayer", "tile_zone"))
    truth = to_truth_devices(
        lake.read_delta(spark, str(out / "world" / "truth" / "present_devices")),
        mno=mno,
        grid=grid,
        tile_zone=tile_zone,
    )
    nae = {}
    for version in ("before", "after"):
        rolled = to_present_population(res[version]["tiles"], grid=grid, tile_zone=tile_zone)
        rows = compute_nae(
            rolled.where((F.col("method") == "em") & F.col("level").isin("1km", "zone_2")),
            truth=truth,
        ).collect()
        nae[version] = {r["level"]: round(r["nae"], 6) for r in rows}
    return {
        "tile_devices_max_rel_diff": d["max_rel"],
        "tile_devices_l1_rel_diff": d["l1_rel"],
        "devices_total_before": d["total_before"],
        "devices_total_after": d["total_after"],
        "offsets_max_abs_diff": od["max_abs"],
        "offsets_cells_compared": od["cells"],
        "em_nae": nae,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reduction_arguments(ap)
    add_world_arguments(ap)
    ap.add_argument("--floor-runs", type=int, default=3)
    ap.add_argument(
        "--block-km", type=float, help="[present_population.blocks] km (default: the profile's)"
    )
    ap.add_argument("--halo-km", type=float, help="[present_population.blocks] halo_km")
    args = ap.parse_args()

    from rmf_spark import lake
    from rmf_spark.demo import demo_config
    from rmf_spark.session import get_spark

    prof, overrides = reduced_profile(args)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rmf_pp_bench_"))
    out.mkdir(parents=True, exist_ok=True)
    user: dict[str, Any] = {"spark.master": args.master, "spark.ui_enabled": False}
    if args.block_km is not None:
        user["present_population.blocks.km"] = args.block_km
    if args.halo_km is not None:
        user["present_population.blocks.halo_km"] = args.halo_km
    mnos = [m.mno_id for m in prof.mnos]
    cfg = demo_config(None, user, out, mnos)
    os.environ.setdefault(cfg.ingest.key_env, secrets.token_hex(32))
    spark = get_spark(cfg)
    try:
        info = prepare(spark, cfg, prof, out)
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        diffs, results = {}, {}
        for rep in range(args.reps):
            # alternate the order, so that neither version always runs first (JVM warm-up)
            for version in ("before", "after") if rep % 2 == 0 else ("after", "before"):
                total: dict[str, float] = {}
                for mno in mnos:
                    secs, em, offsets, tiles = run_stage(spark, cfg, mno, info, version)
                    total = {k: total.get(k, 0.0) + v for k, v in secs.items()}
                    if rep == args.reps - 1:
                        results.setdefault(mno, {})[version] = {
                            "em": em,
                            "offsets": offsets,
                            "tiles": tiles,
                        }
                    else:
                        offsets.unpersist()
                        tiles.unpersist()
                runs[version].append(total)
        for mno in mnos:
            diffs[mno] = compare(spark, cfg, mno, results[mno], out)
        sizes = {mno: group_sizes(spark, cfg, mno, info) for mno in mnos}
        paths = [lake.table_path(cfg, "bronze", "events", mno=m) for m in mnos]
        floors = floor_seconds(spark, paths, runs=args.floor_runs)
        events = sum(spark.read.format("delta").load(p).count() for p in paths)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)

    def medians(version: str) -> dict[str, float]:
        return {
            k: round(statistics.median(r[k] for r in runs[version]), 2) for k in runs[version][0]
        }

    before, after, floor = medians("before"), medians("after"), statistics.median(floors)
    print(
        json.dumps(
            {
                "benchmark": "present_population",
                "profile": prof.name,
                "overrides": overrides,
                "master": spark.sparkContext.master,
                "blocks": cfg.present_population.blocks.model_dump(),
                "mnos": mnos,
                "dates": info["dates"],
                "bronze_events": events,
                "seconds_before": before,
                "seconds_after": after,
                "runs_before": [{k: round(v, 2) for k, v in r.items()} for r in runs["before"]],
                "runs_after": [{k: round(v, 2) for k, v in r.items()} for r in runs["after"]],
                "floor_seconds": round(floor, 2),
                "floor_seconds_runs": [round(x, 2) for x in floors],
                "stage_over_floor": {
                    "before": round(before["stage"] / floor, 2),
                    "after": round(after["stage"] / floor, 2),
                },
                "largest_group": sizes,
                "after_vs_before": diffs,
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
