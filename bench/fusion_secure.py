"""Benchmark of the fusion stage's secure aggregation: MPyC against the same computation in the
clear.

Makes, with a fixed seed, the inputs of 2 MNOs and the office for ``--zones`` zones in
``--regions`` regions (counts gamma-distributed, a good share of zones under k, a few per cent
of duplicates, a register 10-50 % above the counts), then, for every repetition, times:

* ``secure``: :func:`run_local_parties`, three parties as OS processes over 127.0.0.1, from
  writing the inputs to reading the office's result (process start-up and connection
  included); ``secure_compute`` is the part of it inside the secure computation (the slowest
  party's, from connected to output);
* ``clear``: :func:`combine_in_clear` on the same inputs (numpy), the floor.

Prints one JSON object: medians and runs (seconds), the ratio of secure to clear, the largest
absolute difference between the office's released values and the clear ones (combined and
calibrated), and the zones released and suppressed.

Usage::

    .venv/bin/python bench/fusion_secure.py                  # 10 000 zones, 3 repetitions
    .venv/bin/python bench/fusion_secure.py --zones 1000 --reps 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from rmf_spark.fusion.secure import (
    MNO,
    OFFICE,
    MnoInputs,
    OfficeInputs,
    PublicParameters,
    combine_in_clear,
    run_local_parties,
)


def make_case(n_zones: int, n_regions: int, k: float, seed: int):  # type: ignore[no-untyped-def]
    """Public parameters, each party's inputs, and the arrays for the clear run."""
    rng = np.random.default_rng(seed)
    zones = [f"z{i:06d}" for i in range(n_zones)]
    regions = [f"r{i % n_regions:04d}" for i in range(n_zones)]
    counts = rng.gamma(0.8, 15.0, size=(2, n_zones))
    duplicates = counts * rng.uniform(0, 0.05, size=(2, n_zones))
    register = np.round(counts.sum(axis=0) * rng.uniform(1.1, 1.5, n_zones))
    params = PublicParameters(
        zones, regions, k, [("mno_a", MNO), ("mno_b", MNO), ("office", OFFICE)]
    )
    inputs = {
        "mno_a": MnoInputs(counts[0], duplicates[0]),
        "mno_b": MnoInputs(counts[1], duplicates[1]),
        "office": OfficeInputs(register),
    }
    return params, inputs, (counts, duplicates, register, regions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=10_000, help="number of zones (10 000)")
    ap.add_argument("--regions", type=int, help="number of regions (default: zones / 100)")
    ap.add_argument("--k", type=float, default=10.0, help="threshold k (10)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions, median reported (3)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per secure run")
    args = ap.parse_args()
    n_regions = args.regions or max(1, args.zones // 100)

    params, inputs, clear_args = make_case(args.zones, n_regions, args.k, args.seed)
    runs: dict[str, list[float]] = {"secure": [], "secure_compute": [], "clear": []}
    diff = {"combined": 0.0, "calibrated": 0.0}
    for _ in range(args.reps):
        t0 = time.perf_counter()
        clear = combine_in_clear(*clear_args, args.k)
        runs["clear"].append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory(prefix="rmf-fusion-bench-") as work:
            t0 = time.perf_counter()
            res = run_local_parties(params, inputs, workdir=work, timeout=args.timeout)
            runs["secure"].append(time.perf_counter() - t0)
            reports = [json.loads(p.read_text()) for p in Path(work).glob("*.report.json")]
            runs["secure_compute"].append(max(r["seconds"]["compute"] for r in reports))
        if res.released != tuple(np.asarray(params.zones)[clear.released]):
            raise SystemExit("the secure run released other zones than the clear one")
        for key, got in (("combined", res.combined), ("calibrated", res.calibrated)):
            want = getattr(clear, key)[clear.released]
            diff[key] = max(diff[key], float(np.max(np.abs(got - want), initial=0.0)))

    med = {k: statistics.median(v) for k, v in runs.items()}
    print(
        json.dumps(
            {
                "benchmark": "fusion_secure",
                "mpyc": version("mpyc"),
                "parties": len(params.parties),
                "zones": args.zones,
                "regions": n_regions,
                "k": args.k,
                "seconds": {k: round(v, 4) for k, v in med.items()},
                "runs": {k: [round(x, 4) for x in v] for k, v in runs.items()},
                "secure_to_clear": round(med["secure"] / med["clear"], 1),
                "max_abs_diff": diff,
                "released": len(res.released),
                "suppressed": len(res.suppressed),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
