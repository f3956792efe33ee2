"""Constructed device timelines as the device stage writes them, for the tourism tests.

A timeline is a list of :class:`Part` (state, start, end, where): each is cut at the local
midnights of ``tz`` (the device stage clips segments to its days) and numbered within its day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from rmf_spark.slayer.device.schemas import SEGMENTS_SCHEMA

D = dt.datetime(2024, 5, 13)  # a Monday, 00:00 UTC


def at(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """``hour:minute`` UTC of day ``D + day``."""
    return D + dt.timedelta(days=day, hours=hour, minutes=minute)


@dataclass(frozen=True)
class Part:
    state: str
    start: dt.datetime
    end: dt.datetime
    tiles: tuple[int, ...] = ()
    plmn: str | None = None
    events: int = 3


def stay(start, end, *tiles, events=3):
    return Part("stay", start, end, tuple(tiles), None, events)


def abroad(start, end, plmn, events=3):
    return Part("abroad", start, end, (), plmn, events)


def move(start, end, events=2):
    return Part("move", start, end, (), None, events)


def unknown(start, end):
    return Part("unknown", start, end, (), None, 0)


def _local_midnight_after(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    local = t.replace(tzinfo=dt.UTC).astimezone(tz)
    nxt = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tz)
    return nxt.astimezone(dt.UTC).replace(tzinfo=None)


def _local_date(t: dt.datetime, tz: ZoneInfo) -> dt.date:
    return t.replace(tzinfo=dt.UTC).astimezone(tz).date()


def segment_rows(spark, timelines: dict[str, list[Part]], *, inbound: bool, tz: str = "UTC"):
    """``slayer/time_segments`` rows of the timelines (footprint = location tiles)."""
    zone = ZoneInfo(tz)
    rows = []
    for device, timeline in timelines.items():
        numbers: dict[dt.date, int] = {}
        for p in timeline:
            cut = p.start
            while True:
                day = _local_date(cut, zone)
                part_end = min(p.end, _local_midnight_after(cut, zone))
                index = numbers.get(day, 0)
                numbers[day] = index + 1
                tiles = list(p.tiles)
                rows.append(
                    (device, day, index, p.state, cut, part_end, p.events,
                     [f"c{t}" for t in tiles], tiles, p.plmn, None, None, tiles or None, inbound)
                )  # fmt: skip
                if part_end >= p.end:
                    break
                cut = part_end
    return spark.createDataFrame(rows, SEGMENTS_SCHEMA)
