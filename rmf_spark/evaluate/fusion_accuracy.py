"""Accuracy of the fusion stage's combined residents against the synthetic truth.

The fusion products (``rmf fusion run``: ``naive_sum``, ``weighted_sum``, ``deduplicated``,
``calibrated``) are compared with the true residents per zone of the period
(:func:`rmf_spark.evaluate.usual_environment_accuracy.period_residents`), on the zones each
product released:

    NAE        = sum_z |x_z - R_z| / sum_z R_z
    shape NAE  = sum_z |x_z / sum x - R_z / sum R|        (the same on shares: scale-free)

The calibrated product estimates persons, so its NAE is the headline figure (issue target:
<= 0.03 per municipality, total within 0.5 %). The sums count devices, not persons: only their
shape NAE compares with the calibrated one's, which is why both are reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fusion_accuracy"]

_ZONE = "zone_id"
#: product -> its column of values (the calibrated product: the model's persons, and the ratio)
_COLUMNS = {
    "naive_sum": "value",
    "weighted_sum": "value",
    "deduplicated": "value",
    "calibrated": "population",
    "calibrated_ratio": "ratio_population",
}


def _scores(estimate: pd.Series, truth: pd.Series) -> dict[str, Any]:
    both = pd.concat([estimate.rename("x"), truth.rename("r")], axis=1, join="inner").dropna()
    if both.empty or both["r"].sum() <= 0 or both["x"].sum() <= 0:
        return {"zones": len(both), "nae": None, "shape_nae": None, "total_ratio": None}
    x, r = both["x"].to_numpy(float), both["r"].to_numpy(float)
    return {
        "zones": len(both),
        "nae": float(np.abs(x - r).sum() / r.sum()),
        "shape_nae": float(np.abs(x / x.sum() - r / r.sum()).sum()),
        "total_ratio": float(x.sum() / r.sum()),
    }


def fusion_accuracy(products_dir: str | Path, truth_residents: pd.DataFrame) -> dict[str, Any]:
    """Scores of each combined product against the true residents (module notes).

    Parameters
    ----------
    products_dir
        ``rmf fusion run``'s output directory (``<product>.parquet``).
    truth_residents
        ``zone_id, residents`` at the fusion's zone level.

    Returns
    -------
    dict
        Per product (``calibrated_ratio``: the calibrated product's ratio estimate):
        ``zones`` compared, ``nae``, ``shape_nae``, ``total_ratio`` (sum of estimates over
        the sum of the truth on those zones); ``None`` where nothing was released.
    """
    base = Path(products_dir)
    truth = truth_residents.assign(**{_ZONE: truth_residents[_ZONE].astype(str)}).set_index(_ZONE)[
        "residents"
    ]
    out: dict[str, Any] = {}
    for name, column in _COLUMNS.items():
        path = base / f"{name.removesuffix('_ratio')}.parquet"
        if not path.is_file():
            continue
        table = pd.read_parquet(path)
        table = table[~table["suppressed"].astype(bool)]
        estimate = table.assign(**{_ZONE: table[_ZONE].astype(str)}).set_index(_ZONE)[column]
        out[name] = _scores(estimate, truth)
    return out
