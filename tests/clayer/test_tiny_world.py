"""Acceptance on the tiny synthetic world: do true positions fall in the serving cell's footprint?

Cells and events went through the D-layer and the C-layer in the demo chain (``tiny_demo``,
whose lake this test reads); the figure is taken on the world's first day. The truth has
positions per person at hourly time points, not per event, so the events compared are those
within ``WINDOW_S`` of a time point (read from the raw CSV, their MSISDN linked to the person
by ``truth/devices``). Reported: the share of those events whose true tile has
P(tile | cell) > 0 for the event's cell. (Persons moving between the time point and the event
blur the figure; the wider the window, the lower it is.)
"""

from __future__ import annotations

import json

from pyspark.sql import functions as F

from rmf_spark import tables
from rmf_spark.clayer.grid import tile_id_of_xy
from rmf_spark.lake import read_delta

MNO = "mno_a"
WINDOW_S = 300


def test_true_positions_lie_in_the_footprint(spark, tiny_world, tiny_demo):
    day = json.loads((tiny_world / "synth_manifest.json").read_text())["start_date"]
    cfg = tiny_demo.cfg
    raw = (
        spark.read.option("sep", ";")
        .option("header", True)
        .csv(str(tiny_world / "raw" / MNO / "events" / f"events_{day.replace('-', '')}.csv"))
        .select(
            F.col("msisdn").cast("string").alias("raw_id"),
            F.col("cgi").alias("cell_id"),
            F.to_utc_timestamp(
                F.try_to_timestamp("event_time", F.lit("dd/MM/yyyy HH:mm:ss")), "Europe/Madrid"
            ).alias("ts"),
        )
        .where("ts is not null")
    )
    devices = read_delta(spark, str(tiny_world / "truth" / "devices")).where(F.col("mno_id") == MNO)
    positions = read_delta(spark, str(tiny_world / "truth" / "positions")).select(
        "person_id", "time_point", tile_id_of_xy(F.col("x"), F.col("y")).alias("tile_id")
    )
    cp = tables.CONNECTION_PROBABILITY.read(spark, cfg, mno=MNO).where(
        F.col("date") == F.lit(day).cast("date")
    )
    modelled = cp.select("cell_id").distinct()
    hour = F.timestamp_seconds(F.round(F.unix_timestamp("ts") / 3600) * 3600)
    ev = (
        raw.join(devices.select("raw_id", "person_id"), "raw_id")
        .join(modelled, "cell_id")  # faults (unknown / inactive cells) are not judged here
        .withColumn("time_point", hour)
        .where(F.abs(F.unix_timestamp("ts") - F.unix_timestamp("time_point")) <= WINDOW_S)
        .join(positions, ["person_id", "time_point"])
    )
    hits = ev.join(
        cp.where("p_tile_given_cell > 0").select("cell_id", "tile_id", F.lit(1).alias("hit")),
        ["cell_id", "tile_id"],
        "left",
    )
    row = hits.agg(F.count(F.lit(1)).alias("n"), F.count("hit").alias("hits")).first()
    share = row["hits"] / row["n"]
    print(f"\ntiny world {MNO} {day}: {row['hits']} of {row['n']} events ({share:.1%}) "
          "have their true tile in the serving cell's footprint")  # fmt: skip
    assert row["n"] > 100
    assert share > 0.9


def test_outbound_rows_are_abroad_with_their_visited_network_and_not_located(
    spark, tiny_world, tiny_demo
):
    from rmf_spark.synth.profile import load_profile

    destinations = set(load_profile("tiny").outbound.destinations)
    cfg = tiny_demo.cfg
    day = tiny_demo.days[0]
    for mno in ("mno_a", "mno_b"):
        el = tables.EVENT_LOCATION.read(spark, cfg, mno=mno).where(F.col("date") == F.lit(day))
        n_no_cell = (
            tables.EVENTS.read(spark, cfg, mno=mno)
            .where((F.col("date") == F.lit(day)) & F.col("cell_id").isNull())
            .count()
        )
        out = el.where(F.col("domain") == "outbound")
        rows = out.select(
            "abroad", "visited_plmn", "plmn", "cell_id", "tile_id", "usable", "unknown_cell"
        ).collect()
        assert len(rows) == n_no_cell > 20, mno
        assert all(r["abroad"] and r["visited_plmn"] == r["plmn"] for r in rows)
        assert {r["visited_plmn"] for r in rows} <= destinations
        assert not any(r["usable"] or r["unknown_cell"] or r["tile_id"] for r in rows)
        # abroad is exactly the outbound domain; present population reads usable rows only
        assert el.where(F.col("abroad") & (F.col("domain") != "outbound")).count() == 0
        assert el.where(F.col("visited_plmn").isNotNull()).count() == len(rows)
        metrics = tables.CLEANING_METRICS.read(spark, cfg, mno=mno).where(
            (F.col("date") == F.lit(day)) & (F.col("metric") == "outbound")
        )
        assert [r["value"] for r in metrics.collect()] == [len(rows)]
