from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rmf_spark.config import load_config, parse_override
from rmf_spark.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "profile.toml"
    p.write_text(text)
    return p


def test_load_config_shipped_profiles_are_valid():
    local = load_config(ROOT / "conf" / "local.toml")
    cluster = load_config(ROOT / "conf" / "cluster.example.toml")
    assert local.spark.master == "local[*]"
    assert cluster.spark.shuffle_partitions == 2000
    assert cluster.lake.root.startswith("hdfs://")


def test_load_config_unknown_key_names_file_and_key(tmp_path):
    p = _write(tmp_path, "[spark]\nmastr = 'local[2]'\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.code == "CONFIG_INVALID"
    assert str(p) in str(err.value)
    assert "spark.mastr" in str(err.value)


def test_unknown_key_suggests_the_closest_known_key(tmp_path):
    p = _write(tmp_path, "[spark]\nmastr = 'local[2]'\n[ingest.mno.x]\nraw_dri = 'r'\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert "unknown key 'spark.mastr' (did you mean 'spark.master'?)" in msg
    # within a table of named entries too
    assert "unknown key 'ingest.mno.x.raw_dri' (did you mean 'ingest.mno.x.raw_dir'?)" in msg
    far = _write(tmp_path, "[spark]\nzzz_qqq = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(far)
    assert "unknown key 'spark.zzz_qqq'" in str(err.value) and "did you mean" not in str(err.value)


def test_input_profile_unknown_key_gets_the_same_message(tmp_path):
    from rmf_spark.dlayer.profiles import load_profile

    text = (ROOT / "conf" / "inputs" / "mno_a.toml").read_text()
    assert "\ndelimiter" in text
    p = tmp_path / "mno.toml"
    p.write_text(text.replace("\ndelimiter", "\ndelimeter", 1))
    with pytest.raises(ConfigError) as err:
        load_profile(p)
    assert err.value.code == "PROFILE_INVALID"
    assert f"{p}: unknown key 'events.delimeter' (did you mean 'events.delimiter'?)" in str(
        err.value
    )


def test_load_config_unknown_section_is_an_error(tmp_path):
    p = _write(tmp_path, "[sparkk]\nmaster = 'local[2]'\n")
    with pytest.raises(ConfigError, match="unknown key 'sparkk'"):
        load_config(p)


def test_load_config_wrong_type_names_key(tmp_path):
    p = _write(tmp_path, "[spark]\nshuffle_partitions = 'many'\n")
    with pytest.raises(ConfigError, match=r"spark\.shuffle_partitions"):
        load_config(p)


def test_load_config_out_of_range_names_key(tmp_path):
    p = _write(tmp_path, "[spark]\nshuffle_partitions = -3\n")
    with pytest.raises(ConfigError, match=r"spark\.shuffle_partitions.*greater than or equal"):
        load_config(p)


def test_load_config_bad_pattern_names_key(tmp_path):
    p = _write(tmp_path, "[spark]\ndriver_memory = 'lots'\n")
    with pytest.raises(ConfigError, match=r"spark\.driver_memory"):
        load_config(p)


def test_load_config_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert err.value.code == "CONFIG_NOT_FOUND"
    p = _write(tmp_path, "[spark\nmaster=")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert err.value.code == "CONFIG_NOT_TOML"
    assert str(p) in str(err.value)


def test_load_config_overrides_apply_and_are_validated(tmp_path):
    p = _write(tmp_path, "[spark]\nmaster = 'local[2]'\n")
    cfg = load_config(p, overrides=dict([parse_override("spark.shuffle_partitions=7")]))
    assert cfg.spark.shuffle_partitions == 7
    assert cfg.spark.master == "local[2]"
    with pytest.raises(ConfigError, match=r"spark\.nope"):
        load_config(p, overrides={"spark.nope": 1})


def test_parse_override_values():
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("a.b=true") == ("a.b", True)
    assert parse_override("a.b=local[4]") == ("a.b", "local[4]")
    with pytest.raises(ConfigError):
        parse_override("novalue")


def test_cli_unknown_key_exits_nonzero_and_names_key(tmp_path):
    p = _write(tmp_path, "[lake]\nroot = 'x'\nrooot = 'y'\n")
    out = subprocess.run(
        [sys.executable, "-m", "rmf_spark.cli", "doctor", "--config", str(p)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert "lake.rooot" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "module",
    ["rmf_spark.config", "rmf_spark.timerange", "rmf_spark.cli", "rmf_spark.slayer"],
)
def test_light_modules_import_no_spark_pandas_or_numpy(module):
    # a fresh interpreter: this test process has imported pyspark long ago
    code = (
        f"import sys, {module}; from rmf_spark.config import load_config; "
        f"load_config({str(ROOT / 'conf' / 'local.toml')!r}); "
        "print(sorted(m for m in ('pyspark', 'pandas', 'numpy', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
