"""The fusion stage as a job: three MNOs' exports made by `rmf fusion export` from constructed
lakes (permanence, home labels, residents, bronze roamer links), combined by `rmf fusion run`.

A person with phones on all three networks (a triangle of matches) is subtracted twice, once
per device too many, and a person on two networks once; the household partner of the first is
not merged. A roamer on two networks is counted once on the day both saw it. An altered or
mismatched export is a named error; the secure run (every MNO and the office as MPyC parties
on 127.0.0.1) gives the clear run's tables; no pseudonym or key reaches the outputs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.cli import main
from rmf_spark.config import load_config
from rmf_spark.errors import FusionError, InputDataError
from rmf_spark.fusion.runner import PRODUCTS, read_register, run_fusion
from rmf_spark.fusion.signatures import LINK_KEY_ENV, period_keys
from rmf_spark.slayer.usual_environment.runner import period_predicate
from tests.conftest import ROOT
from tests.fusion.test_signatures import World, _tile  # 1 km blocks of a 10 x 4 km area

MASTER = "the MNOs' link key, not the office's"
MONDAY, SUNDAY = dt.date(2024, 1, 1), dt.date(2024, 1, 7)
FIRST_DAY = (MONDAY - dt.date(1970, 1, 1)).days
MNOS = ("mno_a", "mno_b", "mno_c")
SHARE = 0.3
REGISTER = {"Z0": 40, "Z1": 30, "Z2": 50, "Z3": 35}


def _zone(block: int) -> tuple[str, str]:
    """(zone, region): regions are the west and east halves, zones their south and north."""
    east, north = block % 10 >= 5, block // 10 >= 2
    return f"Z{2 * east + north}", f"R{int(east)}"


class Lake(World):
    """Each MNO's device-level tables for one week, built person by person, and the days its
    inbound roamers were seen (their bronze links)."""

    def __init__(self) -> None:
        super().__init__(seed=5, mnos=MNOS)
        self.events: dict[str, list] = {m: [] for m in MNOS}

    def person(self, name: str, *, home: int, work: int | None, on: dict[str, float]) -> None:
        for mno, rate in on.items():
            self.device(
                mno, f"{name} on {mno}", home=home, work=work, rate=rate, zone=_zone(home)[0]
            )

    def roamer(self, link: int, on: dict[str, list[int]]) -> None:
        for mno, days in on.items():
            for d in days:
                self.events[mno].append((link, MONDAY + dt.timedelta(days=d)))


def _world() -> Lake:
    lake = Lake()
    # one person on all three networks, home in block 5 (zone Z2), work in block 33
    lake.person("triple", home=5, work=33, on={"mno_a": 0.85, "mno_b": 0.7, "mno_c": 0.8})
    # their household partner on b: same home, another workplace
    lake.person("partner", home=5, work=21, on={"mno_b": 0.8})
    # one person on a and c, home in block 12 (Z0)
    lake.person("pair", home=12, work=37, on={"mno_a": 0.8, "mno_c": 0.75})
    for i in range(9):  # everyone else on one network, homes of their own
        mno = MNOS[i % 3]
        lake.person(f"p{i}", home=[2, 14, 7, 27, 30, 35, 18, 24, 39][i], work=None, on={mno: 0.8})
    lake.roamer(-123456789, {"mno_a": [0, 1], "mno_b": [1, 2]})  # linked on day 1 only
    lake.roamer(987654321, {"mno_c": [3]})
    return lake


def _write(spark, cfg, spec, df, *, mno=None, where=None):
    cols = [F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema.fields]
    spec.write(df.select(*cols), cfg, mno=mno, replace_where=where)


def _build_lake(spark, cfg, lake: Lake) -> None:
    blocks = range(40)
    grid = [(_tile(b, i), f"100m_{b}_{i}", f"1km_{b}", _tile(b, 0) // 10, 0.0, 0.0)
            for b in blocks for i in range(100)]  # fmt: skip
    _write(spark, cfg, tables.GRID, spark.createDataFrame(grid, tables.GRID.schema))
    tz = [(_tile(b, i), lvl, _zone(b)[1] if lvl == 1 else _zone(b)[0])
          for b in blocks for i in range(100) for lvl in (1, 2)]  # fmt: skip
    _write(spark, cfg, tables.TILE_ZONE, spark.createDataFrame(tz, tables.TILE_ZONE.schema))
    days = f"date >= '{MONDAY}' AND date <= '{SUNDAY}'"
    period = period_predicate(MONDAY, SUNDAY)
    for mno in MNOS:
        rows = [(*r, 0) for r in lake.rows[mno]]  # device bucket 0
        perm = spark.createDataFrame(rows, tables.DAILY_PERMANENCE.schema)
        _write(spark, cfg, tables.DAILY_PERMANENCE, perm, mno=mno, where=days)
        homes = [(MONDAY, SUNDAY, dev, "home", _tile(b, 11), "h_1", 0)
                 for dev, b in lake.home_blocks[mno].items()]  # fmt: skip
        labels = spark.createDataFrame(homes, tables.UE_LABELS.schema)
        _write(spark, cfg, tables.UE_LABELS, labels, mno=mno, where=period)
        per_zone = pd.Series(list(lake.homes[mno].values())).value_counts()
        residents = [(MONDAY, SUNDAY, "home", "zone_2", z, float(n), float(n) / SHARE, 1 / SHARE)
                     for z, n in per_zone.items()]  # fmt: skip
        res = spark.createDataFrame(residents, tables.RESIDENTS.schema)
        _write(spark, cfg, tables.RESIDENTS, res, mno=mno, where=period)
        ev = spark.createDataFrame(
            lake.events[mno] or [(None, MONDAY)], "roamer_link long, date date"
        )
        events = ev.select(
            F.lit("dev").alias("device_id"), F.lit(dt.datetime(2024, 1, 1)).alias("event_ts"),
            F.lit("c1").alias("cell_id"), F.lit(234).alias("mcc"), F.lit("15").alias("mnc"),
            "roamer_link", F.lit("f").alias("source_file"), F.lit(1).alias("source_row"),
            F.lit(mno).alias("mno_id"), "date", F.lit(0).alias("device_bucket"),
        )  # fmt: skip
        for c in tables.EVENTS.schema.fieldNames():
            if c not in events.columns:
                events = events.withColumn(c, F.lit(None))
        _write(spark, cfg, tables.EVENTS, events, mno=mno, where=days)
        metrics = spark.createDataFrame(
            [
                (mno, "roamer_link_key_missing", 0.0, MONDAY + dt.timedelta(days=d))
                for d in range(7)
            ],
            tables.LOAD_METRICS.schema,
        )
        _write(spark, cfg, tables.LOAD_METRICS, metrics, mno=mno, where=days)


@pytest.fixture(scope="module")
def world(spark, test_overrides, tmp_path_factory):
    """The lake, each MNO's export written by the command line, the register (CSV)."""
    tmp = tmp_path_factory.mktemp("fusion_job")
    overrides = {**test_overrides, "lake.root": str(tmp / "lake"), "release.k": 1}
    cfg = load_config(ROOT / "conf" / "local.toml", overrides=overrides)
    lake = _world()
    _build_lake(spark, cfg, lake)
    sets = ["--set", f"lake.root={tmp / 'lake'}"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LINK_KEY_ENV, MASTER)
        for mno in MNOS:
            args = ["fusion", "export", "--mno", mno, "--start", str(MONDAY), "--end", str(SUNDAY)]
            assert main([*args, "--out", str(tmp / "exports" / mno), *sets]) == 0
    register = tmp / "register.csv"
    pd.DataFrame({"zone_id": list(REGISTER), "zone_level": 2, "residents": list(REGISTER.values())}
                 ).to_csv(register, index=False)  # fmt: skip
    return tmp, cfg, lake, register


def _exports(tmp):
    return [tmp / "exports" / m for m in MNOS]


@pytest.fixture(scope="module")
def clear(world):
    tmp, cfg, _, register = world
    return run_fusion(cfg, exports=_exports(tmp), register=register, out_dir=tmp / "clear")


def _product(out, name):
    return pd.read_parquet(out / f"{name}.parquet")


def test_the_exports_hold_the_residents_and_the_period(world):
    tmp, _, lake, _ = world
    meta = json.loads((tmp / "exports" / "mno_b" / "export.json").read_text())
    assert meta["period"] == {"start": str(MONDAY), "end": str(SUNDAY), "days": 7}
    assert meta["counts"]["residents"] == len(lake.homes["mno_b"]) == 5
    assert meta["counts"]["exported"] == 5 and meta["counts"]["roamers"] == 1
    zones = json.loads((tmp / "exports" / "mno_b" / "residents.json").read_text())
    assert zones["zones"] == ["Z0", "Z1", "Z2", "Z3"] and zones["regions"] == [
        "R0",
        "R0",
        "R1",
        "R1",
    ]
    assert zones["devices"] == [1.0, 2.0, 2.0, 0.0]  # triple and partner in Z2
    assert set(meta["files"]) == {"signatures.npz", "roamers.npz", "residents.json"}


def test_a_person_on_three_networks_is_counted_once(world, clear):
    tmp, *_ = world
    totals = clear["totals"]
    # the triangle (3 devices: 2 too many) and the pair (1 too many); the partner kept apart
    assert totals["clusters"] == {2: 1, 3: 1}
    assert totals["duplicates"] == 3 and totals["naive_sum"] == 15
    assert totals["deduplicated"] == totals["naive_sum"] - totals["duplicates"] == 12
    naive = _product(tmp / "clear", "naive_sum").set_index("zone_id")["value"]
    dedup = _product(tmp / "clear", "deduplicated").set_index("zone_id")["value"]
    assert dedup.sum() == naive.sum() - 3  # k = 1: every zone with someone is released
    assert (naive - dedup).to_dict() == {"Z0": 1.0, "Z1": 0.0, "Z2": 2.0, "Z3": 0.0}
    weighted = _product(tmp / "clear", "weighted_sum")["value"].sum()
    assert weighted == pytest.approx(15 / SHARE / 3)  # factors 1/3: the mean of the MNOs' people
    cal = _product(tmp / "clear", "calibrated").set_index("zone_id")
    # the ratio estimator meets the register's region totals; the model gives an interval
    regions = cal.groupby("region_id")["ratio_population"].sum()
    assert regions.to_dict() == pytest.approx({"R0": 70.0, "R1": 85.0})
    assert (cal["population_lower"] <= cal["population"]).all()
    assert (cal["population"] <= cal["population_upper"]).all()
    # a roamer seen by a on days 0, 1 and by b on days 1, 2 counts once on day 1
    roam = _product(tmp / "clear", "inbound_roamers").set_index("date")["value"]
    naive_r = _product(tmp / "clear", "inbound_roamers_naive").set_index("date")["value"]
    assert naive_r[str(MONDAY + dt.timedelta(days=1))] == 2
    assert roam[str(MONDAY + dt.timedelta(days=1))] == 1
    manifest = json.loads((tmp / "clear" / "manifest.json").read_text())
    assert [e["mno"] for e in manifest["exports"]] == list(MNOS)
    for e in manifest["exports"]:
        path = tmp / "exports" / e["mno"] / "export.json"
        assert e["export_json_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert set(manifest["products"]) == set(PRODUCTS)


def test_the_command_line_runs_the_job_and_suppresses_under_k(world):
    tmp, *_, register = world
    args = ["fusion", "run", *(a for e in _exports(tmp) for a in ("--export", str(e)))]
    out = tmp / "cli"
    assert (
        main([*args, "--register", str(register), "--out", str(out), "--set", "release.k=3"]) == 0
    )
    # deduplicated: Z0 3, Z1 2, Z2 4, Z3 3. Z1 is under k; alone suppressed in region R0, the
    # office's R0 total minus Z0 would give it away, so Z0 goes too (secondary)
    dedup = _product(out, "deduplicated").set_index("zone_id")
    assert dedup["suppression"].to_dict() == {"Z0": "secondary", "Z1": "primary", "Z2": None,
                                              "Z3": None}  # fmt: skip
    assert dedup["value"].to_dict() == pytest.approx(
        {"Z0": np.nan, "Z1": np.nan, "Z2": 4.0, "Z3": 3.0}, nan_ok=True
    )
    cal = _product(out, "calibrated")
    assert (cal["suppressed"] == dedup["suppressed"].to_numpy()).all()
    assert cal.loc[cal["suppressed"], ["ratio_population", "population"]].isna().all().all()
    naive = _product(out, "naive_sum").set_index("zone_id")  # threshold rule only
    assert naive["suppressed"].to_dict() == {"Z0": False, "Z1": True, "Z2": False, "Z3": False}


def test_an_altered_or_mismatched_export_is_a_named_error(world, tmp_path):
    tmp, cfg, _, register = world
    copies = []
    for mno in MNOS:
        shutil.copytree(tmp / "exports" / mno, tmp_path / mno)
        copies.append(tmp_path / mno)
    residents = tmp_path / "mno_c" / "residents.json"
    residents.write_text(residents.read_text().replace('"Z3"', '"Z9"'))
    with pytest.raises(FusionError, match=r"mno_c.*residents\.json") as err:
        run_fusion(cfg, exports=copies, register=register, out_dir=tmp_path / "out")
    assert err.value.code == "FUSION_EXPORT_INVALID"
    (tmp_path / "mno_b" / "roamers.npz").unlink()
    with pytest.raises(FusionError, match=r"mno_b.*roamers\.npz"):
        run_fusion(cfg, exports=copies[:2], register=register, out_dir=tmp_path / "out")
    # a manifest from another period: the MNO and its export.json are named
    shutil.rmtree(tmp_path / "mno_c")
    shutil.copytree(tmp / "exports" / "mno_c", tmp_path / "mno_c")
    meta_path = tmp_path / "mno_c" / "export.json"
    meta = json.loads(meta_path.read_text())
    meta["period"]["start"] = "2024-01-08"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(FusionError, match=r"mno_c.*export\.json.*period") as err:
        run_fusion(cfg, exports=[copies[0], copies[2]], register=register, out_dir=tmp_path / "o")
    assert err.value.code == "FUSION_EXPORT_MISMATCH"
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()


def test_secure_equals_clear_and_nothing_personal_is_written(world, clear):
    tmp, cfg, lake, register = world
    out = tmp / "secure"
    res = run_fusion(cfg, exports=_exports(tmp), register=register, out_dir=out, secure=True)
    assert res["mode"] == "secure" and res["secure"]["parties"] == [*MNOS, "office"]
    assert "totals" not in res
    for name in PRODUCTS:
        a, b = _product(tmp / "clear", name), _product(out, name)
        assert (a["suppressed"] == b["suppressed"]).all(), name
        cols = ["value"] if "value" in a else ["ratio_population"]
        for c in cols:  # fixed point: 2^-32 per input, the factor to 2^-64 relative
            np.testing.assert_allclose(b[c], a[c], rtol=1e-9, atol=1e-8, err_msg=name)
    sec = _product(out, "calibrated")
    assert sec["population"].isna().all()  # the model needs every zone: clear mode only

    dirs = [out, tmp / "clear", *_exports(tmp)]
    blob = b"".join(p.read_bytes() for d in dirs for p in sorted(d.iterdir()))
    keys = period_keys(MASTER.encode(), FIRST_DAY)
    needles = [MASTER.encode(), *keys, *(k.hex().encode() for k in keys)]
    devices = [d for m in MNOS for d in lake.homes[m]]
    needles += [d.encode() for d in devices] + [d[:16].encode() for d in devices]
    needles += [bytes.fromhex(d) for d in devices]
    for needle in needles:
        assert needle not in blob, needle[:16]


def test_the_register_is_read_from_delta_parquet_or_csv(spark, tmp_path):
    rows = pd.DataFrame({"zone_id": ["Z0", "Z1", "R0"], "zone_level": [2, 2, 1],
                         "residents": [40, 30, 70]})  # fmt: skip
    spark.createDataFrame(rows).write.format("delta").save(str(tmp_path / "delta"))
    rows.to_parquet(tmp_path / "reg.parquet")
    rows.to_csv(tmp_path / "reg.csv", index=False)
    for path in ("delta", "reg.parquet", "reg.csv"):
        got = read_register(tmp_path / path, zone_level=2, spark=spark)
        assert sorted(map(tuple, got.to_numpy().tolist())) == [("Z0", 40), ("Z1", 30)], path
    pd.DataFrame({"zone": ["Z0"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputDataError, match="zone_id") as err:
        read_register(tmp_path / "bad.csv", zone_level=2)
    assert err.value.code == "REGISTER_INVALID"
