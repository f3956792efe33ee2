"""Accuracy of the usual environment products against the synthetic truth (issue 17).

Notes
-----
Device ids are pseudonyms; ``device_person`` (``device_id, person_id``, from
:func:`~rmf_spark.evaluate.device_accuracy.truth_device_map`) names the person carrying each
device. The truth is ``truth/persons`` (home and work points, migration) and
``truth/residents``.

**The true home of a period.** A migrant moves at local midnight of ``migration_date``. Its
home in the period ``[s, e]`` (local days) is the one it held on most of the period's days:
the new home when ``#{days >= migration_date} > #{days < migration_date}`` (a tie keeps the
old one). Its new home is known to the truth as a 100 m tile (``new_home_inspire_100m``), so
that point is the tile's centre (within 71 m of the true point). Everyone else keeps
``home_x, home_y`` (``truth/residents`` counts the homes at the start of the simulation).

**Home and work** (:func:`home_work_accuracy`). A device's home (work) point is the centre
of its home (work) tiles, the mean of their centres ``(x_ll + 50, y_ll + 50)``: a device with
``n`` tiles weighs each ``1 / n`` in the residents, so its place is their centroid (MultiMNO's
uniform tile weights). ``distance_m`` is the distance of that point to the true home of the
period (the work point, workers only); a device is *within* when ``distance_m <=
max_distance_m`` (1 000 m). The distance to the nearest of its tiles is kept too, as a
diagnostic of ties (it uses the truth to pick the tile). The home municipality is correct in
proportion to the weight of its home tiles in the true municipality (``tile_zone`` level
``zone_level``): 1 or 0 for a device with one home tile, 1/2 when one of two tiles is right.
Only devices of residents are compared (a visitor's device labelled with a home is counted,
``visitors``; a device the map does not know, ``unmapped``).

**Residents** (:func:`residents_accuracy`): per zone, the NAE of
:func:`~rmf_spark.evaluate.accuracy.compute_nae` (``sum |est - truth| / sum truth``, a zone
missing on one side counts 0) for the scalar ratio, the calibrated estimate and the register
alone; the share of zones whose truth lies in ``[population_lower, population_upper]``
(:func:`~rmf_spark.evaluate.accuracy.compute_coverage`) and the mean relative interval width
``mean_z (upper_z - lower_z) / population_z`` (relative to the estimate: a property of the
product, computable without the truth).

**Internal migration** (:func:`migration_accuracy`): a person truly moves between the periods
``P1`` and ``P2`` when its true home of ``P1`` is the old one and that of ``P2`` the new one.
A device's status (``compute_home_overlap``) against its person's: ``recall = #{migrant and
true mover} / #{true mover, status migrant or stayer}``, ``precision = #{migrant and true
mover} / #{migrant}`` (devices with a home in one period only are in the confusion table,
outside both). Flows: the true movers (persons) per pair of zones of their two homes against
the expanded ``population`` of ``compute_migration_flows``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.clayer.schemas import DEVICE_ID, TILE_ID, ZONE_ID, ZONE_LEVEL
from rmf_spark.evaluate.accuracy import TRUTH, compute_coverage, compute_nae
from rmf_spark.evaluate.device_accuracy import PERSON_ID, _tile_centres
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL, POPULATION, zone_level_name
from rmf_spark.slayer.present_population.schemas import TIME_POINT
from rmf_spark.slayer.usual_environment.labels import HOME, LABEL, LABELLED, STATUS, STATUSES, WORK
from rmf_spark.slayer.usual_environment.migration import (
    DESTINATION_ZONE_ID,
    HOME_AFTER_ONLY,
    HOME_BEFORE_ONLY,
    MIGRANT,
    ORIGIN_ZONE_ID,
    STAYER,
)

__all__ = [
    "home_work_accuracy",
    "migration_accuracy",
    "period_residents",
    "residents_accuracy",
]

#: the usual environment tables' period and role columns (``slayer/usual_environment/schemas.py``
#: declares them too; that module is not committed yet, so they are named here)
PERIOD_START, PERIOD_END, ROLE = "period_start", "period_end", "role"
DISTANCE_M, NEAREST_M, WITHIN, ZONE_SHARE = "distance_m", "nearest_m", "within", "zone_share"
TRUE_X, TRUE_Y, TRUE_ZONE, MOVED = "true_x", "true_y", "true_zone", "moved"
ESTIMATE, MEASURE = "estimate", "measure"
#: the residents' measures compared with the truth: column of ``calibrated_residents`` by name
RESIDENT_MEASURES = {"ratio": "ratio_population", "calibrated": POPULATION, "register": "register"}
_PAIR = " -> "


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), 6)


def _share(k: Any, n: Any) -> float | None:
    return _num(k / n) if n else None


def _new_home_centre(axis: str) -> Column:
    """Centre of the new home's 100 m tile ``100mN{N}E{E}`` (``axis`` ``x`` or ``y``)."""
    code = F.col("new_home_inspire_100m")
    digits = F.regexp_extract(code, r"E(\d+)$" if axis == "x" else r"N(\d+)E", 1)
    return digits.cast("double") * 100 + 50


def _moved(start: Column, end: Column) -> Column:
    """The true home of the local days ``[start, end]`` is the migrant's new one (module notes)."""
    n = F.datediff(end, start) + 1
    old = F.least(F.greatest(F.datediff(F.col("migration_date"), start), F.lit(0)), n)
    return F.coalesce(F.col("is_migrant") & (n - old > old), F.lit(False))


def _true_home(moved: Column) -> list[Column]:
    """``true_x, true_y, true_zone`` (municipality) of the home chosen by ``moved``."""
    return [
        F.when(moved, _new_home_centre("x")).otherwise(F.col("home_x")).alias(TRUE_X),
        F.when(moved, _new_home_centre("y")).otherwise(F.col("home_y")).alias(TRUE_Y),
        F.when(moved, F.col("new_home_municipality_id"))
        .otherwise(F.col("home_municipality_id"))
        .alias(TRUE_ZONE),
    ]


def _device_person(device_person: DataFrame) -> DataFrame:
    return device_person.select(DEVICE_ID, PERSON_ID).distinct()


def period_residents(truth_persons: DataFrame, *, start: dt.date, end: dt.date) -> DataFrame:
    """True residents per municipality by their home of the period ``start .. end`` (module
    notes), in the shape of ``truth/residents``: ``zone_id, zone_level (2), residents``.

    ``truth/residents`` counts the homes at the start of the simulation; a period holding a
    migration date moves the migrants whose new home covers most of it.
    """
    moved = _moved(F.lit(start), F.lit(end))
    return (
        truth_persons.where(~F.col("is_tourist"))
        .select(_true_home(moved)[2])
        .groupBy(F.col(TRUE_ZONE).alias(ZONE_ID))
        .agg(F.count("*").alias("residents"))
        .select(ZONE_ID, F.lit(2).alias(ZONE_LEVEL), "residents")
    )


def _located_devices(
    labels: DataFrame,
    *,
    grid: DataFrame,
    tile_zone: DataFrame,
    truth_persons: DataFrame,
    device_person: DataFrame,
    zone_level: int,
    max_distance_m: float,
) -> DataFrame:
    """Per period, device and role (home, work): its tiles' centre and the truth (notes)."""
    tiles = labels.where(F.col(LABEL).isin(HOME, WORK)).select(
        PERIOD_START, PERIOD_END, DEVICE_ID, F.col(LABEL).alias(ROLE), TILE_ID
    )
    zones = tile_zone.where(F.col(ZONE_LEVEL) == zone_level).select(
        TILE_ID, F.col(ZONE_ID).alias("_zone")
    )
    moved = _moved(F.col(PERIOD_START), F.col(PERIOD_END))
    home = F.col(ROLE) == HOME
    persons = truth_persons.select(
        PERSON_ID,
        "is_tourist",
        "is_worker",
        "home_x",
        "home_y",
        "home_municipality_id",
        "is_migrant",
        "migration_date",
        "new_home_inspire_100m",
        "new_home_municipality_id",
        "work_x",
        "work_y",
    )
    rows = (
        tiles.distinct()
        .join(_tile_centres(grid), TILE_ID, "left")
        .join(zones, TILE_ID, "left")
        .join(_device_person(device_person), DEVICE_ID, "left")
        .join(persons, PERSON_ID, "left")
        .withColumn(MOVED, F.when(home, moved))
        .select("*", *_true_home(F.col(MOVED)))
        .withColumn(TRUE_X, F.when(home, F.col(TRUE_X)).otherwise(F.col("work_x")))
        .withColumn(TRUE_Y, F.when(home, F.col(TRUE_Y)).otherwise(F.col("work_y")))
        .withColumn(TRUE_ZONE, F.when(home, F.col(TRUE_ZONE)))
    )
    keys = [PERIOD_START, PERIOD_END, DEVICE_ID, ROLE]
    per_device = rows.groupBy(*keys).agg(
        F.count("*").alias("tiles"),
        F.count_if(F.col("cx").isNull()).alias("off_grid_tiles"),
        F.avg("cx").alias("x"),
        F.avg("cy").alias("y"),
        F.min(F.hypot(F.col("cx") - F.col(TRUE_X), F.col("cy") - F.col(TRUE_Y))).alias(NEAREST_M),
        # a tile outside every zone of the level (null zone) is in the wrong one
        F.avg(F.coalesce(F.col("_zone") == F.col(TRUE_ZONE), F.lit(False)).cast("double")).alias(
            "_zone_share"
        ),
        *[
            F.first(c, ignorenulls=True).alias(c)
            for c in (PERSON_ID, "is_tourist", "is_worker", MOVED, TRUE_X, TRUE_Y, TRUE_ZONE)
        ],
    )
    located = F.col("off_grid_tiles") == 0
    distance = F.hypot(F.col("x") - F.col(TRUE_X), F.col("y") - F.col(TRUE_Y))
    return per_device.select(
        *keys,
        "tiles",
        "off_grid_tiles",
        F.when(located, F.col("x")).alias("x"),
        F.when(located, F.col("y")).alias("y"),
        PERSON_ID,
        F.col("is_tourist").alias("is_visitor"),
        "is_worker",
        MOVED,
        TRUE_X,
        TRUE_Y,
        TRUE_ZONE,
        F.when(located, distance).alias(DISTANCE_M),
        F.when(located, F.col(NEAREST_M)).alias(NEAREST_M),
        F.when(located, distance <= max_distance_m).alias(WITHIN),
        F.when(F.col(ROLE) == HOME, F.col("_zone_share")).alias(ZONE_SHARE),
    )


def home_work_accuracy(
    labels: DataFrame,
    status: DataFrame,
    *,
    grid: DataFrame,
    tile_zone: DataFrame,
    truth_persons: DataFrame,
    device_person: DataFrame,
    max_distance_m: float = 1000.0,
    zone_level: int = 2,
    accuracy: int = 10_000,
) -> tuple[dict[str, Any], DataFrame]:
    """Home and work labels against the persons' true home and work places (module notes).

    Parameters
    ----------
    labels
        ``slayer/usual_environment_labels``: ``period_start, period_end, device_id, label,
        tile_id`` (``ue`` rows are ignored). Pass one period.
    status
        ``slayer/label_status`` of the same period: ``period_start, device_id, status``.
    grid, tile_zone
        C-layer ``grid`` (``tile_id, x_ll, y_ll``) and ``tile_zone``.
    truth_persons
        ``truth/persons``.
    device_person
        ``device_id, person_id`` (:func:`~rmf_spark.evaluate.device_accuracy.truth_device_map`).
    max_distance_m
        A device is within when its point is at most this far from the truth.
    zone_level
        ``tile_zone`` level of the home municipality (2).
    accuracy
        ``percentile_approx`` accuracy of the distance quantiles.

    Returns
    -------
    tuple
        The summary (plain numbers, None without a denominator): ``devices`` (status rows),
        ``status`` (devices per status), ``labelled_share``, ``max_distance_m``; ``home``:
        ``devices`` (with a home label), ``unmapped``, ``visitors``, ``off_grid``,
        ``evaluated`` (residents' devices located on the grid), ``within_share``,
        ``within_share_nearest``, ``municipality_correct_share``, ``p50_m``, ``p90_m``,
        ``moved`` (evaluated devices whose period home is a migrant's new one); ``work``: the
        same but the municipality (``evaluated``: workers only), with ``non_workers`` (work
        labels on residents without a work place), ``worker_devices_labelled`` (labelled
        devices of workers) and ``worker_work_labelled_share`` (of those, the share with a
        work label). And the per-device frame: ``period_start, period_end, device_id, role
        (home | work), tiles, off_grid_tiles, x, y, person_id, is_visitor, is_worker, moved,
        true_x, true_y, true_zone, distance_m, nearest_m, within, zone_share`` (personal:
        device ids; null distances say why: no person, no truth point, a tile off the grid).
    """
    if max_distance_m <= 0:
        raise ValueError(f"home_work_accuracy: max_distance_m ({max_distance_m}) must be > 0")
    devices = _located_devices(
        labels,
        grid=grid,
        tile_zone=tile_zone,
        truth_persons=truth_persons,
        device_person=device_person,
        zone_level=zone_level,
        max_distance_m=max_distance_m,
    )
    mapped = F.col(PERSON_ID).isNotNull()
    resident = mapped & ~F.col("is_visitor")
    evaluated = resident & F.col(DISTANCE_M).isNotNull()
    per_role = {
        r[ROLE]: r
        for r in devices.groupBy(ROLE)
        .agg(
            F.count("*").alias("devices"),
            F.count_if(~mapped).alias("unmapped"),
            F.count_if(mapped & F.col("is_visitor")).alias("visitors"),
            F.count_if(resident & (F.col("off_grid_tiles") > 0)).alias("off_grid"),
            F.count_if(resident & ~F.col("is_worker")).alias("non_workers"),
            F.count_if(evaluated).alias("evaluated"),
            F.count_if(evaluated & F.col(WITHIN)).alias("within"),
            F.count_if(evaluated & (F.col(NEAREST_M) <= max_distance_m)).alias("nearest"),
            F.sum(F.when(evaluated, F.col(ZONE_SHARE))).alias("zone_correct"),
            F.count_if(evaluated & F.col(MOVED)).alias("moved"),
            F.percentile_approx(F.when(evaluated, F.col(DISTANCE_M)), [0.5, 0.9], accuracy).alias(
                "q"
            ),
        )
        .collect()
    }

    def role(name: str) -> dict[str, Any]:
        r = per_role.get(name)
        if r is None:
            counts = dict.fromkeys(("devices", "unmapped", "visitors", "off_grid", "evaluated"), 0)
            return {
                **counts,
                "within_share": None,
                "within_share_nearest": None,
                "p50_m": None,
                "p90_m": None,
            }
        q = r["q"] or [None, None]
        n = int(r["evaluated"])
        return {
            **{k: int(r[k]) for k in ("devices", "unmapped", "visitors", "off_grid")},
            "evaluated": n,
            "within_share": _share(r["within"], n),
            "within_share_nearest": _share(r["nearest"], n),
            "p50_m": _num(q[0]),
            "p90_m": _num(q[1]),
        }

    home_row, work_row = per_role.get(HOME), per_role.get(WORK)
    home = role(HOME)
    home["municipality_correct_share"] = (
        _share(home_row["zone_correct"], home["evaluated"]) if home_row else None
    )
    home["moved"] = int(home_row["moved"]) if home_row else 0
    work = role(WORK)
    work["non_workers"] = int(work_row["non_workers"]) if work_row else 0

    # labelled devices of workers, and how many of them have a work label
    workers = truth_persons.where(F.col("is_worker") & ~F.col("is_tourist")).select(PERSON_ID)
    with_work = (
        devices.where(F.col(ROLE) == WORK)
        .select(PERIOD_START, DEVICE_ID)
        .withColumn("_w", F.lit(1))
    )
    w = (
        status.where(F.col(STATUS) == LABELLED)
        .select(PERIOD_START, DEVICE_ID)
        .join(_device_person(device_person), DEVICE_ID)
        .join(workers, PERSON_ID, "left_semi")
        .join(with_work, [PERIOD_START, DEVICE_ID], "left")
        .agg(F.count("*").alias("n"), F.count("_w").alias("k"))
        .first()
    )
    assert w is not None  # a global aggregation has one row
    work["worker_devices_labelled"] = int(w["n"])
    work["worker_work_labelled_share"] = _share(w["k"], w["n"])

    counts = {r[STATUS]: int(r["count"]) for r in status.groupBy(STATUS).count().collect()}
    total = sum(counts.values())
    summary = {
        "devices": total,
        "status": {s: counts.get(s, 0) for s in (*STATUSES, *sorted(set(counts) - set(STATUSES)))},
        "labelled_share": _share(counts.get(LABELLED, 0), total),
        "max_distance_m": float(max_distance_m),
        "home": home,
        "work": work,
    }
    return summary, devices


def _one_point(df: DataFrame) -> DataFrame:
    """``df`` with a constant ``time_point``: the NAE helpers of present population compare
    per time point, a period's residents have one."""
    return df.withColumn(TIME_POINT, F.lit(0))


def residents_accuracy(
    calibrated: DataFrame,
    *,
    truth_residents: DataFrame,
    zone_level: int = 2,
    residents: DataFrame | None = None,
) -> tuple[dict[str, Any], DataFrame]:
    """Residents per zone against the truth: NAE of each estimate, interval coverage, width.

    Parameters
    ----------
    calibrated
        ``slayer/calibrated_residents`` of one period: ``level, area_id, register,
        ratio_population, population, population_lower, population_upper`` (the rows of level
        ``zone_<zone_level>`` are read).
    truth_residents
        ``zone_id, zone_level, residents``: ``truth/residents``, or
        :func:`period_residents` to count the migrants at their home of the period.
    zone_level
        The zones compared (2: municipalities).
    residents
        Optional ``slayer/residents`` of the period (``role, level, area_id, population``):
        its ``home`` rows are compared too (``scalar_residents``: the scalar expansion per
        tile, rolled up, where ``ratio_population`` expands the zone's devices with its
        region's share).

    Returns
    -------
    tuple
        The summary: ``level``, ``zones`` (compared: either side), ``truth_total``;
        ``nae`` and ``estimate_total``, each ``{"ratio", "calibrated", "register"}`` (and
        ``scalar_residents``); ``interval_coverage`` (share of the zones whose truth is in
        the interval; a zone without interval is not covered), ``mean_width`` and
        ``mean_relative_width`` (``(upper - lower) / population``, over the zones with an
        interval and a positive estimate). And the per-zone frame: ``area_id, truth,
        register, ratio_population, population, population_lower, population_upper, covered``
        (absent values null; ``covered`` null where there is no interval).
    """
    level = zone_level_name(zone_level)
    zones = calibrated.where(F.col(LEVEL) == level)
    truth = _one_point(
        truth_residents.where(F.col(ZONE_LEVEL) == zone_level).select(
            F.lit(level).alias(LEVEL),
            F.col(ZONE_ID).alias(AREA_ID),
            F.col("residents").cast("double").alias(TRUTH),
        )
    )
    measures = [
        zones.select(F.lit(name).alias(MEASURE), LEVEL, AREA_ID, F.col(col).alias(ESTIMATE))
        for name, col in RESIDENT_MEASURES.items()
    ]
    if residents is not None:
        measures.append(
            residents.where((F.col(ROLE) == HOME) & (F.col(LEVEL) == level)).select(
                F.lit("scalar_residents").alias(MEASURE),
                LEVEL,
                AREA_ID,
                F.col(POPULATION).alias(ESTIMATE),
            )
        )
    long = _one_point(measures[0])
    for m in measures[1:]:
        long = long.unionByName(_one_point(m))
    nae = {
        r[MEASURE]: r
        for r in compute_nae(long, truth=truth, value_col=ESTIMATE, by=(MEASURE,)).collect()
    }
    cov = compute_coverage(
        _one_point(zones),
        truth=truth,
        lower_col="population_lower",
        upper_col="population_upper",
    ).first()
    lo, hi, pop = (F.col(c) for c in ("population_lower", "population_upper", POPULATION))
    has = lo.isNotNull() & hi.isNotNull()
    width = zones.agg(
        F.avg(F.when(has, hi - lo)).alias("w"),
        F.avg(F.when(has & (pop > 0), (hi - lo) / pop)).alias("rw"),
    ).first()
    assert width is not None  # a global aggregation has one row

    per_zone = (
        zones.select(
            AREA_ID,
            "register",
            "ratio_population",
            POPULATION,
            "population_lower",
            "population_upper",
        )
        .join(truth.select(AREA_ID, TRUTH), AREA_ID, "full_outer")
        .withColumn(
            "covered",
            F.when(
                has,
                (F.coalesce(F.col(TRUTH), F.lit(0.0)) >= lo - 1e-9)
                & (F.coalesce(F.col(TRUTH), F.lit(0.0)) <= hi + 1e-9),
            ),
        )
        .select(
            AREA_ID,
            TRUTH,
            "register",
            "ratio_population",
            POPULATION,
            "population_lower",
            "population_upper",
            "covered",
        )
    )
    any_row = next(iter(nae.values()), None)
    return {
        "level": level,
        "zones": int(cov["areas"]) if cov is not None else 0,
        "truth_total": _num(any_row["truth_total"]) if any_row is not None else None,
        "nae": {m: _num(r["nae"]) for m, r in sorted(nae.items())},
        "estimate_total": {m: _num(r["estimate_total"]) for m, r in sorted(nae.items())},
        "interval_coverage": _num(cov["coverage"]) if cov is not None else None,
        "mean_width": _num(width["w"]),
        "mean_relative_width": _num(width["rw"]),
    }, per_zone


def migration_accuracy(
    overlap: DataFrame,
    *,
    truth_persons: DataFrame,
    device_person: DataFrame,
    before: tuple[dt.date, dt.date],
    after: tuple[dt.date, dt.date],
    flows: DataFrame | None = None,
    zones: DataFrame | None = None,
    zone_level: int = 1,
    include_internal: bool = False,
    max_relative_error: float = 0.2,
) -> tuple[dict[str, Any], DataFrame]:
    """Migrating devices and flows against the persons who truly moved (module notes).

    Parameters
    ----------
    overlap
        ``compute_home_overlap(home_before, home_after)``: ``device_id, status``.
    truth_persons
        ``truth/persons``.
    device_person
        ``device_id, person_id`` (:func:`~rmf_spark.evaluate.device_accuracy.truth_device_map`
        of the dates of both periods).
    before, after
        First and last local day of the two periods (``after`` starts after ``before``
        ends).
    flows
        Optional ``compute_migration_flows`` output (``zone_level, origin_zone_id,
        destination_zone_id, population``).
    zones
        ``reference/zones`` (``zone_id, zone_level, parent_id``): the region of a
        municipality; needed for flows at ``zone_level`` 1.
    zone_level
        Zones of the compared flows: 1 regions (default), 2 municipalities.
    include_internal
        Compare the moves inside a zone (origin = destination) too; by default only the flows
        between zones.
    max_relative_error
        A pair of zones is within when ``|est - truth| <= max_relative_error * truth``.

    Returns
    -------
    tuple
        The summary: ``confusion`` (``{status: {"true_mover", "true_stayer"}}`` over the
        devices of residents, every status of ``overlap``), ``unmapped``, ``visitors``,
        ``recall``, ``precision`` (None without a denominator); with ``flows`` also
        ``flows``: ``zone_level``, ``pairs`` (compared: either side), ``truth_total``,
        ``estimate_total``, ``total_relative_error``, ``nae``, ``pairs_within_share`` (of
        the pairs with true movers), ``max_relative_error``. And the per-device frame
        ``device_id, status, person_id, is_visitor, true_mover``.

    Raises
    ------
    ValueError
        ``after`` does not start after ``before`` ends; flows at level 1 without ``zones``.
    """
    if not before[0] <= before[1] < after[0] <= after[1]:
        raise ValueError(f"migration_accuracy: periods {before} and {after} must follow each other")
    if flows is not None and zone_level == 1 and zones is None:
        raise ValueError("migration_accuracy: flows between regions need zones (parent_id)")
    moved_before = _moved(F.lit(before[0]), F.lit(before[1]))
    moved_after = _moved(F.lit(after[0]), F.lit(after[1]))
    persons = truth_persons.select(
        PERSON_ID,
        F.col("is_tourist").alias("is_visitor"),
        (~moved_before & moved_after).alias("true_mover"),
        _true_home(moved_before)[2].alias("_zone_before"),
        _true_home(moved_after)[2].alias("_zone_after"),
    )
    devices = (
        overlap.select(DEVICE_ID, STATUS)
        .join(_device_person(device_person), DEVICE_ID, "left")
        .join(persons.select(PERSON_ID, "is_visitor", "true_mover"), PERSON_ID, "left")
        .select(DEVICE_ID, STATUS, PERSON_ID, "is_visitor", "true_mover")
    )
    resident = F.col(PERSON_ID).isNotNull() & ~F.col("is_visitor")
    rows = (
        devices.where(resident)
        .groupBy(STATUS)
        .agg(
            F.count_if(F.col("true_mover")).alias("true_mover"),
            F.count_if(~F.col("true_mover")).alias("true_stayer"),
        )
        .collect()
    )
    other = devices.agg(
        F.count_if(F.col(PERSON_ID).isNull()).alias("unmapped"),
        F.count_if(F.col(PERSON_ID).isNotNull() & F.col("is_visitor")).alias("visitors"),
    ).first()
    assert other is not None  # a global aggregation has one row
    found = {
        r[STATUS]: {"true_mover": int(r["true_mover"]), "true_stayer": int(r["true_stayer"])}
        for r in rows
    }
    zero = {"true_mover": 0, "true_stayer": 0}
    statuses = (MIGRANT, STAYER, HOME_BEFORE_ONLY, HOME_AFTER_ONLY)
    confusion = {
        s: found.get(s, dict(zero)) for s in (*statuses, *sorted(set(found) - set(statuses)))
    }
    tp = confusion[MIGRANT]["true_mover"]
    summary: dict[str, Any] = {
        "confusion": confusion,
        "unmapped": int(other["unmapped"]),
        "visitors": int(other["visitors"]),
        "recall": _share(tp, tp + confusion[STAYER]["true_mover"]),
        "precision": _share(tp, tp + confusion[MIGRANT]["true_stayer"]),
    }
    if flows is not None:
        summary["flows"] = _flow_accuracy(
            flows,
            movers=persons.where(~F.col("is_visitor") & F.col("true_mover")),
            zones=zones,
            zone_level=zone_level,
            include_internal=include_internal,
            max_relative_error=max_relative_error,
        )
    return summary, devices


def _flow_accuracy(
    flows: DataFrame,
    *,
    movers: DataFrame,
    zones: DataFrame | None,
    zone_level: int,
    include_internal: bool,
    max_relative_error: float,
) -> dict[str, Any]:
    """The ``flows`` block of :func:`migration_accuracy`: true movers per pair of zones
    (their two homes' municipalities, or those's regions) against the flows' people."""
    level = zone_level_name(zone_level)
    o, d = F.col(ORIGIN_ZONE_ID), F.col(DESTINATION_ZONE_ID)
    true = movers.select(
        F.col("_zone_before").alias(ORIGIN_ZONE_ID), F.col("_zone_after").alias(DESTINATION_ZONE_ID)
    )
    if zone_level != 2:
        assert zones is not None  # checked by the caller
        parent = zones.where(F.col(ZONE_LEVEL) == 2).select(ZONE_ID, "parent_id")
        for side in (ORIGIN_ZONE_ID, DESTINATION_ZONE_ID):
            true = (
                true.join(parent.withColumnRenamed(ZONE_ID, side), side, "left")
                .drop(side)
                .withColumnRenamed("parent_id", side)
            )
    est = flows.where(F.col(ZONE_LEVEL) == zone_level).select(
        ORIGIN_ZONE_ID, DESTINATION_ZONE_ID, POPULATION
    )
    true = true.groupBy(ORIGIN_ZONE_ID, DESTINATION_ZONE_ID).agg(
        F.count("*").cast("double").alias(TRUTH)
    )
    if not include_internal:
        est, true = est.where(o != d), true.where(o != d)
    unknown = F.lit("unknown")  # a municipality without region: never matches an estimate
    pair = F.concat_ws(_PAIR, F.coalesce(o, unknown), F.coalesce(d, unknown)).alias(AREA_ID)
    nae = compute_nae(
        _one_point(est.select(F.lit(level).alias(LEVEL), pair, POPULATION)),
        truth=_one_point(true.select(F.lit(level).alias(LEVEL), pair, TRUTH)),
        value_col=POPULATION,
    ).first()
    both = (
        est.groupBy(ORIGIN_ZONE_ID, DESTINATION_ZONE_ID)
        .agg(F.sum(POPULATION).alias(ESTIMATE))
        .join(true, [ORIGIN_ZONE_ID, DESTINATION_ZONE_ID], "full_outer")
        .fillna(0.0, subset=[ESTIMATE, TRUTH])
    )
    within = F.abs(F.col(ESTIMATE) - F.col(TRUTH)) <= max_relative_error * F.col(TRUTH) + 1e-9
    r = both.agg(
        F.count("*").alias("pairs"),
        F.sum(TRUTH).alias("t"),
        F.sum(ESTIMATE).alias("e"),
        F.count_if(F.col(TRUTH) > 0).alias("true_pairs"),
        F.count_if((F.col(TRUTH) > 0) & within).alias("within"),
    ).first()
    assert r is not None  # a global aggregation has one row
    t, e = float(r["t"] or 0.0), float(r["e"] or 0.0)
    if nae is None:  # no estimated flow: compute_nae has nothing in scope, all the truth is missed
        nae = {"nae": 1.0 if t else None}
    return {
        "zone_level": zone_level,
        "pairs": int(r["pairs"]),
        "truth_total": _num(t),
        "estimate_total": _num(e),
        "total_relative_error": _num((e - t) / t) if t else None,
        "nae": _num(nae["nae"]) if nae is not None else None,
        "pairs_within_share": _share(r["within"], r["true_pairs"]),
        "max_relative_error": float(max_relative_error),
    }
