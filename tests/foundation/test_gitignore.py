"""The example commands of the README and the docs write their outputs where git ignores them,
so a clone that ran them shows a clean ``git status``."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ignored(path: str) -> bool:
    """Whether git ignores ``path`` (relative to the clone; a directory ends with ``/``)."""
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
    )
    assert done.returncode in (0, 1), f"git check-ignore failed on {path}"
    return done.returncode == 0


def _example_outputs() -> set[str]:
    """Relative paths the documented commands write: every ``--out``, the synthetic world the
    profile's MNOs read (``synth --out``), and the profile's lake."""
    outs: set[str] = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"--out[ =]([A-Za-z0-9_.-][A-Za-z0-9_./-]*)", doc.read_text()):
            if not target.startswith(("/", "DIR", "OUT")):
                outs.add(target)
    local = tomllib.loads((ROOT / "conf" / "local.toml").read_text())
    outs.add(local["lake"]["root"])
    for mno in local["ingest"]["mno"].values():  # a world's folder, not a shipped sample's
        top = mno["raw_dir"].split("/")[0]
        tracked = subprocess.run(
            ["git", "ls-files", "--", top], cwd=ROOT, capture_output=True, text=True, check=True
        )
        if not tracked.stdout:
            outs.add(top)
    return outs


def test_outputs_of_the_documented_commands_are_ignored():
    outs = _example_outputs()
    assert {"world", "demo-out", "report.html", "lake", "synth-out"} <= outs
    for out in sorted(outs):
        file = "." in Path(out).name  # report.html, result.json; else a directory
        path = out if file else out.rstrip("/") + "/"
        assert _ignored(path), f"{out} (written by a documented command) is not git-ignored"
        if not file:
            assert _ignored(f"{path}mno_a/part-0.parquet"), out


def test_sources_are_not_ignored():
    for path in ("README.md", "rmf_spark/lake.py", "docs/outputs.md", "notebooks/", "conf/"):
        assert not _ignored(path), path
