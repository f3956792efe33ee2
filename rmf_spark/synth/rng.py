"""Counter-based randomness: every random number is a pure function of (seed, key, stream).

The world must be identical for a seed whatever the partitioning, batch sizes or executor
count, so nothing depends on a generator's state. Spark-side draws hash the row's key columns
with ``xxhash64``; numpy-side draws (inside ``mapInPandas``) mix a 64-bit key with the
SplitMix64 finaliser (Steele, Lea and Flood 2014), which passes BigCrush as a hash of a counter.

Examples
--------
>>> import numpy as np
>>> u = uniform(np.arange(5, dtype=np.uint64), stream=1, seed=7)
>>> bool(((u > 0) & (u < 1)).all()), bool((uniform(np.arange(5, dtype=np.uint64), 1, 7) == u).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["mix64", "normal", "spark_normal", "spark_uniform", "uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO53 = float(2**53)


def mix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser: ``z = (z ^ z>>30) * M1; z = (z ^ z>>27) * M2; z ^ z>>31``."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(key: NDArray[np.uint64], stream: int, seed: int) -> NDArray[np.float64]:
    """Uniform draws in ``(0, 1)``, one per key: ``(mix64(mix64(key + c) ^ s) >> 11 + .5)/2^53``.

    ``c = (seed * 2^20 + stream) * golden``; distinct streams give independent draws.
    """
    k = np.asarray(key, dtype=np.uint64)
    with np.errstate(over="ignore"):
        c = np.uint64((seed * (1 << 20) + stream) % (1 << 64)) * _GOLDEN
        z = mix64(mix64(k + c) ^ np.uint64(stream + 1))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / _TWO53


def normal(key: NDArray[np.uint64], stream: int, seed: int) -> NDArray[np.float64]:
    """Standard normal draws by Box-Muller on two uniform streams (``2 stream``, ``2 stream+1``)."""
    u1 = uniform(key, 2 * stream + 1000, seed)
    u2 = uniform(key, 2 * stream + 1001, seed)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def spark_uniform(seed: int, stream: str, *cols: Column | str) -> Column:
    """Uniform ``(0, 1)`` from ``xxhash64(seed, stream, cols...)`` (53 low bits, centred)."""
    h = F.xxhash64(F.lit(seed), F.lit(stream), *cols)
    return (F.pmod(h, F.lit(2**53)).cast("double") + F.lit(0.5)) / F.lit(_TWO53)


def spark_normal(seed: int, stream: str, *cols: Column | str) -> Column:
    """Standard normal by Box-Muller on two :func:`spark_uniform` streams."""
    u1 = spark_uniform(seed, stream + ".1", *cols)
    u2 = spark_uniform(seed, stream + ".2", *cols)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * np.pi * u2)
