"""spark-submit entry point of `rmf fusion`: an MNO's export (`fusion export`) or the fusion
job itself (`fusion run`, reading only the MNOs' export directories and the register).

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf fusion export --help` or `rmf fusion run --help`, e.g.
``./spark-submit.sh fusion run --export a --export b --export c --register reg --out out``;
``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["fusion", *sys.argv[1:]]))
