"""Disclosure control of origin-destination matrices: cells, their margins, nested levels.

An OD matrix is released with its margins, so that the trips leaving and entering each area
can be read without summing suppressed cells: per (date, time band, level), the cells
``(A, B)``, the row totals ``(A, _T)``, the column totals ``(_T, B)`` and the grand total
``(_T, _T)`` (``_T`` is the SDMX code of a total). Zone levels nest (municipalities in
regions), so a municipality cell also adds up into its regions' cell.

Notes
-----
Every published value takes part in linear equations that anyone can write down:

- *row*: ``sum_B x(A, B) = x(A, _T)``; *column*: ``sum_A x(A, B) = x(_T, B)``;
- *totals*: ``sum_A x(A, _T) = x(_T, _T) = sum_B x(_T, B)``;
- *nesting*: ``x(R, S) = sum_{A in R, B in S} x(A, B)`` for regions R, S holding
  municipalities A, B (and likewise for the margins).

Absent cells are zero and known. A suppressed value is *recovered* when those equations fix
it: it is then a linear combination of released values. Three rules run in turn until none
suppresses anything more:

1. *Threshold* (primary): a row whose smallest value (``trips``, ``person_trips``) is under
   ``k`` is suppressed (as for the present population, :mod:`rmf_spark.release.disclosure`).
2. *Edge rule* (:func:`rmf_spark.release.disclosure.suppress_values`): every equation whose
   total is released has no suppressed term, or at least two whose sum is at least ``k``.
3. *Audit*: no suppressed value is fixed by the equations taken together. With ``n`` suppressed
   values and the equations' matrix ``M`` restricted to them, value ``i`` is fixed exactly
   when the unit vector ``e_i`` is in the row space of ``M``, i.e. when row ``i`` of a basis
   of the null space of ``M`` is zero (computed by SVD). For each fixed value the released
   value with the smallest trips that shares an equation with it is suppressed as well.

The audit is exact for the whole group (all levels of a date and time band together) up to
``max_exact`` suppressed values. Above, it is run for each level alone, where it is exact
too and cheap: within one level every value appears in exactly two equations (a cell in its
row and its column, a row total in its row and the totals), so after the sign of the column
equations is flipped ``M`` is the incidence matrix of a graph whose edges are the suppressed
values, and a value is fixed exactly when its edge is a bridge (it lies on no cycle). Only the
nesting equations are then left to the edge rule. Attacks that combine released values of
different products or of non-nested levels (1 km tiles against zones) are out of scope, as for
the present population. Sources: the threshold rule and its k as in
:mod:`rmf_spark.release.disclosure`; the audit by linear equations is the classic attacker
model of cell suppression in tables with margins (Hundepool et al., *Statistical Disclosure
Control*, Wiley 2012, chapter 4); the bridge criterion is rmf_spark's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import pandas as pd
import scipy.linalg
from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from rmf_spark.release.disclosure import (
    CHILD_ID,
    CHILD_LEVEL,
    PARENT_ID,
    PARENT_LEVEL,
    SECONDARY,
    SUPPRESSED,
    SUPPRESSION,
    suppress_values,
)
from rmf_spark.slayer.aggregate.schemas import EXPANSION_FACTOR

__all__ = [
    "TOTAL",
    "determined_values",
    "flow_equations",
    "protect_flows",
    "release_flows",
    "with_margins",
    "zone_nesting",
]

#: the area code of a margin (SDMX ``_T``: total)
TOTAL = "_T"
_LEVEL, _O, _D, _AREA, _VALUE = "level", "origin_area_id", "destination_area_id", "area_id", "value"
# unit separator: never part of a zone id or an INSPIRE code
_SEP = "\x1f"
_ROW, _COL, _TROW, _TCOL = "row", "col", "trow", "tcol"


def _key(origin: str, destination: str) -> str:
    return f"{origin}{_SEP}{destination}"


def with_margins(cells: pd.DataFrame, value_columns: Iterable[str]) -> pd.DataFrame:
    """``cells`` (one group: ``level, origin_area_id, destination_area_id`` and the values)
    plus, per level, the row, column and grand totals (areas ``_T``).

    A total is null where one of its cells' values is (as the OD matrix's ``person_trips``).
    """
    values = list(value_columns)
    keys = [_LEVEL, _O, _D]
    parts = [cells[keys + values]]
    for by, other in ((_O, _D), (_D, _O)):
        margin = cells.groupby([_LEVEL, by], sort=False)[values].sum(min_count=1)
        nulls = cells[values].isna().groupby([cells[_LEVEL], cells[by]], sort=False).any()
        parts.append(margin.mask(nulls).reset_index().assign(**{other: TOTAL}))
    grand = cells.groupby(_LEVEL, sort=False)[values].sum(min_count=1)
    grand = grand.mask(cells[values].isna().groupby(cells[_LEVEL], sort=False).any())
    parts.append(grand.reset_index().assign(**{_O: TOTAL, _D: TOTAL}))
    return pd.concat(parts, ignore_index=True)[keys + values]


def _part_levels(rows: pd.DataFrame) -> np.ndarray:
    """The level of each row as an equation sees it: cells keep their level, row totals,
    column totals and the grand total get their own (the grand total is the sum of the row
    totals and, separately, of the column totals: two equations)."""
    o, d = rows[_O].to_numpy(), rows[_D].to_numpy()
    suffix = np.where(
        o == TOTAL, np.where(d == TOTAL, "all", "col"), np.where(d == TOTAL, "row", "")
    )
    return np.array(
        [lv if not s else f"{lv}{_SEP}{s}" for lv, s in zip(rows[_LEVEL], suffix, strict=True)],
        dtype=object,
    )


def _ids(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(_part_levels(rows), map(_key, rows[_O], rows[_D]), strict=True))


def flow_equations(
    rows: pd.DataFrame, nesting: Mapping[str, tuple[str, Mapping[str, str]]]
) -> pd.DataFrame:
    """The equations between the rows of one group, as parent-child edges.

    Parameters
    ----------
    rows
        ``level, origin_area_id, destination_area_id`` (cells and :func:`with_margins`).
    nesting
        Per level, its parent level and the parent area of each of its areas (e.g.
        ``{"zone_2": ("zone_1", {municipality: region})}``).

    Returns
    -------
    pandas.DataFrame
        ``child_level, child_id, parent_level, parent_id`` between the rows' :func:`_ids`
        (level, ``origin<US>destination``). An equation is a (parent, child level) pair: its
        children sum to the parent (module notes: row, column, totals, nesting).
    """
    o, d, lv = rows[_O].to_numpy(), rows[_D].to_numpy(), rows[_LEVEL].to_numpy()
    part = _part_levels(rows)
    cell = (o != TOTAL) & (d != TOTAL)
    edges: list[tuple[str, str, str, str]] = []
    for i in np.flatnonzero(cell):
        me = _key(o[i], d[i])
        edges.append((part[i], me, f"{lv[i]}{_SEP}row", _key(o[i], TOTAL)))
        edges.append((part[i], me, f"{lv[i]}{_SEP}col", _key(TOTAL, d[i])))
    for i in np.flatnonzero(~cell & ((o != TOTAL) | (d != TOTAL))):
        edges.append((part[i], _key(o[i], d[i]), f"{lv[i]}{_SEP}all", _key(TOTAL, TOTAL)))
    for i in range(len(rows)):
        if lv[i] not in nesting:
            continue
        parent_level, parent = nesting[lv[i]]
        po = TOTAL if o[i] == TOTAL else parent.get(o[i])
        pd_ = TOTAL if d[i] == TOTAL else parent.get(d[i])
        if po is not None and pd_ is not None:
            up = part[i].replace(lv[i], parent_level, 1)
            edges.append((part[i], _key(o[i], d[i]), up, _key(po, pd_)))
    return pd.DataFrame(edges, columns=[CHILD_LEVEL, CHILD_ID, PARENT_LEVEL, PARENT_ID])


def _equations(ids: list[tuple[str, str]], links: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """Each equation (a parent and a child level) as its parent's row and its children's."""
    index = {v: i for i, v in enumerate(ids)}
    groups: dict[tuple[str, str, str], tuple[int, list[int]]] = {}
    for cl, ci, pl, pi in links.itertuples(index=False):
        c, p = index.get((cl, ci)), index.get((pl, pi))
        if c is None or p is None:
            continue
        groups.setdefault((pl, pi, cl), (p, []))[1].append(c)
    return list(groups.values())


def _equation_matrix(equations: list[tuple[int, list[int]]], unknown: np.ndarray) -> np.ndarray:
    """One row per equation, one column per unknown: +1 for a child, -1 for the parent."""
    col = np.full(len(unknown), -1)
    col[unknown] = np.arange(int(unknown.sum()))
    out = np.zeros((len(equations), int(unknown.sum())))
    for e, (parent, children) in enumerate(equations):
        for c in children:
            if col[c] >= 0:
                out[e, col[c]] = 1.0
        if col[parent] >= 0:
            out[e, col[parent]] = -1.0
    return out


def _exact_leaks(
    rows: pd.DataFrame, links: pd.DataFrame, unknown: np.ndarray
) -> dict[int, set[int]]:
    """Every fixed unknown and the rows of the equations that fix it, from all equations.

    ``x_i`` is fixed when ``e_i = M^T y`` has a solution ``y``; the equations with
    ``y_j != 0`` are those whose combination gives it away."""
    equations = [(p, cs) for p, cs in _equations(_ids(rows), links) if unknown[[p, *cs]].any()]
    if not equations:
        return {}
    m = _equation_matrix(equations, unknown)
    null = scipy.linalg.null_space(m)
    where = np.flatnonzero(unknown)
    leaks: dict[int, set[int]] = {}
    for c in np.flatnonzero(np.linalg.norm(null, axis=1) < 1e-8):
        e = np.zeros(m.shape[1])
        e[c] = 1.0
        y = np.linalg.lstsq(m.T, e, rcond=None)[0]
        used = np.flatnonzero(np.abs(y) > 1e-9)
        leaks[int(where[c])] = {j for u in used for j in (equations[u][0], *equations[u][1])}
    return leaks


def _vertices(o: str, d: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two equations of a row of one level, as graph vertices (module notes)."""
    if o != TOTAL and d != TOTAL:
        return (_ROW, o), (_COL, d)
    if o != TOTAL:
        return (_ROW, o), (_TROW, "")
    if d != TOTAL:
        return (_COL, d), (_TCOL, "")
    return (_TROW, ""), (_TCOL, "")


def _bridge_leaks(rows: pd.DataFrame, unknown: np.ndarray) -> dict[int, set[int]]:
    """Every unknown fixed by the equations of its own level, and the rows of those equations.

    A bridge's value is the sum of the equations of the vertices on one side of it (every
    other unknown there appears in two of them and cancels)."""
    o, d, lv = rows[_O].to_numpy(), rows[_D].to_numpy(), rows[_LEVEL].to_numpy()
    leaks: dict[int, set[int]] = {}
    for level in np.unique(lv[unknown]):
        at = np.flatnonzero(lv == level)
        touches: dict[tuple[str, str], list[int]] = {}
        for i in at:
            for v in _vertices(o[i], d[i]):
                touches.setdefault(v, []).append(int(i))
        g = nx.Graph()
        edge_of: dict[frozenset[tuple[str, str]], int] = {}
        for i in at[unknown[at]]:
            u, v = _vertices(o[i], d[i])
            g.add_edge(u, v)
            edge_of[frozenset((u, v))] = int(i)
        for u, v in nx.bridges(g):
            g.remove_edge(u, v)
            side = nx.node_connected_component(g, u)
            g.add_edge(u, v)
            leaks[edge_of[frozenset((u, v))]] = {j for w in side for j in touches.get(w, [])}
    return leaks


def determined_values(
    rows: pd.DataFrame, links: pd.DataFrame, suppressed: np.ndarray, *, max_exact: int
) -> dict[int, set[int]]:
    """The suppressed rows that the equations ``links`` fix (module notes, rule 3), each with
    the rows of the equations that fix it.

    Parameters
    ----------
    rows
        ``level, origin_area_id, destination_area_id`` of one group.
    links
        :func:`flow_equations` of ``rows``.
    suppressed
        Boolean per row.
    max_exact
        Largest number of suppressed rows for the exact audit of all equations together;
        above, each level's equations alone (bridges).
    """
    unknown = np.asarray(suppressed, dtype=bool)
    n = int(unknown.sum())
    if n == 0:
        return {}
    if n > max_exact:
        return _bridge_leaks(rows, unknown)
    return _exact_leaks(rows, links, unknown)


def _widen(
    rows: pd.DataFrame, value: np.ndarray, suppressed: np.ndarray, leaks: dict[int, set[int]]
) -> np.ndarray:
    """One more suppression per fixed value: the released row of smallest value among those
    whose equations give it away."""
    ids = _ids(rows)
    out = suppressed.copy()
    for i in sorted(leaks):
        shown = [j for j in leaks[i] if not out[j]]
        if shown:
            out[min(shown, key=lambda j: (value[j], ids[j]))] = True
    return out


def protect_flows(
    cells: pd.DataFrame,
    *,
    value_columns: tuple[str, ...],
    nesting: Mapping[str, tuple[str, Mapping[str, str]]],
    k: float,
    secondary: bool,
    max_exact: int = 3000,
) -> pd.DataFrame:
    """Cells and margins of one group (a date and time band), with disclosure control.

    Parameters
    ----------
    cells
        ``level, origin_area_id, destination_area_id`` and ``value_columns``.
    value_columns
        Released values (a row is under the threshold when its smallest is under ``k``).
    nesting
        See :func:`flow_equations`.
    k, secondary
        ``release.k`` and ``release.secondary_suppression`` (``False``: threshold only).
    max_exact
        See :func:`determined_values`.

    Returns
    -------
    pandas.DataFrame
        Cells and margins (``_T``): ``level, origin_area_id, destination_area_id``, the
        values (null when suppressed), ``suppressed``, ``suppression``.

    Examples
    --------
    Two released cells of a row whose other cell is under k: that one alone would be the
    row total minus the others, so a second cell goes with it.

    >>> cells = pd.DataFrame({"level": "m", "origin_area_id": ["a", "a", "a"],
    ...                       "destination_area_id": ["x", "y", "z"],
    ...                       "trips": [4.0, 30.0, 50.0]})
    >>> out = protect_flows(cells, value_columns=("trips",), nesting={}, k=15, secondary=True)
    >>> out.set_index(["origin_area_id", "destination_area_id"])["suppression"].to_dict()
    ... # doctest: +NORMALIZE_WHITESPACE
    {('a', 'x'): 'primary', ('a', 'y'): 'secondary', ('a', 'z'): None,
     ('a', '_T'): None, ('_T', 'x'): 'primary', ('_T', 'y'): 'secondary',
     ('_T', 'z'): None, ('_T', '_T'): None}
    """
    rows = with_margins(cells, value_columns)
    value = rows[list(value_columns)].min(axis=1, skipna=False).to_numpy(dtype=float)
    links = flow_equations(rows, nesting)
    ids = _ids(rows)
    values = pd.DataFrame({_LEVEL: [i[0] for i in ids], _AREA: [i[1] for i in ids], _VALUE: value})
    out = suppress_values(values, links, k=k, secondary=secondary)
    while secondary:
        sup = out[SUPPRESSED].to_numpy(dtype=bool)
        leaks = determined_values(rows, links, sup, max_exact=max_exact)
        if not leaks:
            break
        widened = _widen(rows, value, sup, leaks)
        if (widened == sup).all():  # nothing left to suppress around it
            break
        out = suppress_values(values.assign(**{SUPPRESSED: widened}), links, k=k, secondary=True)
    result = rows.copy()
    result[SUPPRESSED] = out[SUPPRESSED].to_numpy(dtype=bool)
    result[SUPPRESSION] = out[SUPPRESSION].to_numpy(dtype=object)
    # a row suppressed to protect another that was not under k itself
    result.loc[result[SUPPRESSED] & result[SUPPRESSION].isna(), SUPPRESSION] = SECONDARY
    result.loc[result[SUPPRESSED], list(value_columns)] = np.nan
    return result


def zone_nesting(
    zone_edges: pd.DataFrame, levels: Iterable[str]
) -> dict[str, tuple[str, dict[str, str]]]:
    """Per released zone level, the next coarser released zone level and each area's parent.

    Parameters
    ----------
    zone_edges
        ``child_level, child_id, parent_level, parent_id`` between zones
        (:func:`rmf_spark.release.hierarchy.build_hierarchy`'s ``zone_<L> -> zone_<M>`` rows).
    levels
        The levels of the released matrices (``1km`` and ``100m`` nest in no zone).
    """
    zones = sorted(
        (lv for lv in set(levels) if lv.startswith("zone_")),
        key=lambda lv: int(lv.removeprefix("zone_")),
    )
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for coarse, fine in itertools.pairwise(zones):
        e = zone_edges[(zone_edges[CHILD_LEVEL] == fine) & (zone_edges[PARENT_LEVEL] == coarse)]
        out[fine] = (
            coarse,
            dict(zip(e[CHILD_ID].astype(str), e[PARENT_ID].astype(str), strict=True)),
        )
    return out


def release_flows(
    od: DataFrame,
    *,
    group_columns: tuple[str, ...],
    value_columns: tuple[str, ...],
    nesting: Mapping[str, tuple[str, Mapping[str, str]]],
    k: float,
    secondary: bool,
    schema: StructType,
    max_exact: int = 3000,
) -> DataFrame:
    """:func:`protect_flows` on every group of an OD table, in one pandas group each.

    Parameters
    ----------
    od
        ``group_columns``, ``level, origin_area_id, destination_area_id``, ``value_columns``
        (other columns are recomputed or dropped: ``expansion_factor`` is the ratio of the
        last value column to the first).
    schema
        The released table's schema (``group_columns``, the keys, the values,
        ``expansion_factor``, ``suppressed``, ``suppression``).
    """
    values = list(value_columns)
    first, last = values[0], values[-1]

    def one(frame: pd.DataFrame) -> pd.DataFrame:
        out = protect_flows(
            frame,
            value_columns=value_columns,
            nesting=nesting,
            k=k,
            secondary=secondary,
            max_exact=max_exact,
        )
        for c in group_columns:
            out[c] = frame[c].iloc[0]
        out[EXPANSION_FACTOR] = (out[last] / out[first]).where(out[first] > 0)
        return out[[f.name for f in schema.fields]]

    cols = [*group_columns, _LEVEL, _O, _D, *values]
    return od.select(*cols).groupBy(*group_columns).applyInPandas(one, schema)
