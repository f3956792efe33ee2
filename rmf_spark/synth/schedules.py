"""Daily schedules and true positions.

A person-day is a tour ``home -> A -> B -> home`` with dwell times (A the workplace on workdays
for workers, a sight for visitors; B another activity, optional; an absent stop has zero
length). It is stored as eight knots ``(k_i, P_i)``: ``k = [day_start, t0, ..., t5,
day_end]``, ``P = [H, H, A, A, B, B, H, H]``, and the position at time ``s`` is the linear
interpolation between the knots around ``s``: the person waits at each stop and travels
between stops in a straight line at constant speed ``v = walk_speed`` when the leg is shorter
than ``walk_max_m`` and ``drive_speed`` otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rmf_spark.synth.population import pick_town, point_near_town
from rmf_spark.synth.profile import PopulationParams
from rmf_spark.synth.rng import normal, uniform
from rmf_spark.synth.territory import Territory, municipality_id

__all__ = ["SCHEDULE_SCHEMA", "positions_at", "to_person_days", "to_schedules"]

_KNOTS = [f"k{i}" for i in range(8)]
_PX = ["p0x", "p1x", "p2x", "p3x"]
_PY = ["p0y", "p1y", "p2y", "p3y"]
SCHEDULE_SCHEMA = (
    "person_id long, day int, "
    + ", ".join(f"{k} double" for k in _KNOTS)
    + ", "
    + ", ".join(f"{c} double" for pair in zip(_PX, _PY, strict=True) for c in pair)
    + ", z0 string, z1 string, z2 string, z3 string"
)
_H = 3600.0
_PERSON_DAY_COLUMNS = (
    "person_id", "day", "home_x", "home_y", "work_x", "work_y", "is_worker", "is_tourist"
)  # fmt: skip


def to_person_days(persons: DataFrame, *, n_days: int) -> DataFrame:
    """One row per person and simulated day present in the territory (``0..n_days``): not
    abroad, and for visitors within their stay; ``home_x/home_y`` is that day's home."""
    days = F.sequence(F.col("first_day"), F.col("last_day"))
    moved = F.col("is_migrant") & (F.col("day") >= F.col("migration_day"))
    abroad = F.col("is_outbound") & F.col("day").between(
        F.col("abroad_from_day"), F.col("abroad_to_day")
    )
    return (
        persons.withColumn("day", F.explode(days))
        .where(~abroad)
        .withColumn("home_x", F.when(moved, F.col("new_home_x")).otherwise(F.col("home_x")))
        .withColumn("home_y", F.when(moved, F.col("new_home_y")).otherwise(F.col("home_y")))
        .select(*_PERSON_DAY_COLUMNS)
    )


def _travel_s(ax: NDArray, ay: NDArray, bx: NDArray, by: NDArray, p: PopulationParams) -> NDArray:
    d = np.hypot(bx - ax, by - ay)
    return np.where(d < p.walk_max_m, d / p.walk_speed_m_s, d / p.drive_speed_m_s)


def schedules_pandas(
    pdf: pd.DataFrame,
    *,
    t: Territory,
    p: PopulationParams,
    seed: int,
    day_start_s: list[int],
    workday: list[bool],
) -> pd.DataFrame:
    """Schedules of a batch of person-days (see the module notes)."""
    pid = pdf["person_id"].to_numpy()
    day = pdf["day"].to_numpy().astype(np.int64)
    key = (pid.astype(np.uint64) << np.uint64(9)) + day.astype(np.uint64)
    hx, hy = pdf["home_x"].to_numpy(), pdf["home_y"].to_numpy()
    start = np.asarray(day_start_s, dtype=float)[day]
    end = np.asarray(day_start_s, dtype=float)[day + 1]
    works = np.asarray(workday)[day] & pdf["is_worker"].to_numpy()
    works &= uniform(key, 1, seed) > 0.05  # ill or on leave
    tourist = pdf["is_tourist"].to_numpy()
    weekend = ~np.asarray(workday)[day]
    # stop A: work, or a sight for visitors
    sight = pick_town(t, hx, hy, uniform(key, 2, seed), length_m=1e12, attract=True)
    sx, sy = point_near_town(t, sight, key, 3, seed, 0.8)
    has_a = works | tourist
    ax = np.where(works, pdf["work_x"].to_numpy(), np.where(tourist, sx, hx))
    ay = np.where(works, pdf["work_y"].to_numpy(), np.where(tourist, sy, hy))
    # stop B: another activity
    prob_b = np.where(weekend, min(1.0, 1.4 * p.other_activity_prob), p.other_activity_prob)
    prob_b = np.where(works, 0.6 * prob_b, np.where(tourist, 0.7, prob_b))
    has_b = uniform(key, 5, seed) < prob_b
    length = np.where(weekend, 2.0, 1.0) * p.other_length_m
    other = np.where(
        tourist,
        pick_town(t, ax, ay, uniform(key, 6, seed), length_m=1e12, attract=True),
        pick_town(t, ax, ay, uniform(key, 6, seed), length_m=length),
    )
    ox, oy = point_near_town(t, other, key, 7, seed, 0.6)
    bx, by = np.where(has_b, ox, ax), np.where(has_b, oy, ay)
    # times (seconds after local midnight)
    leave = np.where(
        works,
        7.75 * _H + 0.75 * _H * normal(key, 10, seed),
        np.where(tourist, 9.5 * _H, 10.5 * _H) + 1.5 * _H * normal(key, 11, seed),
    )
    dwell_a = np.where(
        works, 8.5 * _H + _H * normal(key, 12, seed), 3.0 * _H + 0.8 * _H * normal(key, 13, seed)
    )
    dwell_a = np.where(has_a, np.maximum(dwell_a, 0.5 * _H), 0.0)
    dwell_b = np.where(has_b, np.maximum(1.5 * _H + 0.5 * _H * normal(key, 14, seed), 1200.0), 0)
    t0 = np.maximum(leave, 5.0 * _H)
    t1 = t0 + _travel_s(hx, hy, ax, ay, p)
    t2 = t1 + dwell_a
    t3 = t2 + _travel_s(ax, ay, bx, by, p)
    t4 = t3 + dwell_b
    t5 = t4 + _travel_s(bx, by, hx, hy, p)
    shift = np.maximum(t5 - 23.5 * _H, 0.0)
    rel = np.column_stack([t0, t1, t2, t3, t4, t5]) - shift[:, None]
    knots = np.column_stack([start, start[:, None] + rel, end])
    out = {"person_id": pid, "day": day.astype(np.int32)}
    out.update({k: knots[:, i] for i, k in enumerate(_KNOTS)})
    for name, v in zip(
        ["p0x", "p0y", "p1x", "p1y", "p2x", "p2y", "p3x", "p3y"],
        [hx, hy, ax, ay, bx, by, hx, hy],
        strict=True,
    ):
        out[name] = v
    for i, (x, y) in enumerate([(hx, hy), (ax, ay), (bx, by), (hx, hy)]):
        out[f"z{i}"] = municipality_id(t.municipality_index(x, y))
    return pd.DataFrame(out)


def to_schedules(
    person_days: DataFrame,
    *,
    t: Territory,
    p: PopulationParams,
    seed: int,
    day_start_s: list[int],
    workday: list[bool],
) -> DataFrame:
    """Schedules (schema :data:`SCHEDULE_SCHEMA`) of the person-days.

    ``day_start_s[d]`` is the UTC epoch second of local midnight of simulated day ``d`` (one
    more entry than days); ``workday[d]`` is false on weekends and holidays.
    """

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield schedules_pandas(
                pdf, t=t, p=p, seed=seed, day_start_s=day_start_s, workday=workday
            )

    return person_days.mapInPandas(batches, SCHEDULE_SCHEMA)


def positions_at(
    sched: pd.DataFrame, row: NDArray[np.int64], time_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """True ``(x, y, moving)`` at ``time_s`` for rows ``row`` of a schedule batch.

    Linear interpolation between the knots around each time (module notes); ``moving`` is
    true on a travel leg of non-zero length.
    """
    k = sched[_KNOTS].to_numpy()[row]
    px = sched[["p0x", "p0x", "p1x", "p1x", "p2x", "p2x", "p3x", "p3x"]].to_numpy()[row]
    py = sched[["p0y", "p0y", "p1y", "p1y", "p2y", "p2y", "p3y", "p3y"]].to_numpy()[row]
    i = np.clip((k <= time_s[:, None]).sum(axis=1) - 1, 0, 6)
    r = np.arange(len(row))
    span = k[r, i + 1] - k[r, i]
    frac = np.where(span > 0, (time_s - k[r, i]) / np.where(span > 0, span, 1.0), 0.0)
    frac = np.clip(frac, 0.0, 1.0)
    x = px[r, i] + frac * (px[r, i + 1] - px[r, i])
    y = py[r, i] + frac * (py[r, i + 1] - py[r, i])
    moving = (i % 2 == 1) & (span > 0) & (
        (px[r, i + 1] != px[r, i]) | (py[r, i + 1] != py[r, i])
    )  # fmt: skip
    return x, y, moving
