"""spark-submit entry point: the `rmf doctor` self-check, run on the submitted cluster."""

from __future__ import annotations

import argparse
import sys

from rmf_spark.config import load_config
from rmf_spark.doctor import run_doctor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="doctor")
    parser.add_argument("--config", default=None, help="TOML profile")
    args = parser.parse_args(argv)
    return run_doctor(load_config(args.config))


if __name__ == "__main__":
    sys.exit(main())
