"""spark-submit entry point: `rmf ingest` (one MNO day) or, with --cells, `rmf ingest-cells`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from rmf_spark.config import load_config
from rmf_spark.dlayer.runner import ingest_cells, ingest_events
from rmf_spark.errors import RmfError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ingest")
    parser.add_argument("--config", default=None, help="TOML profile")
    parser.add_argument("--mno", required=True, help="MNO id")
    parser.add_argument("--date", help="day to load, YYYY-MM-DD (events)")
    parser.add_argument("--cells", action="store_true", help="load the cell plan instead")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        if args.cells:
            print(ingest_cells(cfg, mno_id=args.mno))
        elif args.date:
            print(ingest_events(cfg, mno_id=args.mno, date=dt.date.fromisoformat(args.date)))
        else:
            parser.error("--date is required unless --cells is given")
    except RmfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
