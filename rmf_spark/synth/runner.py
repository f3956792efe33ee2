"""``generate_world``: build the synthetic world and write raw data, reference and truth.

The only module of :mod:`rmf_spark.synth` that reads or writes. Intermediate results are
staged as Parquet under ``DIR/_work`` (read back instead of recomputed) and removed at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark.synth import events as ev
from rmf_spark.synth import truth as tr
from rmf_spark.synth import writers as wr
from rmf_spark.synth.faults import FAULT_KINDS, to_fault_tags, with_faults
from rmf_spark.synth.network import build_network, cell_epochs
from rmf_spark.synth.population import to_persons, to_tourists
from rmf_spark.synth.profile import SynthProfile, load_profile
from rmf_spark.synth.radio_truth import compute_tile_cells
from rmf_spark.synth.schedules import to_person_days, to_schedules
from rmf_spark.synth.subscriptions import regional_shares, to_devices
from rmf_spark.synth.territory import build_territory, to_tiles, zone_polygons

__all__ = ["generate_world", "local_day_starts"]

log = logging.getLogger(__name__)


def local_day_starts(start: dt.date, n: int, time_zone: str) -> list[int]:
    """UTC epoch seconds of local midnight of ``start + i`` days, ``i = 0..n-1``."""
    tz = ZoneInfo(time_zone)
    return [
        int(dt.datetime.combine(start + dt.timedelta(days=i), dt.time(), tz).timestamp())
        for i in range(n)
    ]


def _write_all(jobs: list[tuple[DataFrame, Path]]) -> None:
    """Write independent Delta tables concurrently (Spark runs jobs from several threads;
    small tables are dominated by commit latency, not by the cluster)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(wr.write_delta, df, path) for df, path in jobs]:
            f.result()


def _stage(df: DataFrame, path: Path) -> DataFrame:
    df.write.mode("overwrite").parquet(str(path))
    return df.sparkSession.read.parquet(str(path))


def _day_of(day_index: str, dates: list[str]) -> F.Column:
    arr = F.array(*[F.lit(d) for d in dates])
    return F.when(F.col(day_index).isNull(), None).otherwise(
        F.to_date(F.element_at(arr, F.least(F.col(day_index), F.lit(len(dates) - 1)) + 1))
    )


def _persons_truth(persons: DataFrame, dates: list[str]) -> DataFrame:
    return persons.select(
        "person_id",
        tr.inspire_100m(F.col("home_x"), F.col("home_y")).alias("home_inspire_100m"),
        "home_municipality_id",
        "home_region_id",
        "home_x",
        "home_y",
        "is_worker",
        F.when(F.col("is_worker"), tr.inspire_100m(F.col("work_x"), F.col("work_y"))).alias(
            "work_inspire_100m"
        ),
        "work_x",
        "work_y",
        "is_migrant",
        _day_of("migration_day", dates).alias("migration_date"),
        F.when(
            F.col("is_migrant"), tr.inspire_100m(F.col("new_home_x"), F.col("new_home_y"))
        ).alias("new_home_inspire_100m"),
        "new_home_municipality_id",
        "is_outbound",
        _day_of("abroad_from_day", dates).alias("abroad_from"),
        _day_of("abroad_to_day", dates).alias("abroad_to"),
        "is_tourist",
        F.when(F.col("is_tourist"), _day_of("first_day", dates)).alias("visit_from"),
        F.when(F.col("is_tourist"), _day_of("last_day", dates)).alias("visit_to"),
    )


class _Timer:
    """Seconds spent per stage (reported in the manifest)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self._last, 2)
        self._last = now
        log.info("synth: %s done (%.1f s)", stage, now - self._last)


def generate_world(
    spark: SparkSession,
    profile: SynthProfile | str,
    out_dir: str | Path,
    *,
    seed: int | None = None,
) -> dict[str, Any]:
    """Generate the synthetic world of ``profile`` under ``out_dir``; return the manifest.

    Writes ``raw/<mno>/events/*``, ``raw/<mno>/cells/*``, ``reference/*`` and ``truth/*``
    (docs/tables.md section 1, docs/synthetic-world.md) and ``synth_manifest.json``. The same
    profile and seed give the same raw bytes and the same table contents.
    """
    t_start = time.monotonic()
    timer = _Timer()
    prof = load_profile(profile) if isinstance(profile, str) else profile
    seed = prof.seed if seed is None else seed
    out = Path(out_dir).resolve()
    work = out / "_work"
    nb = prof.n_buckets
    n_days = prof.n_days
    dates = [d.isoformat() for d in prof.days]
    sim_dates = [*dates, (prof.days[-1] + dt.timedelta(days=1)).isoformat()]
    day_start_s = local_day_starts(prof.start_date, n_days + 2, prof.time_zone)
    holidays = {dt.date.fromisoformat(k) for k in prof.holidays}
    workday = [
        d.weekday() < 5 and d not in holidays
        for d in (prof.start_date + dt.timedelta(days=i) for i in range(n_days + 1))
    ]

    # --- territory and reference data -------------------------------------------------------
    terr = build_territory(prof.territory, seed=seed)
    zones_pd = zone_polygons(terr)
    zones = spark.createDataFrame(
        zones_pd, "zone_id string, zone_level int, parent_id string, name string, wkt string"
    )
    ref = out / "reference"
    tiles = _stage(to_tiles(spark, terr, n_partitions=nb), work / "tiles")
    holidays_df = spark.createDataFrame(
        [(dt.date.fromisoformat(k), v) for k, v in sorted(prof.holidays.items())],
        "date date, name string",
    )
    _write_all(
        [
            (zones, ref / "zones"),
            (spark.createDataFrame([(terr.polygon().wkt,)], "wkt string"), ref / "territory"),
            (tiles.select("inspire_100m", "x_ll", "y_ll", "land_use"), ref / "land_use"),
            (holidays_df, ref / "holidays"),
        ]
    )
    timer.lap("territory")
    # --- people, devices, schedules -------------------------------------------------------------
    persons = to_persons(tiles, t=terr, p=prof.population, seed=seed, n_days=n_days).unionByName(
        to_tourists(spark, t=terr, p=prof.population, seed=seed, n_days=n_days, n_partitions=nb)
    )
    persons = _stage(persons, work / "persons")
    shares = regional_shares(
        prof.mnos, n_regions=terr.n_regions, jitter=prof.subscriptions.share_jitter, seed=seed
    )
    devices = _stage(
        to_devices(persons, mnos=prof.mnos, shares=shares, sub=prof.subscriptions, seed=seed),
        work / "devices",
    )
    schedules = _stage(
        to_schedules(
            to_person_days(persons, n_days=n_days),
            t=terr,
            p=prof.population,
            seed=seed,
            day_start_s=day_start_s,
            workday=workday,
        ),
        work / "schedules",
    )

    timer.lap("people")
    # --- truth ----------------------------------------------------------------------------------
    truth = out / "truth"
    period_start = int(dt.datetime.combine(prof.start_date, dt.time(), dt.UTC).timestamp())
    n_points = n_days * 86400 // prof.truth_step_s
    positions = tr.to_positions(
        schedules, t=terr, start_s=period_start, step_s=prof.truth_step_s, n_points=n_points
    )
    truth_devices = devices.select(
        "raw_id", "person_id", "mno_id", "device_index", "is_inbound", "mcc", "mnc"
    )
    _write_all(
        [
            (_persons_truth(persons, sim_dates), truth / "persons"),
            (truth_devices, truth / "devices"),
            (positions, truth / "positions"),
        ]
    )
    positions = spark.read.format("delta").load(str(truth / "positions"))
    residents = tr.compute_residents(persons)
    noise = prof.population.register_noise_sd
    _write_all(
        [
            (tr.compute_present_population(positions), truth / "present_population"),
            (tr.compute_present_devices(positions, devices), truth / "present_devices"),
            (tr.compute_od_flows(schedules, zones, dates=dates), truth / "od_flows"),
            (residents, truth / "residents"),
            (tr.compute_register(residents, zones, noise_sd=noise, seed=seed), ref / "register"),
            (tr.compute_market_share(persons, devices), ref / "market_share"),
        ]
    )
    timer.lap("truth")
    # --- networks, events, faults, raw files --------------------------------------------------
    events_per_day: dict[str, dict[str, int]] = {}
    faults_by_kind: dict[str, dict[str, int]] = {}
    cells_per_mno: dict[str, int] = {}
    tags_all: DataFrame | None = None
    for i, mno in enumerate(prof.mnos):
        cells = build_network(
            terr,
            mno,
            radio=prof.radio,
            mno_index=i,
            seed=seed,
            start=prof.start_date,
            n_days=n_days,
        )
        cells_per_mno[mno.mno_id] = len(cells)
        raw = out / "raw" / mno.mno_id
        if mno.raw_format == "mno_a":
            wr.write_cells_mno_a(spark, cells, raw / "cells" / "cells.csv")
        else:
            wr.write_cells_mno_b(spark, cells, raw / "cells" / "cells.parquet")
        timer.lap("networks")
        epoch_of_day, masks = cell_epochs(cells, prof.days)
        tile_cells = _stage(
            compute_tile_cells(
                spark, cells, t=terr, masks=masks, radio=prof.radio, seed=seed, stream=50 + i
            ),
            work / mno.mno_id / "tile_cells",
        )
        timer.lap("radio_truth")
        cells_sdf = spark.createDataFrame(
            cells[["cell_idx", "cell_id", "technology", "x", "y", "antenna_height_m"]]
        )
        file_date = (
            F.to_date(F.from_utc_timestamp(F.timestamp_millis("ts_ms"), prof.time_zone))
            if mno.raw_format == "mno_a"
            else F.to_date(F.timestamp_millis("ts_ms"))
        )
        raw_events = ev.to_events(
            ev.to_device_days(devices, schedules, mno_id=mno.mno_id),
            mno=mno,
            t=terr,
            seed=seed,
            stream=1000 * (i + 1),
        )
        served = ev.with_serving_cell(
            raw_events,
            tile_cells=tile_cells,
            cells=cells_sdf,
            file_date=file_date,
            epoch_of_date=dict(zip(dates, epoch_of_day, strict=True)),
        ).withColumn(
            "record_id",
            F.col("day").cast("long") * 10**15 + F.col("device_key") * 10**5 + F.col("seq"),
        )
        ids = cells["cell_id"].to_numpy()
        faulty = with_faults(
            served,
            rates=prof.faults,
            seed=seed,
            mno_id=mno.mno_id,
            unknown_cell_prefix=f"{mno.mcc}-{mno.mnc}-9999-" if mno.raw_format == "mno_a" else "9",
            inactive_cells={
                d: sorted(ids[~masks[e]].tolist()) for d, e in zip(dates, epoch_of_day, strict=True)
            },
            active_cells={
                d: sorted(ids[masks[e]].tolist()) for d, e in zip(dates, epoch_of_day, strict=True)
            },
        )
        staged = _stage(
            faulty.select(
                "record_id", "device_key", "raw_id", "ts_ms", "file_date", "cell_id", "kind",
                "technology", "mcc", "mnc", "ta", "fault_kind", "x", "y", "tile_idx",
            ),
            work / mno.mno_id / "events",
        )  # fmt: skip
        timer.lap("events")
        if mno.raw_format == "mno_a":
            lines = wr.lines_mno_a(staged, time_zone=prof.time_zone)
            header: str | None = wr.MNO_A_HEADER

            def name(d: str) -> str:
                return f"events_{d.replace('-', '')}.csv"
        else:
            lines = wr.lines_mno_b(staged)
            header = None

            def name(d: str) -> str:
                return f"events-{d}.jsonl"

        wr.write_daily_text(
            lines, raw / "events", file_name=name, header=header, n_partitions=max(1, n_days)
        )
        counts = staged.groupBy(F.date_format("file_date", "yyyy-MM-dd")).count().collect()
        events_per_day[mno.mno_id] = {r[0]: int(r[1]) for r in sorted(counts)}
        tags = to_fault_tags(staged, mno_id=mno.mno_id)
        fk = tags.groupBy("fault_kind").count().collect()
        faults_by_kind[mno.mno_id] = {k: 0 for k in FAULT_KINDS} | {r[0]: int(r[1]) for r in fk}
        timer.lap("raw_files")
        tags_all = tags if tags_all is None else tags_all.unionByName(tags)
    assert tags_all is not None
    wr.write_delta(tags_all, truth / "fault_tags")

    # --- manifest -------------------------------------------------------------------------------
    dev_counts = devices.groupBy("mno_id").count().collect()
    n_res = persons.where(~F.col("is_tourist")).count()
    manifest: dict[str, Any] = {
        "profile": prof.name,
        "profile_file": prof.source,
        "seed": seed,
        "start_date": dates[0],
        "n_days": n_days,
        "time_zone": prof.time_zone,
        "counts": {
            "persons": n_res,
            "tourists": persons.count() - n_res,
            "devices": {r[0]: int(r[1]) for r in sorted(dev_counts)},
            "cells": cells_per_mno,
            "events": events_per_day,
            "events_total": int(sum(sum(v.values()) for v in events_per_day.values())),
            "faults": faults_by_kind,
        },
        "regional_shares": {
            m.mno_id: [round(float(v), 6) for v in shares[:, j]] for j, m in enumerate(prof.mnos)
        },
        "seconds": round(time.monotonic() - t_start, 1),
        "stage_seconds": timer.seconds,
    }
    timer.lap("manifest")
    shutil.rmtree(work, ignore_errors=True)
    (out / "synth_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("synthetic world %s written to %s", prof.name, out)
    return manifest
