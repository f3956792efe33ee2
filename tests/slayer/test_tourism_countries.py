"""The MCC -> country reference table shipped with rmf_spark, and the PLMN lookups."""

from __future__ import annotations

import pytest

from rmf_spark.errors import InputDataError
from rmf_spark.slayer.tourism.countries import (
    MCC_COUNTRIES_CSV,
    UNKNOWN_COUNTRY,
    country_of_mcc,
    country_of_plmn,
    mcc_countries,
    mcc_country_column,
    plmn_country_column,
    plmn_time_zone_column,
)


def test_the_shipped_table_maps_the_mccs_of_the_synthetic_roamers_and_shared_codes():
    table = mcc_countries()
    assert len(table) == 234
    # the synthetic world's visitors' home networks (conf/synth/*.toml roamer_plmns)
    assert [country_of_plmn(p) for p in ("23415", "20801", "26201", "22201", "20408")] == [
        "GB", "FR", "DE", "IT", "NL",
    ]  # fmt: skip
    assert country_of_mcc(235) == country_of_mcc(234) == "GB"  # two MCCs, one country
    assert country_of_mcc(310) == country_of_mcc(316) == "US"
    assert (table[214].iso3, table[214].eurostat_code, table[214].time_zone) == (
        "ESP", "ES", "Europe/Madrid",
    )  # fmt: skip
    assert table[202].eurostat_code == "EL"  # Eurostat's code for Greece
    assert country_of_mcc(340) == "BL/GF/GP/MF/MQ"  # one MCC, several territories
    assert country_of_mcc(901) == "XX"  # international networks


@pytest.mark.parametrize("mcc", [999, "100", "21", "2140", "abc", None, ""])
def test_an_unknown_or_malformed_mcc_is_zz(mcc):
    assert country_of_mcc(mcc) == UNKNOWN_COUNTRY == "ZZ"


@pytest.mark.parametrize("plmn", ["99901", "2341", "2341567", "23a15", None, ""])
def test_an_unknown_or_malformed_plmn_is_zz(plmn):
    assert country_of_plmn(plmn) == "ZZ"


def test_the_spark_lookups_agree_with_python(spark):
    plmns = ["23415", "214070", "99901", "2341", None, " 26201 "]
    mccs = [234, 214, 999, None, 901]
    df = spark.createDataFrame(
        [(p, m) for p, m in zip(plmns, [*mccs, None], strict=True)], "plmn string, mcc int"
    )
    rows = df.select(
        plmn_country_column(df.plmn).alias("p"),
        mcc_country_column(df.mcc).alias("m"),
        plmn_time_zone_column(df.plmn, "UTC").alias("tz"),
    ).collect()
    assert [r.p for r in rows] == ["GB", "ES", "ZZ", "ZZ", "ZZ", "DE"]
    assert [r.m for r in rows] == [country_of_mcc(m) for m in [*mccs, None]]
    assert [r.tz for r in rows] == [
        "Europe/London", "Europe/Madrid", "UTC", "UTC", "UTC", "Europe/Berlin",
    ]  # fmt: skip


def _write(tmp_path, lines):
    path = tmp_path / "mcc.csv"
    path.write_text("\n".join(["mcc,iso2,iso3,eurostat_code,time_zone,name", *lines]) + "\n")
    return path


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("21,ES,ESP,ES,Europe/Madrid,Spain", "not 3 digits"),
        ("214,Spain,ESP,ES,Europe/Madrid,Spain", "iso2"),
        ("214,ES,ESP,ES,Europe/Nowhere,Spain", "not an IANA zone"),
    ],
)
def test_a_malformed_table_is_named_with_its_line(tmp_path, line, what):
    path = _write(tmp_path, ["234,GB,GBR,UK,Europe/London,United Kingdom", line])
    with pytest.raises(InputDataError, match=f"line 3: .*{what}") as err:
        mcc_countries(path)
    assert err.value.code == "MCC_TABLE_INVALID"


def test_a_repeated_mcc_or_other_columns_are_refused(tmp_path):
    twice = _write(tmp_path, ["234,GB,GBR,UK,Europe/London,UK", "234,GB,GBR,UK,Europe/London,UK"])
    with pytest.raises(InputDataError, match="listed twice"):
        mcc_countries(twice)
    other = tmp_path / "other.csv"
    other.write_text("code,country\n234,GB\n")
    with pytest.raises(InputDataError, match="columns"):
        mcc_countries(other)
    assert MCC_COUNTRIES_CSV.is_file()
