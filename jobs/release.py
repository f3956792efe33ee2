"""spark-submit entry point: `rmf release` (present population) for one MNO and time range."""

from __future__ import annotations

import json
import sys

from rmf_spark.config import load_config
from rmf_spark.job_args import stage_parser
from rmf_spark.release.runner import run_release
from rmf_spark.slayer.time_points import parse_time_bound


def main(argv: list[str] | None = None) -> int:
    parser = stage_parser("release", time_range=True)
    parser.add_argument("--out", default=None, help="export directory (default: in the lake)")
    args = parser.parse_args(argv)
    manifest = run_release(
        load_config(args.config),
        mno=args.mno,
        start=parse_time_bound(args.start),
        end=parse_time_bound(args.end, end=True),
        out_dir=args.out,
    )
    print(json.dumps(manifest, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
