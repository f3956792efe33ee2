"""End to end: the demo chain on the tiny synthetic world, checked through its summary; with
the device stage on its day in `make test-integration` (``tiny_demo_device``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STAGES = [
    "synth", "ingest", "convergence", "present_population", "device", "usual_environment",
    "release", "fusion", "evaluate",
]  # fmt: skip


@pytest.fixture(scope="module")
def summary(tiny_demo):
    return tiny_demo.out, tiny_demo.summary


def _check_summary(out: Path, result: dict, methods: tuple[str, ...]) -> dict:
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["profile"] == "tiny"
    assert isinstance(on_disk["seed"], int)
    assert set(on_disk["stages"]) == set(STAGES)
    assert list(result["stages"]) == STAGES  # in run order
    assert all(s["seconds"] >= 0 for s in on_disk["stages"].values())
    acc = on_disk["accuracy"]["present_population"]
    assert set(methods) <= set(acc)
    for method in methods:
        assert {"nae_1km", "nae_zone"} <= set(acc[method])
        assert all(0 <= acc[method][k] < 2 for k in ("nae_1km", "nae_zone"))
    assert 0 <= acc["population_nae_zone"] < 1
    report = Path(on_disk["report"])
    assert report.is_file() and report.read_text().lstrip().lower().startswith("<!doctype html")
    return on_disk


@pytest.mark.slow
def test_demo_summary_has_every_key_and_stage(summary):
    on_disk = _check_summary(*summary, methods=("em", "naive"))
    # without device days: no hmm rows, no device block, no device page
    assert "hmm" not in on_disk["accuracy"]["present_population"]
    assert "device" not in on_disk["accuracy"]
    assert on_disk["device_metrics"] == {} and on_disk["device_reports"] == {}
    assert on_disk["products"] == {}  # the usual environment and OD need the device stage
    assert on_disk["fusion"] == {} and "fusion" not in on_disk["accuracy"]


def test_demo_with_the_device_stage_reports_hmm_and_device_accuracy(tiny_demo_device):
    on_disk = _check_summary(tiny_demo_device.out, tiny_demo_device.summary, ("em", "naive", "hmm"))
    acc = on_disk["accuracy"]["present_population"]
    assert all(0 <= v <= 1 for v in acc["hmm"]["interval_coverage"].values())
    device = on_disk["accuracy"]["device"]
    assert 0 < device["position_error_p50_m"] <= device["position_error_p90_m"]
    assert 0 < device["stay_recall"] <= 1 and 0 < device["stay_precision"] <= 1
    assert set(on_disk["device_reports"]) == {"mno_a", "mno_b"}
    for mno, products in on_disk["products"].items():
        ue = products["usual_environment"]
        assert ue["devices"].get("labelled", 0) > 0, mno
        assert ue["residents"]["devices"] == pytest.approx(ue["devices"]["labelled"])
        assert "model" in ue["calibration"], mno  # the demo's world carries a register
        assert products["od"]["trips"] >= 0
        assert products["tourism_inbound"]["visits"] >= 0
    fusion = on_disk["accuracy"]["fusion"]
    assert set(fusion) >= {"naive_sum", "deduplicated", "calibrated"}
    assert fusion["calibrated"]["zones"] > 0 and fusion["calibrated"]["nae"] is not None
    assert Path(on_disk["fusion"]["manifest"]).is_file()
    for mno, releases in on_disk["release_manifests"].items():
        assert set(releases) == {
            "present_population",
            "residents",
            "od",
            "tourism_inbound",
            "tourism_outbound",
        }, mno
        assert all(Path(p).is_file() for p in releases.values())
    pooled = on_disk["accuracy"]["products"]
    # tourism expanded to persons (the world's inbound shares; travellers without a home
    # label by the mean regional factor), so its errors are not the -100 % of no estimate
    assert pooled["inbound_visitors_nae_day"] < 1
    assert pooled["outbound_trips_total_error"] > -1
    assert 0 < pooled["labelled_share"] <= 1
    assert 0 <= pooled["home_within_1km"] <= 1
    assert pooled["residents_nae_calibrated"] is not None


def test_demo_device_page_shows_sample_devices_without_their_pseudonyms(spark, tiny_demo_device):
    from rmf_spark import tables

    for mno, path in tiny_demo_device.summary["device_reports"].items():
        page = Path(path).read_text()
        assert page.count("<img ") == 3  # quiet, typical and busy device-days
        ids = tables.DEVICE_DAY.read(spark, tiny_demo_device.cfg, mno=mno).select("device_id")
        assert not [r[0] for r in ids.distinct().collect() if r[0] in page]


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


def test_demo_device_stage_accounts_for_every_device_day(spark, tiny_demo_device):
    from rmf_spark import tables

    tiny_demo = tiny_demo_device
    assert set(tiny_demo.summary["device_metrics"]) == {"mno_a", "mno_b"}
    for mno, days in tiny_demo.summary["device_metrics"].items():
        for day, metrics in days.items():
            day_rows = tables.DEVICE_DAY.read(spark, tiny_demo.cfg, mno=mno).where(
                f"date = DATE'{day}'"
            )
            statuses = sum(v for k, v in metrics.items() if k.startswith("device_days_"))
            assert statuses == day_rows.count() > 0
            devices = tables.EVENT_LOCATION.read(spark, tiny_demo.cfg, mno=mno).where(
                f"date = DATE'{day}' AND usable"
            )
            # every device with a usable event that day has its device-day
            assert (
                devices.select("device_id")
                .distinct()
                .join(day_rows, "device_id", "left_anti")
                .count()
                == 0
            )
