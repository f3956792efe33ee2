"""The settings a C-layer date was computed with (``<mno>/clayer/convergence_parameters``).

``rmf convergence`` writes, next to the date's connection probabilities, one row per setting of
``[convergence]`` (a dotted key such as ``radio.steepness`` or ``radio.macro.power_w``, its
value as JSON) and replaces the date's rows when it runs again. A later stage reads them back
with :func:`read_convergence_parameters`, so it uses the parameters the date's footprints and
probabilities were computed with, not whatever the profile says when it runs.
``reference_dir`` is not recorded: it says where the inputs were, not how they were modelled.

Examples
--------
>>> from rmf_spark.clayer.settings import ConvergenceSettings
>>> rows = dict(parameter_rows(ConvergenceSettings()))
>>> rows["radio.steepness"], rows["radio.micro.power_w"]
('0.2', '5.0')
>>> settings_from_rows(list(rows.items())).radio.steepness
0.2
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ValidationError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rmf_spark.clayer import schemas
from rmf_spark.clayer.settings import ConvergenceSettings
from rmf_spark.config import RmfConfig
from rmf_spark.errors import InputDataError

__all__ = [
    "convergence_parameters",
    "parameter_rows",
    "read_convergence_parameters",
    "settings_from_rows",
]

_NOT_RECORDED = ("reference_dir",)


def parameter_rows(conv: ConvergenceSettings) -> list[tuple[str, str]]:
    """``(dotted key, JSON value)`` of every recorded setting; a table of settings recurses, any
    other value (a number, a string, the land-use weights) is one row."""

    def walk(model: BaseModel, prefix: str) -> list[tuple[str, str]]:
        out = []
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                out += walk(value, f"{prefix}{name}.")
            else:
                out.append((f"{prefix}{name}", json.dumps(value, sort_keys=True)))
        return out

    return [(k, v) for k, v in walk(conv, "") if k not in _NOT_RECORDED]


def settings_from_rows(rows: list[tuple[str, str]]) -> ConvergenceSettings:
    """The :class:`ConvergenceSettings` written as :func:`parameter_rows` (``reference_dir``
    None). Raises ``pydantic.ValidationError`` when a key is unknown or a value invalid."""
    nested: dict[str, Any] = {}
    for key, value in rows:
        *parents, last = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = json.loads(value)
    return ConvergenceSettings.model_validate(nested)


def convergence_parameters(
    spark: SparkSession, conv: ConvergenceSettings, *, date: dt.date
) -> DataFrame:
    """The ``convergence_parameters`` rows of ``date`` (:data:`~rmf_spark.clayer.schemas.
    CONVERGENCE_PARAMETERS`)."""
    rows = [(k, v, date.isoformat()) for k, v in parameter_rows(conv)]
    df = spark.createDataFrame(rows, "parameter string, value string, date string")
    return df.withColumn("date", F.col("date").cast("date")).select(
        *[F.col(f.name).cast(f.dataType) for f in schemas.CONVERGENCE_PARAMETERS.fields]
    )


def read_convergence_parameters(
    spark: SparkSession, cfg: RmfConfig, *, mno: str, date: dt.date
) -> ConvergenceSettings:
    """The ``[convergence]`` settings ``rmf convergence`` used for ``mno`` on ``date``.

    Raises
    ------
    rmf_spark.errors.InputDataError
        No parameters recorded for the date (``CONVERGENCE_PARAMETERS_MISSING``: run
        ``rmf convergence`` for it), or recorded ones this version cannot read
        (``CONVERGENCE_PARAMETERS_INVALID``).
    """
    from rmf_spark import tables

    spec = tables.CONVERGENCE_PARAMETERS
    path = spec.path(cfg, mno=mno)
    rows: list[tuple[str, str]] = []
    if spec.exists(spark, cfg, mno=mno):
        day = spec.read(spark, cfg, mno=mno).where(F.col("date") == F.lit(date))
        rows = [(r["parameter"], r["value"]) for r in day.select("parameter", "value").collect()]
    if not rows:
        raise InputDataError(
            f"no convergence parameters for MNO {mno!r} on {date} at {path}: "
            f"run `rmf convergence --mno {mno} --date {date}` first",
            code="CONVERGENCE_PARAMETERS_MISSING",
        )
    try:
        return settings_from_rows(rows)
    except ValidationError as exc:
        raise InputDataError(
            f"{path} ({date}): recorded parameters do not validate: {exc}",
            code="CONVERGENCE_PARAMETERS_INVALID",
        ) from None
