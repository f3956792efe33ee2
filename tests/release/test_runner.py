"""Release from the lake: threshold, hierarchy, manifest, exports, no device ids."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rmf_spark import lake, tables
from rmf_spark.release.hierarchy import build_hierarchy
from rmf_spark.release.runner import run_release
from tests.slayer import tiny_world as tw

K = 15


@pytest.fixture(scope="module")
def released(spark, test_config, tmp_path_factory):
    world = tw.pipeline_lake(spark, test_config)
    out = tmp_path_factory.mktemp("release")
    manifest = run_release(
        spark, test_config, mno=tw.MNO, start=world["start"], end=world["end"], out_dir=out
    )
    table = tables.RELEASED_PRESENT_POPULATION.read(spark, test_config, mno=tw.MNO).toPandas()
    return {"world": world, "manifest": manifest, "out": out, "table": table}


def test_run_release_nothing_under_k_and_suppressed_flagged(released):
    t = released["table"]
    shown = t[~t["suppressed"]]
    assert len(shown) > 0 and t["suppressed"].any()
    assert (shown["devices"] >= K).all() and (shown["population"] >= K).all()
    hidden = t[t["suppressed"]]
    assert hidden[["devices", "population", "expansion_factor"]].isna().all().all()
    assert set(hidden["suppression"]) <= {"primary", "secondary"}
    assert set(t["method"]) == {"em"}


def test_run_release_suppressed_values_not_recoverable(spark, released):
    world = released["world"]
    edges = build_hierarchy(
        grid=spark.createDataFrame(world["grid"]),
        tile_zone=spark.createDataFrame(world["tile_zone"]),
    ).toPandas()
    t = released["table"].set_index(["time_point", "level", "area_id"])["suppressed"]
    for tp in released["table"]["time_point"].unique():
        state = t.xs(tp, level="time_point")
        m = edges.assign(
            c=state.reindex(
                pd.MultiIndex.from_frame(edges[["child_level", "child_id"]])
            ).to_numpy(),
            p=state.reindex(
                pd.MultiIndex.from_frame(edges[["parent_level", "parent_id"]])
            ).to_numpy(),
        ).dropna()
        for _, g in m[m["p"] == False].groupby(["parent_level", "parent_id", "child_level"]):  # noqa: E712
            assert g["c"].sum() != 1


def test_run_release_manifest_names_input_versions(released, spark):
    man = released["manifest"]
    on_disk = json.loads(Path(man["manifest_path"]).read_text())
    assert on_disk["inputs"].keys() == {
        "slayer/present_population",
        "clayer/grid",
        "clayer/tile_zone",
    }
    for name, entry in on_disk["inputs"].items():
        assert entry["delta_version"] == lake.delta_version(spark, entry["path"]), name
    upstream = on_disk["inputs"]["slayer/present_population"]["computed_from"]
    # the C-layer versions of the last commit (plus the posteriors when it wrote hmm rows)
    clayer = {"event_location", "connection_probability", "grid", "tile_zone"}
    assert clayer <= set(upstream) <= clayer | {"location_posterior"}
    assert all(isinstance(v, int) for v in upstream.values())
    assert on_disk["code_version"]["rmf_spark"]
    assert len(on_disk["config_hash"]) == 64
    assert on_disk["rows"] == len(released["table"])
    assert on_disk["suppressed"] == int(released["table"]["suppressed"].sum())
    assert on_disk["disclosure_control"]["k"] == K


def test_run_release_exports_have_no_device_ids(spark, released):
    devices = set(released["world"]["events"]["device_id"])
    man = released["manifest"]
    csv = pd.concat(pd.read_csv(p) for p in Path(man["outputs"]["csv"]).glob("*.csv"))
    geo = spark.read.format("geoparquet").load(man["outputs"]["geoparquet"])
    assert geo.where("level = '100m' AND geometry IS NULL").count() == 0
    area = geo.where("level = '1km'").selectExpr("ST_Area(geometry) AS a").first()["a"]
    assert area == pytest.approx(1e6)
    for frame in (released["table"], csv, geo.drop("geometry").toPandas()):
        assert "device_id" not in frame.columns
        cells = set(frame.astype(str).to_numpy().ravel())
        assert not cells & devices
    assert len(csv) == len(released["table"])


@pytest.mark.slow
def test_present_population_notebook_runs_on_released_csv(released, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[2]
    nb = nbformat.read(root / "notebooks" / "present_population.ipynb", as_version=4)
    monkeypatch.setenv("RMF_RELEASE", released["manifest"]["outputs"]["csv"])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": root}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
