"""The ``rmf`` command: one sub-command per stage, each a thin call into a stage runner.

Every command takes ``--config FILE`` (default ``conf/local.toml``) and ``--set key=value``
overrides. An :class:`rmf_spark.errors.RmfError` ends the command with its message and exit
code 2, never with a bare stack trace.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rmf_spark.config import RmfConfig, load_config, parse_override
from rmf_spark.errors import RmfError

app = typer.Typer(
    name="rmf",
    help=(
        "rmf_spark: official statistics from mobile network operator data on Apache Spark.\n\n"
        "Stages run in this order: synth (optional) -> ingest (D-layer) -> convergence "
        "(C-layer) -> statistics (S-layer) -> release (MNO boundary) -> fusion."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML profile (default: conf/local.toml)"),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config key, e.g. --set spark.shuffle_partitions=8"),
]


def config_from_options(config: Path | None, overrides: list[str] | None) -> RmfConfig:
    """Load the profile named on the command line, with ``--set`` overrides applied."""
    pairs = dict(parse_override(o) for o in overrides or [])
    return load_config(config, overrides=pairs)


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
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
