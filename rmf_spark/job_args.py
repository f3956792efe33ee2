"""Argument parsing shared by the spark-submit entry points in ``jobs/``."""

from __future__ import annotations

import argparse

__all__ = ["stage_parser"]


def stage_parser(prog: str, *, time_range: bool = False) -> argparse.ArgumentParser:
    """A parser with ``--config`` and ``--mno`` (and ``--start``/``--end`` when asked)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", default=None, help="TOML profile")
    parser.add_argument("--mno", required=True, help="MNO id")
    if time_range:
        parser.add_argument("--start", required=True, help="YYYY-MM-DD[THH:MM:SS] (UTC)")
        parser.add_argument("--end", required=True, help="YYYY-MM-DD[THH:MM:SS] (UTC)")
    return parser
