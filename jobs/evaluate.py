"""spark-submit entry point of `rmf evaluate`: accuracy against a synthetic world's truth.

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf evaluate --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
