"""The territory: a rectangle in EPSG:3035 with towns, zones, a density surface and land use.

The few dozen geometric objects (towns, zone seeds, Voronoi polygons) are made on the driver
with numpy and shapely; the per-tile surfaces are evaluated by :func:`to_tiles` inside Spark
(``mapInPandas`` over ``spark.range``), so the tile count can grow with the territory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyspark.sql import DataFrame, SparkSession
from scipy.spatial import cKDTree
from scipy.stats import norm

from rmf_spark.synth.profile import TerritoryParams

__all__ = ["LAND_USES", "TILE_SCHEMA", "Territory", "build_territory", "to_tiles"]

TILE_M = 100
LAND_USES = ("residential", "other_builtup", "roads", "forest", "water", "open_land")
#: weight of a tile's density for homes, by land use
HOME_WEIGHT = {"residential": 1.0, "other_builtup": 0.3, "open_land": 0.15, "forest": 0.02}
TILE_SCHEMA = (
    "tile_idx long, inspire_100m string, inspire_1km string, x_ll double, y_ll double, "
    "density double, land_use string, home_weight double, municipality_id string, "
    "region_id string"
)
_N_WAVES = 6


@dataclass(frozen=True)
class Territory:
    """Everything that defines the land (small; shipped to executors in closures)."""

    x0: float
    y0: float
    width_m: float
    height_m: float
    town_xy: NDArray[np.float64]  # (n, 2)
    town_weight: NDArray[np.float64]
    town_radius: NDArray[np.float64]
    town_attractiveness: NDArray[np.float64]
    rural_density: float
    muni_xy: NDArray[np.float64]  # (m, 2) Voronoi seeds of municipalities
    muni_region: NDArray[np.int64]  # region index of each municipality
    n_regions: int
    river: tuple[float, float, float, float]  # y_mid, amplitude, wavelength, half width
    forest_waves: NDArray[np.float64]  # (_N_WAVES, 3): kx, ky, phase
    forest_threshold: float

    @property
    def n_tiles(self) -> int:
        return int(self.width_m // TILE_M) * int(self.height_m // TILE_M)

    def polygon(self) -> shapely.Polygon:
        return shapely.box(self.x0, self.y0, self.x0 + self.width_m, self.y0 + self.height_m)

    def density(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """``rho(x, y) = rural + sum_k w_k exp(-d_k^2 / (2 r_k^2))`` (largest town: w = 1)."""
        d2 = (x[:, None] - self.town_xy[:, 0]) ** 2 + (y[:, None] - self.town_xy[:, 1]) ** 2
        return self.rural_density + (
            self.town_weight * np.exp(-d2 / (2.0 * self.town_radius**2))
        ).sum(axis=1)

    def municipality_index(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray:
        """Index of the municipality holding each point (nearest Voronoi seed)."""
        return cKDTree(self.muni_xy).query(np.column_stack([x, y]))[1]

    def land_use(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.str_]:
        """Land use at tile centres: water (river band), roads (town links), residential and
        other built-up (density thresholds), forest (smooth wave field), else open land."""
        y_mid, amp, wave, half = self.river
        river = np.abs(y - (y_mid + amp * np.sin(2 * np.pi * (x - self.x0) / wave))) < half
        rho = self.density(x, y) / (1.0 + self.rural_density)
        field = np.sin(
            x[:, None] * self.forest_waves[:, 0]
            + y[:, None] * self.forest_waves[:, 1]
            + self.forest_waves[:, 2]
        ).sum(axis=1) / np.sqrt(_N_WAVES / 2.0)
        out = np.full(x.shape, "open_land", dtype=object)
        out[field > self.forest_threshold] = "forest"
        out[rho > 0.12] = "other_builtup"
        out[rho > 0.3] = "residential"
        out[_near_roads(x, y, self.town_xy, self.town_weight)] = "roads"
        out[river] = "water"
        return out.astype(str)


def _near_roads(x: NDArray, y: NDArray, towns: NDArray, weight: NDArray) -> NDArray[np.bool_]:
    """Tiles within 50 m of the straight road from each town to the largest town."""
    hub = towns[int(np.argmax(weight))]
    near = np.zeros(x.shape, dtype=bool)
    for a in towns:
        ab = hub - a
        length2 = float(ab @ ab)
        if length2 == 0:
            continue
        t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / length2, 0.0, 1.0)
        near |= np.hypot(x - a[0] - t * ab[0], y - a[1] - t * ab[1]) < 50.0
    return near


def build_territory(params: TerritoryParams, *, seed: int) -> Territory:
    """Draw towns, zone seeds, the river and the forest field (driver side, a few dozen values).

    Town sizes follow Zipf, ``w_k = k^-zipf_exponent``; radii grow with size between
    ``town_radius_m``; attractiveness for visitors is ``w_k`` times a log-normal factor.
    """
    rng = np.random.default_rng([seed, 1])
    w, h = params.width_km * 1000.0, params.height_km * 1000.0
    x0, y0 = float(params.x0_m), float(params.y0_m)
    margin = 0.08
    n = params.n_towns
    town_xy = np.column_stack(
        [
            x0 + w * rng.uniform(margin, 1 - margin, n),
            y0 + h * rng.uniform(margin, 1 - margin, n),
        ]
    )
    weight = np.arange(1, n + 1, dtype=float) ** -params.zipf_exponent
    lo, hi = params.town_radius_m
    radius = lo + (hi - lo) * weight
    attract = weight * rng.lognormal(0.0, 0.5, n)
    m = params.n_municipalities
    muni_xy = np.column_stack([x0 + w * rng.uniform(0, 1, m), y0 + h * rng.uniform(0, 1, m)])
    region_seeds = muni_xy[: params.n_regions]
    muni_region = cKDTree(region_seeds).query(muni_xy)[1].astype(np.int64)
    waves = np.column_stack(
        [
            rng.normal(0, 2 * np.pi / 4000.0, _N_WAVES),
            rng.normal(0, 2 * np.pi / 4000.0, _N_WAVES),
            rng.uniform(0, 2 * np.pi, _N_WAVES),
        ]
    )
    river = (
        y0 + h * rng.uniform(0.25, 0.75),
        h * 0.08,
        w * rng.uniform(0.6, 1.2),
        max(60.0, params.water_share * h / 2.0),
    )
    return Territory(
        x0=x0,
        y0=y0,
        width_m=w,
        height_m=h,
        town_xy=town_xy,
        town_weight=weight,
        town_radius=radius,
        town_attractiveness=attract,
        rural_density=params.rural_density,
        muni_xy=muni_xy,
        muni_region=muni_region,
        n_regions=params.n_regions,
        river=river,
        forest_waves=waves,
        forest_threshold=float(norm.ppf(1.0 - params.forest_share)),
    )


def municipality_id(i: NDArray) -> NDArray[np.str_]:
    return np.char.add("M", np.char.zfill(np.asarray(i).astype(str), 3))


def region_id(i: NDArray) -> NDArray[np.str_]:
    return np.char.add("R", np.char.zfill(np.asarray(i).astype(str), 2))


def zone_polygons(t: Territory) -> pd.DataFrame:
    """Zones as in docs/tables.md: Voronoi municipalities clipped to the territory, regions as
    their unions (zone_id, zone_level, parent_id, name, wkt)."""
    box = t.polygon()
    cells = shapely.voronoi_polygons(shapely.MultiPoint(t.muni_xy), extend_to=box.buffer(1e5))
    polys = list(shapely.get_parts(cells))
    pts = shapely.points(t.muni_xy)
    order = [next(j for j, p in enumerate(polys) if p.contains(pt)) for pt in pts]
    munis = [shapely.intersection(polys[j], box) for j in order]
    rows = []
    for r in range(t.n_regions):
        geom = shapely.union_all([munis[i] for i in np.flatnonzero(t.muni_region == r)])
        rows.append((region_id(r).item(), 1, None, f"Region {r + 1}", geom.wkt))
    for i, g in enumerate(munis):
        rows.append(
            (
                municipality_id(i).item(),
                2,
                region_id(t.muni_region[i]).item(),
                f"Municipality {i + 1}",
                g.wkt,
            )
        )
    return pd.DataFrame(rows, columns=["zone_id", "zone_level", "parent_id", "name", "wkt"])


def tiles_pandas(t: Territory, tile_idx: NDArray[np.int64]) -> pd.DataFrame:
    """Per-tile surfaces for the given tile indices (row-major from the south-west corner)."""
    n_cols = int(t.width_m // TILE_M)
    x_ll = t.x0 + (tile_idx % n_cols) * TILE_M
    y_ll = t.y0 + (tile_idx // n_cols) * TILE_M
    xc, yc = x_ll + TILE_M / 2, y_ll + TILE_M / 2
    land = t.land_use(xc, yc)
    rho = t.density(xc, yc)
    muni = t.municipality_index(xc, yc)
    e100, n100 = (x_ll // 100).astype(np.int64), (y_ll // 100).astype(np.int64)
    e1k, n1k = (x_ll // 1000).astype(np.int64), (y_ll // 1000).astype(np.int64)
    return pd.DataFrame(
        {
            "tile_idx": tile_idx.astype(np.int64),
            "inspire_100m": [f"100mN{n}E{e}" for n, e in zip(n100, e100, strict=True)],
            "inspire_1km": [f"1kmN{n}E{e}" for n, e in zip(n1k, e1k, strict=True)],
            "x_ll": x_ll.astype(float),
            "y_ll": y_ll.astype(float),
            "density": rho,
            "land_use": land,
            "home_weight": rho * pd.Series(land).map(HOME_WEIGHT).fillna(0.0).to_numpy(),
            "municipality_id": municipality_id(muni),
            "region_id": region_id(t.muni_region[muni]),
        }
    )


def to_tiles(spark: SparkSession, t: Territory, *, n_partitions: int) -> DataFrame:
    """All 100 m tiles of the territory with density, land use and zones (schema
    :data:`TILE_SCHEMA`), computed on the executors."""

    def batches(it):  # type: ignore[no-untyped-def]
        for pdf in it:
            yield tiles_pandas(t, pdf["id"].to_numpy())

    ids = spark.range(0, t.n_tiles, numPartitions=n_partitions)
    return ids.mapInPandas(batches, TILE_SCHEMA)
