"""End to end: the demo chain on the tiny synthetic world, checked through its summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STAGES = ["synth", "ingest", "convergence", "present_population", "release", "evaluate"]


@pytest.fixture(scope="module")
def summary(tiny_demo):
    return tiny_demo.out, tiny_demo.summary


@pytest.mark.slow
def test_demo_summary_has_every_key_and_stage(summary):
    out, result = summary
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["profile"] == "tiny"
    assert isinstance(on_disk["seed"], int)
    assert set(on_disk["stages"]) == set(STAGES)
    assert list(result["stages"]) == STAGES  # in run order
    assert all(s["seconds"] >= 0 for s in on_disk["stages"].values())
    acc = on_disk["accuracy"]["present_population"]
    for method in ("em", "naive"):
        assert set(acc[method]) == {"nae_1km", "nae_zone"}
        assert all(0 <= v < 2 for v in acc[method].values())
    assert 0 <= acc["population_nae_zone"] < 1
    report = Path(on_disk["report"])
    assert report.is_file() and report.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.slow
def test_demo_accounts_for_every_raw_row(summary):
    _, result = summary
    assert set(result["mno"]) == {"mno_a", "mno_b"}
    for counts in result["mno"].values():
        assert counts["raw_rows"] > 0
        assert counts["raw_rows"] == (
            counts["bronze_rows"] + counts["quarantined_rows"] + counts["duplicates_removed"]
        )
        assert counts["quarantined_rows"] > 0 and counts["duplicates_removed"] > 0


@pytest.mark.slow
def test_demo_em_beats_naive_at_zone_level(summary):
    _, result = summary
    acc = result["accuracy"]["present_population"]
    assert acc["em"]["nae_zone"] < acc["naive"]["nae_zone"]
    assert acc["em"]["nae_1km"] < acc["naive"]["nae_1km"]
