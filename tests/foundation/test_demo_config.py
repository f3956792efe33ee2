"""The demo's configuration: every MNO of the world gets its raw directory and the input profile
of its raw format, whatever the number of MNOs and whatever the main profile names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmf_spark.demo import demo_config
from rmf_spark.dlayer.runner import mno_profile
from rmf_spark.synth.profile import SynthProfile, load_profile
from rmf_spark.synth.writers import MNO_A_HEADER

#: what the world's writers produce for each raw format (docs/tables.md section 1)
WRITTEN = {
    "mno_a": {"format": "csv", "identifier": "msisdn", "cells": "csv"},
    "mno_b": {"format": "jsonl", "identifier": "imsi", "cells": "parquet"},
}


def _three_mnos() -> SynthProfile:
    """The tiny profile with a third MNO, ``mno_c``, in the CSV format of ``mno_a``."""
    tiny = load_profile("tiny").model_dump()
    mno_c = {
        **tiny["mnos"][0],
        "mno_id": "mno_c",
        "raw_format": "mno_a",
        "market_share": 0.1,
        "mnc": "04",
    }
    return SynthProfile.model_validate({**tiny, "mnos": [*tiny["mnos"], mno_c]})


def test_every_mno_gets_the_input_profile_of_its_raw_format(tmp_path):
    prof = _three_mnos()
    out = tmp_path / "demo"
    cfg = demo_config(None, {}, out, prof.mnos)
    assert sorted(cfg.ingest.mno) >= ["mno_a", "mno_b", "mno_c"]
    for m in prof.mnos:
        settings, inputs = mno_profile(cfg, m.mno_id)
        assert settings.raw_dir == str(out / "world" / "raw" / m.mno_id)
        assert Path(settings.profile).name == f"{m.raw_format}.toml"
        want = WRITTEN[m.raw_format]
        assert inputs.events.format == want["format"], m.mno_id
        assert inputs.events.identifier == want["identifier"], m.mno_id
        assert inputs.cells is not None and inputs.cells.format == want["cells"], m.mno_id
        if m.raw_format == "mno_a":
            assert inputs.events.columns == MNO_A_HEADER.split(";")


def test_a_main_profile_without_the_mno_and_the_users_override(tmp_path):
    """A main profile that names none of the MNOs works; a ``--set`` of the profile wins."""
    main = tmp_path / "main.toml"
    main.write_text('[lake]\nroot = "lake"\n')
    prof = _three_mnos()
    mine = str(tmp_path / "inputs" / "mine.toml")
    cfg = demo_config(main, {"ingest.mno.mno_c.profile": mine}, tmp_path / "demo", prof.mnos)
    assert sorted(cfg.ingest.mno) == ["mno_a", "mno_b", "mno_c"]
    assert cfg.ingest.mno["mno_c"].profile == mine
    assert Path(cfg.ingest.mno["mno_b"].profile).name == "mno_b.toml"


def test_ids_alone_keep_the_main_profiles_input_profile(tmp_path):
    cfg = demo_config(None, {}, tmp_path, ["mno_a"])
    assert cfg.ingest.mno["mno_a"].profile == "inputs/mno_a.toml"
    with pytest.raises(Exception, match=r"ingest\.mno\.mno_c\.profile"):
        demo_config(None, {}, tmp_path, ["mno_c"])  # the error the demo no longer meets
