"""spark-submit entry point of `rmf convergence`: the C-layer of one MNO and one day.

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf convergence --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["convergence", *sys.argv[1:]]))
