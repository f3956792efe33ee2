"""Disclosure control of OD matrices: margins, the edge rule, and no suppressed cell recovered
from the released cells, row/column totals and nested levels (an attacker's linear algebra)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmf_spark import tables
from rmf_spark.release.flows import TOTAL, protect_flows, with_margins
from rmf_spark.release.runner import run_release
from tests.slayer import tiny_world as tw

K = 15.0
MUNI = ["a", "b", "c", "d", "e"]
REGION = {"a": "R", "b": "R", "c": "S", "d": "S", "e": "S"}


def _cells(values: dict[tuple[str, str], float], factor: float = 2.0) -> pd.DataFrame:
    """Municipality cells and their regions' cells (sums), ``trips`` and ``person_trips``."""
    fine = pd.DataFrame(
        [("zone_2", o, d, v) for (o, d), v in values.items() if v > 0],
        columns=["level", "origin_area_id", "destination_area_id", "trips"],
    )
    coarse = (
        fine.assign(
            origin_area_id=fine["origin_area_id"].map(REGION),
            destination_area_id=fine["destination_area_id"].map(REGION),
        )
        .groupby(["origin_area_id", "destination_area_id"], as_index=False)["trips"]
        .sum()
        .assign(level="zone_1")
    )
    out = pd.concat([fine, coarse], ignore_index=True)
    return out.assign(person_trips=out["trips"] * factor)


def _attack(table: pd.DataFrame, truth: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The suppressed rows an attacker fixes from every released value: built here from the
    definitions (rows, columns, totals, nesting), not from the module's equations."""
    full = with_margins(truth, ["trips"]).set_index(
        ["level", "origin_area_id", "destination_area_id"]
    )
    shown = table.set_index(["level", "origin_area_id", "destination_area_id"])["suppressed"]
    keys = list(full.index)
    unknown = [k for k in keys if shown.get(k, False)]
    col = {k: i for i, k in enumerate(unknown)}
    equations: list[dict[tuple[str, str, str], float]] = []

    def add(parent: tuple[str, str, str], children: list[tuple[str, str, str]]) -> None:
        eq = {c: 1.0 for c in children if c in full.index}
        eq[parent] = -1.0
        equations.append(eq)

    for level in ("zone_1", "zone_2"):
        cells = [k for k in keys if k[0] == level and TOTAL not in k[1:]]
        for o in {k[1] for k in cells}:
            add((level, o, TOTAL), [k for k in cells if k[1] == o])
        for d in {k[2] for k in cells}:
            add((level, TOTAL, d), [k for k in cells if k[2] == d])
        rows = [k for k in keys if k[0] == level and k[1] != TOTAL and k[2] == TOTAL]
        cols = [k for k in keys if k[0] == level and k[1] == TOTAL and k[2] != TOTAL]
        add((level, TOTAL, TOTAL), rows)
        add((level, TOTAL, TOTAL), cols)
    for k in keys:
        if k[0] != "zone_1":
            continue
        below = [
            f
            for f in keys
            if f[0] == "zone_2"
            and (REGION.get(f[1]) == k[1] or (f[1] == TOTAL == k[1]))
            and (REGION.get(f[2]) == k[2] or (f[2] == TOTAL == k[2]))
        ]
        add(k, below)
    if not unknown:
        return []
    m = np.array(
        [[eq.get(u, 0.0) for u in unknown] for eq in equations if any(u in eq for u in unknown)]
    )
    if len(m) == 0:
        return []
    rank = np.linalg.matrix_rank(m)
    fixed = []
    for u in unknown:
        e = np.zeros(len(unknown))
        e[col[u]] = 1.0
        if np.linalg.matrix_rank(np.vstack([m, e])) == rank:
            fixed.append(u)
    return fixed


values_strategy = st.dictionaries(
    st.tuples(st.sampled_from(MUNI), st.sampled_from(MUNI)),
    st.one_of(st.integers(1, 14), st.integers(15, 80)).map(float),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=values_strategy)
def test_no_suppressed_flow_recovered_with_nested_levels(values):
    truth = _cells(values)
    nesting = {"zone_2": ("zone_1", REGION)}
    out = protect_flows(
        truth, value_columns=("trips", "person_trips"), nesting=nesting, k=K, secondary=True
    )
    full = with_margins(truth, ["trips", "person_trips"])
    merged = out.merge(
        full, on=["level", "origin_area_id", "destination_area_id"], suffixes=("", "_true")
    )
    assert len(merged) == len(full) == len(out)
    # the threshold: nothing under k is shown; what is shown is the value
    assert merged.loc[merged["trips_true"] < K, "suppressed"].all()
    shown = merged[~merged["suppressed"]]
    assert np.allclose(shown["trips"], shown["trips_true"])
    assert merged.loc[merged["suppressed"], ["trips", "person_trips"]].isna().all().all()
    assert _attack(out, truth) == []


@settings(max_examples=40, deadline=None)
@given(values=values_strategy)
def test_one_level_audit_by_bridges_is_exact(values):
    """Above ``max_exact`` the audit runs per level by bridges: for one level, still exact."""
    truth = _cells(values).query("level == 'zone_2'")
    out = protect_flows(
        truth, value_columns=("trips",), nesting={}, k=K, secondary=True, max_exact=0
    )
    assert _attack(out, truth) == []


def test_bridge_between_two_protected_blocks_is_closed():
    """Two 2x2 blocks of small cells joined by one small cell (rows b, c; columns y, z): every
    row and column holds two suppressed cells, yet the joining cell is fixed by the others;
    the audit suppresses more."""
    small = {("a", "a"): 5, ("a", "b"): 6, ("b", "a"): 7, ("b", "b"): 8}
    small |= {("c", "c"): 5, ("c", "d"): 6, ("d", "c"): 7, ("d", "d"): 8, ("b", "c"): 9}
    big = {(o, d): 40.0 for o, d in itertools.product(MUNI, MUNI) if (o, d) not in small}
    truth = _cells({**big, **{k: float(v) for k, v in small.items()}}).query("level == 'zone_2'")
    threshold_only = protect_flows(
        truth, value_columns=("trips",), nesting={}, k=K, secondary=False
    )
    assert _attack(threshold_only, truth)  # the threshold alone leaves cells to recover
    out = protect_flows(truth, value_columns=("trips",), nesting={}, k=K, secondary=True)
    assert _attack(out, truth) == []


def test_margins_sum_and_person_trips_null_propagates():
    cells = pd.DataFrame(
        {
            "level": "m",
            "origin_area_id": ["a", "a", "b"],
            "destination_area_id": ["x", "y", "x"],
            "trips": [1.0, 2.0, 4.0],
            "person_trips": [2.0, None, 8.0],
        }
    )
    m = with_margins(cells, ["trips", "person_trips"]).set_index(
        ["origin_area_id", "destination_area_id"]
    )
    assert m.loc[("a", TOTAL), "trips"] == 3.0 and np.isnan(m.loc[("a", TOTAL), "person_trips"])
    assert m.loc[(TOTAL, "x"), "trips"] == 5.0 and m.loc[(TOTAL, "x"), "person_trips"] == 10.0
    assert m.loc[(TOTAL, TOTAL), "trips"] == 7.0


# --- through the release runner -----------------------------------------------------------


@pytest.fixture(scope="module")
def od_release(spark, test_config, tmp_path_factory):
    """The tiny world's lake with a constructed OD matrix and residents, both released."""
    import datetime as dt

    world = tw.pipeline_lake(spark, test_config)
    day = world["start"].date()
    rng = np.random.default_rng(7)
    munis = ["M1", "M2", "M3"]
    region = {"M1": "R1", "M2": "R1", "M3": "R2"}
    rows = []
    for band in ("day", "night"):
        for o, d in itertools.product(munis, munis):
            trips = float(rng.choice([3, 20, 60]))
            rows.append((day, band, "zone_2", o, d, trips, 2 * trips, 2.0))
    od = pd.DataFrame(
        rows,
        columns=[
            "date",
            "time_band",
            "level",
            "origin_area_id",
            "destination_area_id",
            "trips",
            "person_trips",
            "expansion_factor",
        ],
    )
    up = (
        od.assign(
            origin_area_id=od["origin_area_id"].map(region),
            destination_area_id=od["destination_area_id"].map(region),
        )
        .groupby(["date", "time_band", "origin_area_id", "destination_area_id"], as_index=False)[
            ["trips", "person_trips"]
        ]
        .sum()
        .assign(level="zone_1", expansion_factor=2.0)
    )
    od = pd.concat([od, up[od.columns]], ignore_index=True)
    tables.OD_MATRIX.write(
        spark.createDataFrame(od, schema=tables.OD_MATRIX.schema),
        test_config,
        mno=tw.MNO,
        replace_where=f"date = DATE '{day}'",
    )
    period = (day, day + dt.timedelta(days=6))
    res = pd.DataFrame(
        [
            (*period, role, "zone_2", m, float(v), 2.0 * v, 2.0)
            for role in ("home", "work")
            for m, v in zip(munis, rng.choice([4, 30, 90], size=3), strict=True)
        ],
        columns=[f.name for f in tables.RESIDENTS.schema],
    )
    tables.RESIDENTS.write(
        spark.createDataFrame(res, schema=tables.RESIDENTS.schema),
        test_config,
        mno=tw.MNO,
        replace_where=f"period_start = DATE '{period[0]}' AND period_end = DATE '{period[1]}'",
    )
    start = dt.datetime.combine(day, dt.time(0))
    end = dt.datetime.combine(period[1], dt.time(23))
    out = tmp_path_factory.mktemp("od_release")
    manifests = {
        p: run_release(
            spark, test_config, mno=tw.MNO, start=start, end=end, product=p, out_dir=out / p
        )
        for p in ("od", "residents")
    }
    return {
        "od": od,
        "manifests": manifests,
        "out": out,
        "released_od": tables.RELEASED_OD_MATRIX.read(spark, test_config, mno=tw.MNO).toPandas(),
        "released_residents": tables.RELEASED_RESIDENTS.read(
            spark, test_config, mno=tw.MNO
        ).toPandas(),
    }


def test_release_od_cells_margins_and_exports(od_release):
    t = od_release["released_od"]
    assert {"day", "night"} == set(t["time_band"])
    # 9 + 4 cells, 3 + 2 row totals, as many column totals, 2 grand totals, per band
    assert len(t) == 2 * (9 + 4 + 2 * (3 + 2) + 2)
    shown = t[~t["suppressed"]]
    assert (shown["trips"] >= K).all() and t["suppressed"].any()
    assert t.loc[t["suppressed"], ["trips", "person_trips", "expansion_factor"]].isna().all().all()
    grand = shown[(shown["origin_area_id"] == TOTAL) & (shown["destination_area_id"] == TOTAL)]
    od = od_release["od"]
    for (band, level), g in grand.groupby(["time_band", "level"]):
        want = od[(od["time_band"] == band) & (od["level"] == level)]["trips"].sum()
        assert g["trips"].iloc[0] == pytest.approx(want)
    man = od_release["manifests"]["od"]
    on_disk = json.loads(Path(man["manifest_path"]).read_text())
    assert on_disk["table"] == "od" and on_disk["rows"] == len(t)
    assert "slayer/od_matrix" in on_disk["inputs"]
    assert list(Path(man["outputs"]["csv"]).glob("*.csv"))
    import pyarrow.parquet as pq
    import shapely

    geo = pq.read_table(next(Path(man["outputs"]["geoparquet"]).glob("*.parquet"))).to_pandas()
    kind = pd.Series(
        [None if g is None else g.geom_type for g in shapely.from_wkb(geo["geometry"])],
        index=geo.index,
    )
    cells = (geo["origin_area_id"] != TOTAL) & (geo["destination_area_id"] != TOTAL)
    between = cells & (geo["origin_area_id"] != geo["destination_area_id"])
    assert set(kind[between]) == {"LineString"}
    assert set(kind[cells & ~between]) == {"Point"}
    assert kind[geo["origin_area_id"] == TOTAL].isna().all()


def test_release_residents_per_role_with_threshold(od_release):
    t = od_release["released_residents"]
    assert set(t["role"]) == {"home", "work"}
    assert t.loc[t["devices"].notna(), "devices"].ge(K).all()
    assert t.loc[t["suppressed"], ["devices", "population"]].isna().all().all()
    man = od_release["manifests"]["residents"]
    assert man["rows"] == len(t) and man["table"] == "residents"
