"""spark-submit entry point of `rmf ingest-cells`: one MNO's cell plan into bronze.

The same code path as the command line (options, ``--set``, error handling): arguments are
those of `rmf ingest-cells --help`; ``spark-submit.sh`` adds ``--config``.
"""

from __future__ import annotations

import sys

from rmf_spark.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest-cells", *sys.argv[1:]]))
