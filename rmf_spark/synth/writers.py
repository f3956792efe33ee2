"""Raw formats of the synthetic MNOs (docs/tables.md section 1) and deterministic file writing.

Each day's events become one text file: lines are built as Spark strings (so a line can hold
bytes that are not UTF-8: a binary value cast to string keeps its bytes), the rows are
hash-partitioned by file date into a fixed number of partitions, sorted by (date, time,
record id, line), written with ``partitionBy(file_date)`` and the single part file of each
date is renamed. The same seed therefore gives the same bytes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

__all__ = [
    "MNO_A_HEADER",
    "lines_mno_a",
    "lines_mno_b",
    "write_cells_mno_a",
    "write_cells_mno_b",
    "write_daily_text",
    "write_delta",
]

MNO_A_HEADER = "record_id;msisdn;event_time;cgi;event_type;rat;mcc;mnc;ta"


def _bad_utf8() -> Column:
    """Bytes ``C3 28 FF``: not UTF-8 (a binary value cast to string keeps its bytes)."""
    return F.unhex(F.lit("C328FF")).cast("string")


_TECH_B = {"2G": "GSM", "3G": "UMTS", "4G": "LTE", "5G": "NR"}


def _s(c: Column | str) -> Column:
    return F.coalesce(
        F.col(c).cast("string") if isinstance(c, str) else c.cast("string"), F.lit("")
    )


def lines_mno_a(events: DataFrame, *, time_zone: str) -> DataFrame:
    """``file_date, ts_ms, record_id, value``: ``;``-separated CDR lines, local time."""
    fk = F.col("fault_kind")
    local = F.from_utc_timestamp(F.timestamp_millis("ts_ms"), time_zone)
    ts_text = F.when(
        fk == "malformed_timestamp", F.date_format(local, "dd/MM/yyyy HH'h'mm")
    ).otherwise(F.date_format(local, "dd/MM/yyyy HH:mm:ss"))
    mo = F.pmod(F.col("record_id"), F.lit(2)) == 0
    etype = (
        F.when(F.col("kind") == "call", F.when(mo, "MOC").otherwise("MTC"))
        .when(F.col("kind") == "sms", F.when(mo, "SMS_MO").otherwise("SMS_MT"))
        .when(F.col("kind") == "data", "DATA")
        .when(F.col("kind") == "periodic", "LU")
        .otherwise("HO")
    )
    etype = F.when(fk == "invalid_utf8", F.concat(_bad_utf8(), etype)).otherwise(etype)
    fields = [_s("record_id"), _s("raw_id"), ts_text, _s("cell_id"), etype, _s("technology"),
              _s("mcc"), _s("mnc"), _s("ta")]  # fmt: skip
    line = F.concat_ws(";", *fields)
    line = F.when(fk == "wrong_column_count", F.concat(line, F.lit(";extra"))).otherwise(line)
    return events.select("file_date", "ts_ms", "record_id", line.alias("value"))


def _json_field(name: str, value: Column, *, quoted: bool) -> Column:
    """``,"name":value`` (string values quoted), or nothing when the value is null: what
    ``to_json`` writes for these plain ids and words, built by concatenation."""
    text = F.concat(F.lit('"'), value, F.lit('"')) if quoted else value.cast("string")
    return F.coalesce(F.concat(F.lit(f',"{name}":'), text), F.lit(""))


def lines_mno_b(events: DataFrame) -> DataFrame:
    """``file_date, ts_ms, record_id, value``: JSON lines with epoch milliseconds."""
    fk = F.col("fault_kind")
    tech = F.col("technology")
    for k, v in _TECH_B.items():
        tech = F.when(F.col("technology") == k, v).otherwise(tech)
    etype = F.upper(F.col("kind"))
    etype = F.when(etype == "PERIODIC", "PERIODIC_LU").otherwise(etype)
    malformed = fk == "malformed_timestamp"
    # ts_ms is a JSON number; a malformed one is a string
    ts = F.when(malformed, F.concat(F.lit('"'), F.date_format(
        F.timestamp_millis("ts_ms"), "dd/MM/yyyy HH:mm"), F.lit('"'))
    ).otherwise(F.col("ts_ms").cast("string"))  # fmt: skip
    full = F.concat(
        F.lit('{"seq":'), F.col("record_id").cast("string"),
        _json_field("imsi", F.col("raw_id"), quoted=True),
        _json_field("ts_ms", ts, quoted=False),
        _json_field("cell", F.col("cell_id"), quoted=True),
        _json_field("type", etype, quoted=True),
        _json_field("tech", tech, quoted=True),
        _json_field("plmn", F.concat(F.col("mcc").cast("string"), F.col("mnc")), quoted=True),
        _json_field("ta", F.col("ta"), quoted=False),
        F.lit("}"),
    )  # fmt: skip
    js = F.when(fk == "wrong_column_count", F.expr("substring(js, 1, length(js) - 9)")).otherwise(
        F.col("js")
    )  # the complete line is computed once, in the select below
    bad = F.concat(
        F.lit('{"seq":'), F.col("record_id").cast("string"), F.lit(',"imsi":"'), _s("raw_id"),
        F.lit('","ts_ms":'), F.col("ts_ms").cast("string"), F.lit(',"cell":"'), _s("cell_id"),
        F.lit('","type":"'), _bad_utf8(), F.lit('"}'),
    )  # fmt: skip
    value = F.when(fk == "invalid_utf8", bad).otherwise(js)
    out = events.select("file_date", "ts_ms", "record_id", "fault_kind", "raw_id", "cell_id",
                        full.alias("js"))  # fmt: skip
    return out.select("file_date", "ts_ms", "record_id", value.alias("value"))


def write_daily_text(
    lines: DataFrame,
    out_dir: Path,
    *,
    file_name: Callable[[str], str],
    header: str | None,
    n_partitions: int,
) -> dict[str, int]:
    """Write one text file per ``file_date``; return ``{yyyy-MM-dd: data lines}``.

    Rows are sorted by time, record id and line; a header (if any) is the first line.
    """
    tmp = out_dir / "_tmp_write"
    spark = lines.sparkSession
    body = lines.select("file_date", F.lit(1).alias("h"), "ts_ms", "record_id", "value")
    if header is not None:
        dates = lines.select("file_date").distinct()
        body = body.unionByName(
            dates.select("file_date", F.lit(0).alias("h"), F.lit(0).cast("long").alias("ts_ms"),
                         F.lit(0).cast("long").alias("record_id"), F.lit(header).alias("value"))
        )  # fmt: skip
    # sort by the partition column first: the writer's required ordering is then satisfied
    # and it keeps this order (a sort on another column would be re-sorted by "d")
    (
        body.withColumn("d", F.date_format("file_date", "yyyy-MM-dd"))
        .repartition(n_partitions, "d")
        .sortWithinPartitions("d", "h", "ts_ms", "record_id", "value")
        .select("d", "value")
        .write.mode("overwrite")
        .partitionBy("d")
        .text(str(tmp))
    )
    counts = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for part_dir in sorted(tmp.glob("d=*")):
        day = part_dir.name[2:]
        parts = sorted(part_dir.glob("part-*"))
        if len(parts) != 1:
            raise RuntimeError(f"{part_dir}: expected one part file, found {len(parts)}")
        target = out_dir / file_name(day)
        shutil.move(str(parts[0]), target)
        counts[day] = 0
    shutil.rmtree(tmp)
    del spark
    return counts


def _single_file(df: DataFrame, fmt: str, target: Path) -> None:
    tmp = target.parent / f"_tmp_{target.name}"
    df.coalesce(1).write.mode("overwrite").format(fmt).save(str(tmp))
    (part,) = sorted(tmp.glob("part-*"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(part), target)
    shutil.rmtree(tmp)


def _plan_frame(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.sort_values("cell_id").reset_index(drop=True)


def write_cells_mno_a(spark: SparkSession, cells: pd.DataFrame, target: Path) -> None:
    """``cells.csv`` (``;``, header; docs/tables.md section 1), written as one file."""
    c = _plan_frame(cells)

    def num(col: str) -> list[str]:
        return ["" if pd.isna(v) else f"{v:.2f}".rstrip("0").rstrip(".") for v in c[col]]

    cols = {
        "cgi": c["cell_id"].tolist(),
        "valid_from": [str(v) for v in c["valid_from"]],
        "valid_to": ["" if pd.isna(v) else str(v) for v in c["valid_to"]],
        "x_3035": num("x"),
        "y_3035": num("y"),
        "altitude_m": num("altitude_m"),
        "height_m": num("plan_antenna_height_m"),
        "directional": ["1" if v else "0" for v in c["directional"]],
        "azimuth": num("plan_azimuth_deg"),
        "tilt": num("plan_tilt_deg"),
        "beam_h": num("plan_beam_h_deg"),
        "beam_v": num("plan_beam_v_deg"),
        "power_w": num("plan_power_w"),
        "range_m": num("plan_range_m"),
        "freq_mhz": num("frequency_mhz"),
        "rat": c["technology"].tolist(),
        "cell_type": c["cell_type"].tolist(),
    }
    text = [";".join(cols)] + [";".join(row) for row in zip(*cols.values(), strict=True)]
    df = spark.createDataFrame(pd.DataFrame({"i": range(len(text)), "value": text}))
    _single_file(df.orderBy("i").select("value"), "text", target)


def write_cells_mno_b(spark: SparkSession, cells: pd.DataFrame, target: Path) -> None:
    """``cells.parquet`` (docs/tables.md section 1), written as one file."""
    c = _plan_frame(cells)
    pdf = pd.DataFrame(
        {
            "cell": c["cell_id"],
            "start_date": c["valid_from"],
            "end_date": c["valid_to"],
            "east": c["x"],
            "north": c["y"],
            "ground_alt": c["altitude_m"],
            "antenna_height": c["plan_antenna_height_m"],
            "is_directional": c["directional"].astype(bool),
            "bearing_deg": c["plan_azimuth_deg"],
            "downtilt_deg": c["plan_tilt_deg"],
            "hbw_deg": c["plan_beam_h_deg"],
            "vbw_deg": c["plan_beam_v_deg"],
            "tx_power_w": c["plan_power_w"],
            "max_range_m": c["plan_range_m"],
            "frequency_mhz": c["frequency_mhz"],
            "tech": c["technology"].map(_TECH_B),
            "kind": c["cell_type"],
        }
    )
    schema = (
        "cell string, start_date date, end_date date, east double, north double, "
        "ground_alt double, antenna_height double, is_directional boolean, bearing_deg double, "
        "downtilt_deg double, hbw_deg double, vbw_deg double, tx_power_w double, "
        "max_range_m double, frequency_mhz double, tech string, kind string"
    )
    df = spark.createDataFrame(pdf.astype(object).where(pdf.notna(), None), schema)
    _single_file(df.orderBy("cell"), "parquet", target)


def write_delta(df: DataFrame, path: Path, *, order_by: list[str] | None = None) -> None:
    """Overwrite the Delta table at ``path`` (sorted rows for reproducible files)."""
    if order_by:
        df = df.orderBy(*order_by)
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(str(path))
