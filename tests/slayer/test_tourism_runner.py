"""The tourism stage runners on a constructed lake: what they write, their fallbacks, their
reruns and the command line (docs/mobility.md section 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from rmf_spark import lake, tables
from rmf_spark.clayer import schemas as C
from rmf_spark.config import LakeSettings
from rmf_spark.errors import InputDataError
from rmf_spark.slayer.device.schemas import DEVICE_BUCKET
from rmf_spark.slayer.tourism.runner import run_tourism_inbound, run_tourism_outbound
from rmf_spark.slayer.usual_environment.runner import period_predicate
from tests.slayer import tiny_world as tw
from tests.slayer.tourism_timelines import D, abroad, at, move, segment_rows, stay

MNO = "mno_t"
FIRST, LAST = D.date() + dt.timedelta(days=1), D.date() + dt.timedelta(days=3)


def _tiles():
    g = tw.grid()
    col = ((g["x_ll"] - tw.X0) // 100).astype(int)
    return int(g["tile_id"][col == 2].iloc[0]), int(g["tile_id"][col == 25].iloc[0])


@pytest.fixture(scope="module")
def lake_cfg(spark, test_config, tmp_path_factory):
    """A lake holding the tiny grid and zones, the time segments of two visitors, a resident
    and a traveller, and the C-layer events that tell the visitors' home networks."""
    cfg = test_config.model_copy(
        update={"lake": LakeSettings(root=str(tmp_path_factory.mktemp("tourism_lake")))}
    )
    m1, m3 = _tiles()  # a tile of municipality M1 (region R1) and one of M3 (R2)
    g = tw.grid()
    lake.write_delta(spark.createDataFrame(g), tables.GRID.path(cfg))
    lake.write_delta(spark.createDataFrame(tw.tile_zone(g)), tables.TILE_ZONE.path(cfg))
    visitors = {
        "v_gb": [  # two nights in M1 (days 1 and 2), gone on day 3
            stay(at(1, 10), at(1, 14), m3),
            move(at(1, 14), at(1, 15)),
            stay(at(1, 15), at(3, 9), m1),
        ],
        "v_xx": [stay(at(2, 12), at(3, 10), m3)],  # one night in M3, home MCC not in the table
    }
    travellers = {
        "r_home": [stay(at(0, 8), at(4, 8), m1)],
        "o_fr": [
            stay(at(0, 8), at(0, 20), m3),
            abroad(at(1, 6), at(3, 10), "20801"),
            stay(at(3, 14), at(4, 8), m3),
        ],
    }
    segs = segment_rows(spark, visitors, inbound=True).unionByName(
        segment_rows(spark, travellers, inbound=False)
    )
    bucket = F.pmod(F.xxhash64("device_id"), F.lit(cfg.ingest.n_device_buckets)).cast("int")
    days = "date >= DATE '2024-05-13' AND date <= DATE '2024-05-17'"
    tables.TIME_SEGMENTS.write(
        segs.withColumn(DEVICE_BUCKET, bucket), cfg, mno=MNO, replace_where=days
    )
    given = spark.createDataFrame(
        [("v_gb", 234, "inbound"), ("v_xx", 999, "inbound"), ("r_home", 214, "domestic")],
        "device_id string, mcc int, domain string",
    ).withColumn("date", F.lit(FIRST))
    given = given.withColumn("device_bucket", bucket)
    events = given.select(
        *[
            (F.col(f.name) if f.name in given.columns else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in C.EVENT_LOCATION.fields
        ]
    )
    tables.EVENT_LOCATION.write(events, cfg, mno=MNO, replace_where=days)
    return cfg, m1, m3


def _with(cfg, **sections):
    return cfg.model_copy(
        update={
            name: getattr(cfg, name).model_copy(update=values) for name, values in sections.items()
        }
    )


def test_inbound_writes_visits_and_indicators_and_a_rerun_replaces_them(spark, lake_cfg):
    cfg, _, _ = lake_cfg
    no_share = run_tourism_inbound(spark, cfg, mno=MNO, start=FIRST, end=LAST)
    assert any("no tourism.inbound.share" in f for f in no_share["fallbacks"])
    assert no_share["indicators"]["nights"]["GB"]["population"] is None
    inbound = cfg.tourism.inbound.model_copy(update={"share": {"GB": 0.5}})
    shared = _with(cfg, tourism={"inbound": inbound})
    summary = run_tourism_inbound(spark, shared, mno=MNO, start=FIRST, end=LAST)
    assert summary["fallbacks"] == []
    assert summary["visits"] == 2
    nights = summary["indicators"]["nights"]
    assert nights["GB"] == {"devices": 2.0, "population": 4.0}
    assert nights["ZZ"]["devices"] == 1.0 and nights["ZZ"]["population"] is None
    assert summary["average_nights"] == {"GB": 2.0, "ZZ": 1.0}
    where = "period_start = DATE '2024-05-14' AND period_end = DATE '2024-05-16'"
    visits = tables.INBOUND_VISITS.read(spark, cfg, mno=MNO).where(where).toPandas()
    assert sorted(visits["country_of_origin"]) == ["GB", "ZZ"]
    assert visits.set_index("device_id").loc["v_gb", "nights"] == 2
    ind = tables.INBOUND_TOURISM.read(spark, cfg, mno=MNO).toPandas()
    m1 = ind[(ind["indicator"] == "nights") & (ind["level"] == "zone_2")]
    assert set(m1["area_id"]) == {"M1", "M3"} and m1["devices"].sum() == 3.0
    again = run_tourism_inbound(spark, shared, mno=MNO, start=FIRST, end=LAST)
    assert again["indicators"] == summary["indicators"]
    assert tables.INBOUND_TOURISM.read(spark, cfg, mno=MNO).count() == len(ind)


def test_outbound_places_travellers_at_home_when_labels_exist(spark, lake_cfg):
    cfg, _, m3 = lake_cfg
    shared = _with(cfg, present_population={"market_share": {"R1": 0.5, "R2": 0.25}})
    unknown = run_tourism_outbound(spark, shared, mno=MNO, start=FIRST, end=LAST)
    assert unknown["home_period"] is None
    assert any("usual_environment_labels not found" in f for f in unknown["fallbacks"])
    assert unknown["trips"] == 1
    assert unknown["indicators"]["nights"]["FR"]["devices"] == 2.0
    # no home label, no default share: the mean of the regions' factors, (2 + 4) / 2
    assert unknown["indicators"]["trips"]["FR"]["population"] == 3.0
    assert any("mean regional factor 3" in f for f in unknown["fallbacks"])
    labels = spark.createDataFrame(
        [(D.date(), LAST, "o_fr", "home", m3, "h_1", 0)],
        "period_start date, period_end date, device_id string, label string, tile_id long, "
        "rule string, device_bucket int",
    )
    tables.UE_LABELS.write(labels, cfg, mno=MNO, replace_where=period_predicate(D.date(), LAST))
    placed = run_tourism_outbound(spark, shared, mno=MNO, start=FIRST, end=LAST)
    assert placed["home_period"] == "2024-05-13..2024-05-16"
    assert placed["indicators"]["trips"]["FR"] == {"devices": 1.0, "population": 4.0}
    rows = tables.OUTBOUND_TOURISM.read(spark, cfg, mno=MNO).where("level = 'zone_1'").collect()
    assert {r.area_id for r in rows} == {"R2"}


def test_missing_inputs_are_named_and_the_command_line_runs_the_stage(spark, lake_cfg, capsys):
    from rmf_spark.cli import main

    cfg, _, _ = lake_cfg
    with pytest.raises(InputDataError) as err:
        run_tourism_inbound(spark, cfg, mno="no_such_mno", start=FIRST, end=LAST)
    assert err.value.code == "INPUT_TABLE_MISSING" and "rmf statistics device" in str(err.value)
    args = ["--mno", MNO, "--start", str(FIRST), "--end", str(LAST)]
    args += ["--set", f"lake.root={cfg.lake.root}", "--set", "tourism.inbound.default_share=0.25"]
    assert main(["statistics", "tourism-inbound", *args]) == 0
    assert '"visits": 2' in capsys.readouterr().out
    assert main(["statistics", "tourism-outbound", *args]) == 0
    assert '"trips": 1' in capsys.readouterr().out
