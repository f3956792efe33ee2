"""The page of sample devices: which device-days it shows, and what it leaves out."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from rmf_spark.evaluate.device_report import sample_device_days, write_device_report

DAY = dt.date(2024, 3, 5)


def _device_day(events: list[int], status: str = "located") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": [f"pseudo{i:03d}" for i in range(len(events))],
            "date": DAY,
            "status": status,
            "located_events": events,
        }
    )


def test_samples_are_the_quartiles_of_located_events_and_skip_unlocated_days(spark):
    days = pd.concat(
        [_device_day(list(range(100, 0, -1))), _device_day([1000], status="no_footprint")]
    )
    picks = sample_device_days(spark.createDataFrame(days))
    events = {r.device_id: r.located_events for r in days.itertuples() if r.status == "located"}
    got = [events[d] for d, _ in picks]
    # the located days' events are 1 .. 100: the quartiles, within the 1 % rank error
    assert len(got) == 3 and got == sorted(got)
    assert all(abs(e - 100 * q) <= 2 for e, q in zip(got, (0.25, 0.5, 0.75), strict=True))
    none = spark.createDataFrame(days[days["status"] != "located"])
    assert sample_device_days(none) == []
    assert len(sample_device_days(spark.createDataFrame(_device_day([5])))) == 1  # no repeats


def test_page_has_a_figure_per_sample_and_no_pseudonym(tmp_path):
    days = _device_day([3, 8, 20, 40])
    picks = [(d, DAY) for d in days["device_id"][1:]]
    t = [pd.Timestamp(DAY) + pd.Timedelta(hours=h) for h in (8, 9, 18)]
    post = pd.DataFrame(
        [(d, DAY, tp, 1000.0 * k, 2000.0, 0.5) for d, _ in picks for k, tp in enumerate(t)]
        + [(d, DAY, t[0], 1100.0, 2000.0, 0.5) for d, _ in picks],
        columns=["device_id", "date", "time_point", "x_ll", "y_ll", "probability"],
    )
    seg = pd.DataFrame(
        [(d, DAY, "stay", t[0], t[1]) for d, _ in picks]
        + [(d, DAY, "move", t[1], t[2]) for d, _ in picks],
        columns=["device_id", "date", "state", "start_ts", "end_ts"],
    )
    err = post.groupby(["device_id", "time_point"], as_index=False)[["x_ll", "y_ll"]].mean()
    err = err.rename(columns={"x_ll": "x", "y_ll": "y"}).assign(
        true_x=lambda f: f["x"] + 300, true_y=lambda f: f["y"], error_m=300.0
    )
    frames = {
        "picks": pd.DataFrame(picks, columns=["device_id", "date"]),
        "posteriors": post,
        "segments": seg,
        "errors": err,
    }
    page = write_device_report(tmp_path / "devices.html", frames, mno="mno_x").read_text()
    assert page.count("<img ") == len(picks) == 3
    assert "device 1" in page and "device 3" in page and "pseudo" not in page
    empty = write_device_report(tmp_path / "none.html", {}, mno="mno_x").read_text()
    assert "<img " not in empty and "No located device-day" in empty
