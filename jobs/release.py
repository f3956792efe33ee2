"""spark-submit entry point of `rmf release`: disclosure control and exports of one MNO.

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf release --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["release", *sys.argv[1:]]))
