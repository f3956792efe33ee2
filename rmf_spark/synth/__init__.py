"""The synthetic world with ground truth: territory, people, MNOs, raw data, truth tables.

Entry point: :func:`generate_world` (also ``rmf synth --profile NAME --out DIR``). The model
and every parameter are described in ``docs/synthetic-world.md``.
"""

from __future__ import annotations

from rmf_spark.synth.profile import SynthProfile, load_profile
from rmf_spark.synth.runner import generate_world

__all__ = ["SynthProfile", "generate_world", "load_profile"]
