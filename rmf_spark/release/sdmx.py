"""SDMX export of a released product: SDMX-CSV 2.0 data and its SDMX-ML 3.0 data structure.

SDMX (Statistical Data and Metadata eXchange, ISO 17369) is the format official statistics are
exchanged and disseminated in. A release writes, beside its Delta table, CSV and GeoParquet:

* ``<product>.sdmx.csv/``: one SDMX-CSV 2.0 file. Its first three columns are those of the
  format: ``STRUCTURE`` (``datastructure``), ``STRUCTURE_ID`` (``<agency>:DSD_<PRODUCT>(1.0)``)
  and ``ACTION`` (``I``: information); then one column per component of the data structure;
* ``<product>.dsd.xml``: an SDMX-ML 3.0 structure message holding that data structure
  definition (DSD), the concept scheme it uses (each concept's name, unit and type) and the
  code list of ``CONF_STATUS``.

From a released table to the DSD, for every product of :data:`rmf_spark.tables.PRODUCTS`:

* *dimensions* (what identifies a row) are the table's non-numeric columns, in upper case
  (``LEVEL``, ``AREA_ID``, ``METHOD``, ``ROLE``, ``TIME_BAND``, ``ORIGIN_AREA_ID``, ...), and
  last the time as ``TIME_PERIOD``: a time point as an ISO 8601 date-time with its offset
  (``2024-01-15T10:00:00Z``; sessions run in UTC), a day as a date (``2024-01-15``), a period
  ``period_start .. period_end`` as an SDMX time range, its first day and its length in days
  (``2024-01-15/P7D``);
* *measures* are the numeric columns, in upper case (``DEVICES``, ``POPULATION``,
  ``EXPANSION_FACTOR``, ``TRIPS``, ...); a suppressed row has them empty (measures are optional
  in SDMX 3.0);
* the attribute ``CONF_STATUS`` (per observation) replaces ``suppressed`` and
  ``suppression`` with the codes of SDMX's cross-domain code list of that name: ``F`` free,
  ``A`` primary confidentiality due to small counts (under the threshold k), ``D`` secondary
  confidentiality set by the sender (suppressed so that no primary cell can be recomputed).
  The OD margins' area code ``_T`` is SDMX's code of a total.

The rows are written by Spark (one CSV file, as the CSV export; a release may hold millions of
rows, which need not pass through the driver); the structure message by ``pysdmx`` (the BIS's
SDMX library), whose reader also checks, in the tests, the data against the structure.
Names and units of the columns are :data:`COLUMNS` here and ``docs/outputs.md`` for readers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NumericType,
    StructType,
    TimestampType,
)

from rmf_spark import lake
from rmf_spark.release.disclosure import SECONDARY, SUPPRESSED, SUPPRESSION
from rmf_spark.tables import Product

__all__ = [
    "ACTION",
    "COLUMNS",
    "CONF_STATUS",
    "CONF_STATUS_CODES",
    "DSD_VERSION",
    "STRUCTURE",
    "TIME_PERIOD",
    "SdmxComponent",
    "data_structure",
    "sdmx_rows",
    "structure_id",
    "structure_message",
    "write_sdmx",
]

#: version of every data structure written here: raise it when a product's columns change
DSD_VERSION = "1.0"
#: SDMX-CSV 2.0's first columns: what the row refers to and what the receiver should do with it
STRUCTURE, STRUCTURE_ID, ACTION_COLUMN = "STRUCTURE", "STRUCTURE_ID", "ACTION"
#: the rows are data described by a data structure, given for information
STRUCTURE_KIND, ACTION = "datastructure", "I"
TIME_PERIOD = "TIME_PERIOD"
CONF_STATUS = "CONF_STATUS"
#: the codes of SDMX's cross-domain code list CL_CONF_STATUS that a release uses
FREE, SMALL_COUNTS, SECONDARY_CONFIDENTIALITY = "F", "A", "D"
CONF_STATUS_CODES = {
    FREE: "Free (free for publication)",
    SMALL_COUNTS: "Primary confidentiality due to small counts",
    SECONDARY_CONFIDENTIALITY: "Secondary confidentiality set by the sender, not for publication",
}

#: name and unit of each released column (``docs/outputs.md`` says more)
COLUMNS: dict[str, tuple[str, str]] = {
    "time_point": ("Time point", "instant, UTC"),
    "date": ("Day", "date"),
    "period_start": ("First day of the period", "date"),
    "period_end": ("Last day of the period", "date"),
    "level": ("Area level: 100m, 1km (INSPIRE grid), zone_<n> (zones of level n)", "code"),
    "area_id": ("Area: INSPIRE grid code or zone id", "code"),
    "origin_area_id": ("Area where the trips start (_T: all areas of the level)", "code"),
    "destination_area_id": ("Area where the trips end (_T: all areas of the level)", "code"),
    "method": ("Estimator", "code"),
    "role": ("Role: home (residents) or work (workers)", "code"),
    "time_band": ("Time band of the trips' start", "code"),
    "country_of_origin": ("Country of the visitors' SIM (ISO 3166 alpha-2)", "code"),
    "country_of_destination": ("Country visited (ISO 3166 alpha-2)", "code"),
    "indicator": (
        "What a row counts (visitors, arrivals, departures, nights, stays, trips)",
        "code",
    ),
    "devices": ("Devices (estimated; fractional)", "devices"),
    "population": ("Population: devices times the expansion factor", "persons"),
    "expansion_factor": ("Expansion factor: population / devices", "persons per device"),
    "devices_lower": ("Devices, lower bound of the interval", "devices"),
    "devices_upper": ("Devices, upper bound of the interval", "devices"),
    "population_lower": ("Population, lower bound of the interval", "persons"),
    "population_upper": ("Population, upper bound of the interval", "persons"),
    "trips": ("Trips of devices (fractional)", "trips"),
    "person_trips": ("Trips of persons: trips times the expansion factor", "trips"),
}

_TEXT_TYPES = {
    DoubleType(): "Double",
    FloatType(): "Float",
    LongType(): "Long",
    IntegerType(): "Integer",
}


@dataclass(frozen=True)
class SdmxComponent:
    """One component of a product's data structure.

    Attributes
    ----------
    id
        Its SDMX id (the column of the SDMX-CSV file).
    role
        ``D`` dimension, ``M`` measure, ``A`` attribute.
    text_type
        Its SDMX type (``String``, ``Double``, ``DateTime``, ``GregorianDay``,
        ``ObservationalTimePeriod``, ...).
    name
        What it is, with its unit (``Devices (estimated; fractional) [devices]``).
    columns
        The released columns it is computed from.
    """

    id: str
    role: str
    text_type: str
    name: str
    columns: tuple[str, ...]


def _named(column: str) -> str:
    name, unit = COLUMNS.get(column, (column, ""))
    return f"{name} [{unit}]" if unit else name


def _time_columns(product: Product) -> tuple[str, ...]:
    """The columns of the product's time: its time column, or the first and last day of a
    table keyed by periods (``period_start, period_end``)."""
    schema = product.released.schema
    keys = product.released.keys
    if len(keys) == 2 and all(isinstance(schema[k].dataType, DateType) for k in keys):
        return tuple(keys)
    return (product.time_column,)


def data_structure(product: Product) -> tuple[SdmxComponent, ...]:
    """The components of ``product``'s data structure, in the order of the SDMX-CSV columns:
    dimensions (``TIME_PERIOD`` last), measures, ``CONF_STATUS``.

    >>> from rmf_spark.tables import product
    >>> ids = [c.id for c in data_structure(product("residents"))]
    >>> ids[:4]
    ['ROLE', 'LEVEL', 'AREA_ID', 'TIME_PERIOD']
    >>> ids[4:]
    ['DEVICES', 'POPULATION', 'EXPANSION_FACTOR', 'CONF_STATUS']
    """
    schema: StructType = product.released.schema
    time = _time_columns(product)
    flags = (SUPPRESSED, SUPPRESSION)
    dims, measures = [], []
    for field in schema.fields:
        if field.name in (*time, *flags):
            continue
        numeric = isinstance(field.dataType, NumericType)
        component = SdmxComponent(
            field.name.upper(),
            "M" if numeric else "D",
            _TEXT_TYPES.get(field.dataType, "Decimal") if numeric else "String",
            _named(field.name),
            (field.name,),
        )
        (measures if numeric else dims).append(component)
    if len(time) == 2:
        time_type, time_name = "ObservationalTimePeriod", "Period: first day / length in days"
    elif isinstance(schema[time[0]].dataType, TimestampType):
        time_type, time_name = "DateTime", _named(time[0])
    else:
        time_type, time_name = "GregorianDay", _named(time[0])
    conf = SdmxComponent(CONF_STATUS, "A", "String", "Confidentiality status", flags)
    return (
        *dims,
        SdmxComponent(TIME_PERIOD, "D", time_type, time_name, time),
        *measures,
        conf,
    )


def structure_id(product: Product, *, agency: str) -> str:
    """``<agency>:DSD_<PRODUCT>(<version>)``, the ``STRUCTURE_ID`` of the SDMX-CSV rows."""
    return f"{agency}:{_dsd_id(product)}({DSD_VERSION})"


def _dsd_id(product: Product) -> str:
    return f"DSD_{product.name.upper()}"


def _value(component: SdmxComponent) -> Column:
    """The expression of a component over the released table."""
    if component.id == CONF_STATUS:
        return (
            F.when(~F.col(SUPPRESSED), F.lit(FREE))
            .when(F.col(SUPPRESSION) == SECONDARY, F.lit(SECONDARY_CONFIDENTIALITY))
            .otherwise(F.lit(SMALL_COUNTS))
        )
    if component.text_type == "ObservationalTimePeriod":
        first, last = component.columns
        days = F.datediff(F.col(last), F.col(first)) + 1
        return F.concat(F.date_format(first, "yyyy-MM-dd"), F.lit("/P"), days, F.lit("D"))
    if component.text_type == "DateTime":
        return F.date_format(component.columns[0], "yyyy-MM-dd'T'HH:mm:ssXXX")
    if component.text_type == "GregorianDay":
        return F.date_format(component.columns[0], "yyyy-MM-dd")
    return F.col(component.columns[0])


def sdmx_rows(released: DataFrame, *, product: Product, agency: str) -> DataFrame:
    """The rows of ``released`` (a product's released table) as SDMX-CSV 2.0 columns:
    ``STRUCTURE, STRUCTURE_ID, ACTION`` then :func:`data_structure`'s components."""
    return released.select(
        F.lit(STRUCTURE_KIND).alias(STRUCTURE),
        F.lit(structure_id(product, agency=agency)).alias(STRUCTURE_ID),
        F.lit(ACTION).alias(ACTION_COLUMN),
        *[_value(c).alias(c.id) for c in data_structure(product)],
    )


def structure_message(product: Product, *, agency: str) -> str:
    """The SDMX-ML 3.0 structure message of ``product``: the code list of ``CONF_STATUS``,
    the concept scheme ``CS_<PRODUCT>`` and the data structure ``DSD_<PRODUCT>``, all
    maintained by ``agency``, version :data:`DSD_VERSION`."""
    from pysdmx.io import write_sdmx as pysdmx_write
    from pysdmx.io.format import Format
    from pysdmx.model import (
        Code,
        Codelist,
        Component,
        Components,
        Concept,
        ConceptScheme,
        DataStructureDefinition,
        DataType,
        Organisation,
        Role,
    )
    from pysdmx.model.message import Header

    name = product.name.replace("_", " ")
    codes = Codelist(
        id=f"CL_{CONF_STATUS}",
        agency=agency,
        version=DSD_VERSION,
        name="Confidentiality status (the codes of SDMX's CL_CONF_STATUS a release uses)",
        items=[Code(id=k, name=v) for k, v in CONF_STATUS_CODES.items()],
    )
    scheme_id = f"CS_{product.name.upper()}"
    urn = f"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept={agency}:{scheme_id}({DSD_VERSION})"
    concepts = {
        c.id: Concept(
            id=c.id,
            name=c.name,
            dtype=DataType(c.text_type),
            codes=codes if c.id == CONF_STATUS else None,
            urn=f"{urn}.{c.id}",
        )
        for c in data_structure(product)
    }
    roles = {"D": Role.DIMENSION, "M": Role.MEASURE, "A": Role.ATTRIBUTE}
    components = Components(
        [
            Component(
                id=c.id,
                required=c.role != "M",  # a suppressed value is empty
                role=roles[c.role],
                concept=concepts[c.id],
                local_codes=codes if c.id == CONF_STATUS else None,
                attachment_level="O" if c.role == "A" else None,
            )
            for c in data_structure(product)
        ]
    )
    dsd = DataStructureDefinition(
        id=_dsd_id(product),
        agency=agency,
        version=DSD_VERSION,
        name=f"rmf_spark {name}, as released (disclosure control applied)",
        components=components,
    )
    scheme = ConceptScheme(
        id=scheme_id,
        agency=agency,
        version=DSD_VERSION,
        name=f"Concepts of the rmf_spark {name} release",
        items=list(concepts.values()),
    )
    header = Header(sender=Organisation(id=agency))
    text = pysdmx_write([codes, scheme, dsd], Format.STRUCTURE_SDMX_ML_3_0, header=header)
    assert text is not None  # no output path: the message is returned
    return text


def write_sdmx(
    spark: SparkSession,
    released: DataFrame,
    *,
    product: Product,
    agency: str,
    data_uri: str,
    structure_uri: str,
) -> None:
    """Write the SDMX-CSV file (one file in the directory ``data_uri``: RFC 4180 quoting,
    empty for null) and the structure message (the file ``structure_uri``)."""
    lake.write_files(
        sdmx_rows(released, product=product, agency=agency),
        data_uri,
        fmt="csv",
        options={"header": "true", "escape": '"', "nullValue": ""},
    )
    lake.write_text(spark, structure_uri, structure_message(product, agency=agency))
