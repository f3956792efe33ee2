"""spark-submit entry point: `rmf statistics present-population` for one MNO and time range."""

from __future__ import annotations

import json
import sys

from rmf_spark.config import load_config
from rmf_spark.job_args import stage_parser
from rmf_spark.slayer.runner import run_present_population
from rmf_spark.slayer.time_points import parse_time_bound


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser("present_population", time_range=True)
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
