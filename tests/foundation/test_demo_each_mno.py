"""The demo's MNOs side by side: results in MNO order, an error raised after the others end."""

from __future__ import annotations

import threading
import time

import pytest

from rmf_spark.demo import _each_mno


def test_each_mno_runs_side_by_side_and_keeps_the_order():
    started: list[str] = []
    both = threading.Barrier(2, timeout=10)  # each waits for the other: they overlap

    def run(mno: str) -> str:
        started.append(mno)
        both.wait()
        time.sleep(0.05 if mno == "a" else 0.0)
        return mno.upper()

    assert _each_mno(["a", "b"], run, at_once=2) == ["A", "B"]
    assert sorted(started) == ["a", "b"]
    assert _each_mno(["a", "b"], str.upper, at_once=1) == ["A", "B"]


def test_each_mno_raises_the_error_once_the_others_have_finished():
    finished: list[str] = []

    def run(mno: str) -> None:
        if mno == "bad":
            raise ValueError("bad input for bad")
        time.sleep(0.2)
        finished.append(mno)

    with pytest.raises(ValueError, match="bad input"):
        _each_mno(["bad", "good"], run, at_once=2)
    assert finished == ["good"]  # not abandoned half way
