"""spark-submit entry point of `rmf statistics device` (one MNO, one device-day).

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf statistics device --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["statistics", "device", *sys.argv[1:]]))
