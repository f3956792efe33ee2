"""Usual environment, home and work labels per device, from its long-term (or a single
period's mid-term) permanence (Eurostat MultiMNO, usual environment labelling).

Notes
-----
Inputs: per device, day type, interval and tile, ``permanence`` (slots) and ``frequency``
(days) (:func:`~rmf_spark.slayer.usual_environment.longterm.compute_longterm_permanence`);
per device, day type and interval, the observation totals ``grid_slots`` and ``days``. The
rules read three (day type, interval) combinations: ``AA`` = (all, all), ``AN`` = (all,
``labels.night_interval``) and ``WW`` = (workdays, ``labels.working_interval``). For a tile,
``P_c`` and ``F_c`` are its permanence and frequency in combination ``c`` (0 when absent); for
the device, ``S_c`` and ``D_c`` its grid slots and days. A rule ``value >= share * total``
holds only where the device was observed (``total > 0``).

1. Minimum observation: a device with ``S_AA < min_slots`` or ``D_AA < min_days`` gets no
   label (MultiMNO's rarely / discontinuously observed devices).
2. Usual environment (``ue``). Candidates: the device's tiles by ``P_AA`` descending, cut
   before the first drop ``P_AA(k-1) - P_AA(k) >= ue.gap_share * max P_AA``. Every rule is
   tried on the candidates still unlabelled; a tile keeps the first that holds:
   ``ue_1``: ``P_AA >= s S_AA``; ``ue_2_night``: ``P_AN >= s S_AN``; ``ue_2_work``:
   ``P_WW >= s S_WW`` (``s = ue.permanence_share``); ``ue_3``: ``F_AA >=
   ue.frequency_share * D_AA``. (MultiMNO names both second rules ``ue_2``.)
3. Home. Candidates: the ``ue`` tiles by ``P_AA`` descending, cut before the first drop of
   ``home.gap_slots``. Rules in order, ``h_1``: ``P_AA >= s S_AA``; ``h_2``: ``P_AN >= s
   S_AN`` (``s = home.permanence_share``); ``h_3``: ``F_AN >= home.frequency_share * D_AN``.
   The first rule that holds for one of the device's candidates labels every candidate it
   holds for, and the later ones are not tried for that device.
4. Work. Candidates: the ``ue`` tiles with ``P_WW > 0``, by ``P_WW`` descending, cut before
   the first drop of ``work.gap_slots``; rules ``w_1``: ``P_WW >= work.permanence_share *
   S_WW``, then ``w_2``: ``F_WW >= work.frequency_share * D_WW``; it stops as home does.

MultiMNO's code stops the home and work rules at the first rule that labels a tile of any
device; here each device stops at its own first rule, as MultiMNO's documentation says.

Outputs. :func:`compute_labels`: one row per (device, label, tile): ``device_id``, ``label``
(``ue``, ``home``, ``work``), ``tile_id``, ``rule`` (the code of the rule that fired).
:func:`compute_label_status`: one row per device of the observation totals, labelled or not:
``device_id``, ``status`` (:data:`STATUSES`), ``grid_slots`` and ``days`` (``S_AA``, ``D_AA``:
what the minimum-observation rule read), ``ue_tiles``, ``home_tiles``, ``home_rule``,
``work_tiles``, ``work_rule`` (0 and null where no rule fired).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID
from rmf_spark.slayer.usual_environment.midterm import (
    ALL,
    DAY_TYPE,
    DAYS,
    FREQUENCY,
    GRID_SLOTS,
    PERMANENCE,
    TIME_INTERVAL,
    WORKDAYS,
)
from rmf_spark.slayer.usual_environment.settings import (
    LabelSettings,
    UsualEnvironmentSettings,
)

__all__ = [
    "HOME",
    "HOME_RULE",
    "HOME_RULES",
    "HOME_TILES",
    "INSUFFICIENT_OBSERVATION",
    "LABEL",
    "LABELLED",
    "NO_HOME_RULE_FIRED",
    "NO_UE_RULE_FIRED",
    "RULE",
    "STATUS",
    "STATUSES",
    "UE",
    "UE_RULES",
    "UE_TILES",
    "WORK",
    "WORK_RULE",
    "WORK_RULES",
    "WORK_TILES",
    "compute_label_status",
    "compute_labels",
]

LABEL, RULE, STATUS = "label", "rule", "status"
UE, HOME, WORK = "ue", "home", "work"
UE_TILES, HOME_TILES, WORK_TILES = "ue_tiles", "home_tiles", "work_tiles"
HOME_RULE, WORK_RULE = "home_rule", "work_rule"
#: rule codes, in the order they are tried
UE_RULES = ("ue_1", "ue_2_night", "ue_2_work", "ue_3")
HOME_RULES = ("h_1", "h_2", "h_3")
WORK_RULES = ("w_1", "w_2")
#: device statuses: a home was found / too little seen to be labelled / no usual environment
#: rule held for any tile / a usual environment but no home rule held
LABELLED = "labelled"
INSUFFICIENT_OBSERVATION = "insufficient_observation"
NO_UE_RULE_FIRED = "no_ue_rule_fired"
NO_HOME_RULE_FIRED = "no_home_rule_fired"
STATUSES = (LABELLED, INSUFFICIENT_OBSERVATION, NO_UE_RULE_FIRED, NO_HOME_RULE_FIRED)

# 55 % of 100 slots must read as 55, not 55.00000000000001: shares of a total are compared
# with this slack
_SLACK = 1e-9
# the (day type, interval) combinations the rules read, by the suffix of their columns
_AA, _AN, _WW = "aa", "an", "ww"


def _combinations(settings: UsualEnvironmentSettings) -> dict[str, tuple[str, str]]:
    labels = settings.labels
    return {
        _AA: (ALL, ALL),
        _AN: (ALL, labels.night_interval),
        _WW: (WORKDAYS, labels.working_interval),
    }


def _pivot(
    rows: DataFrame, keys: Sequence[str], values: dict[str, str], settings: UsualEnvironmentSettings
) -> DataFrame:
    # one row per key, a column <prefix>_<combination> per value: 0 where the row is absent
    aggregates = []
    for suffix, (day_type, interval) in _combinations(settings).items():
        here = (F.col(DAY_TYPE) == day_type) & (F.col(TIME_INTERVAL) == interval)
        for column, prefix in values.items():
            total = F.max(F.when(here, F.col(column)))
            aggregates.append(F.coalesce(total, F.lit(0)).alias(f"{prefix}_{suffix}"))
    return rows.groupBy(*keys).agg(*aggregates)


def _device_totals(observation: DataFrame, settings: UsualEnvironmentSettings) -> DataFrame:
    # every device with an observation row, even if it was never seen at night, say
    return _pivot(observation, [DEVICE_ID], {GRID_SLOTS: "s", DAYS: "d"}, settings)


def _observed_enough(labels: LabelSettings) -> Column:
    return (F.col(f"s_{_AA}") >= labels.min_slots) & (F.col(f"d_{_AA}") >= labels.min_days)


def _holds(value: str, total: str, share: float) -> Column:
    # value >= share * total, where the device was observed at all
    return (F.col(total) > 0) & (F.col(value) + _SLACK >= F.lit(share) * F.col(total))


def _before_gap(
    tiles: DataFrame, *, value: str, gap: Column, out: str, among: str | None = None
) -> DataFrame:
    """``tiles`` with boolean ``out``: the tile is ``among`` (every tile when None) and comes,
    by ``value`` descending within its device, before the first drop of at least ``gap``
    between consecutive tiles (MultiMNO's gap pre-selection)."""
    keys = [DEVICE_ID, among] if among else [DEVICE_ID]
    ranked = Window.partitionBy(*keys).orderBy(F.desc(value))
    so_far = ranked.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    # tied tiles have a drop of 0 < gap between them, so the order of ties does not matter
    before = F.col("_cuts") == 0
    kept = before & F.col(among) if among else before
    return (
        tiles.withColumn("_gap", gap)
        .withColumn("_drop", F.lag(value).over(ranked) - F.col(value))
        .withColumn(
            "_cut", F.coalesce((F.col("_drop") + _SLACK >= F.col("_gap")).cast("int"), F.lit(0))
        )
        .withColumn("_cuts", F.sum("_cut").over(so_far))
        .withColumn(out, kept)
        .drop("_gap", "_drop", "_cut", "_cuts")
    )


def _first_rule_per_tile(candidate: str, rules: Sequence[tuple[str, Column]]) -> Column:
    # cumulative rules: each candidate keeps the first rule that holds for it
    first = F.when(F.col(candidate) & rules[0][1], F.lit(rules[0][0]))
    for code, holds in rules[1:]:
        first = first.when(F.col(candidate) & holds, F.lit(code))
    return first


def _first_rule_per_device(
    tiles: DataFrame, candidate: str, rules: Sequence[tuple[str, Column]], out: str
) -> DataFrame:
    """``tiles`` with ``out``: the code of the device's first rule that holds for one of its
    ``candidate`` tiles, on the candidates it holds for; null elsewhere."""
    device = Window.partitionBy(DEVICE_ID)
    fired = [(code, F.max((F.col(candidate) & h).cast("int")).over(device)) for code, h in rules]
    chosen = F.when(fired[0][1] == 1, F.lit(fired[0][0]))
    for code, any_tile in fired[1:]:
        chosen = chosen.when(any_tile == 1, F.lit(code))
    tiles = tiles.withColumn("_chosen", chosen)
    on_tile = [F.col(candidate) & (F.col("_chosen") == code) & holds for code, holds in rules]
    return tiles.withColumn(
        out, F.when(reduce(lambda a, b: a | b, on_tile), F.col("_chosen"))
    ).drop("_chosen")


def compute_labels(
    permanence: DataFrame, observation: DataFrame, *, settings: UsualEnvironmentSettings
) -> DataFrame:
    """Per device observed enough, its usual environment, home and work tiles, each with the
    rule that labelled it (module notes; MultiMNO usual environment labelling).

    Parameters
    ----------
    permanence
        Long-term (or one period's mid-term) permanence: ``device_id, day_type,
        time_interval, tile_id, permanence, frequency``.
    observation
        The matching observation totals: ``device_id, day_type, time_interval, grid_slots,
        days``.
    settings
        ``[usual_environment]`` (its ``labels`` and interval names).

    Returns
    -------
    DataFrame
        ``device_id, label, tile_id, rule``: one row per (device, label, tile).
    """
    labels = settings.labels
    wanted = reduce(
        lambda a, b: a | b,
        [
            (F.col(DAY_TYPE) == day_type) & (F.col(TIME_INTERVAL) == interval)
            for day_type, interval in _combinations(settings).values()
        ],
    )
    # partitioned by device once: the pivot, the join and every window below reuse it
    rows = permanence.where(wanted).repartition(DEVICE_ID)
    tiles = _pivot(rows, [DEVICE_ID, TILE_ID], {PERMANENCE: "p", FREQUENCY: "f"}, settings)
    devices = _device_totals(observation, settings).where(_observed_enough(labels))
    tiles = tiles.join(devices, on=DEVICE_ID)  # inner: devices seen too little drop out here

    ue, home, work = labels.ue, labels.home, labels.work
    largest = F.max(f"p_{_AA}").over(Window.partitionBy(DEVICE_ID))
    tiles = _before_gap(tiles, value=f"p_{_AA}", gap=ue.gap_share * largest, out="_ue_pool")
    ue_rules = [
        (UE_RULES[0], _holds(f"p_{_AA}", f"s_{_AA}", ue.permanence_share)),
        (UE_RULES[1], _holds(f"p_{_AN}", f"s_{_AN}", ue.permanence_share)),
        (UE_RULES[2], _holds(f"p_{_WW}", f"s_{_WW}", ue.permanence_share)),
        (UE_RULES[3], _holds(f"f_{_AA}", f"d_{_AA}", ue.frequency_share)),
    ]
    tiles = tiles.withColumn("_ue", _first_rule_per_tile("_ue_pool", ue_rules))
    tiles = tiles.withColumn("_is_ue", F.col("_ue").isNotNull())

    # home and work are looked for among the usual environment only
    tiles = _before_gap(
        tiles, value=f"p_{_AA}", gap=F.lit(home.gap_slots), out="_home_pool", among="_is_ue"
    )
    home_rules = [
        (HOME_RULES[0], _holds(f"p_{_AA}", f"s_{_AA}", home.permanence_share)),
        (HOME_RULES[1], _holds(f"p_{_AN}", f"s_{_AN}", home.permanence_share)),
        (HOME_RULES[2], _holds(f"f_{_AN}", f"d_{_AN}", home.frequency_share)),
    ]
    tiles = _first_rule_per_device(tiles, "_home_pool", home_rules, "_home")

    tiles = tiles.withColumn("_works_here", F.col("_is_ue") & (F.col(f"p_{_WW}") > 0))
    tiles = _before_gap(
        tiles, value=f"p_{_WW}", gap=F.lit(work.gap_slots), out="_work_pool", among="_works_here"
    )
    work_rules = [
        (WORK_RULES[0], _holds(f"p_{_WW}", f"s_{_WW}", work.permanence_share)),
        (WORK_RULES[1], _holds(f"f_{_WW}", f"d_{_WW}", work.frequency_share)),
    ]
    tiles = _first_rule_per_device(tiles, "_work_pool", work_rules, "_work")

    found = F.array(
        *[
            F.struct(F.lit(name).alias(LABEL), F.col(column).alias(RULE))
            for name, column in ((UE, "_ue"), (HOME, "_home"), (WORK, "_work"))
        ]
    )
    return (
        tiles.where(F.col("_is_ue"))
        .select(DEVICE_ID, TILE_ID, F.explode(F.filter(found, lambda x: x[RULE].isNotNull())))
        .select(DEVICE_ID, F.col(f"col.{LABEL}").alias(LABEL), TILE_ID, F.col(f"col.{RULE}"))
    )


def compute_label_status(
    observation: DataFrame, labels: DataFrame, *, settings: UsualEnvironmentSettings
) -> DataFrame:
    """One row per device of ``observation``, with or without a label: its status and what
    was found (module notes). ``labels``: :func:`compute_labels` of the same inputs.

    Returns
    -------
    DataFrame
        ``device_id, status, grid_slots, days, ue_tiles, home_tiles, home_rule, work_tiles,
        work_rule``.
    """
    label = F.col(LABEL)
    found = labels.groupBy(DEVICE_ID).agg(
        F.count_if(label == UE).cast("int").alias(UE_TILES),
        F.count_if(label == HOME).cast("int").alias(HOME_TILES),
        F.max(F.when(label == HOME, F.col(RULE))).alias(HOME_RULE),
        F.count_if(label == WORK).cast("int").alias(WORK_TILES),
        F.max(F.when(label == WORK, F.col(RULE))).alias(WORK_RULE),
    )
    devices = _device_totals(observation, settings).join(found, on=DEVICE_ID, how="left")
    devices = devices.fillna(0, subset=[UE_TILES, HOME_TILES, WORK_TILES])
    status = (
        F.when(~_observed_enough(settings.labels), F.lit(INSUFFICIENT_OBSERVATION))
        .when(F.col(UE_TILES) == 0, F.lit(NO_UE_RULE_FIRED))
        .when(F.col(HOME_TILES) == 0, F.lit(NO_HOME_RULE_FIRED))
        .otherwise(F.lit(LABELLED))
    )
    return devices.select(
        DEVICE_ID,
        status.alias(STATUS),
        F.col(f"s_{_AA}").alias(GRID_SLOTS),
        F.col(f"d_{_AA}").alias(DAYS),
        UE_TILES,
        HOME_TILES,
        HOME_RULE,
        WORK_TILES,
        WORK_RULE,
    )
