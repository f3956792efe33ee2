"""Reduced variants of a synthetic-world profile for the benchmarks (``--scale`` etc.)."""

from __future__ import annotations

import argparse
from typing import Any


def add_reduction_arguments(ap: argparse.ArgumentParser) -> None:
    """``--profile``, ``--scale``, ``--persons``, ``--km``, ``--days`` and ``--master``."""
    ap.add_argument("--profile", default="bench")
    ap.add_argument("--scale", type=float, help="fraction of persons and area (0 < f <= 1)")
    ap.add_argument("--persons", type=int, help="override population.n_persons")
    ap.add_argument("--km", type=int, help="override territory width and height (km)")
    ap.add_argument("--days", type=int, help="override n_days")
    ap.add_argument("--master", default="local[*]")


def add_world_arguments(ap: argparse.ArgumentParser) -> None:
    """``--out`` (a world and lake kept and reused) and ``--reps``."""
    ap.add_argument(
        "--out", help="world and lake (kept, reused); default: a temporary one, removed"
    )
    ap.add_argument("--reps", type=int, default=3)


def reduced_profile(
    args: argparse.Namespace, *, scale_network: bool = False
) -> tuple[Any, dict[str, object]]:
    """The profile with the reductions of ``args`` applied, and those overrides.

    ``--scale f`` keeps a fraction ``f`` of the persons and of the territory's area (same
    density); ``--persons``, ``--km`` and ``--days`` set those values directly. The MNOs keep
    their cell counts (a denser network in a smaller territory) unless ``scale_network``:
    then every MNO keeps a fraction ``f`` of its macro sites and micro cells, so that a device
    sees as many cells around it as at full scale (what the device stage's cost depends on).
    """
    from rmf_spark.synth import load_profile

    full = load_profile(args.profile)
    persons, km = args.persons, args.km
    if args.scale:
        persons = persons or max(10, round(full.population.n_persons * args.scale))
        km = km or max(2, round(full.territory.width_km * args.scale**0.5))
    overrides: dict[str, object] = {}
    if persons:
        overrides["population.n_persons"] = persons
        overrides["population.n_tourists"] = max(1, persons // 50)
    if km:
        overrides["territory.width_km"] = overrides["territory.height_km"] = km
    if args.days:
        overrides["n_days"] = args.days
    prof = load_profile(args.profile, overrides=overrides)
    if args.scale and scale_network:
        # the MNOs are a list of tables, out of reach of dotted overrides
        network = {
            m.mno_id: {
                "n_macro_sites": max(1, round(m.n_macro_sites * args.scale)),
                "n_micro_cells": round(m.n_micro_cells * args.scale),
            }
            for m in prof.mnos
        }
        mnos = [m.model_copy(update=network[m.mno_id]) for m in prof.mnos]
        prof = prof.model_copy(update={"mnos": mnos})
        overrides["mnos"] = network
    return prof, overrides
