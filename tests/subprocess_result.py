"""A command run in a subprocess that prints one ``RESULT <json>`` line (spark-submit jobs,
scripts started in a Spark of their own): its exit code checked and that line parsed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "RESULT "


def run_for_result(cmd: Sequence[str], *, env: Mapping[str, str], timeout: int) -> dict[str, Any]:
    """Run ``cmd`` in the repository root; fail the test with the end of stderr (or stdout)
    when it exits non-zero or prints no result line; return the last result line's JSON."""
    out = subprocess.run(
        list(cmd), capture_output=True, text=True, env=dict(env), cwd=ROOT, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(PREFIX)]
    assert lines, out.stdout[-3000:]
    return json.loads(lines[-1][len(PREFIX) :])
