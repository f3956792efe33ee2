"""Device-level inference in Spark: one pandas group per device-day (``cogroup``).

Notes
-----
Each group holds the device-day's compressed rows (at most ``device.max_rows_per_day``, plus
two context rows) and the connection probabilities of its cells (one row per cell and tile).
The numpy work is :mod:`~rmf_spark.slayer.device.inference`; memory per group is stated in
``docs/device-inference.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from pyspark.broadcast import Broadcast
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.group_ops import PandasCogroupedOps
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from rmf_spark.clayer.schemas import (
    CELL_ID,
    DATE,
    DEVICE_ID,
    DISTANCE_M,
    FOOTPRINT_VERSION,
    P_CELL_GIVEN_TILE,
    TILE_ID,
    X_LL,
    Y_LL,
)
from rmf_spark.slayer.device.compress import with_day_bounds
from rmf_spark.slayer.device.inference import PRIOR, DeviceDay, infer_device_day
from rmf_spark.slayer.device.permanence import daily_permanence
from rmf_spark.slayer.device.schemas import (
    ABROAD,
    ABROAD_ONLY,
    CELL_KEY,
    CONTEXT,
    DAY_END,
    DAY_START,
    DAY_STATUS,
    DEVICE_DAY_SCHEMA,
    FIRST_TS,
    INBOUND,
    LAST_TS,
    LOCATED,
    LOCATED_EVENTS,
    LOG_LIKELIHOOD,
    N_SEGMENTS,
    NO_FOOTPRINT,
    PERMANENCE_SCHEMA,
    POSTERIOR_TABLE_SCHEMA,
    PROBABILITIES,
    PROBABILITY,
    ROWS,
    ROWS_WITHOUT_FOOTPRINT,
    SEGMENTS_SCHEMA,
    TILE_IDS,
    TIME_POINT_POSTERIOR_SCHEMA,
)
from rmf_spark.slayer.device.settings import DeviceSettings

__all__ = [
    "DEVICE_DAYS_SCHEMA",
    "compute_daily_permanence",
    "compute_device_days",
    "compute_segments",
    "compute_time_point_posteriors",
    "device_day_of",
    "permanence_of",
    "posterior_tiles",
    "posteriors_of",
    "release_footprints",
    "segments_of",
    "with_day_context",
]


def with_day_context(compressed: DataFrame) -> DataFrame:
    """Adds to each device-day the device's last row before it and first row after it
    (``context = true``), so a stay or an abroad stretch crossing midnight continues.

    Parameters
    ----------
    compressed
        :func:`~rmf_spark.slayer.device.compress.compress_runs` output.

    Returns
    -------
    DataFrame
        The same columns plus ``context boolean``.
    """
    w = Window.partitionBy(DEVICE_ID).orderBy(FIRST_TS, LAST_TS, CELL_ID)
    marked = compressed.withColumn("_prev", F.lag(DATE).over(w)).withColumn(
        "_next", F.lead(DATE).over(w)
    )
    own = compressed.withColumn(CONTEXT, F.lit(False))
    cols = compressed.columns

    def copied(into: str) -> DataFrame:
        rows = marked.where(F.col(into).isNotNull() & (F.col(into) != F.col(DATE)))
        return rows.withColumn(DATE, F.col(into)).select(*cols).withColumn(CONTEXT, F.lit(True))

    return own.unionByName(copied("_next")).unionByName(copied("_prev"))


def _cell_key() -> Column:
    return F.xxhash64(CELL_ID, FOOTPRINT_VERSION).alias(CELL_KEY)


def _footprints(
    connection_probability: DataFrame, grid: DataFrame, prior: DataFrame | None
) -> DataFrame:
    """The connection probabilities as a device-day's pandas group reads them: ``cell_key``
    (with ``date`` when given), ``tile_id, p_cell_given_tile, distance_m, x_ll, y_ll`` and
    the optional ``prior``; the cells' strings are replaced by their hash (emission.py checks
    it is one-to-one on each device's cells)."""
    on_date = DATE in connection_probability.columns
    distance = F.col(DISTANCE_M) if DISTANCE_M in connection_probability.columns else F.lit(None)
    cp = connection_probability.select(
        CELL_ID,
        FOOTPRINT_VERSION,
        *([DATE] if on_date else []),
        F.col(TILE_ID).cast("long").alias(TILE_ID),
        F.col(P_CELL_GIVEN_TILE).cast("double").alias(P_CELL_GIVEN_TILE),
        distance.cast("double").alias(DISTANCE_M),
    ).where(F.col(P_CELL_GIVEN_TILE) > 0)
    cp = cp.join(grid.select(TILE_ID, X_LL, Y_LL), on=TILE_ID, how="inner")
    if prior is not None:
        cp = cp.join(prior.select(TILE_ID, F.col(PRIOR).cast("double")), on=TILE_ID, how="left")
    return cp.select(_cell_key(), *[c for c in cp.columns if c not in (CELL_ID, FOOTPRINT_VERSION)])


def _own_rows(rows: DataFrame, time_zone: str) -> DataFrame:
    return with_day_bounds(rows, time_zone=time_zone).withColumn(CELL_KEY, _cell_key())


def _cogrouped(rows: DataFrame, footprints: DataFrame, time_zone: str) -> PandasCogroupedOps:
    """Each device-day's rows (with its day bounds) cogrouped with its cells' footprints."""
    on_date = DATE in footprints.columns
    # new attributes for every column: both sides of the cogroup come from ``rows``, and
    # Spark's self-join check would find them ambiguous
    fresh = [DEVICE_ID, DATE, CELL_KEY]
    cells = (
        rows.where(~F.col(ABROAD) & F.col(CELL_ID).isNotNull())
        .select(DEVICE_ID, DATE, _cell_key())
        .select(*[F.col(c).alias(f"_{c}") for c in fresh])
        .distinct()
        .toDF(*fresh)
    )
    keyed = cells.join(footprints, on=[CELL_KEY, *([DATE] if on_date else [])], how="inner")
    keyed = keyed.select(DEVICE_ID, DATE, *[c for c in footprints.columns if c != DATE])
    own = _own_rows(rows, time_zone)
    return own.groupBy(DEVICE_ID, DATE).cogroup(keyed.groupBy(DEVICE_ID, DATE))


class _FootprintLookup:
    """The footprints of a day held once per Python worker: rows sorted by (date, cell_key),
    and the slice of each, so a device-day's footprints are a few array slices."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.on_date = DATE in frame.columns
        keys = [DATE, CELL_KEY] if self.on_date else [CELL_KEY]
        self.frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        bounds = self.frame.groupby(keys, sort=False).indices
        self.slices = {k: (int(v[0]), int(v[-1]) + 1) for k, v in bounds.items()}

    def of(self, rows: pd.DataFrame) -> pd.DataFrame:
        cells = rows.loc[~rows[ABROAD].fillna(False).astype(bool), CELL_KEY].dropna().unique()
        day = rows[DATE].iloc[0]
        found = [self.slices.get((day, int(k)) if self.on_date else int(k)) for k in cells]
        parts = [np.arange(a, b) for a, b in (f for f in found if f is not None)]
        take = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self.frame.iloc[take].reset_index(drop=True)


#: which of the three outputs a row of :func:`compute_device_days` carries
RECORD = "record"
_SEGMENT, _POSTERIOR, _PERMANENCE, _DAY = "segment", "posterior", "permanence", "day"
_OWN = (DEVICE_ID, DATE)


def _fields(*schemas: StructType) -> list[StructField]:
    # every output column nullable: a row carries one record's columns only; a column two
    # outputs share (tiles, visited_plmn, inbound) appears once, with the same type
    out: dict[str, StructField] = {}
    for f in (f for schema in schemas for f in schema.fields if f.name not in _OWN):
        if f.name in out and out[f.name].dataType != f.dataType:
            raise TypeError(f"column {f.name}: {out[f.name].dataType} and {f.dataType}")
        out.setdefault(f.name, StructField(f.name, f.dataType, True))
    return list(out.values())


#: the rows of the four outputs in one frame (one pandas call per device-day makes them all)
DEVICE_DAYS_SCHEMA = StructType(
    [
        StructField(RECORD, StringType(), False),
        StructField(DEVICE_ID, StringType(), False),
        StructField(DATE, DateType(), False),
        *_fields(
            SEGMENTS_SCHEMA, TIME_POINT_POSTERIOR_SCHEMA, PERMANENCE_SCHEMA, DEVICE_DAY_SCHEMA
        ),
    ]
)


def _status(day: DeviceDay, rows: pd.DataFrame) -> str:
    if day.located_events:
        return LOCATED
    own = ~rows[CONTEXT].fillna(False).astype(bool) if CONTEXT in rows else True
    return ABROAD_ONLY if bool(rows.loc[own, ABROAD].fillna(False).all()) else NO_FOOTPRINT


def _device_days_fn(
    settings: DeviceSettings, ta_buffer: int, points: pd.Series, tolerance_s: float
):  # type: ignore[no-untyped-def]
    names = DEVICE_DAYS_SCHEMA.fieldNames()

    def run(rows: pd.DataFrame, footprints: pd.DataFrame) -> pd.DataFrame:
        if rows.empty:
            return pd.DataFrame(columns=names)
        day0, day1 = rows[DAY_START].iloc[0], rows[DAY_END].iloc[0]
        day = infer_device_day(
            rows,
            footprints,
            day_start=day0,
            day_end=day1,
            settings=settings,
            ta_buffer=ta_buffer,
            time_points=points[(points >= day0) & (points < day1)],
            tolerance_s=tolerance_s,
        )
        inbound = rows[INBOUND].dropna()
        stats = {
            RECORD: _DAY,
            INBOUND: bool(inbound.any()) if len(inbound) else None,
            ROWS: day.rows,
            ROWS_WITHOUT_FOOTPRINT: day.rows_without_footprint,
            LOCATED_EVENTS: day.located_events,
            N_SEGMENTS: len(day.segments),
            LOG_LIKELIHOOD: day.log_likelihood if day.located_events else None,
            DAY_STATUS: _status(day, rows),
        }
        permanence = daily_permanence(
            day.segments, day_start=day0, day_end=day1, settings=settings.permanence
        )
        out = pd.concat(
            [
                day.segments.assign(**{RECORD: _SEGMENT, INBOUND: stats[INBOUND]}),
                day.posteriors.assign(**{RECORD: _POSTERIOR}),
                permanence.assign(**{RECORD: _PERMANENCE}),
                pd.DataFrame([stats]),
            ],
            ignore_index=True,
        )
        out[DEVICE_ID] = rows[DEVICE_ID].iloc[0]
        out[DATE] = rows[DATE].iloc[0]
        return _nullable(out.reindex(columns=names))

    return run


_PANDAS_NULLABLE = {IntegerType: "Int32", LongType: "Int64", BooleanType: "boolean"}


def _nullable(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as nulls Arrow reads: a row of one record leaves the others' columns
    empty (NaN would turn an int column to float and an array column to a float)."""
    for f in DEVICE_DAYS_SCHEMA.fields:
        col = frame[f.name]
        if isinstance(f.dataType, ArrayType):
            frame[f.name] = col.astype(object).where(col.notna(), None)
        elif type(f.dataType) in _PANDAS_NULLABLE:
            frame[f.name] = col.astype(_PANDAS_NULLABLE[type(f.dataType)])
    return frame


def compute_device_days(
    rows: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    settings: DeviceSettings,
    ta_buffer: int,
    time_points: Sequence[datetime] = (),
    tolerance_s: float = 0.0,
    prior: DataFrame | None = None,
) -> DataFrame:
    """Segments, time-point posteriors, daily permanence and the device-day accounting, from
    one HMM pass per device-day; :func:`segments_of`, :func:`posteriors_of`,
    :func:`permanence_of` and :func:`device_day_of` split it.

    Parameters
    ----------
    rows
        :func:`with_day_context` output.
    connection_probability
        C-layer ``connection_probability`` (``cell_id, footprint_version, tile_id,
        p_cell_given_tile``, optionally ``distance_m`` and ``date``: when present, a
        device-day uses the probabilities of its own date).
    grid
        C-layer ``grid`` (``tile_id, x_ll, y_ll``).
    settings
        ``[device]``.
    ta_buffer
        ``present_population.timing_advance_buffer``.
    time_points
        Naive UTC instants; a device-day answers those in ``[day_start, day_end)``.
    tolerance_s
        Largest distance to the nearest HMM event (``present_population.tolerance_s``).
    prior
        Optional ``tile_id, prior`` (weights, e.g. an EM density): the HMM's prior.

    Returns
    -------
    DataFrame
        :data:`DEVICE_DAYS_SCHEMA`: a ``record`` column says which output a row belongs to.
    """
    points = pd.Series(pd.to_datetime(list(time_points)), dtype="datetime64[us]")
    footprints = _footprints(connection_probability, grid, prior)
    fn = _device_days_fn(settings, ta_buffer, points, tolerance_s)
    limit = settings.broadcast_footprints_max_rows
    if limit and footprints.limit(limit + 1).count() <= limit:
        # small enough (at most `limit` rows on the driver): sent once to each worker instead
        # of with every device-day
        shared = rows.sparkSession.sparkContext.broadcast(footprints.toPandas())
        token = uuid.uuid4().hex

        def with_footprints(own: pd.DataFrame) -> pd.DataFrame:
            return fn(own, _lookup(token, shared).of(own))

        grouped = _own_rows(rows, settings.time_zone).groupBy(DEVICE_ID, DATE)
        out = grouped.applyInPandas(with_footprints, DEVICE_DAYS_SCHEMA)
        _SHARED[id(out)] = shared
        return out
    groups = _cogrouped(rows, footprints, settings.time_zone)
    return groups.applyInPandas(fn, DEVICE_DAYS_SCHEMA)


#: the broadcast footprints of each result of :func:`compute_device_days` (driver side)
_SHARED: dict[int, Broadcast] = {}
#: a worker's sorted footprints, built once per broadcast (the token) and process
_LOOKUPS: dict[str, _FootprintLookup] = {}


def _lookup(token: str, shared: Broadcast) -> _FootprintLookup:
    if token not in _LOOKUPS:
        _LOOKUPS.clear()  # a worker keeps the footprints of the latest day only
        _LOOKUPS[token] = _FootprintLookup(shared.value)
    return _LOOKUPS[token]


def release_footprints(device_days: DataFrame) -> None:
    """Frees the footprints :func:`compute_device_days` broadcast for ``device_days`` (none
    when they went with every device-day), once every result built from it is written."""
    shared = _SHARED.pop(id(device_days), None)
    if shared is not None:
        shared.destroy()


def _as_type(name: str, dtype: DataType) -> Column:
    if isinstance(dtype, ArrayType) and not dtype.containsNull:
        # read back from files, arrays hold nullable elements, which a cast may not narrow:
        # array_compact declares them non-null (the spilled arrays had none to drop)
        return F.array_compact(F.col(name)).cast(dtype)
    return F.col(name).cast(dtype)


def _records(device_days: DataFrame, kind: str, schema: StructType) -> DataFrame:
    rows = device_days.where(F.col(RECORD) == kind)
    return rows.select(*[_as_type(f.name, f.dataType).alias(f.name) for f in schema.fields])


def segments_of(device_days: DataFrame) -> DataFrame:
    """The segments of :func:`compute_device_days` (:data:`SEGMENTS_SCHEMA`)."""
    return _records(device_days, _SEGMENT, SEGMENTS_SCHEMA)


def posteriors_of(device_days: DataFrame) -> DataFrame:
    """The posteriors of :func:`compute_device_days` (:data:`TIME_POINT_POSTERIOR_SCHEMA`
    plus ``date``): per (device, time point) the probabilities sum to 1."""
    return _records(device_days, _POSTERIOR, POSTERIOR_TABLE_SCHEMA)


def posterior_tiles(posteriors: DataFrame) -> DataFrame:
    """Stored posteriors (``slayer/location_posterior`` or :func:`posteriors_of`) one row per
    tile: their other columns, then ``tile_id, probability`` instead of the two arrays."""
    keep = [c for c in posteriors.columns if c not in (TILE_IDS, PROBABILITIES)]
    pairs = F.arrays_zip(F.col(TILE_IDS).alias(TILE_ID), F.col(PROBABILITIES).alias(PROBABILITY))
    return posteriors.select(*keep, F.inline(pairs))


def permanence_of(device_days: DataFrame) -> DataFrame:
    """The daily permanence of :func:`compute_device_days` (:data:`PERMANENCE_SCHEMA`): what
    :func:`compute_daily_permanence` gives from its segments, without a second pass."""
    return _records(device_days, _PERMANENCE, PERMANENCE_SCHEMA)


def device_day_of(device_days: DataFrame) -> DataFrame:
    """The device-day accounting of :func:`compute_device_days` (:data:`DEVICE_DAY_SCHEMA`)."""
    return _records(device_days, _DAY, DEVICE_DAY_SCHEMA)


def compute_segments(
    rows: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    settings: DeviceSettings,
    ta_buffer: int,
    prior: DataFrame | None = None,
) -> DataFrame:
    """Continuous time segments of every device-day, located by the HMM
    (:func:`compute_device_days` without time points; :data:`SEGMENTS_SCHEMA`)."""
    return segments_of(
        compute_device_days(
            rows,
            connection_probability=connection_probability,
            grid=grid,
            settings=settings,
            ta_buffer=ta_buffer,
            prior=prior,
        )
    )


def compute_daily_permanence(segments: DataFrame, *, settings: DeviceSettings) -> DataFrame:
    """Daily permanence per (device, day, slot) from the segments.

    Parameters
    ----------
    segments
        :func:`compute_segments` output.
    settings
        ``[device]`` (``time_zone`` and ``permanence``).

    Returns
    -------
    DataFrame
        :data:`~rmf_spark.slayer.device.schemas.PERMANENCE_SCHEMA`.
    """
    names = PERMANENCE_SCHEMA.fieldNames()

    def run(seg: pd.DataFrame) -> pd.DataFrame:
        out = daily_permanence(
            seg,
            day_start=seg[DAY_START].iloc[0],
            day_end=seg[DAY_END].iloc[0],
            settings=settings.permanence,
        )
        out[DEVICE_ID] = seg[DEVICE_ID].iloc[0]
        out[DATE] = seg[DATE].iloc[0]
        return out[names]

    return (
        with_day_bounds(segments, time_zone=settings.time_zone)
        .groupBy(DEVICE_ID, DATE)
        .applyInPandas(run, PERMANENCE_SCHEMA)
    )


def compute_time_point_posteriors(
    rows: DataFrame,
    *,
    connection_probability: DataFrame,
    grid: DataFrame,
    time_points: Sequence[datetime],
    tolerance_s: float,
    settings: DeviceSettings,
    ta_buffer: int,
    prior: DataFrame | None = None,
) -> DataFrame:
    """The HMM posterior of every device at the time points of each of its days
    (:func:`compute_device_days`' posteriors; per (device, time point) they sum to 1)."""
    return posteriors_of(
        compute_device_days(
            rows,
            connection_probability=connection_probability,
            grid=grid,
            settings=settings,
            ta_buffer=ta_buffer,
            time_points=time_points,
            tolerance_s=tolerance_s,
            prior=prior,
        )
    )
