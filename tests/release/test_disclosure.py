"""Disclosure control: nothing under k is released, nothing suppressed is recoverable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.release.disclosure import apply_disclosure_control, suppress_values

K = 15


@st.composite
def hierarchies(draw):
    """Tiles with values; tiles in municipalities in regions, and tiles in 1 km squares."""
    n_regions = draw(st.integers(1, 3))
    values, links = [], []
    tile_no = 0
    kms = draw(st.integers(1, 4))
    totals: dict[tuple[str, str], float] = {}
    for r in range(n_regions):
        for m in range(draw(st.integers(1, 4))):
            muni = f"M{r}_{m}"
            links.append(("zone_2", muni, "zone_1", f"R{r}"))
            for _ in range(draw(st.integers(1, 6))):
                tile = f"T{tile_no}"
                tile_no += 1
                v = float(draw(st.integers(0, 60)))
                km = f"K{draw(st.integers(0, kms - 1))}"
                values.append(("100m", tile, v))
                links += [
                    ("100m", tile, "zone_2", muni),
                    ("100m", tile, "1km", km),
                    ("100m", tile, "zone_1", f"R{r}"),
                ]
                for key in (("zone_2", muni), ("zone_1", f"R{r}"), ("1km", km)):
                    totals[key] = totals.get(key, 0.0) + v
    values += [(lvl, a, v) for (lvl, a), v in totals.items()]
    return (
        pd.DataFrame(values, columns=["level", "area_id", "value"]),
        pd.DataFrame(links, columns=["child_level", "child_id", "parent_level", "parent_id"]),
    )


def _check(res: pd.DataFrame, links: pd.DataFrame) -> None:
    released = res[~res["suppressed"]]
    assert (released["value"] >= K).all()
    assert (res.loc[res["value"] < K, "suppressed"]).all()
    state = res.set_index(["level", "area_id"])
    m = links.join(state[["value", "suppressed"]], on=["child_level", "child_id"]).join(
        state[["suppressed"]].rename(columns={"suppressed": "p_sup"}),
        on=["parent_level", "parent_id"],
    )
    for (_, _, clevel), g in m.groupby(["parent_level", "parent_id", "child_level"]):
        if g["p_sup"].iloc[0]:
            continue
        hidden = g[g["suppressed"]]
        # released parent: the suppressed children are none, or >= 2 with a sum >= k
        assert len(hidden) == 0 or (len(hidden) >= 2 and hidden["value"].sum() >= K), clevel


@settings(max_examples=150, deadline=None)
@given(hierarchies())
def test_suppress_values_no_release_under_k_and_nothing_recoverable(case):
    values, links = case
    _check(suppress_values(values, links, k=K, secondary=True), links)


def test_suppress_values_threshold_only_flags_primary():
    values = pd.DataFrame({"level": ["a", "a"], "area_id": ["x", "y"], "value": [14.9, 15.0]})
    res = suppress_values(
        values,
        pd.DataFrame(columns=["child_level", "child_id", "parent_level", "parent_id"]),
        k=K,
        secondary=True,
    )
    assert res["suppressed"].tolist() == [True, False]
    assert res["suppression"].tolist() == ["primary", None]


def test_suppress_values_single_child_suppresses_parent():
    values = pd.DataFrame({"level": ["p", "c"], "area_id": ["P", "c"], "value": [20.0, 20.0]})
    links = pd.DataFrame(
        {
            "child_level": ["c", "c"],
            "child_id": ["c", "z"],
            "parent_level": ["p", "p"],
            "parent_id": ["P", "P"],
        }
    )
    # z is absent (zero): nothing suppressed, nothing to protect
    assert not suppress_values(values, links, k=K, secondary=True)["suppressed"].any()
    values.loc[1, "value"] = 3.0
    values.loc[0, "value"] = 17.0
    values = pd.concat([values, pd.DataFrame({"level": ["c"], "area_id": ["z"], "value": [14.0]})])
    res = suppress_values(values, links, k=K, secondary=True)
    # both children under k (3 + 14 = 17 >= k): parent stays released
    assert res["suppressed"].tolist() == [False, True, True]


def _as_estimates(cases):
    """Several hierarchies as one table: case n at time point n, its areas prefixed by n."""
    rows, links = [], []
    for n, (values, case_links) in enumerate(cases):
        t = datetime(2024, 1, 1) + timedelta(hours=n)
        for r in values.itertuples():
            rows.append((t, "em", r.level, f"{n}:{r.area_id}", r.value, r.value, 1.0))
        for r in case_links.itertuples():
            links.append((r.child_level, f"{n}:{r.child_id}", r.parent_level, f"{n}:{r.parent_id}"))
    return rows, links


@settings(max_examples=4, deadline=None)
@given(st.lists(hierarchies(), min_size=8, max_size=8))
def test_disclosure_by_region_keeps_the_guarantees_and_matches_one_group(spark, cases):
    """In Spark, one pandas group per (time point, region): 1 km squares astride regions are
    settled across groups, so nothing under k shows and nothing suppressed is recoverable
    from its parent; a table of one region gets exactly the single-group result."""
    rows, links = _as_estimates(cases)
    est = spark.createDataFrame(
        rows,
        "time_point timestamp, method string, level string, area_id string, devices double, "
        "population double, expansion_factor double",
    )
    hier = spark.createDataFrame(
        links, "child_level string, child_id string, parent_level string, parent_id string"
    )
    got = apply_disclosure_control(est, hierarchy=hier, k=K).toPandas()
    assert len(got) == len(rows)  # every area once
    for n, (values, case_links) in enumerate(cases):
        mine = got[got["area_id"].str.startswith(f"{n}:")].copy()
        mine["area_id"] = mine["area_id"].str.split(":", n=1).str[1]
        res = values.merge(mine[["level", "area_id", "suppressed", "devices"]])
        assert len(res) == len(values)
        assert res.loc[res["suppressed"], "devices"].isna().all()
        _check(res, case_links)
        if case_links.loc[case_links["parent_level"] == "zone_1", "parent_id"].nunique() == 1:
            single = suppress_values(values, case_links, k=K)
            both = single.merge(res, on=["level", "area_id"], suffixes=("", "_spark"))
            assert (both["suppressed"] == both["suppressed_spark"]).all()
