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
    "SECONDARY",
    "SUPPRESSED",
    "SUPPRESSION",
    "apply_disclosure_control",
    "suppress_values",
]

CHILD_LEVEL, CHILD_ID = "child_level", "child_id"
PARENT_LEVEL, PARENT_ID = "parent_level", "parent_id"
SUPPRESSED, SUPPRESSION = "suppressed", "suppression"
PRIMARY, SECONDARY = "primary", "secondary"
_LEVEL, _AREA, _VALUE = "level", "area_id", "value"


def suppress_values(
    values: pd.DataFrame, links: pd.DataFrame, *, k: float, secondary: bool
) -> pd.DataFrame:
    """Primary and secondary suppression of one set of hierarchical values (pandas).

    Parameters
    ----------
    values
        ``level, area_id, value``: one row per released area (absent areas are zero).
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
    edges["cval"] = val[edges["c"].to_numpy()]
    edges["carea"] = out[_AREA].to_numpy()[edges["c"].to_numpy()]
    keys = ["p", "edge"]
    for _ in range(len(out) + 1):
        csup = sup[edges["c"].to_numpy()]
        stats = (
            edges.assign(n=csup.astype(int), s=np.where(csup, edges["cval"].fillna(0.0), 0.0))
            .groupby(keys, sort=False)[["n", "s"]]
            .sum()
            .reset_index()
        )
        released_parent = ~sup[stats["p"].to_numpy()]
        needy = stats[released_parent & (stats["n"] > 0) & ((stats["n"] == 1) | (stats["s"] < k))]
        if needy.empty:
            return
        cand = edges[~csup].merge(needy[keys], on=keys)
        pick = cand.sort_values([*keys, "cval", "carea"]).groupby(keys, sort=False).head(1)
        new = pick["c"].to_numpy()
        sup[new] = True
        reason[new] = SECONDARY
        orphan = needy.merge(pick[keys], on=keys, how="left", indicator=True)
        lone = orphan.loc[orphan["_merge"] == "left_only", "p"].to_numpy()
        sup[lone] = True
        reason[lone] = SECONDARY


def apply_disclosure_control(
    estimates: DataFrame,
    *,
    hierarchy: DataFrame,
    k: float,
    secondary: bool,
    value_cols: tuple[str, ...] = ("devices", "population"),
    group_cols: tuple[str, ...] = ("time_point", "method"),
    null_cols: tuple[str, ...] = ("expansion_factor",),
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
        One independent table per group (one pandas group each).
    null_cols
        Other columns nulled when suppressed.

    Returns
    -------
    DataFrame
        Same columns plus ``suppressed boolean`` and ``suppression string``; suppressed rows
        have null ``value_cols`` and ``null_cols``.

    Notes
    -----
    Rule and sources in the module notes.
    """
    cols = estimates.columns
    links = hierarchy.select(
        F.col(CHILD_LEVEL).alias(_LEVEL), F.col(CHILD_ID).alias(_AREA), PARENT_LEVEL, PARENT_ID
    )
    rows = estimates.join(links, on=[_LEVEL, _AREA], how="left")
    schema = StructType(
        [
            *estimates.schema.fields,
            StructField(SUPPRESSED, BooleanType(), False),
            StructField(SUPPRESSION, StringType(), True),
        ]
    )

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        values = pdf[cols].drop_duplicates([_LEVEL, _AREA]).reset_index(drop=True)
        values[_VALUE] = values[list(value_cols)].min(axis=1, skipna=False)
        edges = pdf.loc[pdf[PARENT_ID].notna(), [_LEVEL, _AREA, PARENT_LEVEL, PARENT_ID]]
        edges = edges.rename(columns={_LEVEL: CHILD_LEVEL, _AREA: CHILD_ID})
        res = suppress_values(values, edges, k=k, secondary=secondary).drop(columns=_VALUE)
        for c in (*value_cols, *null_cols):
            res[c] = res[c].astype(float).where(~res[SUPPRESSED])
        return res[[*cols, SUPPRESSED, SUPPRESSION]]

    return rows.groupBy(*group_cols).applyInPandas(run, schema=schema)
