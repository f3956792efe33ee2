"""Semantic cleaning of bronze events: flags kept on the rows, never deletions.

Flags (``docs/tables.md`` section 4; after the Eurostat MultiMNO semantic cleaning):

* ``unknown_cell``: the cell id is in no cell-plan row of the MNO;
* ``cell_not_valid``: the cell is known but no plan row is valid on the event's date;
* ``same_time_duplicate``: the device has events at the same timestamp in different cells
  (every row of such a group is flagged);
* ``impossible_movement``: both the hop from the device's previous located event and the hop
  to its next one are longer than ``min_distance_m`` and faster than ``max_speed_m_s``
  (distance between cell antennas, time between events): the event in the middle of two
  impossible hops is the outlier. The first and last located events of the day are never
  flagged (one impossible hop does not say which end is wrong); hops under one second
  (same-time duplicates) are not judged. Only events of the processed date are seen.

``cell_unusable`` marks events whose cell plan is valid but cannot be modelled (see
:mod:`rmf_spark.clayer.cells`); ``usable`` is true when no flag is set and the event has a
cell. An event without a cell is an outbound roaming record (the D-layer lets no other row
through without one: ``docs/bronze.md``): no flag applies to it (MultiMNO's semantic cleaning
exempts outbound events too), and it is not usable for location; the device stage keeps it as
``abroad`` (``event_location``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from rmf_spark.clayer.cells import active_cells
from rmf_spark.clayer.schemas import EVENT_FLAGS
from rmf_spark.clayer.settings import CleaningSettings

__all__ = ["cleaning_metrics", "flag_events"]


def _hop_bad(other: Column, *, cleaning: CleaningSettings, after: bool) -> Column:
    dist = F.sqrt((F.col("_x") - other["x"]) ** 2 + (F.col("_y") - other["y"]) ** 2)
    secs = F.col("_t") - other["t"] if after else other["t"] - F.col("_t")
    speed = F.when(secs >= 1, dist / secs)
    return (dist > cleaning.min_distance_m) & (speed > cleaning.max_speed_m_s)


def flag_events(
    events: DataFrame, cell_version: DataFrame, *, date: str, cleaning: CleaningSettings
) -> DataFrame:
    """Add the semantic flags and the cell's ``footprint_version`` to one date's events.

    Parameters
    ----------
    events
        ``bronze/events`` rows of ``date``.
    cell_version
        ``clayer/cell_version`` (all plan rows of the MNO).
    date
        ``YYYY-MM-DD``.
    cleaning
        Thresholds of the impossible-movement rule.

    Returns
    -------
    DataFrame
        The events plus ``footprint_version``, the four :data:`EVENT_FLAGS`, ``cell_unusable``
        and ``usable`` (booleans, never null; an event without a cell has no flag and is not
        usable).
    """
    has_cell = F.col("cell_id").isNotNull()
    known = cell_version.select("cell_id").distinct().withColumn("_known", F.lit(True))
    valid = (
        active_cells(cell_version, date=date)
        .groupBy("cell_id")  # one row per cell: the latest plan row valid on the date
        .agg(
            F.max_by(F.struct("footprint_version", "usable", "x", "y"), F.col("valid_from")).alias(
                "_v"
            )
        )
    )
    df = (
        events.join(F.broadcast(known), "cell_id", "left")
        .join(F.broadcast(valid), "cell_id", "left")
        .withColumn("footprint_version", F.col("_v.footprint_version"))
        .withColumn("unknown_cell", F.col("_known").isNull() & has_cell)
        .withColumn("cell_not_valid", F.col("_known").isNotNull() & F.col("_v").isNull())
        .withColumn("cell_unusable", F.coalesce(~F.col("_v.usable"), F.lit(False)))
        .withColumn("_x", F.col("_v.x"))
        .withColumn("_y", F.col("_v.y"))
        .withColumn("_t", F.col("event_ts").cast("long"))
    )
    same_ts = Window.partitionBy("device_id", "event_ts")
    df = df.withColumn("same_time_duplicate", F.size(F.collect_set("cell_id").over(same_ts)) > 1)
    order = Window.partitionBy("device_id").orderBy("event_ts", "cell_id")
    located = F.when(
        F.col("_x").isNotNull() & F.col("_y").isNotNull(),
        F.struct(F.col("_x").alias("x"), F.col("_y").alias("y"), F.col("_t").alias("t")),
    )
    df = df.withColumn(
        "_prev",
        F.last(located, ignorenulls=True).over(order.rowsBetween(Window.unboundedPreceding, -1)),
    ).withColumn(
        "_next",
        F.first(located, ignorenulls=True).over(order.rowsBetween(1, Window.unboundedFollowing)),
    )
    bad_in = F.coalesce(_hop_bad(F.col("_prev"), cleaning=cleaning, after=True), F.lit(False))
    bad_out = F.coalesce(_hop_bad(F.col("_next"), cleaning=cleaning, after=False), F.lit(False))
    impossible = F.col("_x").isNotNull() & bad_in & bad_out
    df = df.withColumn("impossible_movement", impossible)
    any_flag = F.lit(False)
    for flag in (*EVENT_FLAGS, "cell_unusable"):
        any_flag = any_flag | F.col(flag)
    return df.withColumn("usable", ~any_flag & has_cell).drop(
        "_known", "_v", "_x", "_y", "_t", "_prev", "_next"
    )


def cleaning_metrics(flagged: DataFrame, *, date: str) -> DataFrame:
    """Counts per date: ``events``, ``usable``, each flag and ``outbound`` (events without a
    cell: roaming records of subscribers abroad) as ``date, metric, value`` rows."""
    names = ("events", "usable", *EVENT_FLAGS, "cell_unusable", "outbound")
    aggs = (
        [F.count(F.lit(1)).alias("events")]
        + [F.sum(F.col(n).cast("long")).alias(n) for n in names[1:-1]]
        + [F.count_if(F.col("cell_id").isNull()).alias("outbound")]
    )
    wide = flagged.agg(*aggs)
    stack = ", ".join(f"'{n}', coalesce({n}, 0L)" for n in names)
    return wide.select(
        F.lit(date).cast("date").alias("date"),
        F.expr(f"stack({len(names)}, {stack}) as (metric, value)"),
    ).select("date", "metric", F.col("value").cast("long"))
