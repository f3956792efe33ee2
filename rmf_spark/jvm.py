"""The JVM side: pinned Maven coordinates, the project's JAR cache, and how it is filled.

The coordinates below are the only place where JAR versions are written. ``make`` (through
``python -m rmf_spark.jvm resolve``), :mod:`rmf_spark.session` and ``spark-submit.sh`` all read
them from here.

Why these JARs, and why not ``spark.jars.packages``:

* Sedona publishes ``sedona-spark-shaded-4.1_2.13`` from 1.9.0 on, but the Maven Central
  mirror this project is built against serves only ``sedona-spark-shaded-4.0_2.13:1.8.0``.
  That JAR runs on Spark 4.1 with two adjustments: a one-interface compatibility shim
  (``jvm/shim``, compiled here with ``javac``) for a Spark 4.0 trait that 4.1 removed, and the
  JARs on the application class path (``spark.driver/executor.extraClassPath``) instead of
  ``spark.jars``, because Spark 4.1 ships its own ``jts-core`` and Sedona's JTS index
  serialiser needs package-private access to the same class loader. Spark's Ivy resolution
  (``spark.jars.packages``) can do neither, so the JARs are resolved with Maven into the cache.
* When ``sedona-spark-shaded-4.1_2.13:1.9.x`` becomes resolvable, change ``SEDONA_JAR`` and
  ``GEOTOOLS_JAR`` below and drop the shim (``needs_shim``).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rmf_spark.errors import JarsMissingError

__all__ = [
    "JARS",
    "MavenJar",
    "cache_dir",
    "classpath",
    "missing_jars",
    "resolve",
]


@dataclass(frozen=True)
class MavenJar:
    """One Maven artifact, resolved without its transitive dependencies."""

    group: str
    artifact: str
    version: str
    purpose: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"


SEDONA_JAR = MavenJar(
    "org.apache.sedona",
    "sedona-spark-shaded-4.0_2.13",
    "1.8.0",
    "Sedona spatial SQL (ST_* functions, spatial joins)",
)
GEOTOOLS_JAR = MavenJar(
    "org.datasyslab",
    "geotools-wrapper",
    "1.8.0-33.1",
    "CRS database for ST_Transform (EPSG:4326 <-> EPSG:3035)",
)
DELTA_JAR = MavenJar("io.delta", "delta-spark_4.1_2.13", "4.4.0", "Delta Lake for Spark 4.1")
DELTA_STORAGE_JAR = MavenJar("io.delta", "delta-storage", "4.4.0", "Delta Lake log storage")

#: Every JAR the session needs, in class-path order.
JARS: tuple[MavenJar, ...] = (SEDONA_JAR, GEOTOOLS_JAR, DELTA_JAR, DELTA_STORAGE_JAR)

SHIM_JAR_NAME = "rmf-spark41-sedona-compat.jar"


def needs_shim() -> bool:
    """True while the Sedona JAR is built for another Spark minor than the one installed."""
    return "-4.0_" in SEDONA_JAR.artifact


def project_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Where the JARs live: ``$RMF_JARS_DIR``, else ``<checkout>/.jars``, else ``~/.cache``."""
    env = os.environ.get("RMF_JARS_DIR")
    if env:
        return Path(env).resolve()
    root = project_root()
    if root is not None:
        return root / ".jars"
    return Path.home() / ".cache" / "rmf_spark" / "jars"


def jar_paths(directory: Path | None = None) -> list[Path]:
    """Absolute paths of every JAR the session puts on its class path (shim first)."""
    d = directory or cache_dir()
    paths = [d / SHIM_JAR_NAME] if needs_shim() else []
    return paths + [d / j.file_name for j in JARS]


def missing_jars(directory: Path | None = None) -> list[Path]:
    """The JARs of :func:`jar_paths` that are not in the cache."""
    return [p for p in jar_paths(directory) if not p.is_file()]


def classpath(directory: Path | None = None, *, sep: str = os.pathsep) -> str:
    """The JAR cache as a class path; raises :class:`JarsMissingError` if anything is missing."""
    missing = missing_jars(directory)
    if missing:
        names = ", ".join(p.name for p in missing)
        raise JarsMissingError(
            f"JAR cache {cache_dir()} lacks {names}. Run `make jars` (or "
            "`python -m rmf_spark.jvm resolve`) once with access to Maven Central; later runs "
            "work offline."
        )
    return sep.join(str(p) for p in jar_paths(directory))


def _pom(jars: tuple[MavenJar, ...]) -> str:
    deps = "\n".join(
        f"""    <dependency>
      <groupId>{j.group}</groupId><artifactId>{j.artifact}</artifactId>
      <version>{j.version}</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
    </dependency>"""
        for j in jars
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rmf_spark</groupId><artifactId>jar-cache</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def _spark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def _build_shim(target: Path) -> None:
    root = project_root()
    src_root = (root / "jvm" / "shim") if root else None
    if src_root is None or not src_root.is_dir():
        raise JarsMissingError(
            f"cannot build {SHIM_JAR_NAME}: the jvm/shim sources are not next to this package "
            "(install rmf_spark from a source checkout, or copy the JAR into the cache)."
        )
    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar:
        raise JarsMissingError(f"cannot build {SHIM_JAR_NAME}: javac and jar (a JDK 17) are needed")
    sources = sorted(str(p) for p in src_root.rglob("*.java"))
    with tempfile.TemporaryDirectory() as tmp:
        cp = str(_spark_jars_dir() / "*")
        subprocess.run([javac, "-nowarn", "-d", tmp, "-cp", cp, *sources], check=True)
        subprocess.run([jar, "cf", str(target), "-C", tmp, "."], check=True)


def resolve(directory: Path | None = None, *, quiet: bool = False) -> list[Path]:
    """Fill the JAR cache: download missing JARs with Maven and build the shim.

    Returns the paths that were added. Does nothing (and needs no network) when the cache is
    complete.
    """
    d = directory or cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    added: list[Path] = []
    todo = tuple(j for j in JARS if not (d / j.file_name).is_file())
    if todo:
        mvn = shutil.which("mvn")
        if not mvn:
            raise JarsMissingError(
                "Maven (mvn) is needed to fill the JAR cache; install it, or copy "
                + ", ".join(j.file_name for j in todo)
                + f" into {d}"
            )
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "pom.xml").write_text(_pom(todo))
            cmd = [
                mvn,
                "-B",
                "-f",
                str(Path(tmp) / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={d}",
            ]
            if quiet:
                cmd.insert(2, "-q")
            done = subprocess.run(cmd, capture_output=quiet, text=True)
            if done.returncode != 0:
                tail = (done.stdout or "")[-2000:] if quiet else ""
                raise JarsMissingError(
                    "Maven could not fetch " + ", ".join(j.coordinate for j in todo) + f"\n{tail}"
                )
        added += [d / j.file_name for j in todo]
    if needs_shim() and not (d / SHIM_JAR_NAME).is_file():
        _build_shim(d / SHIM_JAR_NAME)
        added.append(d / SHIM_JAR_NAME)
    still = missing_jars(d)
    if still:
        raise JarsMissingError("still missing after resolve: " + ", ".join(map(str, still)))
    return added


def status(directory: Path | None = None) -> list[tuple[str, str, int | None]]:
    """(file name, purpose, size in bytes or None when missing) for each cached JAR."""
    d = directory or cache_dir()
    rows = []
    if needs_shim():
        p = d / SHIM_JAR_NAME
        rows.append(
            (
                p.name,
                "Spark 4.1 compatibility shim for the Sedona JAR",
                p.stat().st_size if p.is_file() else None,
            )
        )
    for j in JARS:
        p = d / j.file_name
        rows.append((p.name, j.purpose, p.stat().st_size if p.is_file() else None))
    return rows


def stray_jars() -> list[str]:
    """Other Sedona or Delta JARs in Spark's own jars/ folder, which would shadow ours."""
    pattern = str(_spark_jars_dir() / "*")
    return [
        os.path.basename(p)
        for p in glob.glob(pattern)
        if "sedona" in os.path.basename(p) or "delta-spark" in os.path.basename(p)
    ]


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rmf_spark.jvm")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("resolve", help="download missing JARs into the cache and build the shim")
    cp = sub.add_parser("classpath", help="print the cached JARs as a class path")
    cp.add_argument("--sep", default=os.pathsep)
    sub.add_parser("status", help="list the cached JARs")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "resolve":
            added = resolve()
            print(
                f"JAR cache {cache_dir()}: complete" + (f" (added {len(added)})" if added else "")
            )
        elif args.cmd == "classpath":
            print(classpath(sep=args.sep))
        else:
            for name, purpose, size in status():
                print(f"{'ok' if size else 'MISSING':8} {name:48} {purpose}")
    except JarsMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
