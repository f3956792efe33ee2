"""The released outputs read without Spark, as their users read them: every released Delta table
with delta-rs (``deltalake``) and with DuckDB, the GeoParquet exports with geopandas (EPSG:3035,
valid geometries), the SDMX-CSV exports with ``pysdmx`` against their SDMX-ML data structure;
and ``docs/outputs.md`` documents every released column.

The releases are those of ``tests/release/test_runner.py`` (present population) and
``tests/release/test_flows.py`` (OD matrix and residents) on the tiny world."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable
from pysdmx.io import get_datasets, read_sdmx

from rmf_spark import lake, tables
from rmf_spark.release.export import EPSG
from rmf_spark.release.flows import TOTAL
from rmf_spark.release.runner import run_release
from rmf_spark.release.sdmx import (
    COLUMNS,
    CONF_STATUS,
    CONF_STATUS_CODES,
    TIME_PERIOD,
    data_structure,
    sdmx_rows,
    structure_id,
    structure_message,
)
from rmf_spark.release.settings import ReleaseSettings
from tests.release.test_flows import od_release  # noqa: F401  (OD and residents released)
from tests.release.test_runner import released  # noqa: F401  (present population released)
from tests.slayer import tiny_world as tw

ROOT = Path(__file__).resolve().parents[2]
AGENCY = "RMF_SPARK"


@pytest.fixture(scope="module")
def releases(released, od_release):  # noqa: F811
    """Per product: its released table as Spark read it (pandas) and its release manifest."""
    return {
        "present_population": (released["table"], released["manifest"]),
        "od": (od_release["released_od"], od_release["manifests"]["od"]),
        "residents": (od_release["released_residents"], od_release["manifests"]["residents"]),
    }


def _arrow(path: str, table: DeltaTable):
    """The table's current snapshot as a pyarrow dataset, its files read by pyarrow's own
    local file system: through delta-rs's file system, the interpreter aborts at exit now and
    then ('terminate called without an active exception': pyarrow's reader threads outlive
    delta-rs's runtime; delta-io/delta-rs#2184, pola-rs/polars#24169; 4 aborts in 16 runs
    here, none in 32 this way)."""
    return table.to_pyarrow_dataset(
        filesystem=pafs.SubTreeFileSystem(str(Path(path).resolve()), pafs.LocalFileSystem())
    )


def _keys(product: str) -> list[str]:
    p = tables.product(product)
    fields = p.released.schema.fieldNames()
    return [f for f in fields if f in (*p.group_columns, "level", "area_id")] + [
        f for f in ("origin_area_id", "destination_area_id") if f in fields
    ]


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as naive UTC, dates as ``datetime.date`` (as Spark's ``toPandas`` gives them)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].astype("datetime64[ns]")
    return out


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


# --- Delta tables without Spark ------------------------------------------------------------


@pytest.mark.parametrize("product", ["present_population", "od", "residents"])
def test_released_delta_table_reads_with_deltalake(spark, test_config, releases, product):
    spark_read, _ = releases[product]
    path = tables.product(product).released.path(test_config, mno=tw.MNO)
    table = DeltaTable(path)
    assert table.version() == lake.delta_version(spark, path)
    # no deletion vectors: the snapshot is its Parquet files, which any reader takes
    assert pa.table(table.deletion_vectors()).num_rows == 0
    arrow = _arrow(path, table).to_table()
    assert set(arrow.column_names) == set(tables.product(product).released.schema.fieldNames())
    keys = _keys(product)
    got = _sorted(_naive_utc(arrow.to_pandas()[list(spark_read.columns)]), keys)
    want = _sorted(_naive_utc(spark_read), keys)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("product", ["present_population", "od", "residents"])
def test_released_delta_table_queries_with_duckdb(test_config, releases, product):
    spark_read, _ = releases[product]
    p = tables.product(product)
    value = p.value_columns[0]
    path = p.released.path(test_config, mno=tw.MNO)
    dataset = _arrow(path, DeltaTable(path))
    with duckdb.connect() as con:
        con.register("released", dataset)
        rows, suppressed, shown_nulls, total = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE suppressed),
                       count(*) FILTER (WHERE NOT suppressed AND {value} IS NULL),
                       sum({value}) FILTER (WHERE NOT suppressed)
                FROM released"""
        ).fetchone()
        by_level = dict(
            con.execute("SELECT level, count(*) FROM released GROUP BY level").fetchall()
        )
    assert rows == len(spark_read) and suppressed == int(spark_read["suppressed"].sum())
    assert shown_nulls == 0
    assert total == pytest.approx(spark_read.loc[~spark_read["suppressed"], value].sum())
    assert by_level == spark_read.groupby("level").size().to_dict()


# --- GeoParquet with geopandas -------------------------------------------------------------


def _grid_corner(code: str) -> tuple[float, float, float]:
    """``(x, y, size)`` of an INSPIRE grid code ``100mN30000E40000`` (its lower-left corner)."""
    m = re.fullmatch(r"(\d+)(k?m)N(\d+)E(\d+)", code)
    assert m, code
    size = float(m[1]) * (1000 if m[2] == "km" else 1)
    return float(m[4]) * size, float(m[3]) * size, size


def test_geoparquet_present_population_has_crs_and_the_grid_squares(releases):
    _, manifest = releases["present_population"]
    geo = gpd.read_parquet(manifest["outputs"]["geoparquet"])
    assert geo.crs is not None and geo.crs.to_epsg() == EPSG
    tiles = geo[geo["level"].isin(["100m", "1km"])]
    assert len(tiles) and tiles.geometry.notna().all() and tiles.is_valid.all()
    assert (geo.geometry.isna() | geo.is_valid).all()
    bounds = tiles.geometry.bounds
    for code, (minx, miny, maxx, maxy) in zip(
        tiles["area_id"], bounds.itertuples(index=False), strict=True
    ):
        x, y, size = _grid_corner(code)
        assert (minx, miny, maxx, maxy) == (x, y, x + size, y + size), code
    # EPSG:3035 metres are somewhere in Europe: the tiny world near (7 E, 51 N)
    lon, lat = tiles.geometry.centroid.to_crs(4326).iloc[0].coords[0]
    assert 0 < lon < 15 and 45 < lat < 55


def test_geoparquet_od_lines_and_residents_have_crs(releases):
    od = gpd.read_parquet(releases["od"][1]["outputs"]["geoparquet"])
    assert od.crs.to_epsg() == EPSG
    cells = (od["origin_area_id"] != TOTAL) & (od["destination_area_id"] != TOTAL)
    assert od[cells].geometry.notna().all() and od[cells].is_valid.all()
    between = cells & (od["origin_area_id"] != od["destination_area_id"])
    assert set(od[between].geom_type) == {"LineString"}
    assert od[between].length.gt(0).all()
    residents = gpd.read_parquet(releases["residents"][1]["outputs"]["geoparquet"])
    assert residents.crs.to_epsg() == EPSG
    assert len(residents) == len(releases["residents"][0])


# --- SDMX ----------------------------------------------------------------------------------


def _sdmx_files(manifest: dict) -> tuple[Path, Path]:
    data = list(Path(manifest["outputs"]["sdmx"]).glob("*.csv"))
    assert len(data) == 1
    return data[0], Path(manifest["outputs"]["sdmx_structure"])


@pytest.mark.parametrize("product", ["present_population", "od", "residents"])
def test_sdmx_export_is_valid_against_its_data_structure(releases, product):
    spark_read, manifest = releases[product]
    data, structure = _sdmx_files(manifest)
    components = data_structure(tables.product(product))
    ids = [c.id for c in components]
    # the structure message validates against the SDMX-ML 3.0 schemas (read_sdmx checks)
    message = read_sdmx(structure)
    (dsd,) = [s for s in message.structures if type(s).__name__ == "DataStructureDefinition"]
    assert [c.id for c in dsd.components] == ids
    assert dsd.short_urn == f"DataStructure={structure_id(tables.product(product), agency=AGENCY)}"
    (codes,) = [s for s in message.structures if type(s).__name__ == "Codelist"]
    assert {c.id for c in codes.items} == set(CONF_STATUS_CODES)
    # the data against it: pysdmx types every column by the structure (a bad date, a
    # non-number fails)
    (dataset,) = get_datasets(data, structure, validate=True)
    assert list(dataset.data.columns) == ids and len(dataset.data) == len(spark_read)
    raw = pd.read_csv(data, dtype=str, keep_default_na=False)
    assert list(raw.columns) == ["STRUCTURE", "STRUCTURE_ID", "ACTION", *ids]
    assert set(raw["STRUCTURE"]) == {"datastructure"} and set(raw["ACTION"]) == {"I"}
    assert set(raw["STRUCTURE_ID"]) == {dsd.short_urn.split("=", 1)[1]}
    assert set(raw[CONF_STATUS]) <= set(CONF_STATUS_CODES)


@pytest.mark.parametrize("product", ["present_population", "od", "residents"])
def test_sdmx_values_and_confidentiality_match_the_released_table(releases, product):
    spark_read, manifest = releases[product]
    data, _ = _sdmx_files(manifest)
    p = tables.product(product)
    sdmx = pd.read_csv(data, dtype=str, keep_default_na=False)
    # the released table in SDMX's terms: upper-case ids, the time as SDMX writes it
    want = spark_read.rename(columns=str.upper)
    if product == "present_population":
        want[TIME_PERIOD] = spark_read["time_point"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif product == "od":
        want[TIME_PERIOD] = spark_read["date"].astype(str)
    else:
        days = (spark_read["period_end"] - spark_read["period_start"]).map(lambda d: d.days + 1)
        want[TIME_PERIOD] = spark_read["period_start"].astype(str) + "/P" + days.astype(str) + "D"
    dims = [c.id for c in data_structure(p) if c.role == "D"]
    merged = sdmx.merge(want, on=dims, how="outer", indicator=True, validate="one_to_one")
    assert (merged["_merge"] == "both").all()
    status = np.where(
        ~merged["SUPPRESSED"], "F", np.where(merged["SUPPRESSION"] == "secondary", "D", "A")
    )
    assert (merged[CONF_STATUS] == status).all()
    assert {"F", "A"} <= set(status)  # both cases occur
    for value in (c.id for c in data_structure(p) if c.role == "M"):
        sdmx_value = merged[f"{value}_x"]
        shown = sdmx_value.mask(sdmx_value == "").astype(float)
        np.testing.assert_allclose(shown, merged[f"{value}_y"].astype(float), equal_nan=True)
        assert (merged.loc[merged[CONF_STATUS] != "F", f"{value}_x"] == "").all()


def test_sdmx_rows_time_range_and_secondary_code(spark):
    p = tables.product("residents")
    rows = pd.DataFrame(
        {
            "period_start": [dt.date(2024, 1, 1)] * 3,
            "period_end": [dt.date(2024, 1, 31)] * 3,
            "role": ["home"] * 3,
            "level": ["zone_2"] * 3,
            "area_id": ["a", "b", "c"],
            "devices": [40.0, None, None],
            "population": [80.0, None, None],
            "expansion_factor": [2.0, None, None],
            "suppressed": [False, True, True],
            "suppression": [None, "primary", "secondary"],
        }
    )
    df = spark.createDataFrame(rows, schema=p.released.schema)
    out = sdmx_rows(df, product=p, agency="TEST_AGENCY").toPandas().set_index("AREA_ID")
    assert set(out[TIME_PERIOD]) == {"2024-01-01/P31D"}
    assert out[CONF_STATUS].to_dict() == {"a": "F", "b": "A", "c": "D"}
    assert set(out["STRUCTURE_ID"]) == {"TEST_AGENCY:DSD_RESIDENTS(1.0)"}


def test_sdmx_structure_names_the_agency_and_units():
    text = structure_message(tables.product("od"), agency="TEST_AGENCY")
    assert 'agencyID="TEST_AGENCY"' in text and 'id="DSD_OD"' in text
    assert "[persons per device]" in text and "[trips]" in text
    with pytest.raises(ValueError, match="sdmx_agency"):
        ReleaseSettings(sdmx_agency="not an id")


def test_release_without_exports_writes_only_the_card_and_manifest(
    spark,
    test_config,
    od_release,  # noqa: F811  (the fixture imported above)
    tmp_path,
):
    settings = test_config.release.model_copy(
        update={"export_csv": False, "export_geoparquet": False, "export_sdmx": False}
    )
    cfg = test_config.model_copy(update={"release": settings})
    day = od_release["od"]["date"].iloc[0]
    start = dt.datetime.combine(day, dt.time(0))
    end = dt.datetime.combine(day + dt.timedelta(days=6), dt.time(23))
    manifest = run_release(
        spark, cfg, mno=tw.MNO, start=start, end=end, product="residents", out_dir=tmp_path
    )
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith((".", "_")))
    assert files == ["METHOD.md", "manifest.json"]
    assert not {"csv", "geoparquet", "sdmx", "sdmx_structure"} & set(manifest["outputs"])


# --- docs/outputs.md -----------------------------------------------------------------------


def test_outputs_doc_names_every_released_column_and_export():
    doc = (ROOT / "docs" / "outputs.md").read_text()
    for name, product in tables.PRODUCTS.items():
        assert f"`{product.released.id}`" in doc, name
        for column in product.released.schema.fieldNames():
            assert f"`{column}`" in doc, (name, column)
            if column not in ("suppressed", "suppression"):
                assert column in COLUMNS, (name, column)
    for export in (".csv/", ".geoparquet/", ".sdmx.csv/", ".dsd.xml", "METHOD.md", "manifest"):
        assert export in doc, export
    assert "`_T`" in doc and "EPSG:3035" in doc and CONF_STATUS in doc
    readme = (ROOT / "README.md").read_text()
    assert "docs/outputs.md" in readme
