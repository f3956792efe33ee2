"""Disclosure control at the MNO boundary: threshold rule and secondary suppression.

Notes
-----
Primary suppression (threshold rule): a value ``v < k`` is not released; the row stays in the
table, flagged, with its values null (MultiMNO ``17_output_indicators.md`` obfuscation with
k = 5; UK ONS commuter flows 15, ESSnet Big Data I Deliverable 5.3 section 3.4; Eurostat TEE
proof of concept ESTAT 2019.0232, 20; default here 15; see ``docs/references.md``). A row
holding several values (devices and people) is suppressed when the smallest is under k.

Secondary suppression: values are released at nested levels (100 m tiles in 1 km tiles and in
zones, municipalities in regions). A parent P with children C_1..C_n has
``v(P) = sum_i v(C_i)``, so ``v(P) - sum_{released} v(C_i)`` reveals the sum of the suppressed
children. For every released parent, per hierarchy edge, the rule keeps suppressing until the
suppressed children are either none, or at least two whose sum is at least k:

    while P released and (n_sup == 1 or (n_sup >= 1 and sum_sup < k)):
        suppress the released child with the smallest value (ties: smallest area id);
        if no child is left, suppress P.

It is repeated over all edges until nothing changes (a tile is a child of a 1 km tile and of a
zone, so a suppression made for one hierarchy is checked in the others). Then no single
suppressed value equals a difference of released values within one parent-child edge. Attacks
combining non-nested levels (1 km tiles against zones) are out of scope.

In Spark the rule runs in one pandas group per (time point, method, region), not per country:
an area's region is its parent at the region level (``zone_1``), a region's is itself, and a
1 km tile's is the smallest region of its 100 m tiles. Each edge is checked in the group of
its parent's region, which also holds the edge's children from other regions (the 100 m tiles
of a 1 km tile astride a border). A suppression made there is passed on: the groups that hold
a child whose state they did not know run again, starting from every suppression made so far,
until every group agrees on every area it holds. Suppression only grows, so this ends, and
then every edge meets the rule above with the final state of all its children.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

__all__ = [
    "CHILD_ID",
    "CHILD_LEVEL",
    "PARENT_ID",
    "PARENT_LEVEL",
    "PRIMARY",
    "REGION",
    "SECONDARY",
    "SUPPRESSED",
    "SUPPRESSION",
    "apply_disclosure_control",
    "area_regions",
    "suppress_values",
]

CHILD_LEVEL, CHILD_ID = "child_level", "child_id"
PARENT_LEVEL, PARENT_ID = "parent_level", "parent_id"
SUPPRESSED, SUPPRESSION = "suppressed", "suppression"
PRIMARY, SECONDARY = "primary", "secondary"
REGION = "region"
_LEVEL, _AREA, _VALUE = "level", "area_id", "value"
# per round: whether an area was suppressed (the round's start), and held at home
_PRIOR, _HOME = "_suppressed_before", "_home"
# each round that does not end adds a suppression; real tables settle in one or two
_MAX_ROUNDS = 100


def suppress_values(
    values: pd.DataFrame, links: pd.DataFrame, *, k: float, secondary: bool
) -> pd.DataFrame:
    """Primary and secondary suppression of one set of hierarchical values (pandas).

    Parameters
    ----------
    values
        ``level, area_id, value``: one row per released area (absent areas are zero), and
        optionally ``suppressed`` (already suppressed, e.g. for an edge checked elsewhere:
        kept, as secondary unless under k).
    links
        ``child_level, child_id, parent_level, parent_id``: the hierarchy edges.
    k
        Threshold: values under k are suppressed.
    secondary
        Apply secondary suppression (module notes); ``False``: threshold rule only.

    Returns
    -------
    pandas.DataFrame
        ``values`` plus ``suppressed bool`` and ``suppression`` (``'primary'``,
        ``'secondary'`` or None).

    Examples
    --------
    >>> v = pd.DataFrame({"level": ["p", "c", "c", "c"], "area_id": ["P", "a", "b", "c"],
    ...                   "value": [60.0, 5.0, 20.0, 35.0]})
    >>> l = pd.DataFrame({"child_level": "c", "child_id": ["a", "b", "c"],
    ...                   "parent_level": "p", "parent_id": "P"})
    >>> suppress_values(v, l, k=15, secondary=True)["suppression"].tolist()
    [None, 'primary', 'secondary', None]
    """
    out = values.reset_index(drop=True).copy()
    val = out[_VALUE].to_numpy(dtype=float)
    sup = ~(val >= k)  # NaN counts as suppressed
    reason = np.where(sup, PRIMARY, None).astype(object)
    if SUPPRESSED in out.columns:
        prior = out[SUPPRESSED].fillna(False).to_numpy(dtype=bool) & ~sup
        reason[prior] = SECONDARY
        sup |= prior
    if secondary and len(links) and sup.any():
        _secondary(out, links, val, sup, reason, k)
    out[SUPPRESSED] = sup
    out[SUPPRESSION] = reason
    return out


def _secondary(
    out: pd.DataFrame,
    links: pd.DataFrame,
    val: np.ndarray,
    sup: np.ndarray,
    reason: np.ndarray,
    k: float,
) -> None:
    """The module notes' rule, in place on ``sup`` and ``reason``, with numpy arrays.

    A parent-child edge group ``g`` is a (parent, child level) pair. Each round computes every
    group's suppressed count and sum with one ``bincount``, and every needy group's pick (its
    released child of smallest value, ties by area id) as the first released child in the
    group's rows sorted once by (value, area id). All picks of a round are made together.
    """
    index = pd.Series(
        np.arange(len(out)), index=pd.MultiIndex.from_arrays([out[_LEVEL], out[_AREA]])
    )
    child = index.reindex(pd.MultiIndex.from_arrays([links[CHILD_LEVEL], links[CHILD_ID]]))
    parent = index.reindex(pd.MultiIndex.from_arrays([links[PARENT_LEVEL], links[PARENT_ID]]))
    ok = child.notna().to_numpy() & parent.notna().to_numpy()
    edges = pd.DataFrame(
        {
            "c": child.to_numpy()[ok].astype(np.int64),
            "p": parent.to_numpy()[ok].astype(np.int64),
            "edge": links[CHILD_LEVEL].to_numpy()[ok],
        }
    ).drop_duplicates()
    if edges.empty:
        return
    group = edges.groupby(["p", "edge"], sort=False).ngroup().to_numpy()
    n_groups = int(group.max()) + 1
    c = edges["c"].to_numpy()
    cval = val[c]
    carea = out[_AREA].to_numpy()[c]
    # rows by group, then value (NaN last, as pandas sorts), then area id
    order = np.lexsort((carea, np.isnan(cval), np.nan_to_num(cval, nan=0.0), group))
    c, cval, group = c[order], cval[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    gparent = edges["p"].to_numpy()[order][starts]
    last = len(c)
    sentinel = np.arange(last + 1)  # positions, and one past the end for "no child left"
    for _ in range(len(out) + 1):
        csup = sup[c]
        n = np.bincount(group, weights=csup, minlength=n_groups)
        s = np.bincount(group, weights=np.where(csup, np.nan_to_num(cval), 0.0), minlength=n_groups)
        needy = ~sup[gparent] & (n > 0) & ((n == 1) | (s < k))
        if not needy.any():
            return
        first = np.minimum.reduceat(np.where(csup, last, sentinel[:last]), starts)[needy]
        has_child = first < last
        new = c[first[has_child]]
        sup[new] = True
        reason[new] = SECONDARY
        lone = gparent[needy][~has_child]
        sup[lone] = True
        reason[lone] = SECONDARY


def area_regions(hierarchy: DataFrame, *, region_level: str) -> DataFrame:
    """The region of every area of ``hierarchy``: the group its edges are checked in.

    Parameters
    ----------
    hierarchy
        ``child_level, child_id, parent_level, parent_id``.
    region_level
        The level whose areas are the regions (``zone_1``).

    Returns
    -------
    DataFrame
        ``level, area_id, region``: a region is its own; an area with a parent at
        ``region_level`` has that parent (the smallest id if several); any other parent (a
        1 km tile) has the smallest region of its children. Areas of none are left out.
    """
    links = hierarchy.select(CHILD_LEVEL, CHILD_ID, PARENT_LEVEL, PARENT_ID)
    at_region = links.where(F.col(PARENT_LEVEL) == region_level)
    up = at_region.select(
        F.col(CHILD_LEVEL).alias(_LEVEL),
        F.col(CHILD_ID).alias(_AREA),
        F.col(PARENT_ID).alias(REGION),
    )
    itself = at_region.select(
        F.col(PARENT_LEVEL).alias(_LEVEL),
        F.col(PARENT_ID).alias(_AREA),
        F.col(PARENT_ID).alias(REGION),
    )
    down = links.join(
        up.withColumnsRenamed({_LEVEL: CHILD_LEVEL, _AREA: CHILD_ID}), on=[CHILD_LEVEL, CHILD_ID]
    ).select(F.col(PARENT_LEVEL).alias(_LEVEL), F.col(PARENT_ID).alias(_AREA), REGION)
    placed = up.unionByName(itself).groupBy(_LEVEL, _AREA).agg(F.min(REGION).alias(REGION))
    below = down.join(placed.select(_LEVEL, _AREA), on=[_LEVEL, _AREA], how="left_anti")
    return placed.unionByName(below.groupBy(_LEVEL, _AREA).agg(F.min(REGION).alias(REGION)))


def apply_disclosure_control(
    estimates: DataFrame,
    *,
    hierarchy: DataFrame,
    k: float,
    secondary: bool,
    value_cols: tuple[str, ...] = ("devices", "population"),
    group_cols: tuple[str, ...] = ("time_point", "method"),
    null_cols: tuple[str, ...] = ("expansion_factor",),
    region_level: str = "zone_1",
) -> DataFrame:
    """Suppress values under k, and more where subtraction would reveal them.

    Parameters
    ----------
    estimates
        ``group_cols + level, area_id + value_cols + null_cols`` (e.g. ``present_population``).
    hierarchy
        ``child_level, child_id, parent_level, parent_id`` (:func:`build_hierarchy`).
    k
        Threshold (``release.k``): a row is suppressed when ``min(value_cols) < k``.
    secondary
        Apply secondary suppression (``release.secondary_suppression``).
    value_cols
        Released values (nulled when suppressed).
    group_cols
        One independent table per group (one pandas group per group and region).
    null_cols
        Other columns nulled when suppressed.
    region_level
        The level whose areas split a table into pandas groups (module notes); areas in no
        region share one more group.

    Returns
    -------
    DataFrame
        Same columns plus ``suppressed boolean`` and ``suppression string``; suppressed rows
        have null ``value_cols`` and ``null_cols``.

    Notes
    -----
    Rule, sources and the groups by region in the module notes. Runs a Spark job per round
    (usually one or two: a second where an edge across a border suppressed a child).
    """
    cols = estimates.columns
    keys = [*group_cols, _LEVEL, _AREA]
    # The hierarchy and the regions (one row per area) are materialised once: the plan reads
    # them many times and every round again (planning the hierarchy's Delta scans alone took
    # five times as long as the rule itself on the tiny world). The rows, about four per
    # estimate, are not: materialising them gained nothing on the small world.
    hierarchy = hierarchy.localCheckpoint()
    regions = area_regions(hierarchy, region_level=region_level).localCheckpoint()
    placed = estimates.join(regions, on=[_LEVEL, _AREA], how="left").fillna("", subset=[REGION])
    no_edge = [F.lit(None).cast("string").alias(c) for c in (PARENT_LEVEL, PARENT_ID)]
    parent_region = regions.select(
        F.col(_LEVEL).alias(PARENT_LEVEL), F.col(_AREA).alias(PARENT_ID), REGION
    )
    edges = hierarchy.select(
        F.col(CHILD_LEVEL).alias(_LEVEL), F.col(CHILD_ID).alias(_AREA), PARENT_LEVEL, PARENT_ID
    ).join(parent_region, on=[PARENT_LEVEL, PARENT_ID], how="left")
    # every area in its own region's group; every edge, with its child's values, in the group
    # of its parent's region
    rows = placed.select(*cols, *no_edge, REGION).unionByName(
        estimates.join(edges, on=[_LEVEL, _AREA])
        .fillna("", subset=[REGION])
        .select(*cols, PARENT_LEVEL, PARENT_ID, REGION)
    )
    schema = StructType(
        [
            *estimates.schema.fields,
            StructField(SUPPRESSED, BooleanType(), False),
            StructField(SUPPRESSION, StringType(), True),
            StructField(REGION, StringType(), False),
            StructField(_HOME, BooleanType(), False),
        ]
    )

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        values = pdf[[*cols, _PRIOR]].drop_duplicates([_LEVEL, _AREA]).reset_index(drop=True)
        values[_VALUE] = values[list(value_cols)].min(axis=1, skipna=False)
        values = values.rename(columns={_PRIOR: SUPPRESSED})
        edges = pdf.loc[pdf[PARENT_ID].notna(), [_LEVEL, _AREA, PARENT_LEVEL, PARENT_ID]]
        edges = edges.rename(columns={_LEVEL: CHILD_LEVEL, _AREA: CHILD_ID})
        res = suppress_values(values, edges, k=k, secondary=secondary).drop(columns=_VALUE)
        region = pdf[REGION].iloc[0]
        at_home = pdf.loc[pdf[PARENT_ID].isna(), [_LEVEL, _AREA]]
        res[_HOME] = pd.MultiIndex.from_frame(res[[_LEVEL, _AREA]]).isin(
            pd.MultiIndex.from_frame(at_home)
        )
        return res.assign(**{REGION: region})[[*cols, SUPPRESSED, SUPPRESSION, REGION, _HOME]]

    def run_groups(prior: DataFrame | None, only: DataFrame | None) -> DataFrame:
        todo = rows if only is None else rows.join(only, on=[*group_cols, REGION], how="left_semi")
        if prior is None:
            todo = todo.withColumn(_PRIOR, F.lit(False))
        else:
            todo = todo.join(prior, on=keys, how="left").fillna(False, subset=[_PRIOR])
        return todo.groupBy(*group_cols, REGION).applyInPandas(run, schema=schema)

    out = run_groups(None, None).localCheckpoint()
    for _ in range(_MAX_ROUNDS):
        state = out.groupBy(*keys).agg(
            F.max(SUPPRESSED).alias(_PRIOR), F.min(SUPPRESSED).alias("_any_released")
        )
        # groups that released an area another group suppressed: run them again
        missed = state.where(F.col(_PRIOR) & ~F.col("_any_released")).select(*keys)
        stale = (
            out.where(~F.col(SUPPRESSED))
            .join(missed, on=keys, how="left_semi")
            .select(*group_cols, REGION)
            .distinct()
            .localCheckpoint()
        )
        if stale.isEmpty():
            break
        redo = run_groups(state.where(F.col(_PRIOR)).select(*keys, _PRIOR), stale)
        out = (
            out.join(stale, on=[*group_cols, REGION], how="left_anti")
            .unionByName(redo)
            .localCheckpoint()
        )
    else:
        raise RuntimeError(f"disclosure control did not settle in {_MAX_ROUNDS} rounds")
    final = out.where(F.col(_HOME))
    for c in (*value_cols, *null_cols):
        dtype = estimates.schema[c].dataType
        final = final.withColumn(c, F.when(~F.col(SUPPRESSED), F.col(c)).cast(dtype))
    return final.select(*cols, SUPPRESSED, SUPPRESSION)
