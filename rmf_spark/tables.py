"""The table catalog: every Delta table of the lake, declared once.

A :class:`TableSpec` names a table (``layer/name``), points to its schema (declared next to
the code that owns it), and says how it is partitioned, whether it is per MNO or shared, and
how a run writes it, i.e. what a rerun replaces (:attr:`TableSpec.keys`):

* ``overwrite``: the whole table, in one commit;
* ``replace``: the rows of the keys the run covers (a date, a time range: Delta
  ``replaceWhere`` on those columns), in one commit;
* ``insert``: rows for keys not yet in the table are added in one commit, the rows of a key
  present are never written again (``cell_footprint``: a footprint version is computed once).

So a stage killed between two writes leaves every table either as before or as a clean run
would, and the rerun completes it (``tests/reliability``). Stage runners read and write only
through the catalog; :mod:`rmf_spark.lake` holds the low-level I/O. ``docs/tables.md`` lists
the same tables (a test keeps the two equal). A :class:`Product` is an S-layer statistic the
release and the evaluation handle generically: its estimates table, its released table and
its key columns.

Examples
--------
>>> from rmf_spark.config import RmfConfig
>>> cfg = RmfConfig.model_validate({"lake": {"root": "s3a://bucket/lake"}})
>>> EVENTS.path(cfg, mno="mno_a")
's3a://bucket/lake/mno_a/bronze/events'
>>> GRID.path(cfg)
's3a://bucket/lake/shared/clayer/grid'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from rmf_spark import lake
from rmf_spark.clayer import schemas as C
from rmf_spark.config import RmfConfig
from rmf_spark.dlayer import schemas as D
from rmf_spark.errors import InputDataError, RmfError, SchemaMismatchError
from rmf_spark.release.schemas import RELEASED_PRESENT_POPULATION_SCHEMA, released_schema
from rmf_spark.slayer.aggregate.schemas import DEVICES, MARKET_SHARE_SCHEMA, POPULATION
from rmf_spark.slayer.device import schemas as DV
from rmf_spark.slayer.mobility import od as OD
from rmf_spark.slayer.mobility import trips as TR
from rmf_spark.slayer.present_population import schemas as PP
from rmf_spark.slayer.tourism import schemas as TO
from rmf_spark.slayer.usual_environment import schemas as UE

__all__ = [
    "CATALOG",
    "PRODUCTS",
    "Pinned",
    "Product",
    "TableSpec",
    "exports_root",
    "product",
    "read_pinned",
    "require",
]

WriteMode = Literal["overwrite", "replace", "insert"]


@dataclass(frozen=True)
class TableSpec:
    """One Delta table of the lake: where it lives, its schema and how a run writes it.

    Attributes
    ----------
    layer, name
        ``<lake.root>/<mno>/<layer>/<name>`` (``shared`` instead of the MNO if ``shared``).
    schema
        Its columns, declared by the module that owns the table.
    written_by
        The command that writes it (named when it is missing).
    partition_by
        Partition columns.
    shared
        One table for every MNO (grid, zones) rather than one per MNO.
    keys
        What a rerun replaces: the columns of ``replace_where`` (``replace``) or of a row's
        identity (``insert``); empty for ``overwrite`` (the whole table).
    write_mode
        ``overwrite``, ``replace`` or ``insert`` (module notes).
    properties
        Delta table properties set when a write creates the table.
    """

    layer: str
    name: str
    schema: StructType
    written_by: str
    partition_by: tuple[str, ...] = ()
    shared: bool = False
    keys: tuple[str, ...] = ()
    write_mode: WriteMode = "overwrite"
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """``layer/name``, e.g. ``clayer/grid``: unique in the catalog."""
        return f"{self.layer}/{self.name}"

    def path(self, cfg: RmfConfig, *, mno: str | None = None) -> str:
        """URI of the table (``mno`` is ignored for a shared table).

        Reference tables live in ``convergence.reference_dir`` when it is set.
        """
        if self.layer == "reference" and cfg.convergence.reference_dir:
            return lake.uri_join(cfg.convergence.reference_dir, self.name)
        if not self.shared and mno is None:
            raise ValueError(f"table {self.id} is per MNO: give mno=")
        return lake.table_path(cfg, self.layer, self.name, mno=None if self.shared else mno)

    def exists(self, spark: SparkSession, cfg: RmfConfig, *, mno: str | None = None) -> bool:
        """True when the table has been written."""
        return lake.table_exists(spark, self.path(cfg, mno=mno))

    def version(self, spark: SparkSession, cfg: RmfConfig, *, mno: str | None = None) -> int:
        """The table's current Delta version."""
        return lake.delta_version(spark, self.path(cfg, mno=mno))

    def read(
        self,
        spark: SparkSession,
        cfg: RmfConfig,
        *,
        mno: str | None = None,
        version: int | None = None,
    ) -> DataFrame:
        """The table, at ``version`` if given (Delta time travel)."""
        return lake.read_delta(spark, self.path(cfg, mno=mno), version=version)

    def write(
        self,
        df: DataFrame,
        cfg: RmfConfig,
        *,
        mno: str | None = None,
        replace_where: str | None = None,
        metadata: str | None = None,
    ) -> None:
        """Write ``df`` in one Delta commit, as :attr:`write_mode` says.

        ``replace_where`` (``replace`` tables only, and required there) is the SQL predicate
        on :attr:`keys` selecting the rows replaced. ``metadata`` is recorded in the commit.

        Raises
        ------
        ValueError
            ``replace_where`` is missing for a ``replace`` table, does not name its keys, or
            is given for another kind.
        rmf_spark.errors.SchemaMismatchError
            The table exists with other columns (written by an earlier version).
        """
        if self.write_mode == "replace":
            missing = [k for k in self.keys if not re.search(rf"\b{k}\b", replace_where or "")]
            if missing:
                raise ValueError(
                    f"table {self.id}: replace_where {replace_where!r} must select its keys "
                    f"{list(self.keys)} (missing {missing})"
                )
        elif replace_where is not None:
            raise ValueError(f"table {self.id} is written by {self.write_mode}: no replace_where")
        path = self.path(cfg, mno=mno)
        try:
            lake.write_delta(
                df,
                path,
                partition_by=self.partition_by,
                replace_where=replace_where,
                mode="append" if self.write_mode == "insert" else "overwrite",
                properties=dict(self.properties),
                metadata=metadata,
            )
        except AnalysisException as e:
            if "DELTA_METADATA_MISMATCH" not in str(e):
                raise
            stored = lake.read_delta(df.sparkSession, path).schema.simpleString()
            raise SchemaMismatchError(
                f"table {self.id} at {path} holds {stored}, but this version of rmf_spark "
                f"writes {df.schema.simpleString()}: the table was written by an earlier "
                f"version. Move it aside (or delete it) and rerun `{self.written_by}` for "
                "the dates it held."
            ) from None

    def commit_metadata(
        self, spark: SparkSession, cfg: RmfConfig, *, mno: str | None = None, version: int
    ) -> str | None:
        """The metadata recorded by the commit of ``version`` (:meth:`write`)."""
        return lake.commit_metadata(spark, self.path(cfg, mno=mno), version)


def require(
    spark: SparkSession, cfg: RmfConfig, specs: Iterable[TableSpec], *, mno: str | None = None
) -> None:
    """Check that every table of ``specs`` exists.

    Raises
    ------
    rmf_spark.errors.InputDataError
        Code ``INPUT_TABLE_MISSING``, naming the first missing table, its path and the command
        that writes it.
    """
    for spec in specs:
        path = spec.path(cfg, mno=mno)
        if not lake.table_exists(spark, path):
            who = "" if spec.shared or mno is None else f" for {mno}"
            also = " (or set convergence.reference_dir)" if spec.layer == "reference" else ""
            raise InputDataError(
                f"table {spec.id} not found at {path}: run `{spec.written_by}`{who}{also}",
                code="INPUT_TABLE_MISSING",
            )


class Pinned(NamedTuple):
    """Tables read at one Delta version each, with those versions and paths (the lineage)."""

    tables: dict[str, DataFrame]
    versions: dict[str, int]
    paths: dict[str, str]


def read_pinned(
    spark: SparkSession, cfg: RmfConfig, specs: Mapping[str, TableSpec], *, mno: str
) -> Pinned:
    """Read each of ``specs`` (keyed by the caller's names) at its current version, recorded.

    Whatever is committed meanwhile, the stage reads the versions it recorded.

    Raises
    ------
    rmf_spark.errors.InputDataError
        A table is missing (:func:`require`).
    """
    require(spark, cfg, specs.values(), mno=mno)
    paths = {n: s.path(cfg, mno=mno) for n, s in specs.items()}
    versions = {n: lake.delta_version(spark, p) for n, p in paths.items()}
    tables = {n: lake.read_delta(spark, p, version=versions[n]) for n, p in paths.items()}
    return Pinned(tables, versions, paths)


def exports_root(cfg: RmfConfig, *, mno: str) -> str:
    """Where the release writes its files (CSV, GeoParquet, manifest) by default:
    ``<lake.root>/<mno>/release/exports``, next to the released tables."""
    return lake.table_path(cfg, "release", "exports", mno=mno)


_INGEST = "rmf ingest"
_INGEST_CELLS = "rmf ingest-cells"
_CONVERGENCE = "rmf convergence"
_PRESENT_POPULATION = "rmf statistics present-population"
_DEVICE = "rmf statistics device"
_OD = "rmf statistics od"
_UE = "rmf statistics usual-environment"
_TOURISM_IN = "rmf statistics tourism-inbound"
_TOURISM_OUT = "rmf statistics tourism-outbound"
_RELEASE = "rmf release"
_SYNTH = "rmf synth"
_DAY = ("date",)


def _by_date(
    layer: str, name: str, schema: StructType, written_by: str, partition_by: tuple[str, ...]
) -> TableSpec:
    """A per-MNO table of which a run replaces the rows of its date (or dates)."""
    return TableSpec(
        layer, name, schema, written_by, partition_by=partition_by, keys=_DAY, write_mode="replace"
    )


# --- D-layer: bronze and quality (docs/bronze.md) --------------------------------------------
EVENTS = TableSpec(
    "bronze",
    "events",
    D.EVENTS_SCHEMA,
    _INGEST,
    partition_by=D.EVENTS_PARTITION_COLS,
    keys=_DAY,
    write_mode="replace",
    properties=tuple(D.EVENTS_PROPERTIES.items()),
)
QUARANTINE = _by_date(
    "bronze", "quarantine", D.QUARANTINE_SCHEMA, _INGEST, D.QUARANTINE_PARTITION_COLS
)
LOAD_AUDIT = _by_date(
    "bronze", "load_audit", D.LOAD_AUDIT_SCHEMA, _INGEST, D.LOAD_AUDIT_PARTITION_COLS
)
LOAD_METRICS = _by_date(
    "quality", "load_metrics", D.QUALITY_METRICS_SCHEMA, _INGEST, D.QUALITY_METRICS_PARTITION_COLS
)
QUALITY_WARNINGS = _by_date(
    "quality", "warnings", D.QUALITY_WARNINGS_SCHEMA, _INGEST, D.QUALITY_WARNINGS_PARTITION_COLS
)
CELLS = TableSpec("bronze", "cells", D.CELLS_SCHEMA, _INGEST_CELLS)
CELLS_QUARANTINE = TableSpec("bronze", "cells_quarantine", D.CELLS_QUARANTINE_SCHEMA, _INGEST_CELLS)
CELLS_AUDIT = TableSpec("bronze", "cells_audit", D.CELLS_AUDIT_SCHEMA, _INGEST_CELLS)

# --- reference inputs (a synthetic world's DIR/reference, or the statistical office's) --------
TERRITORY = TableSpec("reference", "territory", C.TERRITORY, _SYNTH, shared=True)
ZONES = TableSpec("reference", "zones", C.ZONES, _SYNTH, shared=True)
LAND_USE = TableSpec("reference", "land_use", C.LAND_USE, _SYNTH, shared=True)
MARKET_SHARE = TableSpec("reference", "market_share", MARKET_SHARE_SCHEMA, _SYNTH, shared=True)
#: public holidays (``date, name``): the day types of the usual environment
HOLIDAYS = TableSpec("reference", "holidays", C.HOLIDAYS, _SYNTH, shared=True)
#: the statistical office's register (``zone_id, zone_level, residents``): the calibration
REGISTER = TableSpec("reference", "register", C.REGISTER, _SYNTH, shared=True)
#: each origin country's share of visitors on each MNO: the expansion of inbound tourism
INBOUND_SHARE = TableSpec(
    "reference", "inbound_share", TO.INBOUND_SHARE_SCHEMA, _SYNTH, shared=True
)

# --- C-layer (docs/c-layer.md) ----------------------------------------------------------------
GRID = TableSpec("clayer", "grid", C.GRID, _CONVERGENCE, shared=True)
TILE_ZONE = TableSpec(
    "clayer",
    "tile_zone",
    C.TILE_ZONE,
    _CONVERGENCE,
    partition_by=C.TILE_ZONE_PARTITIONS,
    shared=True,
)
CELL_VERSION = TableSpec("clayer", "cell_version", C.CELL_VERSION, _CONVERGENCE)
CELL_FOOTPRINT = TableSpec(
    "clayer",
    "cell_footprint",
    C.CELL_FOOTPRINT,
    _CONVERGENCE,
    keys=(C.CELL_ID, C.FOOTPRINT_VERSION),
    write_mode="insert",
)
CONNECTION_PROBABILITY = _by_date(
    "clayer",
    "connection_probability",
    C.CONNECTION_PROBABILITY,
    _CONVERGENCE,
    C.CONNECTION_PROBABILITY_PARTITIONS,
)
EVENT_LOCATION = _by_date(
    "clayer", "event_location", C.EVENT_LOCATION, _CONVERGENCE, C.EVENT_LOCATION_PARTITIONS
)
CLEANING_METRICS = _by_date(
    "clayer", "cleaning_metrics", C.CLEANING_METRICS, _CONVERGENCE, C.CLEANING_METRICS_PARTITIONS
)
#: the ``[convergence]`` settings each date was computed with (:mod:`rmf_spark.clayer.parameters`)
CONVERGENCE_PARAMETERS = _by_date(
    "clayer", "convergence_parameters", C.CONVERGENCE_PARAMETERS, _CONVERGENCE, _DAY
)

# --- S-layer and release (docs/present-population.md) ----------------------------------------
PRESENT_POPULATION = TableSpec(
    "slayer",
    "present_population",
    PP.PRESENT_POPULATION_SCHEMA,
    _PRESENT_POPULATION,
    keys=(PP.TIME_POINT,),
    write_mode="replace",
)
REACH_CALIBRATION = _by_date(
    "slayer", "reach_calibration", PP.REACH_OFFSETS_SCHEMA, _PRESENT_POPULATION, _DAY
)


# --- S-layer, device level (docs/device-inference.md): personal data, never released ---------
def _device_table(name: str, schema: StructType) -> TableSpec:
    return _by_date("slayer", name, DV.with_table_columns(schema), _DEVICE, DV.DEVICE_PARTITIONS)


TIME_SEGMENTS = _device_table("time_segments", DV.SEGMENTS_SCHEMA)
DAILY_PERMANENCE = _device_table("daily_permanence", DV.PERMANENCE_SCHEMA)
LOCATION_POSTERIOR = _device_table("location_posterior", DV.POSTERIOR_TABLE_SCHEMA)
DEVICE_DAY = _device_table("device_day", DV.DEVICE_DAY_SCHEMA)
#: per date, counts of the device-days of each status and of the segments of each state
DEVICE_METRICS = _by_date("slayer", "device_metrics", C.CLEANING_METRICS, _DEVICE, _DAY)

# --- S-layer, mobility (docs/mobility.md) ------------------------------------------------------
#: trips between stays, per device (personal data, never released), by the departure's day
TRIPS = _by_date(
    "slayer", "trips", DV.with_table_columns(TR.TRIPS_SCHEMA), _OD, DV.DEVICE_PARTITIONS
)
#: trips per day, time band and pair of areas, expanded to persons
OD_MATRIX = _by_date("slayer", "od_matrix", OD.OD_SCHEMA, _OD, _DAY)


# --- S-layer, usual environment (docs/usual-environment.md) ----------------------------------
def _period_table(name: str, schema: StructType, *, devices: bool) -> TableSpec:
    parts = UE.DEVICE_PERIOD_PARTITIONS if devices else (UE.PERIOD_START,)
    return TableSpec(
        "slayer", name, schema, _UE, partition_by=parts, keys=UE.PERIOD_KEYS, write_mode="replace"
    )


MIDTERM_PERMANENCE = _period_table("midterm_permanence", UE.MIDTERM_PERMANENCE_SCHEMA, devices=True)
MIDTERM_OBSERVATION = _period_table(
    "midterm_observation", UE.MIDTERM_OBSERVATION_SCHEMA, devices=True
)
UE_LABELS = _period_table("usual_environment_labels", UE.LABELS_SCHEMA, devices=True)
UE_LABEL_STATUS = _period_table("label_status", UE.LABEL_STATUS_SCHEMA, devices=True)
RESIDENTS = _period_table("residents", UE.RESIDENTS_SCHEMA, devices=False)
CALIBRATED_RESIDENTS = _period_table(
    "calibrated_residents", UE.CALIBRATED_RESIDENTS_SCHEMA, devices=False
)


# --- S-layer, tourism (docs/mobility.md section 7) ---------------------------------------------
def _device_period_table(name: str, schema: StructType, written_by: str) -> TableSpec:
    return TableSpec(
        "slayer",
        name,
        schema,
        written_by,
        partition_by=UE.DEVICE_PERIOD_PARTITIONS,
        keys=UE.PERIOD_KEYS,
        write_mode="replace",
    )


#: inbound visits per device and period (personal data, never released)
INBOUND_VISITS = _device_period_table("inbound_visits", TO.INBOUND_VISITS_SCHEMA, _TOURISM_IN)
#: inbound visitors, arrivals, departures, nights and stays per day, origin country and area
INBOUND_TOURISM = _by_date(
    "slayer", "inbound_tourism", TO.INBOUND_TOURISM_SCHEMA, _TOURISM_IN, _DAY
)
#: trips abroad per device, destination and period (personal data, never released)
OUTBOUND_TRIPS = _device_period_table("outbound_trips", TO.OUTBOUND_TRIPS_SCHEMA, _TOURISM_OUT)
#: trips and nights abroad per day, destination country and home area
OUTBOUND_TOURISM = _by_date(
    "slayer", "outbound_tourism", TO.OUTBOUND_TOURISM_SCHEMA, _TOURISM_OUT, _DAY
)

RELEASED_PRESENT_POPULATION = TableSpec(
    "release",
    "present_population",
    RELEASED_PRESENT_POPULATION_SCHEMA,
    _RELEASE,
    keys=(PP.TIME_POINT,),
    write_mode="replace",
)
#: residents and workers per area, as released (``residents`` with disclosure control)
RELEASED_RESIDENTS = TableSpec(
    "release",
    "residents",
    released_schema(UE.RESIDENTS_SCHEMA),
    _RELEASE,
    partition_by=(UE.PERIOD_START,),
    keys=UE.PERIOD_KEYS,
    write_mode="replace",
)
#: OD cells and their margins (``_T``) per day and time band, as released
RELEASED_OD_MATRIX = _by_date("release", "od_matrix", released_schema(OD.OD_SCHEMA), _RELEASE, _DAY)
#: inbound and outbound tourism indicators per day, country and area, as released
RELEASED_INBOUND_TOURISM = _by_date(
    "release", "inbound_tourism", released_schema(TO.INBOUND_TOURISM_SCHEMA), _RELEASE, _DAY
)
RELEASED_OUTBOUND_TOURISM = _by_date(
    "release", "outbound_tourism", released_schema(TO.OUTBOUND_TOURISM_SCHEMA), _RELEASE, _DAY
)

#: every table, by id (``layer/name``)
CATALOG: dict[str, TableSpec] = {
    s.id: s
    for s in (
        EVENTS,
        QUARANTINE,
        LOAD_AUDIT,
        LOAD_METRICS,
        QUALITY_WARNINGS,
        CELLS,
        CELLS_QUARANTINE,
        CELLS_AUDIT,
        TERRITORY,
        ZONES,
        LAND_USE,
        MARKET_SHARE,
        HOLIDAYS,
        REGISTER,
        GRID,
        TILE_ZONE,
        CELL_VERSION,
        CELL_FOOTPRINT,
        CONNECTION_PROBABILITY,
        EVENT_LOCATION,
        CLEANING_METRICS,
        CONVERGENCE_PARAMETERS,
        PRESENT_POPULATION,
        REACH_CALIBRATION,
        TIME_SEGMENTS,
        DAILY_PERMANENCE,
        LOCATION_POSTERIOR,
        DEVICE_DAY,
        DEVICE_METRICS,
        TRIPS,
        OD_MATRIX,
        MIDTERM_PERMANENCE,
        MIDTERM_OBSERVATION,
        UE_LABELS,
        UE_LABEL_STATUS,
        RESIDENTS,
        CALIBRATED_RESIDENTS,
        INBOUND_SHARE,
        INBOUND_VISITS,
        INBOUND_TOURISM,
        OUTBOUND_TRIPS,
        OUTBOUND_TOURISM,
        RELEASED_PRESENT_POPULATION,
        RELEASED_RESIDENTS,
        RELEASED_OD_MATRIX,
        RELEASED_INBOUND_TOURISM,
        RELEASED_OUTBOUND_TOURISM,
    )
}


@dataclass(frozen=True)
class Product:
    """An S-layer statistic that the release and the evaluation handle generically.

    Its rows are keyed by ``group_columns`` plus ``level, area_id`` and measured by
    ``value_columns`` (``devices``, ``population``; ``expansion_factor`` goes with them, see
    :mod:`rmf_spark.slayer.aggregate.schemas`), or, for a matrix of flows, by ``group_columns``
    plus ``level, origin_area_id, destination_area_id`` (:mod:`rmf_spark.release.flows`).

    Attributes
    ----------
    name
        The product's name (``rmf release --product``).
    estimates
        Its S-layer table (one row per estimator in ``method_column``).
    released
        Its release table (the estimates' columns plus ``suppressed``, ``suppression``).
    time_column
        The column a release's ``[start, end]`` selects (and replaces).
    method_column
        The estimator of a row; the release keeps ``release.method``. None: one estimator.
    group_columns
        Key columns besides the areas: disclosure control runs once per group.
    truth_tables
        Tables of a synthetic world's ``truth`` directory the evaluation compares with.
    value_columns
        The released values: a row is under the threshold when its smallest is under k.
    flows
        An origin-destination matrix, released with its margins.
    """

    name: str
    estimates: TableSpec
    released: TableSpec
    time_column: str
    method_column: str | None
    group_columns: tuple[str, ...]
    truth_tables: tuple[str, ...] = ()
    value_columns: tuple[str, ...] = (DEVICES, POPULATION)
    flows: bool = False


PRODUCTS: dict[str, Product] = {
    "present_population": Product(
        name="present_population",
        estimates=PRESENT_POPULATION,
        released=RELEASED_PRESENT_POPULATION,
        time_column=PP.TIME_POINT,
        method_column=PP.METHOD,
        group_columns=(PP.TIME_POINT, PP.METHOD),
        truth_tables=("present_devices", "present_population"),
    ),
    "residents": Product(
        name="residents",
        estimates=RESIDENTS,
        released=RELEASED_RESIDENTS,
        time_column=UE.PERIOD_START,
        method_column=None,
        group_columns=(UE.PERIOD_START, UE.PERIOD_END, UE.ROLE),
    ),
    "od": Product(
        name="od",
        estimates=OD_MATRIX,
        released=RELEASED_OD_MATRIX,
        time_column=C.DATE,
        method_column=None,
        group_columns=(C.DATE, TR.TIME_BAND),
        value_columns=(OD.TRIPS, OD.PERSON_TRIPS),
        flows=True,
    ),
    "tourism_inbound": Product(
        name="tourism_inbound",
        estimates=INBOUND_TOURISM,
        released=RELEASED_INBOUND_TOURISM,
        time_column=C.DATE,
        method_column=None,
        group_columns=(C.DATE, TO.COUNTRY_OF_ORIGIN, TO.INDICATOR),
    ),
    "tourism_outbound": Product(
        name="tourism_outbound",
        estimates=OUTBOUND_TOURISM,
        released=RELEASED_OUTBOUND_TOURISM,
        time_column=C.DATE,
        method_column=None,
        group_columns=(C.DATE, TO.COUNTRY_OF_DESTINATION, TO.INDICATOR),
    ),
}


def product(name: str) -> Product:
    """The product called ``name``.

    Raises
    ------
    rmf_spark.errors.RmfError
        No such product (code ``UNKNOWN_PRODUCT``, listing the known ones).
    """
    if name not in PRODUCTS:
        raise RmfError(f"no product {name!r} (known: {sorted(PRODUCTS)})", code="UNKNOWN_PRODUCT")
    return PRODUCTS[name]
