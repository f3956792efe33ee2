"""spark-submit entry point: `rmf convergence` (C-layer) for one MNO and one date."""

from __future__ import annotations

import argparse
import json
import sys

from rmf_spark.clayer.runner import run_convergence
from rmf_spark.config import load_config
from rmf_spark.session import get_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convergence")
    parser.add_argument("--config", default=None, help="TOML profile")
    parser.add_argument("--mno", required=True, help="MNO id")
    parser.add_argument("--date", required=True, help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    print(json.dumps(run_convergence(get_spark(cfg), cfg, mno=args.mno, date=args.date)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
