"""Columns of the released tables: a product's estimates plus the disclosure-control flags."""

from __future__ import annotations

from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from rmf_spark.release.disclosure import SUPPRESSED, SUPPRESSION
from rmf_spark.slayer.present_population.schemas import PRESENT_POPULATION_SCHEMA

__all__ = ["RELEASED_PRESENT_POPULATION_SCHEMA", "released_schema"]


def released_schema(estimates: StructType) -> StructType:
    """``estimates`` as released: every value may be null (suppressed), plus ``suppressed
    boolean`` and ``suppression string`` (``'primary'``, ``'secondary'`` or null)."""
    return StructType(
        [
            *[StructField(f.name, f.dataType, True) for f in estimates.fields],
            StructField(SUPPRESSED, BooleanType(), False),
            StructField(SUPPRESSION, StringType(), True),
        ]
    )


#: ``<mno>/release/present_population``
RELEASED_PRESENT_POPULATION_SCHEMA = released_schema(PRESENT_POPULATION_SCHEMA)
