"""Stage runner of the release: an S-layer product -> disclosure control -> Delta and exports.

The only place of ``rmf_spark.release`` that reads or writes. ``rmf release`` and
``jobs/release.py`` call :func:`run_release`, for any product of the catalog
(:data:`rmf_spark.tables.PRODUCTS`): the product's table spec and key columns say what is read,
which rows are released and how disclosure control groups them.

Crash safety: the released table is replaced (the time range, one commit); the manifest of the
previous release in the export directory is deleted, the exports rewritten, and the manifest
written last. A manifest present therefore describes complete exports; a run killed before it
leaves none, and the rerun writes everything again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType

from rmf_spark import lake, tables
from rmf_spark.config import RmfConfig
from rmf_spark.release import method_card
from rmf_spark.release.disclosure import (
    CHILD_LEVEL,
    SUPPRESSED,
    SUPPRESSION,
    apply_disclosure_control,
)
from rmf_spark.release.export import (
    area_geometries,
    with_flow_geometry,
    with_geometry,
    write_csv,
    write_geoparquet,
    zone_centroids,
)
from rmf_spark.release.flows import release_flows, zone_nesting
from rmf_spark.release.hierarchy import build_hierarchy
from rmf_spark.release.manifest import build_manifest, output_checksums, write_manifest
from rmf_spark.release.sdmx import write_sdmx
from rmf_spark.release.settings import ReleaseSettings
from rmf_spark.slayer.aggregate.schemas import AREA_ID, LEVEL
from rmf_spark.tables import Product
from rmf_spark.timerange import date_range_predicate, time_range_predicate

__all__ = ["release_estimates", "run_release"]

log = logging.getLogger(__name__)

#: the input name of the configured zone polygons (``release.zones_table``) in the manifest
_ZONES = "reference/zones"


def release_estimates(
    estimates: DataFrame, *, product: Product, hierarchy: DataFrame, settings: ReleaseSettings
) -> DataFrame:
    """The releasable rows of a product's estimates: one method, disclosure control applied.

    Parameters
    ----------
    estimates
        Rows of ``product.estimates`` (e.g. S-layer ``present_population``).
    product
        The product (:data:`rmf_spark.tables.PRODUCTS`): its columns, its method column and the
        key columns disclosure control groups by.
    hierarchy
        :func:`rmf_spark.release.hierarchy.build_hierarchy` edges (for a matrix of flows,
        only its zone-to-zone edges are used: the nesting of the zone levels).
    settings
        ``[release]``: ``method`` (estimator released), ``k``, ``secondary_suppression``.

    Returns
    -------
    DataFrame
        The product's columns plus ``suppressed``, ``suppression``; suppressed rows have null
        values (``devices``, ``population``, ``expansion_factor``). A matrix of flows gains its
        margins (:func:`rmf_spark.release.flows.protect_flows`).
    """
    cols = [f.name for f in product.estimates.schema]
    chosen = estimates.select(*cols)
    if product.method_column is not None:
        chosen = chosen.where(F.col(product.method_column) == settings.method)
    if product.flows:
        return release_flows(
            chosen,
            group_columns=product.group_columns,
            value_columns=product.value_columns,
            nesting=zone_nesting(
                hierarchy.where(F.col(CHILD_LEVEL).startswith("zone_")).toPandas(),
                [r[0] for r in chosen.select(LEVEL).distinct().collect()],
            ),
            k=settings.k,
            secondary=settings.secondary_suppression,
            schema=product.released.schema,
        )
    values = product.value_columns
    return apply_disclosure_control(
        chosen,
        hierarchy=hierarchy,
        k=settings.k,
        secondary=settings.secondary_suppression,
        value_cols=values,
        group_cols=product.group_columns,
        # every other measure goes with the values (an interval would give a value away)
        null_cols=tuple(
            c for c in cols if c not in (*product.group_columns, LEVEL, AREA_ID, *values)
        ),
    )


def _computed_from(metadata: str | None) -> dict[str, Any] | None:
    """The ``inputs`` an S-layer commit recorded (the C-layer versions it read), if any."""
    if not metadata:
        return None
    try:
        return dict(json.loads(metadata).get("inputs", {}))
    except (ValueError, AttributeError):
        return None


def _window(product: Product, start: datetime, end: datetime) -> str:
    """The rows of ``[start, end]``: its time points, its days, or the periods (first and
    last day keys) that lie within its days."""
    schema = product.estimates.schema
    if not isinstance(schema[product.time_column].dataType, DateType):
        return time_range_predicate(start, end, column=product.time_column)
    keys = product.released.keys
    if len(keys) == 2 and all(isinstance(schema[k].dataType, DateType) for k in keys):
        first, last = keys
        return f"{first} >= DATE '{start.date()}' AND {last} <= DATE '{end.date()}'"
    return date_range_predicate(start.date(), end.date(), column=product.time_column)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S")


def _read_inputs(
    spark: SparkSession, cfg: RmfConfig, product: Product, *, mno: str
) -> tuple[dict[str, DataFrame], dict[str, dict[str, Any]]]:
    """The release's inputs, each pinned to its current version, and their manifest entries
    (``path``, ``delta_version``, and the C-layer versions the estimates were computed from)."""
    specs = {s.id: s for s in (product.estimates, tables.GRID, tables.TILE_ZONE)}
    pinned = tables.read_pinned(spark, cfg, specs, mno=mno)
    frames = dict(pinned.tables)
    inputs: dict[str, dict[str, Any]] = {
        n: {"path": pinned.paths[n], "delta_version": pinned.versions[n]} for n in specs
    }
    zones = cfg.release.zones_table
    if zones:
        lake.require_tables(spark, {_ZONES: zones})
        inputs[_ZONES] = {"path": zones, "delta_version": lake.delta_version(spark, zones)}
        frames[_ZONES] = lake.read_delta(spark, zones, version=inputs[_ZONES]["delta_version"])
    estimates = product.estimates.id
    upstream = _computed_from(
        product.estimates.commit_metadata(
            spark, cfg, mno=mno, version=inputs[estimates]["delta_version"]
        )
    )
    if upstream:
        inputs[estimates]["computed_from"] = upstream
    return frames, inputs


def run_release(
    spark: SparkSession,
    cfg: RmfConfig,
    *,
    mno: str,
    start: datetime,
    end: datetime,
    product: str = "present_population",
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Release ``product`` of ``mno`` for the time range [start, end].

    Writes ``<mno>/release/<product>`` (Delta, the range replaced), and in ``out_dir`` (a
    local directory or a URI; default ``<mno>/release/exports/<product>_<start>_<end>`` in the
    lake): ``<product>.csv/``, ``<product>.geoparquet/``, ``<product>.sdmx.csv/`` with
    ``<product>.dsd.xml`` (SDMX, :mod:`rmf_spark.release.sdmx`), ``METHOD.md`` and
    ``manifest.json`` (each export as ``release.export_*`` says; ``docs/outputs.md``).

    Returns
    -------
    dict
        The manifest (also written), with ``manifest_path``.

    Raises
    ------
    InputDataError
        The S-layer table or a C-layer table is missing (code ``INPUT_TABLE_MISSING``).
    rmf_spark.errors.RmfError
        ``product`` is not in the catalog (code ``UNKNOWN_PRODUCT``).
    """
    prod = tables.product(product)
    settings = cfg.release
    t, inputs = _read_inputs(spark, cfg, prod, mno=mno)
    window = _window(prod, start, end)
    released = release_estimates(
        t[prod.estimates.id].where(window),
        product=prod,
        hierarchy=build_hierarchy(grid=t[tables.GRID.id], tile_zone=t[tables.TILE_ZONE.id]),
        settings=settings,
    )
    prod.released.write(released, cfg, mno=mno, replace_where=window)
    written = prod.released.read(spark, cfg, mno=mno).where(window).cache()
    if out_dir:
        base = lake.uri_join(out_dir)
    else:
        name = f"{prod.name}_{_stamp(start)}_{_stamp(end)}"
        base = lake.uri_join(tables.exports_root(cfg, mno=mno), name)
    manifest_path = lake.uri_join(base, "manifest.json")
    lake.delete_path(spark, manifest_path)  # until the new one, no manifest for half exports
    outputs: dict[str, Any] = {
        "delta": prod.released.path(cfg, mno=mno),
        "delta_version": prod.released.version(spark, cfg, mno=mno),
    }
    if settings.export_csv:
        outputs["csv"] = lake.uri_join(base, f"{prod.name}.csv")
        write_csv(written, outputs["csv"])
    if settings.export_geoparquet:
        outputs["geoparquet"] = lake.uri_join(base, f"{prod.name}.geoparquet")
        geoms = area_geometries(grid=t[tables.GRID.id], zones=t.get(_ZONES))
        if prod.flows:
            if _ZONES not in t:
                geoms = geoms.unionByName(
                    zone_centroids(grid=t[tables.GRID.id], tile_zone=t[tables.TILE_ZONE.id])
                )
            located = with_flow_geometry(written, geometries=geoms)
        else:
            located = with_geometry(written, geometries=geoms)
        write_geoparquet(located, outputs["geoparquet"])
    if settings.export_sdmx:
        outputs["sdmx"] = lake.uri_join(base, f"{prod.name}.sdmx.csv")
        outputs["sdmx_structure"] = lake.uri_join(base, f"{prod.name}.dsd.xml")
        write_sdmx(
            spark,
            written,
            product=prod,
            agency=settings.sdmx_agency,
            data_uri=outputs["sdmx"],
            structure_uri=outputs["sdmx_structure"],
        )
    by_level = written.groupBy(LEVEL).agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col(SUPPRESSION) == "primary").alias("primary"),
        F.count_if(F.col(SUPPRESSION) == "secondary").alias("secondary"),
    )
    levels = {r[LEVEL]: r.asDict() for r in by_level.collect()}
    counts = {
        "rows": sum(v["rows"] for v in levels.values()),
        "suppressed": written.where(F.col(SUPPRESSED)).count(),
        "by_level": {
            k: {c: v[c] for c in ("rows", "primary", "secondary")} for k, v in levels.items()
        },
    }
    written.unpersist()
    manifest = build_manifest(
        cfg=cfg,
        mno=mno,
        table=prod.name,
        start=start,
        end=end,
        inputs=inputs,
        outputs=outputs,
        counts=counts,
        spark=spark,
    )
    manifest["outputs"]["method_card"] = lake.write_text(
        spark, lake.uri_join(base, method_card.METHOD_CARD), method_card.render(manifest)
    )
    # the checksums of every file written above (the card included), before the manifest
    manifest.update(output_checksums(base))
    manifest["manifest_path"] = write_manifest(spark, manifest, manifest_path)
    log.info(
        "released %s for %s: %s rows, %s suppressed",
        prod.name,
        mno,
        counts["rows"],
        counts["suppressed"],
    )
    return manifest
