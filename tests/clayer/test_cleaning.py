"""Semantic cleaning flags, metrics and the event-location table on inline events."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from rmf_spark.clayer import cells, cleaning, event_location, grid, schemas
from rmf_spark.clayer.settings import CleaningSettings, PruningSettings, RadioSettings
from tests.clayer.helpers import X0, Y0, cell, cells_df, event, events_df, square_wkt, territory_df

DAY = "2024-03-05"


def _cell_version(spark):
    rows = [
        cell("a", X0 + 500, Y0 + 500),
        cell("b", X0 + 1500, Y0 + 500),
        cell("far", X0 + 60_000, Y0 + 500),  # 60 km away
        cell("old", X0 + 500, Y0 + 500, valid_to=dt.date(2024, 2, 1)),
        cell("broken", X0 + 700, Y0 + 700, directional=True),  # no azimuth: unusable
    ]
    return cells.prepare_cells(
        cells_df(spark, rows), radio=RadioSettings(), pruning=PruningSettings()
    )


def test_flags_on_rows(spark):
    ev = [
        event("d1", f"{DAY}T08:00:00", "a"),
        event("d1", f"{DAY}T08:10:00", "far"),  # 60 km in 10 min: outlier
        event("d1", f"{DAY}T08:20:00", "b"),
        event("d2", f"{DAY}T09:00:00", "zzz"),  # unknown
        event("d2", f"{DAY}T09:05:00", "old"),  # plan expired
        event("d3", f"{DAY}T10:00:00", "a"),
        event("d3", f"{DAY}T10:00:00", "b"),  # same time, different cell
        event("d4", f"{DAY}T11:00:00", "broken"),
        event("d5", f"{DAY}T11:00:00", "a", mcc=208),
    ]
    # cached: read by four comparisons below (each a sort and a collect)
    flagged = cleaning.flag_events(
        events_df(spark, ev), _cell_version(spark), date=DAY, cleaning=CleaningSettings()
    ).cache()
    flags = [
        "unknown_cell",
        "cell_not_valid",
        "impossible_movement",
        "same_time_duplicate",
        "cell_unusable",
        "usable",
    ]
    # one row per event: which flags it gets (usable: no flag at all)
    expected = [
        ("d1", "a", False, False, False, False, False, True),
        ("d1", "far", False, False, True, False, False, False),
        ("d1", "b", False, False, False, False, False, True),
        ("d2", "zzz", True, False, False, False, False, False),
        ("d2", "old", False, True, False, False, False, False),
        ("d3", "a", False, False, False, True, False, False),
        ("d3", "b", False, False, False, True, False, False),
        ("d4", "broken", False, False, False, False, True, False),
        ("d5", "a", False, False, False, False, False, True),  # inbound: still usable
    ]
    ddl = ", ".join(["device_id string", "cell_id string", *(f"{f} boolean" for f in flags)])
    assert_df_equality(
        flagged.select("device_id", "cell_id", *flags),
        spark.createDataFrame(expected, ddl),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    versions = {
        (r["device_id"], r["cell_id"]): r["footprint_version"]
        for r in flagged.select("device_id", "cell_id", "footprint_version").collect()
    }
    assert versions[("d1", "a")] and versions[("d2", "old")] is None  # no plan valid that day

    metrics = {
        "events": 9,
        "usable": 3,
        "unknown_cell": 1,
        "cell_not_valid": 1,
        "impossible_movement": 1,
        "same_time_duplicate": 2,
        "cell_unusable": 1,
        "outbound": 0,
    }
    assert_df_equality(
        cleaning.cleaning_metrics(flagged, date=DAY),
        spark.createDataFrame(
            [(dt.date.fromisoformat(DAY), m, v) for m, v in metrics.items()],
            "date date, metric string, value long",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )

    g = grid.generate_grid(territory_df(spark, square_wkt(X0, Y0, 2000, 2000)), buffer_m=0.0)
    el = event_location.event_location(flagged, g, home_mcc=214)
    assert el.columns == [f.name for f in schemas.EVENT_LOCATION.fields]
    # every event, inbound by its foreign mcc; no tile: no coordinates on these events
    assert_df_equality(
        el.select("device_id", "cell_id", "domain", "tile_id"),
        spark.createDataFrame(
            [(d, c, "inbound" if d == "d5" else "domestic", None) for d, c, *_ in expected],
            "device_id string, cell_id string, domain string, tile_id long",
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    flagged.unpersist()


def test_event_coordinates_get_their_tile(spark):
    # Madrid, Puerta del Sol: EPSG:3035 about E 3 160 000, N 2 030 000
    ev = [event("d1", f"{DAY}T08:00:00", "a", latitude=40.4168, longitude=-3.7038)]
    df = event_location.wgs84_to_3035(events_df(spark, ev)).first()
    assert 3_150_000 < df["x_3035"] < 3_170_000 and 2_020_000 < df["y_3035"] < 2_040_000
    x_ll, y_ll = df["x_3035"] // 100 * 100, df["y_3035"] // 100 * 100
    g = grid.generate_grid(
        territory_df(spark, square_wkt(x_ll - 1000, y_ll - 1000, 2000, 2000)), buffer_m=0.0
    )
    flagged = cleaning.flag_events(
        events_df(spark, ev), _cell_version(spark), date=DAY, cleaning=CleaningSettings()
    )
    r = event_location.event_location(flagged, g, home_mcc=214).first()
    tile = g.where(f"x_ll = {x_ll} and y_ll = {y_ll}").first()
    assert r["tile_id"] == tile["tile_id"]
