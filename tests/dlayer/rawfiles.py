"""Handmade raw files in the mno_a (CSV) and mno_b (JSON lines) formats, with every fault kind.

``EXPECTED`` maps each faulty record id to the reason code it must get (or ``"duplicate"``);
every other record is clean.
"""

from __future__ import annotations

import json
from pathlib import Path

DAY = "2024-01-15"
MSISDNS = [f"3461234{i:04d}" for i in range(10)]  # 11 digits
IMSIS = [f"21407{i:010d}" for i in range(10)]  # 15 digits

A_HEADER = "record_id;msisdn;event_time;cgi;event_type;rat;mcc;mnc;ta"
A_CELLS_HEADER = (
    "cgi;valid_from;valid_to;x_3035;y_3035;altitude_m;height_m;directional;azimuth;tilt;"
    "beam_h;beam_v;power_w;range_m;freq_mhz;rat;cell_type"
)


def _a(rid: str, msisdn: str, ts: str, cell: str = "214-07-100-1", *, ta: str = "3") -> str:
    return f"{rid};{msisdn};{ts};{cell};call;4G;214;07;{ta}"


A_CLEAN = [
    _a("a01", MSISDNS[0], "15/01/2024 00:30:00"),  # 2024-01-14 23:30 UTC: still the local day
    _a("a02", MSISDNS[1], "15/01/2024 08:00:00"),
    _a("a03", MSISDNS[2], "15/01/2024 09:15:10", "214-07-100-2", ta=""),
    _a("a04", MSISDNS[0], "15/01/2024 12:00:00"),
    _a("a05", MSISDNS[3], "15/01/2024 18:45:00"),
    _a("a06", MSISDNS[4], "15/01/2024 23:59:59"),
    _a("a07", MSISDNS[5], "15/01/2024 13:00:00", "214-07-100-3"),
]
A_FAULTY = {
    "a08": (_a("a08", "", "15/01/2024 10:00:00"), "NULL_MANDATORY"),
    "a09": (_a("a09", MSISDNS[6], "2024-01-15 10:00:00"), "BAD_TIMESTAMP"),
    "a10": (_a("a10", MSISDNS[6], "32/01/2024 10:00:00"), "BAD_TIMESTAMP"),
    "a11": (_a("a11", MSISDNS[7], "16/01/2024 10:00:00"), "OUT_OF_DAY"),
    "a12": (_a("a12", MSISDNS[7], "15/01/2024 11:00:00") + ";extra", "MALFORMED_ROW"),
    "a13": (f"a13;{MSISDNS[8]};15/01/2024 11:00:00;214-07-100-1;call;4G;214", "MALFORMED_ROW"),
    "a14": (
        f"a14;{MSISDNS[8]};15/01/2024 11:00:00;214-07-100-1;c\udcffall;4G;214;07;1",
        "INVALID_ENCODING",
    ),
    "a15": (f"a15;{MSISDNS[9]};15/01/2024 11:00:00;214-07-100-1;call;4G;2140;07;1", "BAD_MCC_MNC"),
}
A_DUPLICATE = A_CLEAN[1]  # a02 again, byte for byte


def write_mno_a(root: Path) -> Path:
    """``root/events/events_20240115.csv`` and ``root/cells/cells.csv``; returns the file."""
    lines = [A_HEADER, *A_CLEAN[:3], A_DUPLICATE, *A_CLEAN[3:]]
    lines += [line for line, _ in A_FAULTY.values()]
    events = root / "events" / "events_20240115.csv"
    events.parent.mkdir(parents=True, exist_ok=True)
    events.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape"))
    cells = root / "cells" / "cells.csv"
    cells.parent.mkdir(parents=True, exist_ok=True)
    rest = ";2024-01-01;;3158747.0;2029203.4;600;25;0;;6;;;5;;2600;5G;macro"
    rows = [
        "214-07-100-1;2024-01-01;;3159766.9;2030142.1;650;30;1;120;4;65;9;20;8000;1800;4G;macro",
        "214-07-100-2;2024-01-01;2024-01-31;3160786.6;2031080.9;;;0;;;;;;;800;2G;microcell",
        "214-07-100-3;2024-01-01;;3158747.0;2029203.4;600;25;0;;6;;;-5;;2600;5G;macro",
        "214-07-100-3;2024-01-01;;3158747.0;2029203.4;600;25;0;;6;;;-5;;2600;5G;macro",
        rest,  # no cell id
        "214-07-100-5;2024-01-01;;abc;2029203.4;600;25;0;;6;;;5;;2600;5G;macro",
        "214-07-100-6;2024-01-01;;3158747.0;2029203.4;600;25;1;400;6;;;5;;2600;5G;macro",
        "214-07-100-7;2024-02-01;2024-01-01;3158747.0;2029203.4;600;25;0;;6;;;5;;2600;4G;macro",
        "214-07-100-8;2024-01-01;;3158747.0",
        "214-07-100-9;2024-01-01;;3158747.0;2029203.4;600;25;1;;6;65;9;20;8000;800;4G;macro",
    ]
    cells.write_text("\n".join([A_CELLS_HEADER, *rows]) + "\n", encoding="utf-8")
    return events


def _b(seq: str, imsi: str | None, ts_ms: object, **extra: object) -> str:
    obj = {
        "seq": seq,
        "imsi": imsi,
        "ts_ms": ts_ms,
        "cell": "214-07-200-1",
        "type": "attach",
        "tech": "5G",
        "plmn": "21407",
    }
    obj.update(extra)
    return json.dumps(obj)


T0 = 1705276800000  # 2024-01-15T00:00:00Z
B_CLEAN = [
    _b("b01", IMSIS[0], T0),
    _b("b02", IMSIS[1], T0 + 3_600_000, ta=2),
    _b("b03", IMSIS[2], T0 + 7_200_000),
    _b("b04", IMSIS[0], T0 + 86_399_000),
    _b("b05", IMSIS[3], T0 + 50_000_000, cell="214-07-200-2"),
]
B_FAULTY = {
    "b06": (_b("b06", None, T0 + 1000), "NULL_MANDATORY"),
    "b07": (_b("b07", IMSIS[4], "not-a-time"), "BAD_TIMESTAMP"),
    "b08": (_b("b08", IMSIS[5], T0 + 86_400_000), "OUT_OF_DAY"),
    "b09": (_b("b09", IMSIS[6], T0 + 1000)[:-20], "MALFORMED_ROW"),
    "b10": (
        _b("b10", IMSIS[7], T0 + 1000, type="att@@ach").replace("@@", "\udcfe"),
        "INVALID_ENCODING",
    ),
    "b11": (_b("b11", IMSIS[8], T0 + 1000, plmn="2140"), "BAD_MCC_MNC"),
}
B_DUPLICATE = B_CLEAN[2]


def write_mno_b(root: Path) -> Path:
    """``root/events/events-2024-01-15.jsonl``; returns the file."""
    lines = [*B_CLEAN, B_DUPLICATE, *(line for line, _ in B_FAULTY.values())]
    events = root / "events" / "events-2024-01-15.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    events.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape"))
    return events
