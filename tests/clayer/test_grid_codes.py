"""Round trip of the grid's identifiers: a point's ``tile_id`` gives back its tile's lower-left
corner (``E/100 * 2**20 + N/100``), and the INSPIRE codes name the same tile and 1 km tile."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from rmf_spark.clayer import grid
from rmf_spark.evaluate.report import tile_xy

SHIFT = 1 << 20  # N/100 < 2**20: the id is unique over the EPSG:3035 domain

points = st.lists(
    st.tuples(
        st.integers(0, SHIFT - 1),  # E/100 of the tile
        st.integers(0, SHIFT - 1),  # N/100 of the tile
        st.integers(0, 399),  # the point's offset inside the tile, in quarter metres
        st.integers(0, 399),
    ),
    min_size=1,
    max_size=100,
)


def _decode(tile_id: int) -> tuple[int, int]:
    return tile_id // SHIFT, tile_id % SHIFT


@settings(max_examples=5, deadline=None)
@given(points=points)
def test_tile_id_and_inspire_codes_round_trip(spark, points):
    rows = [
        (e * 100.0, n * 100.0, e * 100.0 + dx / 4, n * 100.0 + dy / 4) for e, n, dx, dy in points
    ]
    df = spark.createDataFrame(rows, "x_ll double, y_ll double, x double, y double")
    got = df.select(
        *grid._grid_columns(F.col("x_ll"), F.col("y_ll")),
        grid.tile_id_of_xy(F.col("x"), F.col("y")).alias("tile_of_point"),
    ).collect()
    assert len(got) == len(points)
    for (e, n, _, _), r in zip(points, got, strict=True):
        assert _decode(r["tile_id"]) == (e, n)
        assert r["tile_of_point"] == r["tile_id"]  # every point of the tile has its id
        assert (r["x_ll"], r["y_ll"]) == (e * 100.0, n * 100.0)
        assert tile_xy(r["inspire_100m"]) == (e * 100.0, n * 100.0, 100.0)
        assert tile_xy(r["inspire_1km"]) == (e // 10 * 1000.0, n // 10 * 1000.0, 1000.0)
        assert _decode(r["tile_1km_id"]) == (e // 10, n // 10)
