"""Instants as integer microseconds since the epoch (naive UTC), for exact interval arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd


def to_micros(values: pd.Series | pd.Timestamp | np.ndarray) -> np.ndarray:
    """``datetime``-like values (a Series, an array or one instant) as int64 microseconds."""
    as_index = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(values))))
    return np.asarray(as_index.as_unit("us").asi8, dtype=np.int64)
