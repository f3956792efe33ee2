"""Small inline inputs for C-layer tests, following docs/tables.md (bronze cells / events)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession

CELLS_DDL = (
    "mno_id string, cell_id string, valid_from date, valid_to date, x double, y double, "
    "latitude double, longitude double, altitude_m double, antenna_height_m double, "
    "directional boolean, azimuth_deg double, tilt_deg double, beam_h_deg double, "
    "beam_v_deg double, power_w double, range_m double, frequency_mhz double, "
    "technology string, cell_type string, path_loss_exponent double, imputed array<string>"
)
EVENTS_DDL = (
    "device_id string, event_ts timestamp, cell_id string, event_type string, "
    "technology string, mcc int, mnc string, plmn string, latitude double, longitude double, "
    "loc_error_m double, timing_advance int, record_id string, source_file string, "
    "source_row long, mno_id string, date date, device_bucket int"
)
X0, Y0 = 3_000_000.0, 2_000_000.0  # lower-left corner of the test territories (EPSG:3035)


def cell(cell_id: str, x: float, y: float, **kw: Any) -> dict[str, Any]:
    """One bronze cell-plan row; omitted radio fields stay null (defaults apply)."""
    row = {
        "mno_id": "mno_t",
        "cell_id": cell_id,
        "valid_from": dt.date(2024, 1, 1),
        "valid_to": None,
        "x": x,
        "y": y,
        "latitude": None,
        "longitude": None,
        "altitude_m": 0.0,
        "antenna_height_m": 30.0,
        "directional": False,
        "azimuth_deg": None,
        "tilt_deg": None,
        "beam_h_deg": None,
        "beam_v_deg": None,
        "power_w": 10.0,
        "range_m": 1500.0,
        "frequency_mhz": 1800.0,
        "technology": "4G",
        "cell_type": "macro",
        "path_loss_exponent": 3.75,
        "imputed": [],
    }
    row.update(kw)
    return row


def cells_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    names = [p.strip().split(" ")[0] for p in CELLS_DDL.split(", ")]
    return spark.createDataFrame([tuple(r[n] for n in names) for r in rows], CELLS_DDL)


def event(device: str, ts: str, cell_id: str | None, **kw: Any) -> dict[str, Any]:
    t = dt.datetime.fromisoformat(ts)
    row = {
        "device_id": device,
        "event_ts": t,
        "cell_id": cell_id,
        "event_type": None,
        "technology": "4G",
        "mcc": 214,
        "mnc": "07",
        "plmn": "21407",
        "latitude": None,
        "longitude": None,
        "loc_error_m": None,
        "timing_advance": None,
        "record_id": f"{device}-{ts}-{cell_id}",
        "source_file": "t.csv",
        "source_row": 1,
        "mno_id": "mno_t",
        "date": t.date(),
        "device_bucket": 0,
    }
    row.update(kw)
    return row


def events_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    names = [p.strip().split(" ")[0] for p in EVENTS_DDL.split(", ")]
    return spark.createDataFrame([tuple(r[n] for n in names) for r in rows], EVENTS_DDL)


def square_wkt(x0: float, y0: float, w: float, h: float) -> str:
    return f"POLYGON(({x0} {y0}, {x0 + w} {y0}, {x0 + w} {y0 + h}, {x0} {y0 + h}, {x0} {y0}))"


def territory_df(spark: SparkSession, wkt: str) -> DataFrame:
    return spark.createDataFrame([(wkt,)], "wkt string")
