"""spark-submit entry point of `rmf doctor`: the self-check, run on the submitted cluster.

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf doctor --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["doctor", *sys.argv[1:]]))
