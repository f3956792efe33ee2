"""spark-submit entry point of `rmf statistics present-population` (one MNO, a time range).

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf statistics present-population --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["statistics", "present-population", *sys.argv[1:]]))
