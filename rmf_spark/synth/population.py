"""People: residents drawn from the density surface, their workplaces, movers, travellers,
and inbound visitors. Each person's attributes are pure functions of ``(seed, person_id)``.

Notes
-----
Households per tile ``h_g ~ Poisson(N w_g / (m sum_g' w_g'))`` with ``w_g`` the tile's home
weight (density times a land-use factor, see :data:`rmf_spark.synth.territory.HOME_WEIGHT`)
and ``m = household_mean_size``; a household has ``1 + Geometric`` members, ``P(s) = (1 - q)
q^(s - 1)``, ``q = 1 - 1/m`` (mean m), who share one home point, uniform in the tile.
``person_id = tile_idx * 1000 + k`` (k < 1000: the persons of a tile, household after
household); ``household_id`` is the id of its first member (visitors: their own id). With
``m = 1`` every household is one person and the residents are ``Poisson(N w_g / sum w)``, as
before households existed. Workplaces follow a
gravity model over towns: ``P(k | home) ~ w_k exp(-d(home, town_k) / L)`` (Zipf, 1949; Wilson,
1967), the point ``town_k + N(0, (0.7 r_k)^2 I)``. Visitors get ``person_id = 9e8 + j``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from scipy.stats import poisson

from rmf_spark.synth.profile import PopulationParams
from rmf_spark.synth.rng import normal, uniform
from rmf_spark.synth.territory import Territory, municipality_id, region_id

__all__ = ["PERSON_SCHEMA", "TOURIST_BASE_ID", "to_persons", "to_tourists"]

TOURIST_BASE_ID = 900_000_000
PERSON_SCHEMA = (
    "person_id long, home_x double, home_y double, home_municipality_id string, "
    "home_region_id string, is_worker boolean, work_x double, work_y double, "
    "is_migrant boolean, migration_day int, new_home_x double, new_home_y double, "
    "new_home_municipality_id string, is_outbound boolean, abroad_from_day int, "
    "abroad_to_day int, is_tourist boolean, first_day int, last_day int, household_id long"
)


def within(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """``0..c-1`` for each count, concatenated (the rank of each item in its group)."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _clip_xy(t: Territory, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    eps = 1.0
    return (
        np.clip(x, t.x0 + eps, t.x0 + t.width_m - eps),
        np.clip(y, t.y0 + eps, t.y0 + t.height_m - eps),
    )


def pick_town(
    t: Territory,
    x: NDArray,
    y: NDArray,
    u: NDArray,
    *,
    length_m: float | NDArray,
    attract: bool = False,
) -> NDArray[np.int64]:
    """Town index by gravity, ``P(k) ~ a_k exp(-d_k / length_m)`` (``a`` = size or appeal)."""
    d = np.hypot(x[:, None] - t.town_xy[:, 0], y[:, None] - t.town_xy[:, 1])
    a = t.town_attractiveness if attract else t.town_weight
    L = np.asarray(length_m, dtype=float)
    w = a * np.exp(-d / (L[:, None] if L.ndim else L))
    cum = np.cumsum(w, axis=1)
    return np.minimum((cum < (u * cum[:, -1])[:, None]).sum(axis=1), len(a) - 1)


def point_near_town(
    t: Territory, k: NDArray, key: NDArray[np.uint64], stream: int, seed: int, scale: float
) -> tuple[NDArray, NDArray]:
    """A point around town ``k``: ``town + N(0, (scale r_k)^2 I)``, clipped to the land."""
    r = scale * t.town_radius[k]
    x = t.town_xy[k, 0] + r * normal(key, stream, seed)
    y = t.town_xy[k, 1] + r * normal(key, stream + 1, seed)
    return _clip_xy(t, x, y)


def residents_pandas(
    tiles: pd.DataFrame, *, t: Territory, p: PopulationParams, seed: int, scale: float, n_days: int
) -> pd.DataFrame:
    """Residents of a batch of tiles; ``scale = N / sum(home_weight)``."""
    tile_key = tiles["tile_idx"].to_numpy().astype(np.uint64)
    lam = tiles["home_weight"].to_numpy() * scale
    m = p.household_mean_size
    n_hh = np.minimum(poisson.ppf(uniform(tile_key, 1, seed), lam / m), 999).astype(np.int64)
    n_hh[lam <= 0] = 0
    hh_tile = np.repeat(np.arange(len(tiles)), n_hh)
    hh_first = tiles["tile_idx"].to_numpy()[hh_tile] * 1000 + within(n_hh)  # key until sized
    size = np.ones(len(hh_tile), dtype=np.int64)
    if m > 1.0:  # geometric sizes, P(s) = (1 - q) q^(s - 1), mean 1 / (1 - q) = m
        u = uniform(hh_first.astype(np.uint64), 16, seed)
        size += np.floor(np.log(u) / np.log(1.0 - 1.0 / m)).astype(np.int64)
    member = within(size)  # 0 for the household's first person
    rep = np.repeat(hh_tile, size)
    per_tile = np.bincount(rep, minlength=len(tiles))
    k = within(per_tile)  # persons in tile order, households one after the other
    keep = k < 1000
    rep, k, member = rep[keep], k[keep], member[keep]
    pid = tiles["tile_idx"].to_numpy()[rep] * 1000 + k
    household = pid - member
    key = pid.astype(np.uint64)
    head = household.astype(np.uint64)  # members share the home point of the first
    hx = tiles["x_ll"].to_numpy()[rep] + 100.0 * uniform(head, 2, seed)
    hy = tiles["y_ll"].to_numpy()[rep] + 100.0 * uniform(head, 3, seed)
    worker = uniform(key, 4, seed) < p.worker_share
    town = pick_town(t, hx, hy, uniform(key, 5, seed), length_m=p.commute_length_m)
    wx, wy = point_near_town(t, town, key, 6, seed, 0.7)
    migrant = uniform(key, 8, seed) < p.migrant_share
    mig_day = 1 + np.floor(uniform(key, 9, seed) * max(n_days - 1, 1)).astype(np.int64)
    new_town = pick_town(t, hx, hy, uniform(key, 10, seed), length_m=1e12)
    nx, ny = point_near_town(t, new_town, key, 11, seed, 1.0)
    outbound = (uniform(key, 13, seed) < p.outbound_share) & ~migrant
    lo, hi = p.outbound_days
    length = lo + np.floor(uniform(key, 14, seed) * (hi - lo + 1)).astype(np.int64)
    start = np.floor(uniform(key, 15, seed) * n_days).astype(np.int64)
    muni = t.municipality_index(hx, hy)
    return pd.DataFrame(
        {
            "person_id": pid,
            "home_x": hx,
            "home_y": hy,
            "home_municipality_id": municipality_id(muni),
            "home_region_id": region_id(t.muni_region[muni]),
            "is_worker": worker,
            "work_x": np.where(worker, wx, np.nan),
            "work_y": np.where(worker, wy, np.nan),
            "is_migrant": migrant,
            "migration_day": np.where(migrant, mig_day, -1),
            "new_home_x": np.where(migrant, nx, np.nan),
            "new_home_y": np.where(migrant, ny, np.nan),
            "new_home_municipality_id": np.where(
                migrant, municipality_id(t.municipality_index(nx, ny)), None
            ),
            "is_outbound": outbound,
            "abroad_from_day": np.where(outbound, start, -1),
            "abroad_to_day": np.where(outbound, start + length - 1, -1),
            "is_tourist": np.zeros(len(pid), dtype=bool),
            "first_day": np.zeros(len(pid), dtype=np.int64),
            "last_day": np.full(len(pid), n_days, dtype=np.int64),
            "household_id": household,
        }
    )


def to_persons(
    tiles: DataFrame, *, t: Territory, p: PopulationParams, seed: int, n_days: int
) -> DataFrame:
    """Residents (schema :data:`PERSON_SCHEMA`), ``n_days`` simulated days ``0..n_days``.

    The migration (if any) happens on a day in ``1..n_days-1``; nulls mark what does not apply.
    """
    total = tiles.agg(F.sum("home_weight")).first()[0]
    scale = p.n_persons / float(total)

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            out = residents_pandas(pdf, t=t, p=p, seed=seed, scale=scale, n_days=n_days)
            yield _nulls(out)

    return tiles.select("tile_idx", "x_ll", "y_ll", "home_weight").mapInPandas(
        batches, PERSON_SCHEMA
    )


def _nulls(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("migration_day", "abroad_from_day", "abroad_to_day"):
        df[c] = df[c].astype("Int64").mask(df[c] < 0)
    return df


def tourists_pandas(
    ids: NDArray[np.int64], *, t: Territory, p: PopulationParams, seed: int, n_days: int
) -> pd.DataFrame:
    """Inbound visitors: a hotel near an attractive town, a stay of ``tourist_nights``."""
    pid = TOURIST_BASE_ID + ids
    key = pid.astype(np.uint64)
    town = pick_town(
        t, t.town_xy[:1, 0].repeat(len(pid)), t.town_xy[:1, 1].repeat(len(pid)),
        uniform(key, 20, seed), length_m=1e12, attract=True,
    )  # fmt: skip
    hx, hy = point_near_town(t, town, key, 21, seed, 0.5)
    lo, hi = p.tourist_nights
    nights = lo + np.floor(uniform(key, 23, seed) * (hi - lo + 1)).astype(np.int64)
    first = np.floor(uniform(key, 24, seed) * n_days).astype(np.int64)
    muni = t.municipality_index(hx, hy)
    n = len(pid)
    none = np.full(n, np.nan)
    return _nulls(
        pd.DataFrame(
            {
                "person_id": pid,
                "home_x": hx,
                "home_y": hy,
                "home_municipality_id": municipality_id(muni),
                "home_region_id": region_id(t.muni_region[muni]),
                "is_worker": np.zeros(n, dtype=bool),
                "work_x": none,
                "work_y": none,
                "is_migrant": np.zeros(n, dtype=bool),
                "migration_day": np.full(n, -1),
                "new_home_x": none,
                "new_home_y": none,
                "new_home_municipality_id": np.full(n, None),
                "is_outbound": np.zeros(n, dtype=bool),
                "abroad_from_day": np.full(n, -1),
                "abroad_to_day": np.full(n, -1),
                "is_tourist": np.ones(n, dtype=bool),
                "first_day": first,
                "last_day": np.minimum(first + nights, n_days),
                "household_id": pid,
            }
        )
    )


def to_tourists(
    spark: SparkSession, *, t: Territory, p: PopulationParams, seed: int, n_days: int,
    n_partitions: int,
) -> DataFrame:  # fmt: skip
    """Inbound visitors (schema :data:`PERSON_SCHEMA`, ``is_tourist`` true); their "home" is
    the hotel, present on days ``first_day..last_day``."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield tourists_pandas(pdf["id"].to_numpy(), t=t, p=p, seed=seed, n_days=n_days)

    ids = spark.range(0, p.n_tourists, numPartitions=n_partitions)
    return ids.mapInPandas(batches, PERSON_SCHEMA)
