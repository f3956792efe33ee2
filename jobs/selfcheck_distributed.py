"""spark-submit entry point: a small distributed job (spatial join, Delta write, pandas UDF).

Used by the tests in local and local-cluster mode and, on a new cluster, as a smoke test:
``SPARK_SUBMIT_ARGS="--master yarn" ./spark-submit.sh selfcheck_distributed --out hdfs:///tmp/x``.
It prints one JSON line with what it computed and the master it ran on.
"""

from __future__ import annotations

import argparse
import json
import sys

from rmf_spark.config import load_config
from rmf_spark.selfcheck import distributed_selfcheck
from rmf_spark.session import get_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="selfcheck_distributed")
    parser.add_argument("--config", default=None, help="TOML profile")
    parser.add_argument("--out", required=True, help="directory for the Delta table written")
    args = parser.parse_args(argv)
    spark = get_spark(load_config(args.config))
    result = distributed_selfcheck(spark, args.out)
    print("RESULT " + json.dumps(result), flush=True)
    spark.stop()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
