"""Disclosure control: nothing under k is released, nothing suppressed is recoverable."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rmf_spark.release.disclosure import suppress_values

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
