"""Same seed, same bytes: a very small world generated twice."""

from __future__ import annotations

import hashlib

import pytest
from chispa import assert_df_equality

from rmf_spark.synth import generate_world, load_profile


def _hashes(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "raw").rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
@pytest.mark.integration  # the world generated twice: half a minute
def test_generate_world_same_seed_same_raw_bytes(spark, tmp_path):
    prof = load_profile(
        "tiny",
        overrides={"n_days": 1, "population.n_persons": 300, "population.n_tourists": 10,
                   "territory.width_km": 4, "territory.height_km": 4},
    )  # fmt: skip
    m1 = generate_world(spark, prof, tmp_path / "a", seed=7)
    m2 = generate_world(spark, prof, tmp_path / "b", seed=7)
    h1, h2 = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(h1) == 4 and h1 == h2
    assert m1["counts"] == m2["counts"]
    for table in ("truth/positions", "truth/stays", "truth/fault_tags", "truth/devices"):
        a = spark.read.format("delta").load(str(tmp_path / "a" / table))
        b = spark.read.format("delta").load(str(tmp_path / "b" / table))
        assert_df_equality(a, b, ignore_row_order=True)
