"""``rmf demo``: the whole chain on a synthetic world, with accuracy against its truth.

synth -> ingest (cells, then each day) -> convergence (each day) -> present population (EM,
naive) -> device-level inference (each day; then the ``hmm`` present population from its
posteriors) -> usual environment and OD -> release (present population, residents, OD) ->
fusion (the MNOs' exports combined, with the register) -> evaluate, for every MNO of the
profile, in one Spark session.
Progress is printed per stage; ``DIR/summary.json`` holds the seconds per stage, the D-layer
accounting and the device-stage metrics per MNO, the accuracy block and the report path.

With ``mnos_at_once`` > 1 the MNOs of a stage run side by side (threads of one Spark
application): on a tiny world a stage waits mostly on job scheduling and Delta commits, not on
the cores (the tests' demo on the tiny world's day: 207 s -> 164 s). On the small profile the
stages are CPU-bound on 2 cores and were no faster, present population and release slower, so
the default is one MNO after the other. The device stage (memory-heavy) and the evaluation
(matplotlib is not thread-safe) always take the MNOs one after the other.

The pseudonymisation key and the MNOs' shared roamer-link key (``RMF_LINK_KEY``) are drawn at
random for the run unless set (the demo has no key to protect) and are never written anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rmf_spark.config import RmfConfig, load_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from rmf_spark.synth.profile import MnoParams, SynthProfile

__all__ = ["run_demo"]

#: the present-population estimators from cell counts (the device stage adds ``hmm``)
COUNTS = ("em", "naive")


def demo_config(
    config_path: str | Path | None,
    user_overrides: dict[str, Any],
    out: Path,
    mnos: Sequence[MnoParams | str],
    *,
    time_zone: str | None = None,
) -> RmfConfig:
    """The profile for a demo in ``out``: lake, raw dirs and reference data inside ``out``,
    each MNO's input profile, then the user's own ``--set`` overrides.

    Parameters
    ----------
    mnos
        The world's MNOs (``SynthProfile.mnos``): each gets ``[ingest.mno.<id>]`` with its raw
        directory and the input profile of its raw format (``conf/inputs/``,
        :func:`rmf_spark.synth.profile.input_profile_path`), so a world with any number of
        MNOs needs no table for them in the main profile. An MNO given by its id alone gets
        the raw directory only and keeps the main profile's input profile.
    time_zone
        The world's zone (``SynthProfile.time_zone``): the usual environment's day types and
        time intervals, the OD matrices' days and time bands and tourism's functional
        midnights are local to it, as in the truth. ``device.time_zone`` stays the main
        profile's: it only places the device-days' midnights (a stay across one is not cut),
        and on UTC the ``hmm`` estimator's time points are the EM's days.

    Examples
    --------
    >>> from pathlib import Path
    >>> from rmf_spark.synth.profile import MnoParams
    >>> c = MnoParams(mno_id="mno_c", raw_format="mno_a", regime="cdr", market_share=0.1,
    ...               mnc="04")
    >>> cfg = demo_config(None, {}, Path("/tmp/demo"), [c])
    >>> cfg.ingest.mno["mno_c"].raw_dir, Path(cfg.ingest.mno["mno_c"].profile).name
    ('/tmp/demo/world/raw/mno_c', 'mno_a.toml')
    """
    from rmf_spark import tables
    from rmf_spark.lake import uri_join
    from rmf_spark.synth.profile import input_profile_path

    reference = uri_join(out, "world", "reference")
    overrides: dict[str, Any] = {
        "lake.root": uri_join(out, "lake"),
        "convergence.reference_dir": reference,
        "present_population.market_share_table": uri_join(reference, tables.MARKET_SHARE.name),
        "release.zones_table": uri_join(reference, tables.ZONES.name),
        # the synthetic register lists the zones with residents only: an absent zone has none
        "usual_environment.calibration.missing_register": "zero",
    }
    if time_zone is not None:
        for section in ("usual_environment", "mobility", "tourism"):
            overrides[f"{section}.time_zone"] = time_zone
    for mno in mnos:
        mno_id = mno if isinstance(mno, str) else mno.mno_id
        overrides[f"ingest.mno.{mno_id}.raw_dir"] = uri_join(out, "world", "raw", mno_id)
        if not isinstance(mno, str):
            overrides[f"ingest.mno.{mno_id}.profile"] = str(input_profile_path(mno.raw_format))
    return load_config(config_path, overrides={**overrides, **user_overrides})


_N_STAGES = 9


def _with_inbound_share(cfg: RmfConfig, out: Path, *, user_overrides: dict[str, Any]) -> RmfConfig:
    """``cfg`` expanding inbound tourism with the world's ``reference/inbound_share`` (each
    origin's share of visitors on each MNO), when the world has one (worlds made before the
    tourism truth do not: their inbound persons stay null) and ``--set`` gave none."""
    from rmf_spark import tables

    share = out / "world" / "reference" / tables.INBOUND_SHARE.name
    if not share.is_dir() or "tourism.inbound.share_table" in user_overrides:
        return cfg
    inbound = cfg.tourism.inbound.model_copy(update={"share_table": str(share)})
    tourism = cfg.tourism.model_copy(update={"inbound": inbound})
    return cfg.model_copy(update={"tourism": tourism})


def _demo_labels(cfg: RmfConfig, *, days: int, user_overrides: dict[str, Any]) -> RmfConfig:
    """``cfg`` with minimum observations for the labels that a demo's few days can meet.

    MultiMNO's defaults (1500 slots, 50 days) are for months of data: on a week they would
    label nobody. The demo asks a device to be seen on 40 % of the days (at least one) and
    in 8 hourly slots per such day; ``--set usual_environment.labels.min_*`` wins.
    """
    labels = cfg.usual_environment.labels
    min_days = max(1, math.ceil(0.4 * days))
    update = {
        k: v
        for k, v in (("min_days", min_days), ("min_slots", 8 * min_days))
        if f"usual_environment.labels.{k}" not in user_overrides
    }
    ue = cfg.usual_environment.model_copy(update={"labels": labels.model_copy(update=update)})
    return cfg.model_copy(update={"usual_environment": ue})


def _fusion(
    spark: SparkSession,
    cfg: RmfConfig,
    out: Path,
    *,
    mnos: list[str],
    days: tuple[dt.date, dt.date],
) -> dict[str, Any]:
    """Each MNO's fusion export of the days, the clear-mode fusion with the world's register,
    and its accuracy against the true residents of the period."""
    from rmf_spark import lake
    from rmf_spark.evaluate.fusion_accuracy import fusion_accuracy
    from rmf_spark.evaluate.usual_environment_accuracy import period_residents
    from rmf_spark.fusion.export_runner import run_fusion_export
    from rmf_spark.fusion.runner import run_fusion

    exports = [out / "fusion" / "exports" / mno for mno in mnos]
    for mno, where in zip(mnos, exports, strict=True):
        run_fusion_export(spark, cfg, mno=mno, start=days[0], end=days[1], out_dir=where)
    products = out / "fusion" / "products"
    manifest = run_fusion(
        cfg,
        exports=exports,
        register=out / "world" / "reference" / "register",
        out_dir=products,
        spark=spark,
    )
    truth = period_residents(
        lake.read_delta(spark, lake.uri_join(out, "world", "truth", "persons")),
        start=days[0],
        end=days[1],
    ).toPandas()
    return {
        "manifest": str(products / "manifest.json"),
        "products": manifest["products"],
        "accuracy": fusion_accuracy(products, truth),
    }


class _Stages:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.seconds: dict[str, float] = {}
        self.echo = echo

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.echo(f"[{len(self.seconds) + 1}/{_N_STAGES}] {name}: {what} ...")
        t0 = time.perf_counter()
        yield
        took = time.perf_counter() - t0
        self.seconds[name] = round(self.seconds.get(name, 0.0) + took, 2)
        self.echo(f"      {name} done in {took:.1f} s")


def _each_mno(mnos: Sequence[str], run: Callable[[str], Any], *, at_once: int) -> list[Any]:
    """``run(mno)`` for every MNO, ``at_once`` at a time; results in the order of ``mnos``.

    The first error is raised once the MNOs already started have finished (a Spark job cannot
    be abandoned half way from Python without leaving its writes to the next run).
    """
    if at_once <= 1 or len(mnos) <= 1:
        return [run(m) for m in mnos]
    with ThreadPoolExecutor(min(at_once, len(mnos)), thread_name_prefix="demo") as pool:
        futures = [pool.submit(run, m) for m in mnos]
        return [f.result() for f in futures]


def _pooled(per_mno: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean over MNOs of each accuracy figure (None where no MNO has it)."""

    def mean(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return round(sum(vals) / len(vals), 6) if vals else None

    blocks = [a["present_population"] for a in per_mno.values()]
    methods = [m for m in ("em", "naive", "hmm") if all(m in b for b in blocks)]
    pooled: dict[str, Any] = {
        "present_population": {
            m: {k: mean([b[m][k] for b in blocks]) for k in ("nae_1km", "nae_zone")}
            for m in methods
        }
        | {"population_nae_zone": mean([b["population_nae_zone"] for b in blocks])}
    }
    if "hmm" in methods:
        cover = [b["hmm"]["interval_coverage"] for b in blocks]
        pooled["present_population"]["hmm"]["interval_coverage"] = {
            k: mean([c[k] for c in cover]) for k in cover[0]
        }
    devices = [a["device"] for a in per_mno.values() if "device" in a]
    if devices:
        pooled["device"] = {
            "position_error_p50_m": mean([d["position_error_m"]["p50_m"] for d in devices]),
            "position_error_p90_m": mean([d["position_error_m"]["p90_m"] for d in devices]),
            "stay_recall": mean([d["stays"]["recall"] for d in devices]),
            "stay_precision": mean([d["stays"]["precision"] for d in devices]),
        }
    products = [a["products"] for a in per_mno.values() if "products" in a]
    if products:

        def pick(*path: str) -> float | None:
            values = []
            for p in products:
                for key in path:
                    p = p.get(key) if isinstance(p, dict) else None
                values.append(p if isinstance(p, int | float) else None)
            return mean(values)

        pooled["products"] = {
            "labelled_share": pick("home_work", "labelled_share"),
            "home_within_1km": pick("home_work", "home", "within_share"),
            "home_municipality_correct": pick("home_work", "home", "municipality_correct_share"),
            "work_within_1km": pick("home_work", "work", "within_share"),
            "residents_nae_ratio": pick("residents", "nae", "ratio"),
            "residents_nae_calibrated": pick("residents", "nae", "calibrated"),
            "residents_nae_register": pick("residents", "nae", "register"),
            "residents_interval_coverage": pick("residents", "interval_coverage"),
            "od_nae_municipality": pick("od", "zone_2", "nae"),
            "od_intra_share_difference_points": pick(
                "od", "zone_2", "intra_share_difference_points"
            ),
            "inbound_nights_nae_region": pick("tourism_inbound", "nights", "nae"),
            "inbound_nights_total_error": pick("tourism_inbound", "nights", "total_relative_error"),
            "inbound_visitors_nae_day": pick("tourism_inbound", "visitors", "nae"),
            "outbound_trips_nae_country": pick("tourism_outbound", "trips", "nae"),
            "outbound_trips_total_error": pick("tourism_outbound", "trips", "total_relative_error"),
        }
    return pooled


def run_demo(
    profile: str | SynthProfile,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    world_dir: str | Path | None = None,
    device_days: int | None = None,
    mnos_at_once: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the demo; write and return ``summary.json``.

    Parameters
    ----------
    profile
        Synthetic-world profile name (``conf/synth/<name>.toml``), path, or a loaded profile
        (e.g. a reduced one, as in ``bench/pipeline.py``).
    out_dir
        Where the world, the lake, the exports, the report and the summary go.
    seed
        Seed of the world (default: the profile's).
    config_path, overrides
        Main profile (default ``conf/local.toml``) and ``--set`` overrides; the demo points
        the lake, raw and reference paths into ``out_dir``.
    world_dir
        An already generated world of the same profile and seed to reuse instead of
        generating one (``out_dir/world`` then links to it).
    device_days
        Days (from the first) the device stage and the ``hmm`` estimator run on; None: every
        day, 0: none (the stage costs about 0.2-1.3 s of one core per device-day today,
        ``docs/device-inference.md`` section 8).
    mnos_at_once
        MNOs processed side by side in ingest, convergence, present population and release
        (default 1: one after the other; module notes).
    """
    from rmf_spark.clayer.runner import build_grid, run_convergence
    from rmf_spark.dlayer.runner import run_ingest, run_ingest_cells
    from rmf_spark.evaluate.runner import (
        run_evaluate,
        run_evaluate_device,
        run_evaluate_products,
    )
    from rmf_spark.fusion.signatures import LINK_KEY_ENV
    from rmf_spark.release.runner import run_release
    from rmf_spark.session import get_spark
    from rmf_spark.slayer.device.runner import run_device
    from rmf_spark.slayer.mobility.runner import run_od
    from rmf_spark.slayer.present_population.runner import run_present_population
    from rmf_spark.slayer.tourism.runner import run_tourism_inbound, run_tourism_outbound
    from rmf_spark.slayer.usual_environment.runner import run_usual_environment
    from rmf_spark.synth.profile import SynthProfile, load_profile
    from rmf_spark.synth.runner import generate_world

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    prof = profile if isinstance(profile, SynthProfile) else load_profile(profile)
    mnos = [m.mno_id for m in prof.mnos]
    cfg = demo_config(config_path, overrides or {}, out, prof.mnos, time_zone=prof.time_zone)
    key_env = cfg.ingest.key_env
    os.environ.setdefault(key_env, secrets.token_hex(32))
    # the MNOs' shared key of the fusion's roamer link, drawn like the pseudonymisation key
    os.environ.setdefault(LINK_KEY_ENV, secrets.token_hex(32))
    stages = _Stages(echo)
    spark = get_spark(cfg)

    with stages.stage("synth", f"world '{prof.name}' in {out / 'world'}"):
        if world_dir is None:
            manifest = generate_world(spark, prof, out / "world", seed=seed)
        else:
            if not (out / "world").exists():
                (out / "world").symlink_to(Path(world_dir).resolve(), target_is_directory=True)
            manifest = json.loads((out / "world" / "synth_manifest.json").read_text())
    cfg = _with_inbound_share(cfg, out, user_overrides=overrides or {})
    dates = [prof.start_date + dt.timedelta(days=i) for i in range(prof.n_days)]
    start = dt.datetime.combine(dates[0], dt.time(0))
    end = dt.datetime.combine(dates[-1], dt.time(23))

    at_once = 1 if mnos_at_once is None else mnos_at_once

    def ingest(mno: str) -> dict[str, int]:
        run_ingest_cells(spark, cfg, mno=mno)
        totals = dict.fromkeys(
            ("raw_rows", "bronze_rows", "quarantined_rows", "duplicates_removed"), 0
        )
        for day in dates:
            c = run_ingest(spark, cfg, mno=mno, date=day)
            totals["raw_rows"] += c.rows_read
            totals["bronze_rows"] += c.rows_bronze
            totals["quarantined_rows"] += c.rows_quarantined
            totals["duplicates_removed"] += c.duplicates_removed
        echo(f"      {mno}: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
        return totals

    def converge(mno: str) -> None:
        for day in dates:
            run_convergence(spark, cfg, mno=mno, date=day)

    with stages.stage("ingest", f"{len(mnos)} MNOs x {len(dates)} days into bronze"):
        accounting = dict(zip(mnos, _each_mno(mnos, ingest, at_once=at_once), strict=True))
    with stages.stage("convergence", "grid, footprints, connection probabilities, events"):
        build_grid(spark, cfg)  # shared by the MNOs: built once, before they start
        _each_mno(mnos, converge, at_once=at_once)
    with stages.stage("present_population", f"EM and naive, hourly, {start} .. {end}"):
        _each_mno(
            mnos,
            lambda mno: run_present_population(
                spark, cfg, mno=mno, start=start, end=end, methods=COUNTS
            ),
            at_once=at_once,
        )
    device_metrics: dict[str, dict[str, Any]] = {}
    on = dates if device_days is None else dates[: max(device_days, 0)]
    ue_cfg = _demo_labels(cfg, days=len(on), user_overrides=overrides or {})
    with stages.stage("device", f"segments, posteriors, the hmm estimator on {len(on)} days"):
        for mno in mnos if on else []:
            for day in on:
                device_metrics.setdefault(mno, {})[str(day)] = run_device(
                    spark, cfg, mno=mno, date=day
                )["metrics"]
            last = dt.datetime.combine(on[-1], dt.time(23))
            run_present_population(spark, cfg, mno=mno, start=start, end=last, methods=("hmm",))
    products: dict[str, dict[str, Any]] = {}
    with stages.stage("usual_environment", f"labels, residents, OD, tourism on {len(on)} days"):
        for mno in mnos if on else []:
            ue = run_usual_environment(spark, ue_cfg, mno=mno, start=on[0], end=on[-1])
            od = run_od(spark, cfg, mno=mno, start=on[0], end=on[-1])
            inbound = run_tourism_inbound(spark, cfg, mno=mno, start=on[0], end=on[-1])
            outbound = run_tourism_outbound(spark, cfg, mno=mno, start=on[0], end=on[-1])
            products[mno] = {
                "usual_environment": ue,
                "od": od,
                "tourism_inbound": inbound,
                "tourism_outbound": outbound,
            }

    def release(mno: str) -> dict[str, str]:
        """Each product of ``mno`` in ``release/<mno>/<product>/``: its manifest's path."""
        ranges = {"present_population": (start, end)}
        if mno in products:  # the products of the device days
            last = dt.datetime.combine(on[-1], dt.time(23))
            ranges |= dict.fromkeys(
                ("residents", "od", "tourism_inbound", "tourism_outbound"), (start, last)
            )
        return {
            name: str(
                run_release(
                    spark,
                    cfg,
                    mno=mno,
                    start=t0,
                    end=t1,
                    product=name,
                    out_dir=out / "release" / mno / name,
                ).get("manifest_path")
            )
            for name, (t0, t1) in ranges.items()
        }

    with stages.stage("release", f"disclosure control (k = {cfg.release.k:g}) and exports"):
        manifests = _each_mno(mnos, release, at_once=at_once)
        releases = dict(zip(mnos, manifests, strict=True))
    fusion: dict[str, Any] = {}
    with stages.stage("fusion", f"the MNOs' exports combined, {len(products)} MNOs"):
        if len(products) >= 2:  # the exports need each MNO's usual environment
            fusion = _fusion(spark, ue_cfg, out, mnos=list(products), days=(on[0], on[-1]))
    per_mno: dict[str, dict[str, Any]] = {}
    reports: dict[str, str] = {}
    device_reports: dict[str, str] = {}
    with stages.stage("evaluate", "accuracy against the synthetic truth"):
        for mno in mnos:
            r = run_evaluate(
                spark,
                cfg,
                mno=mno,
                start=start,
                end=end,
                truth_dir=out / "world" / "truth",
                out=out / f"report_{mno}.html",
            )
            per_mno[mno] = r["accuracy"]
            reports[mno] = str(r["report"])
            if on:
                device = run_evaluate_device(
                    spark,
                    cfg,
                    mno=mno,
                    start=start,
                    end=dt.datetime.combine(on[-1], dt.time(23)),
                    truth_dir=out / "world" / "truth",
                    out=out / f"report_{mno}_devices.html",
                )
                device_reports[mno] = str(device.pop("report"))
                per_mno[mno]["device"] = device
            if mno in products:
                per_mno[mno]["products"] = run_evaluate_products(
                    spark,
                    cfg,
                    mno=mno,
                    start=on[0],
                    end=on[-1],
                    truth_dir=out / "world" / "truth",
                )

    summary = {
        "profile": prof.name,
        "seed": manifest["seed"],
        "stages": {name: {"seconds": s} for name, s in stages.seconds.items()},
        "mno": accounting,
        "device_metrics": device_metrics,
        "products": products,
        "accuracy": {**_pooled(per_mno), **({"fusion": fusion["accuracy"]} if fusion else {})},
        "fusion": {k: v for k, v in fusion.items() if k != "accuracy"},
        "accuracy_by_mno": per_mno,
        "report": reports[mnos[0]],
        "reports": reports,
        "device_reports": device_reports,
        "release_manifests": releases,
        "world": manifest["counts"],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    echo(f"summary: {out / 'summary.json'}")
    echo(f"report:  {summary['report']}")
    return summary
