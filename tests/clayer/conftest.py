"""C-layer fixtures: the 3 km x 3 km grid that several test modules build footprints on."""

from __future__ import annotations

import pytest

from tests.clayer.helpers import X0, Y0, square_wkt, territory_df


@pytest.fixture(scope="session")
def grid_3km(spark):
    """The 900 tiles of the square ``X0, Y0`` to ``+3 km``, built and cached once."""
    from rmf_spark.clayer import grid

    g = grid.generate_grid(
        territory_df(spark, square_wkt(X0, Y0, 3000, 3000)), buffer_m=0.0
    ).cache()
    yield g
    g.unpersist()
