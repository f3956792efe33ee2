"""spark-submit entry point: `rmf statistics present-population` for one MNO and time range."""

from __future__ import annotations

import argparse
import json
import sys

from rmf_spark.config import load_config
from rmf_spark.slayer.runner import run_present_population
from rmf_spark.slayer.time_points import parse_time_bound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="present_population")
    parser.add_argument("--config", default=None, help="TOML profile")
    parser.add_argument("--mno", required=True, help="MNO id")
    parser.add_argument("--start", required=True, help="YYYY-MM-DD[THH:MM:SS] (UTC)")
    parser.add_argument("--end", required=True, help="YYYY-MM-DD[THH:MM:SS] (UTC)")
    args = parser.parse_args(argv)
    summary = run_present_population(
        load_config(args.config),
        mno=args.mno,
        start=parse_time_bound(args.start),
        end=parse_time_bound(args.end, end=True),
    )
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
