"""``rmf verify``: check a release against the code installed here, a profile, and its files.

Notes
-----
A release's ``manifest.json`` (:mod:`~.manifest`) records the SHA-256 of the package that
produced it, the effective configuration, and the SHA-256 of every file it wrote into its
export directory. :func:`verify_release` recomputes the three and names what differs:

- *code*: :func:`~.manifest.package_digest` of the package installed here (or of
  ``package_root``) against ``code.sha256``; when they differ, each file changed, missing or
  added, from the per-file hashes;
- *config*: the keys of the given profile that the release compares (the sections that shaped
  the product, :func:`~.manifest.compared_config`) against those recorded, and their hash;
  keys outside them (where the data lives, how Spark ran, other stages) differing are listed
  as notes, not failures;
- *outputs*: every file of the export directory (:func:`~.manifest.is_output_file`) against
  ``output_checksums``: modified, missing, or added.

The result is PASS (exit 0), FAIL (exit 1) when anything differs, or INCOMPLETE (exit 3) when
nothing differs but something could not be checked (the release's output checksums were not
computed, or the manifest predates a field). Versions of Python, Spark, Sedona and Delta that
differ are notes. No Spark: the release directory is read from the local file system.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmf_spark.config import RmfConfig
from rmf_spark.errors import RmfError
from rmf_spark.release.manifest import (
    MANIFEST,
    NOT_COMPARED,
    compared_config,
    effective_config,
    file_checksums,
    files_digest,
    flatten,
    is_output_file,
    json_sha256,
    package_digest,
    runtime_versions,
)
from rmf_spark.uris import local_path

__all__ = [
    "Check",
    "Verification",
    "check_code",
    "check_config",
    "check_outputs",
    "read_manifest",
    "verify_release",
]

PASS, FAIL, NOT_CHECKED = "PASS", "FAIL", "NOT CHECKED"
#: exit code of ``rmf verify`` per verdict
EXIT_CODES = {PASS: 0, FAIL: 1, "INCOMPLETE": 3}
#: differing keys outside the compared ones that a note names before it counts the rest
_NOTE_KEYS = 12


@dataclass(frozen=True)
class Check:
    """One of the three checks: its verdict, a one-line summary and each difference found."""

    name: str
    status: str
    summary: str
    differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    """The checks of one release and the notes (differences that are not failures)."""

    release_dir: Path
    manifest: dict[str, Any]
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """PASS, FAIL (something differs) or INCOMPLETE (nothing differs, something was not
        checked)."""
        states = {c.status for c in self.checks}
        return FAIL if FAIL in states else "INCOMPLETE" if NOT_CHECKED in states else PASS

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def render(self) -> str:
        """The report ``rmf verify`` prints, its verdict on the last line."""
        m = self.manifest
        span = m.get("time_range", {})
        out = [
            f"release: {m.get('table')} of {m.get('mno_id')}, {span.get('start')} .. "
            f"{span.get('end')} ({self.release_dir / MANIFEST}, created {m.get('created_utc')})"
        ]
        for check in self.checks:
            out.append(f"{check.name:8} {check.status:5} {check.summary}")
            out += [f"    {d}" for d in check.differences]
        out += [f"note: {n}" for n in self.notes]
        out.append(self.status)
        return "\n".join(out)


def read_manifest(release_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The release directory (local) and its parsed ``manifest.json``.

    ``release_dir`` may be the manifest file itself, or a ``file:`` URI.

    Raises
    ------
    RmfError
        ``RELEASE_NOT_LOCAL``: another scheme (copy the release first);
        ``RELEASE_MANIFEST_MISSING``: no ``manifest.json`` there (no release, or one that did
        not finish: the manifest is written last); ``RELEASE_MANIFEST_INVALID``: not JSON.
    """
    path = local_path(release_dir)
    if path is None:
        raise RmfError(
            f"{release_dir} is not on the local file system: rmf verify reads a local copy "
            "of the release directory",
            code="RELEASE_NOT_LOCAL",
        )
    if path.name == MANIFEST and path.is_file():
        path = path.parent
    file = path / MANIFEST
    if not file.is_file():
        what = "no such directory" if not path.is_dir() else f"no {MANIFEST} in it"
        raise RmfError(
            f"{path}: {what}; a release directory holds the {MANIFEST} that rmf release "
            "writes last (a release that did not finish has none)",
            code="RELEASE_MANIFEST_MISSING",
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RmfError(
            f"{file} cannot be read as JSON ({exc})", code="RELEASE_MANIFEST_INVALID"
        ) from None
    if not isinstance(manifest, dict):
        raise RmfError(f"{file} is not a JSON object", code="RELEASE_MANIFEST_INVALID")
    return path, manifest


def _file_differences(
    recorded: Mapping[str, str], found: Mapping[str, str], *, prefix: str, added: str
) -> list[str]:
    """Each file modified, missing or added between two ``path -> sha256`` maps."""
    out = [
        f"{prefix}{rel}: modified"
        for rel in sorted(recorded)
        if found.get(rel, recorded[rel]) != recorded[rel]
    ]
    out += [f"{prefix}{rel}: missing" for rel in sorted(set(recorded) - set(found))]
    out += [f"{prefix}{rel}: {added}" for rel in sorted(set(found) - set(recorded))]
    return out


def check_code(manifest: Mapping[str, Any], package_root: Path | None = None) -> Check:
    """The package installed here (or at ``package_root``) against the release's code hash."""
    code = manifest.get("code") or {}
    if "sha256" not in code:
        return Check("code", NOT_CHECKED, "the manifest records no code hash")
    now = package_digest(package_root)
    label = f"rmf_spark {code.get('rmf_spark')}, git commit {code.get('git_commit')}"
    if now["sha256"] == code["sha256"]:
        return Check(
            "code", PASS, f"{label}: {len(now['files'])} files, SHA-256 {now['sha256'][:16]}"
        )
    recorded = code.get("files") or {}
    diffs = _file_differences(
        recorded,
        now["files"],
        prefix=f"{code.get('package', 'rmf_spark')}/",
        added="added (not in the release's code)",
    )
    if recorded and files_digest(recorded) != code["sha256"]:
        diffs.append("the manifest's per-file hashes do not give its code hash (edited?)")
    return Check(
        "code",
        FAIL,
        f"{label}: SHA-256 {code['sha256'][:16]} released, {now['sha256'][:16]} installed here",
        tuple(diffs or ["the files are not recorded: cannot tell which changed"]),
    )


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def check_config(manifest: Mapping[str, Any], cfg: RmfConfig) -> tuple[Check, list[str]]:
    """The profile's keys that the release compares against those recorded; and a note of the
    other keys that differ."""
    config = manifest.get("config") or {}
    scope = config.get("compared") or {}
    if "effective" not in config or "sections" not in scope:
        return Check("config", NOT_CHECKED, "the manifest records no configuration"), []
    recorded, current = flatten(config["effective"]), flatten(effective_config(cfg)[0])
    sections, mno = scope["sections"], str(scope.get("mno", manifest.get("mno_id")))
    skip = scope.get("not_compared", NOT_COMPARED)
    was, now = (
        compared_config(flat, sections=sections, mno=mno, not_compared=skip)
        for flat in (recorded, current)
    )
    diffs = []
    for key in sorted(set(was) | set(now)):
        if key not in now:
            diffs.append(f"{key}: released with {_shown(was[key])}, absent from the profile")
        elif key not in was:
            diffs.append(f"{key}: not in the release's config, the profile has {_shown(now[key])}")
        elif was[key] != now[key]:
            diffs.append(
                f"{key}: released with {_shown(was[key])}, the profile has {_shown(now[key])}"
            )
    if json_sha256(was) != scope.get("hash"):
        diffs.append("the manifest's configuration does not give its recorded hash (edited?)")
    others = sorted(
        k
        for k in set(recorded) | set(current)
        if k not in was and recorded.get(k) != current.get(k)
    )
    notes = []
    if others:
        shown = ", ".join(others[:_NOTE_KEYS]) + (
            f" and {len(others) - _NOTE_KEYS} more" if len(others) > _NOTE_KEYS else ""
        )
        notes.append(
            f"not compared (where the data lives, how Spark ran, other stages), differ from "
            f"the profile: {shown}"
        )
    summary = f"{len(was)} keys of {', '.join(sections)} against {cfg.source}"
    if diffs:
        return Check("config", FAIL, summary, tuple(diffs)), notes
    return Check("config", PASS, f"{summary}, SHA-256 {json_sha256(now)[:16]}"), notes


def check_outputs(manifest: Mapping[str, Any], release_dir: Path) -> Check:
    """Every output file of the release directory against the recorded checksums."""
    recorded = manifest.get("output_checksums")
    if recorded is None:
        why = manifest.get("output_checksums_skipped", "the manifest records no checksums")
        return Check("outputs", NOT_CHECKED, why)
    found = file_checksums(release_dir, include=is_output_file)
    diffs = _file_differences(recorded, found, prefix="", added="added (not in the release)")
    if diffs:
        return Check("outputs", FAIL, f"{len(recorded)} files released", tuple(diffs))
    return Check("outputs", PASS, f"{len(found)} files, as released")


def _version_notes(manifest: Mapping[str, Any]) -> list[str]:
    recorded = manifest.get("versions") or {}
    now = runtime_versions()
    changed = [
        f"{k} {recorded[k]} -> {now[k]}"
        for k in sorted(now)
        if k in recorded and recorded[k] != now[k]
    ]
    return (
        [f"versions differ from the release's (not a failure): {', '.join(changed)}"]
        if changed
        else []
    )


def verify_release(
    release_dir: str | Path, cfg: RmfConfig, *, package_root: Path | None = None
) -> Verification:
    """Check the release in ``release_dir`` against this install, the profile ``cfg`` and its
    own files.

    Parameters
    ----------
    release_dir
        The release's export directory (holding ``manifest.json``), local or ``file:``.
    cfg
        The profile the release is expected to have run with (``rmf verify --config/--set``).
    package_root
        The package directory whose code is hashed (default: the installed ``rmf_spark``).

    Raises
    ------
    RmfError
        No manifest there, or not JSON (:func:`read_manifest`).
    """
    path, manifest = read_manifest(release_dir)
    config, notes = check_config(manifest, cfg)
    checks = (check_code(manifest, package_root), config, check_outputs(manifest, path))
    return Verification(path, manifest, checks, tuple(notes + _version_notes(manifest)))
