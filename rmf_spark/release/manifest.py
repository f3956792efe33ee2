"""The manifest of a release: what was released, from which inputs, by which code and config.

It is what a partner needs to check a release (``rmf verify``, :mod:`~.verify`;
``docs/provenance.md``):

- ``code``: the rmf_spark version, the git commit of the checkout when there is one, and
  the SHA-256 of the installed package's files (:func:`package_digest`) with each file's own;
- ``config``: the effective profile, every key with its defaults, secrets excluded
  (:func:`effective_config`), its hash, and the keys ``rmf verify`` compares (the sections
  that shaped the product, :func:`compared_config`) with their own hash;
- ``versions``: Python, Spark, Sedona and Delta (:func:`runtime_versions`);
- ``inputs``: every input table's path and Delta version;
- ``output_checksums``: the SHA-256 of every file the release wrote into its export
  directory (:func:`output_checksums`).

Digests of a set of files are ``sha256sum``'s: the SHA-256 of the lines
``<sha256 of the file>  <relative path>`` sorted by path, one per file, so that a partner can
reproduce them without Python (``docs/provenance.md``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import platform
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

import rmf_spark
from rmf_spark import jvm, lake
from rmf_spark.config import RmfConfig
from rmf_spark.release.method_card import product_method
from rmf_spark.uris import local_path

__all__ = [
    "MANIFEST",
    "NOT_COMPARED",
    "REDACTED",
    "build_manifest",
    "code_version",
    "compared_config",
    "config_hash",
    "effective_config",
    "file_checksums",
    "files_digest",
    "flatten",
    "is_output_file",
    "json_sha256",
    "output_checksums",
    "package_digest",
    "runtime_versions",
    "write_manifest",
]

#: the manifest's file name in a release's export directory
MANIFEST = "manifest.json"

#: what replaces a secret in the recorded config
REDACTED = "<redacted>"

#: a free-form Spark setting (``spark.conf``) whose name says it holds a secret (an object
#: store's access or secret key, a keystore password, an authentication secret or token)
_SECRET_SETTING = re.compile(r"secret|passw|token|credential|key", re.IGNORECASE)

#: the ``user:password@`` of a URI
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

#: Keys that say where the data and the pseudonymisation key live and how Spark runs, not what
#: is computed: recorded, but not compared by ``rmf verify`` (a partner's paths and cluster are
#: not the MNO's). The versions of the inputs they point to are in ``inputs``.
NOT_COMPARED: tuple[str, ...] = (
    "spark.*",
    "lake.root",
    "ingest.key_env",
    "ingest.key_file",
    "ingest.mno.*.raw_dir",
    "ingest.mno.*.profile",
    "convergence.reference_dir",
    "present_population.market_share_table",
    "release.zones_table",
)

#: files of the package directory that are not its source: byte code, hidden files
_COMPILED = (".pyc", ".pyo")


def code_version() -> dict[str, str | None]:
    """``rmf_spark.__version__`` and the git commit of the checkout (None outside git, and
    for an install that is not the working tree of a git repository)."""
    root = Path(__file__).resolve().parents[2]
    try:
        top, commit = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError, ValueError):
        top, commit = "", ""
    # a package installed into a virtual environment inside some checkout is not that
    # checkout's code: its commit would be another's
    same = bool(top) and Path(top).resolve() == root
    return {"rmf_spark": rmf_spark.__version__, "git_commit": commit if same else None}


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of the bytes of the file ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(root: Path, *, include: Callable[[str], bool]) -> dict[str, str]:
    """The SHA-256 of every file under ``root`` whose relative path (``/``-separated)
    ``include`` accepts, by relative path, sorted."""
    found = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    return {rel: file_sha256(found[rel]) for rel in sorted(found) if include(rel)}


def files_digest(checksums: Mapping[str, str]) -> str:
    """The SHA-256 of a set of files: of the lines ``<sha256>  <path>`` sorted by path, as
    ``sha256sum`` prints them (so ``... | xargs sha256sum | sha256sum`` reproduces it).

    Examples
    --------
    >>> files_digest({"b.py": "2" * 64, "a.py": "1" * 64}) == files_digest(
    ...     {"a.py": "1" * 64, "b.py": "2" * 64})
    True
    """
    text = "".join(f"{checksums[rel]}  {rel}\n" for rel in sorted(checksums))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_package_source(rel: str) -> bool:
    parts = rel.split("/")
    return (
        "__pycache__" not in parts
        and not any(p.startswith(".") for p in parts)
        and not rel.endswith(_COMPILED)
    )


def package_digest(root: Path | None = None) -> dict[str, Any]:
    """SHA-256 of the package's files: every module and data file under ``root`` (default:
    the installed ``rmf_spark`` directory) except byte code (``__pycache__``, ``*.pyc``) and
    hidden files. Independent of file times and of the order of the directory listing.

    Returns
    -------
    dict
        ``sha256`` (:func:`files_digest` of the files) and ``files`` (relative path ->
        SHA-256), from which ``rmf verify`` names a changed file.
    """
    base = Path(rmf_spark.__file__).resolve().parent if root is None else Path(root)
    files = file_checksums(base, include=_is_package_source)
    return {"sha256": files_digest(files), "files": files}


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``{"release": {"k": 15}}`` -> ``{"release.k": 15}``);
    an empty dict is a value of its own.

    >>> flatten({"release": {"k": 15, "method": "em"}, "present_population": {"market_share": {}}})
    {'release.k': 15, 'release.method': 'em', 'present_population.market_share': {}}
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _redact_uris(value: Any) -> Any:
    if isinstance(value, str):
        return _USERINFO.sub(f"{REDACTED}@", value)
    if isinstance(value, list):
        return [_redact_uris(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_uris(v) for k, v in value.items()}
    return value


def effective_config(cfg: RmfConfig) -> tuple[dict[str, Any], list[str]]:
    """The profile as a release records it, and the dotted keys whose values were replaced.

    Every key, defaults included, except secrets: a profile never holds the pseudonymisation
    key (``ingest.key_env`` names the environment variable, ``ingest.key_file`` the file that
    hold it), but ``spark.conf`` is free-form and may carry an object store's credentials, so
    a ``spark.conf`` setting whose name says key, secret, password, token or credential has
    its value replaced by ``<redacted>``, as has the ``user:password@`` of any URI.
    """
    plain = cfg.model_dump(mode="json")
    tree = _redact_uris(plain)  # a copy: ``plain`` keeps the values to compare with
    conf = tree["spark"]["conf"]
    for key in conf:
        if _SECRET_SETTING.search(key):
            conf[key] = REDACTED
    before = flatten(plain)
    return tree, sorted(k for k, v in flatten(tree).items() if v != before.get(k))


def json_sha256(value: Any) -> str:
    """SHA-256 of ``value`` as compact JSON with sorted keys."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(cfg: RmfConfig) -> str:
    """SHA-256 of the validated profile as recorded (:func:`effective_config`: every key,
    defaults included, secrets replaced; not the file name)."""
    return json_sha256(effective_config(cfg)[0])


def compared_config(
    flat: Mapping[str, Any],
    *,
    sections: Iterable[str],
    mno: str,
    not_compared: Iterable[str] = NOT_COMPARED,
) -> dict[str, Any]:
    """The keys of a flattened profile (:func:`flatten`) that ``rmf verify`` compares: those of
    ``sections``, except the ``not_compared`` patterns and other MNOs' ``ingest.mno`` tables.

    >>> flat = {"release.k": 15, "lake.root": "lake", "ingest.mno.a.territory_bbox_3035": None,
    ...         "ingest.mno.b.territory_bbox_3035": None, "ingest.mno.a.raw_dir": "raw/a"}
    >>> compared_config(flat, sections=["ingest", "release"], mno="a")
    {'ingest.mno.a.territory_bbox_3035': None, 'release.k': 15}
    """
    keep, skip = set(sections), tuple(not_compared)
    out = {}
    for key in sorted(flat):
        parts = key.split(".")
        other_mno = parts[:2] == ["ingest", "mno"] and (len(parts) < 3 or parts[2] != mno)
        if (
            parts[0] in keep
            and not other_mno
            and not any(fnmatch.fnmatchcase(key, p) for p in skip)
        ):
            out[key] = flat[key]
    return out


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def runtime_versions(spark: SparkSession | None = None) -> dict[str, str | None]:
    """Python, PySpark, Sedona and Delta (the Python packages and the pinned JARs,
    :mod:`rmf_spark.jvm`); with a session, the Spark and Java versions its JVM runs."""
    out = {
        "python": platform.python_version(),
        "pyspark": _installed_version("pyspark"),
        "sedona_python": _installed_version("apache-sedona"),
        "sedona_jar": jvm.SEDONA_JAR.coordinate,
        "delta_python": _installed_version("delta-spark"),
        "delta_jar": jvm.DELTA_JAR.coordinate,
    }
    if spark is not None:
        system = spark.sparkContext._jvm.java.lang.System  # type: ignore[union-attr]
        out["spark"] = spark.version
        out["java"] = str(system.getProperty("java.version"))
    return out


def is_output_file(rel: str) -> bool:
    """Whether the file ``rel`` (relative to an export directory) is an output of the release:
    not the manifest, and not hidden from readers (a path part starting with ``.`` or ``_``,
    as Spark's ``_SUCCESS`` and ``.crc`` files, which Spark and Hadoop readers skip)."""
    return rel != MANIFEST and not any(p.startswith((".", "_")) for p in rel.split("/"))


def output_checksums(export_dir: str) -> dict[str, Any]:
    """The checksums of a release's output files, as manifest entries.

    Returns
    -------
    dict
        ``{"output_checksums": {relative path: sha256}}`` for a local directory or a
        ``file:`` URI; for any other scheme (read only through Hadoop, whose checksums are
        not SHA-256) ``{"output_checksums": None, "output_checksums_skipped": <why>}``.
    """
    root = local_path(export_dir)
    if root is None:
        why = f"{export_dir} is not on the local file system: the output files were not hashed"
        return {"output_checksums": None, "output_checksums_skipped": why}
    return {"output_checksums": file_checksums(root, include=is_output_file)}


def build_manifest(
    *,
    cfg: RmfConfig,
    mno: str,
    table: str,
    start: datetime,
    end: datetime,
    inputs: dict[str, dict[str, Any]],
    outputs: dict[str, Any],
    counts: dict[str, Any],
    spark: SparkSession | None = None,
) -> dict[str, Any]:
    """The manifest dict of one release (without ``output_checksums``: the runner adds them,
    :func:`output_checksums`, once every export is written).

    Parameters
    ----------
    cfg
        The profile (recorded without secrets and hashed, ``release`` settings recorded).
    mno, table, start, end
        What was released.
    inputs
        Per input table: ``{"path": ..., "delta_version": ...}``.
    outputs
        Where the release went (Delta path, CSV, GeoParquet).
    counts
        ``rows``, ``suppressed`` (total and per level / kind).
    spark
        The session that ran the release: its Spark and Java versions are recorded.
    """
    version = code_version()
    tree, redacted = effective_config(cfg)
    method = product_method(table, cfg.release.method)
    sections = list(dict.fromkeys((*method.upstream, *method.sections)))
    compared = compared_config(flatten(tree), sections=sections, mno=mno)
    return {
        "table": table,
        "mno_id": mno,
        **({"method": method.estimator} if method.estimator else {}),
        "time_range": {"start": start.isoformat(), "end": end.isoformat()},
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": version,
        "code": {**version, "package": "rmf_spark", **package_digest()},
        "config_hash": json_sha256(tree),
        "config": {
            "effective": tree,
            "hash": json_sha256(tree),
            "redacted": redacted,
            "compared": {
                "sections": sections,
                "mno": mno,
                "not_compared": list(NOT_COMPARED),
                "hash": json_sha256(compared),
            },
        },
        "versions": runtime_versions(spark),
        "disclosure_control": cfg.release.model_dump(mode="json"),
        "inputs": inputs,
        "outputs": outputs,
        **counts,
    }


def write_manifest(spark: SparkSession, manifest: dict[str, Any], uri: str) -> str:
    """Write ``manifest`` as indented JSON (keys sorted) to the file ``uri`` through the
    session's Hadoop FileSystem (local disk, HDFS or an object store); return ``uri``."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    return lake.write_text(spark, uri, text)
