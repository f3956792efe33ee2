"""``generate_world``: build the synthetic world and write raw data, reference and truth.

The only module of :mod:`rmf_spark.synth` that reads or writes. Intermediate results are
staged as Parquet under ``DIR/_work`` (read back instead of recomputed) and removed at the end.
Independent branches (reference and truth tables, each MNO's network and events) are submitted
from threads, so Spark runs their jobs concurrently: small tables are dominated by job and
Delta commit latency, not by the cluster. Every output is a pure function of the profile and
the seed, so the order in which the branches finish does not matter.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark.synth import events as ev
from rmf_spark.synth import truth as tr
from rmf_spark.synth import writers as wr
from rmf_spark.synth.faults import FAULT_KINDS, to_fault_tags, with_faults
from rmf_spark.synth.network import build_network, cell_epochs
from rmf_spark.synth.outbound import outbound_records, to_outbound_trips, trips_truth
from rmf_spark.synth.population import to_persons, to_tourists
from rmf_spark.synth.profile import MnoParams, SynthProfile, load_profile
from rmf_spark.synth.radio_truth import compute_tile_cells
from rmf_spark.synth.schedules import to_person_days, to_schedules
from rmf_spark.synth.subscriptions import regional_shares, to_devices
from rmf_spark.synth.territory import Territory, build_territory, to_tiles, zone_polygons

__all__ = ["generate_world", "local_day_starts"]

log = logging.getLogger(__name__)


def local_day_starts(start: dt.date, n: int, time_zone: str, *, hour: int = 0) -> list[int]:
    """UTC epoch seconds of local midnight (or ``hour``:00) of ``start + i`` days,
    ``i = 0..n-1``."""
    tz = ZoneInfo(time_zone)
    return [
        int(dt.datetime.combine(start + dt.timedelta(days=i), dt.time(hour), tz).timestamp())
        for i in range(n)
    ]


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
        "household_id",
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
    """Seconds spent per stage (reported in the manifest; stages overlap, see the notes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        yield
        dt_s = time.monotonic() - t0
        with self._lock:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + dt_s, 2)
        log.info("synth: %s done (%.1f s)", name, dt_s)


class _Jobs:
    """Branches of the generation run from threads; :meth:`wait` re-raises their errors.

    A branch may submit further branches but only waits for branches submitted before it
    (the queue is FIFO, so those have started: no deadlock).
    """

    def __init__(self, n_threads: int, timer: _Timer) -> None:
        self.timer = timer
        self._pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="synth")
        self._futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        f = self._pool.submit(fn, *args, **kwargs)
        self._futures.append(f)
        return f

    def write(self, df: DataFrame, path: Path, stage: str) -> Future[Any]:
        """Write a Delta table in the background, its time counted in ``stage``."""

        def run() -> None:
            with self.timer.stage(stage):
                wr.write_delta(df, path)

        return self.submit(run)

    def wait(self) -> None:
        i = 0
        while i < len(self._futures):  # branches may add branches while we wait
            self._futures[i].result()
            i += 1

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _World:
    """What every branch needs to know."""

    spark: SparkSession
    prof: SynthProfile
    terr: Territory
    seed: int
    out: Path
    work: Path
    dates: list[str]
    timer: _Timer
    jobs: _Jobs


@dataclass(frozen=True)
class _Network:
    cells: pd.DataFrame
    epoch_of_day: list[int]
    masks: np.ndarray
    tile_cells: DataFrame


@dataclass(frozen=True)
class _MnoResult:
    events_per_day: dict[str, int]
    faults_by_kind: dict[str, int]
    outbound_records: int
    tags: DataFrame


def _network(w: _World, i: int, mno: MnoParams) -> _Network:
    """The MNO's cell plan (file written) and its true serving-cell distributions (staged)."""
    prof = w.prof
    with w.timer.stage("networks"):
        cells = build_network(w.terr, mno, radio=prof.radio, mno_index=i, seed=w.seed,
                              start=prof.start_date, n_days=prof.n_days)  # fmt: skip
        raw = w.out / "raw" / mno.mno_id
        if mno.raw_format == "mno_a":
            w.jobs.submit(wr.write_cells_mno_a, w.spark, cells, raw / "cells" / "cells.csv")
        else:
            w.jobs.submit(wr.write_cells_mno_b, w.spark, cells, raw / "cells" / "cells.parquet")
        epoch_of_day, masks = cell_epochs(cells, prof.days)
    with w.timer.stage("radio_truth"):
        tile_cells = _stage(
            compute_tile_cells(w.spark, cells, t=w.terr, masks=masks, radio=prof.radio,
                               seed=w.seed, stream=50 + i),
            w.work / mno.mno_id / "tile_cells",
        )  # fmt: skip
    return _Network(cells, epoch_of_day, masks, tile_cells)


#: above this many (tile, epoch) rows the serving-cell lookup is shuffled, not broadcast
_BROADCAST_TILE_ROWS = 3_000_000


def _mno_events(
    w: _World, i: int, mno: MnoParams, net_f: Future[_Network], devices: DataFrame,
    schedules: DataFrame, trips: DataFrame,
) -> _MnoResult:  # fmt: skip
    """Events, serving cells and faults of one MNO, with the roaming records of its devices
    abroad (staged), its raw files and counts."""
    prof, dates = w.prof, w.dates
    net = net_f.result()
    with w.timer.stage("events"):
        cells_sdf = w.spark.createDataFrame(
            net.cells[["cell_idx", "cell_id", "technology", "x", "y", "antenna_height_m"]]
        )
        file_date = (
            F.to_date(F.from_utc_timestamp(F.timestamp_millis("ts_ms"), prof.time_zone))
            if mno.raw_format == "mno_a"
            else F.to_date(F.timestamp_millis("ts_ms"))
        )
        raw_events = ev.to_events(
            ev.to_device_days(devices, schedules, mno_id=mno.mno_id),
            mno=mno, t=w.terr, seed=w.seed, stream=1000 * (i + 1),
            roamer_plmns=prof.subscriptions.roamer_plmns,
        )  # fmt: skip
        served = ev.with_serving_cell(
            raw_events,
            tile_cells=net.tile_cells,
            cells=cells_sdf,
            file_date=file_date,
            epoch_of_date=dict(zip(dates, net.epoch_of_day, strict=True)),
            top_k=prof.radio.top_k,
            broadcast_tiles=w.terr.n_tiles * len(net.masks) <= _BROADCAST_TILE_ROWS,
        ).withColumn(
            "record_id",
            F.col("day").cast("long") * 10**15 + F.col("device_key") * 10**5 + F.col("seq"),
        )
        ids = net.cells["cell_id"].to_numpy()
        by_date = list(zip(dates, net.epoch_of_day, strict=True))
        faulty = with_faults(
            served,
            rates=prof.faults,
            seed=w.seed,
            mno_id=mno.mno_id,
            unknown_cell_prefix=f"{mno.mcc}-{mno.mnc}-9999-" if mno.raw_format == "mno_a" else "9",
            inactive_cells={d: sorted(ids[~net.masks[e]].tolist()) for d, e in by_date},
            active_cells={d: sorted(ids[net.masks[e]].tolist()) for d, e in by_date},
        )
        abroad = outbound_records(
            devices, trips, mno=mno, outbound=prof.outbound, seed=w.seed, stream=1000 * (i + 1),
            day_start_s=local_day_starts(prof.start_date, prof.n_days + 2, prof.time_zone),
            file_date=file_date, dates=dates, roamer_plmns=prof.subscriptions.roamer_plmns,
        )  # fmt: skip
        staged = _stage(
            faulty.select(
                "record_id", "raw_id", "ts_ms", "file_date", "cell_id", "kind", "technology",
                "mcc", "mnc", "ta", "fault_kind",
            ).unionByName(abroad),
            w.work / mno.mno_id / "events",
        )  # fmt: skip
    with w.timer.stage("raw_files"):
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

        raw = w.out / "raw" / mno.mno_id
        wr.write_daily_text(lines, raw / "events", file_name=name, header=header,
                            n_partitions=max(1, prof.n_days))  # fmt: skip
        # one job for the counts: rows per file date, fault kind and cell-less (abroad) or not
        counts = (
            staged.groupBy(
                F.date_format("file_date", "yyyy-MM-dd").alias("d"),
                "fault_kind",
                F.col("cell_id").isNull().alias("abroad"),
            )
            .count()
            .collect()
        )
    per_day: dict[str, int] = {}
    by_kind: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
    n_abroad = 0
    for r in counts:
        per_day[r["d"]] = per_day.get(r["d"], 0) + int(r["count"])
        if r["fault_kind"] is not None:
            by_kind[r["fault_kind"]] += int(r["count"])
        n_abroad += int(r["count"]) if r["abroad"] else 0
    return _MnoResult(
        dict(sorted(per_day.items())), by_kind, n_abroad, to_fault_tags(staged, mno_id=mno.mno_id)
    )


def _period_s(prof: SynthProfile) -> tuple[int, int]:
    """UTC epoch seconds ``[start, end)`` of the truth period: ``n_days`` from the first day
    00:00 UTC (the time points of ``truth/positions``, the clip of ``truth/stays``)."""
    start = int(dt.datetime.combine(prof.start_date, dt.time(), dt.UTC).timestamp())
    return start, start + prof.n_days * 86400


def _truth_positions(w: _World, schedules: DataFrame, devices: DataFrame) -> None:
    """``truth/positions``, then (from the written table) the aggregates over positions."""
    prof, truth = w.prof, w.out / "truth"
    with w.timer.stage("truth"):
        period_start, _ = _period_s(prof)
        n_points = prof.n_days * 86400 // prof.truth_step_s
        positions = tr.to_positions(schedules, t=w.terr, start_s=period_start,
                                    step_s=prof.truth_step_s, n_points=n_points)  # fmt: skip
        wr.write_delta(positions, truth / "positions")
    positions = w.spark.read.format("delta").load(str(truth / "positions"))
    w.jobs.write(tr.compute_present_population(positions), truth / "present_population", "truth")
    day_start_s = local_day_starts(prof.start_date, prof.n_days + 2, prof.time_zone)
    w.jobs.write(
        tr.compute_present_devices(positions, devices, day_start_s=day_start_s),
        truth / "present_devices",
        "truth",
    )


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
    prof = load_profile(profile) if isinstance(profile, str) else profile
    seed = prof.seed if seed is None else seed
    out = Path(out_dir).resolve()
    jobs = _Jobs(n_threads=16, timer=_Timer())
    try:
        manifest = _generate(spark, prof, out, seed, jobs)
    finally:
        jobs.close()
    manifest["seconds"] = round(time.monotonic() - t_start, 1)
    shutil.rmtree(out / "_work", ignore_errors=True)
    (out / "synth_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("synthetic world %s written to %s", prof.name, out)
    return manifest


def _generate(
    spark: SparkSession, prof: SynthProfile, out: Path, seed: int, jobs: _Jobs
) -> dict[str, Any]:
    timer = jobs.timer
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
    ref, truth = out / "reference", out / "truth"

    # --- territory and reference data: the first Delta commits warm the JVM up early ------------
    with timer.stage("territory"):
        terr = build_territory(prof.territory, seed=seed)
        w = _World(spark, prof, terr, seed, out, out / "_work", dates, timer, jobs)
        zones_pd = zone_polygons(terr)
        zones = spark.createDataFrame(
            zones_pd,
            "zone_id string, zone_level int, parent_id string, name string, wkt string",
        )
        holidays_df = spark.createDataFrame(
            [(dt.date.fromisoformat(k), v) for k, v in sorted(prof.holidays.items())],
            "date date, name string",
        )
        jobs.write(zones, ref / "zones", "reference")
        territory = spark.createDataFrame([(terr.polygon().wkt,)], "wkt string")
        jobs.write(territory, ref / "territory", "reference")
        jobs.write(holidays_df, ref / "holidays", "reference")
        # networks do not depend on the people: they start now
        nets = [jobs.submit(_network, w, i, mno) for i, mno in enumerate(prof.mnos)]
        tiles = _stage(to_tiles(spark, terr, n_partitions=nb), w.work / "tiles")
        jobs.write(
            tiles.select("inspire_100m", "x_ll", "y_ll", "land_use"), ref / "land_use", "reference"
        )
    # --- people, devices, schedules -------------------------------------------------------------
    with timer.stage("people"):
        persons = to_persons(tiles, t=terr, p=prof.population, seed=seed, n_days=n_days)
        persons = persons.unionByName(
            to_tourists(spark, t=terr, p=prof.population, seed=seed, n_days=n_days,
                        n_partitions=nb)
        )  # fmt: skip
        persons = _stage(persons, w.work / "persons")
        shares = regional_shares(
            prof.mnos, n_regions=terr.n_regions, jitter=prof.subscriptions.share_jitter, seed=seed
        )
        devices_f = jobs.submit(
            _stage,
            to_devices(
                persons,
                mnos=prof.mnos,
                shares=shares,
                sub=prof.subscriptions,
                seed=seed,
                n_days=n_days,
            ),
            w.work / "devices",
        )
        schedules = _stage(
            to_schedules(to_person_days(persons, n_days=n_days), t=terr, p=prof.population,
                         seed=seed, day_start_s=day_start_s, workday=workday),
            w.work / "schedules",
        )  # fmt: skip
        devices = devices_f.result()
    # --- events per MNO first (the longest branches), then the truth tables ----------------------
    trips = to_outbound_trips(persons, outbound=prof.outbound, seed=seed)
    mno_fs = [
        jobs.submit(_mno_events, w, i, mno, nets[i], devices, schedules, trips)
        for i, mno in enumerate(prof.mnos)
    ]
    jobs.submit(_truth_positions, w, schedules, devices)
    truth_devices = devices.select(
        "raw_id", "person_id", "mno_id", "device_index", "is_inbound", "mcc", "mnc",
        _day_of("from_day", sim_dates).alias("from_date"),
        _day_of("to_day", sim_dates).alias("to_date"),
    )  # fmt: skip
    residents = tr.compute_residents(persons)
    munis = zones_pd[zones_pd["zone_level"] == 2]
    muni_region = dict(zip(munis["zone_id"], munis["parent_id"], strict=True))
    noise = prof.population.register_noise_sd
    jobs.write(_persons_truth(persons, sim_dates), truth / "persons", "truth")
    jobs.write(truth_devices, truth / "devices", "truth")
    jobs.write(trips_truth(trips, start_date=dates[0]), truth / "outbound_trips", "truth")
    jobs.write(
        tr.compute_od_flows(schedules, muni_region=muni_region, dates=dates),
        truth / "od_flows",
        "truth",
    )
    period_start, period_end = _period_s(prof)
    jobs.write(
        tr.to_stays(schedules, persons, muni_region=muni_region, start_s=period_start,
                    end_s=period_end),
        truth / "stays",
        "truth",
    )  # fmt: skip
    jobs.write(residents, truth / "residents", "truth")
    night_s = local_day_starts(
        prof.start_date, n_days + 1, prof.time_zone, hour=tr.FUNCTIONAL_MIDNIGHT_HOUR
    )
    jobs.write(
        tr.compute_inbound_nights(schedules, persons, devices, t=terr, muni_region=muni_region,
                                  night_s=night_s, dates=dates),
        truth / "inbound_nights",
        "truth",
    )  # fmt: skip
    jobs.write(
        tr.compute_inbound_visitors(schedules, persons, devices, dates=dates),
        truth / "inbound_visitors",
        "truth",
    )
    jobs.write(
        tr.compute_inbound_share(schedules, persons, devices, dates=dates),
        ref / "inbound_share",
        "reference",
    )
    jobs.write(
        tr.compute_register(residents, zones, noise_sd=noise, seed=seed),
        ref / "register",
        "reference",
    )
    jobs.write(tr.compute_market_share(persons, devices), ref / "market_share", "reference")
    dev_counts_f = jobs.submit(lambda: devices.groupBy("mno_id").count().collect())
    switching_f = jobs.submit(
        lambda: devices.where(F.col("is_inbound") & F.col("from_day").isNotNull()).count()
    )
    person_counts_f = jobs.submit(lambda: persons.groupBy("is_tourist").count().collect())
    results = [f.result() for f in mno_fs]
    tags_all = results[0].tags
    for r in results[1:]:
        tags_all = tags_all.unionByName(r.tags)
    wr.write_delta(tags_all, truth / "fault_tags")
    jobs.wait()

    # --- manifest -------------------------------------------------------------------------------
    events_per_day = {m.mno_id: r.events_per_day for m, r in zip(prof.mnos, results, strict=True)}
    n_by_tourist = {bool(r[0]): int(r[1]) for r in person_counts_f.result()}
    return {
        "profile": prof.name,
        "profile_file": prof.source,
        "seed": seed,
        "start_date": dates[0],
        "n_days": n_days,
        "time_zone": prof.time_zone,
        "counts": {
            "persons": n_by_tourist.get(False, 0),
            "tourists": n_by_tourist.get(True, 0),
            "devices": {r[0]: int(r[1]) for r in sorted(dev_counts_f.result())},
            "switching_roamers": int(switching_f.result()),
            "cells": {
                m.mno_id: len(f.result().cells) for m, f in zip(prof.mnos, nets, strict=True)
            },
            "events": events_per_day,
            "events_total": int(sum(sum(v.values()) for v in events_per_day.values())),
            "faults": {m.mno_id: r.faults_by_kind for m, r in zip(prof.mnos, results, strict=True)},
            "outbound_records": {
                m.mno_id: r.outbound_records for m, r in zip(prof.mnos, results, strict=True)
            },
        },
        "regional_shares": {
            m.mno_id: [round(float(v), 6) for v in shares[:, j]] for j, m in enumerate(prof.mnos)
        },
        "stage_seconds": timer.seconds,
    }
