"""Outbound roaming records (no cell, a foreign visited PLMN) through the C-layer, and the
device stage's abroad segments and slots made of the rows it writes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from chispa import assert_df_equality

from rmf_spark.clayer import cells, cleaning, event_location, grid, schemas
from rmf_spark.clayer.settings import CleaningSettings, PruningSettings, RadioSettings
from rmf_spark.slayer.device.compress import compress_runs
from rmf_spark.slayer.device.device_days import (
    compute_daily_permanence,
    compute_segments,
    with_day_context,
)
from rmf_spark.slayer.device.settings import DeviceSettings
from tests.clayer.helpers import X0, Y0, cell, cells_df, event, events_df, square_wkt, territory_df
from tests.slayer.device import line_world as lw

DAY = "2024-03-05"


def _located(spark, ev):
    version = cells.prepare_cells(
        cells_df(spark, [cell("a", X0 + 500, Y0 + 500)]),
        radio=RadioSettings(),
        pruning=PruningSettings(),
    )
    flagged = cleaning.flag_events(
        events_df(spark, ev), version, date=DAY, cleaning=CleaningSettings()
    )
    g = grid.generate_grid(territory_df(spark, square_wkt(X0, Y0, 2000, 2000)), buffer_m=0.0)
    return flagged, event_location.event_location(flagged, g, home_mcc=214)


def test_outbound_records_get_their_domain_visited_network_and_no_location(spark):
    ev = [
        event("d1", f"{DAY}T08:00:00", "a"),  # domestic
        # abroad as the synthetic formats write it: the visited network in mcc, mnc and plmn
        event("d1", f"{DAY}T12:00:00", None, mcc=208, mnc="01", plmn="20801"),
        # and as MultiMNO does: the SIM's network in mcc, mnc, the visited one in plmn
        event("d2", f"{DAY}T12:00:00", None, mcc=214, mnc="07", plmn="26201"),
        event("d3", f"{DAY}T09:00:00", "a", mcc=208, mnc="01", plmn="20801"),  # inbound
        event("d4", f"{DAY}T09:00:00", "zzz"),  # an unknown cell still is one
        event("d5", f"{DAY}T09:00:00", None),  # no cell, home PLMN: no outbound record
    ]
    flagged, el = _located(spark, ev)
    assert el.columns == [f.name for f in schemas.EVENT_LOCATION.fields]
    cols = ["device_id", "domain", "abroad", "visited_plmn", "unknown_cell", "usable", "tile_id"]
    expected = [
        ("d1", "domestic", False, None, False, True, None),
        ("d1", "outbound", True, "20801", False, False, None),
        ("d2", "outbound", True, "26201", False, False, None),
        ("d3", "inbound", False, None, False, True, None),
        ("d4", "domestic", False, None, True, False, None),
        ("d5", "domestic", False, None, False, False, None),
    ]
    ddl = (
        "device_id string, domain string, abroad boolean, visited_plmn string, "
        "unknown_cell boolean, usable boolean, tile_id long"
    )
    assert_df_equality(
        el.select(*cols),
        spark.createDataFrame(expected, ddl),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    m = {r["metric"]: r["value"] for r in cleaning.cleaning_metrics(flagged, date=DAY).collect()}
    assert (m["events"], m["usable"], m["unknown_cell"], m["outbound"]) == (6, 2, 1, 3)


def test_the_device_stage_makes_abroad_segments_and_slots_of_outbound_rows(spark):
    # a device at home (cell C3 of the line world) until 07:00, then abroad in France: the
    # C-layer's rows of its roaming records, as event_location writes them
    d = dt.date.fromisoformat(DAY)
    start = dt.datetime.combine(d, dt.time())
    abroad = [
        event("d1", (start + dt.timedelta(hours=h)).isoformat(), None, mcc=208, mnc="01",
              plmn="20801", technology=None)
        for h in (9, 12, 15, 18, 21, 23)
    ]  # fmt: skip
    _, el = _located(spark, abroad)
    home = spark.createDataFrame(
        [
            ("d1", start + dt.timedelta(hours=h), "C3", "v1", True, "4G", "domestic", d)
            for h in (0, 2, 4, 6, 7)
        ],
        "device_id string, event_ts timestamp, cell_id string, footprint_version string, "
        "usable boolean, technology string, domain string, date date",
    )
    keep = ["device_id", "event_ts", "cell_id", "footprint_version", "usable", "technology",
            "domain", "abroad", "visited_plmn", "date"]  # fmt: skip
    rows = el.select(*keep).unionByName(home, allowMissingColumns=True)
    settings = DeviceSettings()
    compressed = with_day_context(compress_runs(rows, settings=settings, ta_step_m={"4G": 78.12}))
    cp, g = lw.spark_tables(spark)
    segments = compute_segments(
        compressed, connection_probability=cp, grid=g, settings=settings, ta_buffer=1
    ).cache()
    seg = segments.orderBy("segment_index").toPandas()
    states = seg["state"].tolist()
    assert states.count("abroad") == 1
    trip = seg[seg["state"] == "abroad"].iloc[0]
    assert trip["visited_plmn"] == "20801" and trip["n_events"] == len(abroad)
    assert trip["start_ts"] <= pd.Timestamp(start + dt.timedelta(hours=9))
    assert trip["end_ts"] >= pd.Timestamp(start + dt.timedelta(hours=23))
    assert states[0] == "stay"  # the morning at home
    perm = compute_daily_permanence(segments, settings=settings).orderBy("slot_index").toPandas()
    by_slot = dict(zip(perm["slot_index"], perm["id_type"], strict=True))
    assert all(by_slot[h] == "abroad" for h in range(10, 23))
    assert all(by_slot[h] == "grid" for h in range(0, 7))
    visited = perm.loc[perm["id_type"] == "abroad", "visited_plmn"]
    assert (visited == "20801").all()
    segments.unpersist()
