"""Synthetic-world profiles: validation with errors naming file and key."""

from __future__ import annotations

import pytest

from rmf_spark.errors import ConfigError
from rmf_spark.synth.profile import load_profile


@pytest.mark.parametrize("name", ["tiny", "small", "bench"])
def test_load_profile_shipped_profiles_are_valid(name):
    p = load_profile(name)
    assert p.name == name
    assert {m.regime for m in p.mnos} == {"cdr", "signalling"}


def test_load_profile_unknown_key_names_file_and_key(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\n[[mnos]]\nmno_id = "mno_a"\nraw_format = "mno_a"\n'
                 'regime = "cdr"\nmarket_share = 0.4\nmnc = "01"\n[population]\nn_persons = 10\n'
                 'n_peeple = 3\n')  # fmt: skip
    with pytest.raises(ConfigError) as exc:
        load_profile(f)
    assert "bad.toml" in str(exc.value) and "population.n_peeple" in str(exc.value)


def test_load_profile_overrides_and_range_checks():
    assert load_profile("tiny", overrides={"population.n_persons": 500}).population.n_persons == 500
    with pytest.raises(ConfigError, match=r"faults\.invalid_utf8"):
        load_profile("tiny", overrides={"faults.invalid_utf8": 2.0})


def test_load_profile_outbound_destinations_are_foreign_networks():
    p = load_profile("tiny")
    assert {d.country for d in p.outbound.destinations.values()} == {"FR", "PT", "IT"}
    with pytest.raises(ConfigError, match=r"outbound\.destinations \['21403'\] have the MNOs'"):
        load_profile(
            "tiny", overrides={"outbound.destinations": {"21403": {"country": "ES", "weight": 1}}}
        )
    with pytest.raises(ConfigError, match=r"outbound\.destinations\.20801\.country"):
        load_profile(
            "tiny", overrides={"outbound.destinations": {"20801": {"country": "fr", "weight": 1}}}
        )
