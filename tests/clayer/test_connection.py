"""Property tests: sum_c P(c | g) = 1 per covered tile, sum_g P(g | c) = 1 per cell."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from rmf_spark.clayer import cells, connection, footprint
from rmf_spark.clayer.settings import PriorSettings, PruningSettings, RadioSettings
from tests.clayer.helpers import X0, Y0, cell, cells_df

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check_sums(probs, n_cells_expected=None):
    pdf = probs.toPandas()
    per_tile = pdf.groupby("tile_id").p_cell_given_tile.sum()
    per_cell = pdf.groupby(["cell_id", "footprint_version"]).p_tile_given_cell.sum()
    assert ((per_tile - 1).abs() < 1e-9).all()
    assert ((per_cell - 1).abs() < 1e-9).all()
    assert (pdf.p_cell_given_tile > 0).all() and (pdf.p_tile_given_cell >= 0).all()
    if n_cells_expected is not None:
        assert len(per_cell) == n_cells_expected
    return pdf


footprints = st.lists(
    st.tuples(
        st.integers(0, 5),  # cell
        st.integers(0, 30),  # tile
        st.floats(0.001, 1.0, allow_nan=False),  # dominance
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda t: (t[0], t[1]),
)


@SETTINGS
@given(
    rows=footprints,
    kind=st.sampled_from(["uniform", "network", "land_use"]),
    max_cells=st.integers(1, 4),
    best_share=st.sampled_from([0.0, 0.5, 0.9]),
    weights=st.lists(st.sampled_from([0.0, 0.1, 1.0]), min_size=31, max_size=31),
)
def test_probabilities_sum_to_one(spark, rows, kind, max_cells, best_share, weights):
    fp = spark.createDataFrame(
        [(f"c{c}", "v1", t, sd) for c, t, sd in rows],
        "cell_id string, footprint_version string, tile_id long, signal_dominance double",
    )
    tile_prior = spark.createDataFrame(
        list(enumerate(weights)), "tile_id long, prior_weight double"
    )
    pruning = PruningSettings(max_cells_per_tile=max_cells, best_share=best_share)
    pruned = connection.prune(fp, pruning=pruning)
    probs = connection.connection_probability(
        pruned, prior=PriorSettings(kind=kind), tile_prior=tile_prior
    )
    pdf = _check_sums(probs)
    assert pdf.groupby("tile_id").size().max() <= max_cells
    # every tile of the input keeps at least its best cell
    assert set(pdf.tile_id) == {t for _, t, _ in rows}


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    network=st.lists(
        st.tuples(
            st.floats(0, 3000),
            st.floats(0, 3000),
            st.booleans(),
            st.floats(0, 359),
            st.sampled_from(["macro", "micro"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_real_footprints_probabilities_sum_to_one(spark, grid_3km, network):
    radio, pruning = RadioSettings(), PruningSettings()
    rows = [
        cell(f"c{i}", X0 + x, Y0 + y, directional=d, azimuth_deg=az, cell_type=t, range_m=None)
        for i, (x, y, d, az, t) in enumerate(network)
    ]
    prepared = cells.prepare_cells(cells_df(spark, rows), radio=radio, pruning=pruning)
    fp = footprint.cell_footprint(prepared, grid_3km, radio_settings=radio, pruning=pruning)
    probs = connection.connection_probability(
        connection.prune(fp, pruning=pruning), prior=PriorSettings(kind="network")
    )
    pdf = _check_sums(probs, n_cells_expected=len(network))
    covered = fp.select("tile_id").distinct().count()
    assert pdf.tile_id.nunique() == covered


def test_land_use_prior_from_table(spark, grid_3km):
    lu = grid_3km.select(
        "inspire_100m",
        F.when(F.col("x_ll") < X0 + 1500, "residential").otherwise("water").alias("land_use"),
    )
    prior = PriorSettings(kind="land_use")
    tp = connection.land_use_prior(lu, grid_3km, prior=prior)
    assert_df_equality(
        tp.groupBy("prior_weight").count(),
        spark.createDataFrame([(1.0, 450), (0.0, 450)], "prior_weight double, count long"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    from rmf_spark.errors import InputDataError

    bad = lu.withColumn("land_use", F.lit("lava"))
    with pytest.raises(InputDataError) as exc:
        connection.land_use_prior(bad, grid_3km, prior=prior)
    assert exc.value.code == "LAND_USE_WEIGHT_MISSING"
