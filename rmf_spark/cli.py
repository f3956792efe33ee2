"""The ``rmf`` command: one sub-command per stage, each a thin call into a stage runner.

Every command takes ``--config FILE`` (default ``conf/local.toml``) and ``--set key=value``
overrides. An :class:`rmf_spark.errors.RmfError` ends the command with its message and exit
code 2, never with a bare stack trace.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rmf_spark.config import RmfConfig, load_config, parse_override
from rmf_spark.errors import RmfError

app = typer.Typer(
    name="rmf",
    help=(
        "rmf_spark: official statistics from mobile network operator data on Apache Spark.\n\n"
        "Stages run in this order: synth (optional) -> ingest-cells, ingest (D-layer) -> "
        "convergence (C-layer) -> statistics (S-layer) -> release (MNO boundary) -> evaluate "
        "(synthetic worlds only)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML profile (default: conf/local.toml)"),
]
ProfileOption = Annotated[
    str, typer.Option("--profile", "-p", help="synthetic world: tiny, small, bench or a TOML")
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="output directory")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="override the profile's seed")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config key, e.g. --set spark.shuffle_partitions=8"),
]


def config_from_options(config: Path | None, overrides: list[str] | None) -> RmfConfig:
    """Load the profile named on the command line, with ``--set`` overrides applied."""
    pairs = dict(parse_override(o) for o in overrides or [])
    return load_config(config, overrides=pairs)


def stage_session(config: Path | None, overrides: list[str] | None) -> tuple[Any, RmfConfig]:
    """The SparkSession and the profile of a stage command (the profile is validated first)."""
    from rmf_spark.session import get_spark

    cfg = config_from_options(config, overrides)
    return get_spark(cfg), cfg


@app.command()
def doctor(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print versions and the JAR cache state, then self-check Spark + Sedona + Delta."""
    from rmf_spark.doctor import run_doctor

    code = run_doctor(config_from_options(config, set_), echo=typer.echo)
    raise typer.Exit(code)


jars_app = typer.Typer(help="The pinned Sedona and Delta JARs and the project's JAR cache.")
app.add_typer(jars_app, name="jars")


@jars_app.command("status")
def jars_status() -> None:
    """List the cached JARs."""
    from rmf_spark import jvm

    typer.echo(f"JAR cache: {jvm.cache_dir()}")
    for name, purpose, size in jvm.status():
        typer.echo(f"  {'ok' if size else 'MISSING':8} {name:48} {purpose}")


@jars_app.command("resolve")
def jars_resolve() -> None:
    """Download missing JARs from Maven Central into the cache (once; later runs are offline)."""
    from rmf_spark import jvm

    added = jvm.resolve()
    typer.echo(f"JAR cache {jvm.cache_dir()}: complete ({len(added)} added)")


@app.command()
def convergence(
    mno: Annotated[str, typer.Option("--mno", help="MNO id, e.g. mno_a")],
    date: Annotated[str, typer.Option("--date", help="day to process, YYYY-MM-DD")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """C-layer: grid, cell footprints, connection probabilities and event location for a day."""
    import json

    from rmf_spark.clayer.runner import run_convergence
    from rmf_spark.timerange import parse_date

    day = parse_date(date)
    spark, cfg = stage_session(config, set_)
    summary = run_convergence(spark, cfg, mno=mno, date=day)
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def synth(
    profile: ProfileOption,
    out: OutOption,
    seed: SeedOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Generate a synthetic world (raw MNO data, reference data, ground truth) into OUT."""
    import json

    from rmf_spark.session import get_spark
    from rmf_spark.synth import generate_world, load_profile

    prof = load_profile(profile)  # validate before starting Spark
    manifest = generate_world(get_spark(config_from_options(config, set_)), prof, out, seed=seed)
    typer.echo(json.dumps(manifest["counts"], sort_keys=True))
    typer.echo(f"synthetic world '{prof.name}' written to {out} in {manifest['seconds']} s")


@app.command()
def ingest(
    mno: Annotated[str, typer.Option("--mno", help="MNO id: a table ingest.mno.ID of the profile")],
    date: Annotated[str, typer.Option("--date", help="day to load, YYYY-MM-DD")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """D-layer: load one day of one MNO's raw events into bronze (validated, pseudonymised)."""
    import json

    from rmf_spark.dlayer.runner import run_ingest
    from rmf_spark.timerange import parse_date

    day = parse_date(date)
    spark, cfg = stage_session(config, set_)
    counts = run_ingest(spark, cfg, mno=mno, date=day)
    typer.echo(json.dumps({"mno": mno, "date": date, **counts.__dict__}, indent=2))


@app.command("ingest-cells")
def ingest_cells(
    mno: Annotated[str, typer.Option("--mno", help="MNO id: a table ingest.mno.ID of the profile")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """D-layer: load one MNO's cell plan into bronze/cells (typed, range-checked, repaired)."""
    import json

    from rmf_spark.dlayer.runner import run_ingest_cells

    spark, cfg = stage_session(config, set_)
    counts = run_ingest_cells(spark, cfg, mno=mno)
    typer.echo(json.dumps({"mno": mno, **counts.__dict__}, indent=2))


StartOption = Annotated[
    str, typer.Option("--start", help="first time point: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)")
]
EndOption = Annotated[
    str, typer.Option("--end", help="last time point; a bare date means the end of that day")
]
MnoOption = Annotated[str, typer.Option("--mno", help="MNO id, e.g. mno_a")]
#: the first and last local day of a period (usual environment, OD, fusion)
FirstDayOption = Annotated[str, typer.Option("--start", help="first day, YYYY-MM-DD")]
LastDayOption = Annotated[str, typer.Option("--end", help="last day (included), YYYY-MM-DD")]

statistics_app = typer.Typer(help="S-layer statistics computed inside the MNO.")
app.add_typer(statistics_app, name="statistics")


@statistics_app.command("present-population")
def present_population(
    mno: MnoOption,
    start: StartOption,
    end: EndOption,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            help="estimator: em, naive, hmm (repeat; default: all whose inputs exist)",
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer: devices and people per 100 m tile, 1 km tile and zone at each time point."""
    import json

    from rmf_spark.slayer.present_population.runner import run_present_population
    from rmf_spark.timerange import parse_time_bound

    t0, t1 = parse_time_bound(start), parse_time_bound(end, end=True)
    spark, cfg = stage_session(config, set_)
    summary = run_present_population(spark, cfg, mno=mno, start=t0, end=t1, methods=method)
    typer.echo(json.dumps(summary, indent=2, default=str))


@statistics_app.command("device")
def device(
    mno: MnoOption,
    date: Annotated[str, typer.Option("--date", help="device-day to infer, YYYY-MM-DD")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer, device level: time segments, daily permanence and HMM location posteriors of
    every device for a day (personal data: stays in the MNO's lake)."""
    import json

    from rmf_spark.slayer.device.runner import run_device
    from rmf_spark.timerange import parse_date

    day = parse_date(date)
    spark, cfg = stage_session(config, set_)
    summary = run_device(spark, cfg, mno=mno, date=day)
    typer.echo(json.dumps(summary, indent=2, default=str))


@statistics_app.command("usual-environment")
def usual_environment(
    mno: MnoOption,
    start: FirstDayOption,
    end: LastDayOption,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer: mid-term permanence, usual environment / home / work labels, residents and
    workers per area, residents calibrated to the register, for a period (run the device
    stage for its days first)."""
    import json

    from rmf_spark.slayer.usual_environment.runner import run_usual_environment
    from rmf_spark.timerange import parse_date

    spark, cfg = stage_session(config, set_)
    summary = run_usual_environment(
        spark, cfg, mno=mno, start=parse_date(start), end=parse_date(end)
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


@statistics_app.command("od")
def od(
    mno: MnoOption,
    start: FirstDayOption,
    end: LastDayOption,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer: trips between stays and origin-destination matrices per day and time band,
    from the device stage's time segments (run it for the days and the one either side)."""
    import json

    from rmf_spark.slayer.mobility.runner import run_od
    from rmf_spark.timerange import parse_date

    spark, cfg = stage_session(config, set_)
    summary = run_od(spark, cfg, mno=mno, start=parse_date(start), end=parse_date(end))
    typer.echo(json.dumps(summary, indent=2, default=str))


def _tourism(stage: str, mno: str, start: str, end: str, config: Path | None,
             set_: list[str] | None) -> None:  # fmt: skip
    """Run ``run_tourism_<stage>`` for the days ``start .. end`` and print its summary."""
    import json

    from rmf_spark.slayer.tourism import runner
    from rmf_spark.timerange import parse_date

    spark, cfg = stage_session(config, set_)
    run = getattr(runner, f"run_tourism_{stage}")
    summary = run(spark, cfg, mno=mno, start=parse_date(start), end=parse_date(end))
    typer.echo(json.dumps(summary, indent=2, default=str))


@statistics_app.command("tourism-inbound")
def tourism_inbound(
    mno: MnoOption,
    start: FirstDayOption,
    end: LastDayOption,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer: visits, nights, stays, arrivals and departures of foreign SIMs per day, origin
    country and area, from the device stage's time segments (run it for the days and the one
    either side)."""
    _tourism("inbound", mno, start, end, config, set_)


@statistics_app.command("tourism-outbound")
def tourism_outbound(
    mno: MnoOption,
    start: FirstDayOption,
    end: LastDayOption,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """S-layer: trips and nights abroad of the MNO's subscribers per day, destination country
    and home area, from the device stage's abroad segments and the usual environment's home
    labels."""
    _tourism("outbound", mno, start, end, config, set_)


@app.command()
def release(
    mno: MnoOption,
    start: StartOption,
    end: EndOption,
    out: Annotated[
        str | None,
        typer.Option("--out", help="export directory, local or a URI (default: in the lake)"),
    ] = None,
    product: Annotated[
        str,
        typer.Option(
            "--product",
            help="S-layer product to release: present_population, residents, od, "
            "tourism_inbound, tourism_outbound",
        ),
    ] = "present_population",
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Release a product (present population, residents, OD with its margins, tourism):
    disclosure control, Delta + CSV + GeoParquet, method card, manifest."""
    from rmf_spark.release.runner import run_release
    from rmf_spark.timerange import parse_time_bound

    t0, t1 = parse_time_bound(start), parse_time_bound(end, end=True)
    spark, cfg = stage_session(config, set_)
    manifest = run_release(spark, cfg, mno=mno, start=t0, end=t1, product=product, out_dir=out)
    typer.echo(f"released {manifest['rows']} rows ({manifest['suppressed']} suppressed)")
    typer.echo(f"manifest: {manifest['manifest_path']}")


@app.command()
def verify(
    release_dir: Annotated[
        str, typer.Argument(help="a release's export directory (the one holding manifest.json)")
    ],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Check a release against the code installed here, a profile (--config, --set) and its
    own files: prints PASS, or FAIL and each source file, config key or output file that
    differs (exit 0 PASS, 1 FAIL, 3 INCOMPLETE: something could not be checked)."""
    from rmf_spark.release.verify import verify_release

    result = verify_release(release_dir, config_from_options(config, set_))
    typer.echo(result.render())
    raise typer.Exit(result.exit_code)


@app.command()
def evaluate(
    mno: MnoOption,
    truth: Annotated[Path, typer.Option("--truth", help="the synthetic world's truth directory")],
    start: StartOption,
    end: EndOption,
    out: Annotated[Path, typer.Option("--out", help="HTML report to write")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Accuracy of present population against the synthetic truth, with an HTML report."""
    import json

    from rmf_spark.evaluate.runner import run_evaluate
    from rmf_spark.timerange import parse_time_bound

    t0, t1 = parse_time_bound(start), parse_time_bound(end, end=True)
    spark, cfg = stage_session(config, set_)
    result = run_evaluate(spark, cfg, mno=mno, start=t0, end=t1, truth_dir=truth, out=out)
    typer.echo(json.dumps(result, indent=2))


@app.command()
def demo(
    profile: ProfileOption,
    out: OutOption,
    seed: SeedOption = None,
    device_days: Annotated[
        int | None,
        typer.Option(
            "--device-days",
            help="days the device stage runs on, from the first (default: all; 0: none)",
        ),
    ] = None,
    mnos_at_once: Annotated[
        int | None,
        typer.Option(
            "--mnos-at-once",
            min=1,
            help="MNOs processed side by side in ingest, convergence, present population and "
            "release (default 1; more helps on tiny worlds only)",
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Whole chain on a synthetic world: synth -> ingest -> convergence -> present population
    -> release -> evaluate; writes OUT/summary.json and an HTML report."""
    from rmf_spark.demo import run_demo

    overrides = dict(parse_override(o) for o in set_ or [])
    run_demo(
        profile,
        out,
        seed=seed,
        config_path=config,
        overrides=overrides,
        device_days=device_days,
        mnos_at_once=mnos_at_once,
        echo=typer.echo,
    )


fusion_app = typer.Typer(
    help="The fusion stage: each MNO's export (inside the MNO), then the combination of the "
    "exports with the register (its own job, reading only the exports)."
)
app.add_typer(fusion_app, name="fusion")


@fusion_app.command("export")
def fusion_export(
    mno: MnoOption,
    start: FirstDayOption,
    end: LastDayOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="export directory to write")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Inside the MNO: write its fusion export of a period (linkage signatures of the
    residents, keyed roamer hashes, residents per zone) from its lake; needs RMF_LINK_KEY."""
    import json

    from rmf_spark.fusion.export_runner import run_fusion_export
    from rmf_spark.timerange import parse_date

    spark, cfg = stage_session(config, set_)
    summary = run_fusion_export(
        spark, cfg, mno=mno, start=parse_date(start), end=parse_date(end), out_dir=out
    )
    typer.echo(json.dumps(summary, indent=2, default=str))


@fusion_app.command("run")
def fusion_run(
    export: Annotated[
        list[Path],
        typer.Option("--export", help="an MNO's export directory (repeat, one per MNO)"),
    ],
    register: Annotated[
        Path,
        typer.Option("--register", help="the office's register: Delta folder, Parquet or CSV"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")],
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="combine inside MPyC's secure computation, every MNO and the office a party "
            "on 127.0.0.1; only released cells reach the office",
        ),
    ] = False,
    mno_factor: Annotated[
        list[str] | None,
        typer.Option(
            "--mno-factor", help="scalar factor of the weighted sum, MNO=F (default 1/MNOs)"
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="seconds the secure computation may take")
    ] = 120.0,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """The fusion job: match the exports' duplicates, link roamers, combine the MNOs' residents
    (naive, weighted, deduplicated, calibrated to the register) under the release's
    disclosure control; writes a Parquet table per product and manifest.json."""
    from rmf_spark.fusion.runner import run_fusion

    cfg = config_from_options(config, set_)
    factors = {}
    for item in mno_factor or []:
        name, _, value = item.partition("=")
        try:
            factors[name.strip()] = float(value)
        except ValueError:
            raise RmfError(
                f"--mno-factor {item!r}: expected MNO=number", code="BAD_OPTION"
            ) from None
    summary = run_fusion(
        cfg,
        exports=export,
        register=register,
        out_dir=out,
        secure=secure,
        mno_factors=factors,
        timeout=timeout,
    )
    for name, product in summary["products"].items():
        typer.echo(f"{name}: {product['released']} released, {product['suppressed']} suppressed")
    typer.echo(f"manifest: {summary['manifest_path']}")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run ``app``; turn rmf_spark errors into a message and exit 2."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(args=argv, prog_name="rmf", standalone_mode=False)
    except RmfError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:
        return int(exc.code or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:
        # a usage error (click's ClickException: click itself with older typer, typer's own
        # copy of it since 0.2x): shown as click would, with its exit code
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
