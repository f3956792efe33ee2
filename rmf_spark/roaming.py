"""The roaming domain of an event: domestic, inbound or outbound, the same in every layer.

Following MultiMNO's event cleaning, an event is ``outbound`` when it is a roaming record of
the MNO's own subscriber on a foreign network: the home network knows no cell of it, only the
visited network's PLMN. In bronze such a row has no cell and a PLMN whose MCC is not the
country's (``convergence.home_mcc``); an inbound roamer is on the MNO's own network, so its
events always have a cell (docs/bronze.md, "Outbound roaming records"). The D-layer accepts
a row without a cell only when it is outbound; the C-layer gives it ``domain = 'outbound'``.

Examples
--------
>>> from pyspark.sql import functions as F
>>> rows = [("c1", "21401"), ("c1", "20801"), (None, "20801"), (None, "21401"), (None, None)]
>>> df = spark.createDataFrame(rows, "cell_id string, plmn string")
>>> out = is_outbound_record(F.col("cell_id"), F.col("plmn"), 214)
>>> [r[0] for r in df.select(out).collect()]
[False, False, True, False, False]
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["is_outbound_record"]


def is_outbound_record(cell_id: Column, plmn: Column, home_mcc: int) -> Column:
    """True on an outbound roaming record: no cell, and a PLMN of 5 or 6 digits whose MCC
    (its first three) is not ``home_mcc``; never null."""
    foreign = plmn.rlike("^[0-9]{5,6}$") & (F.substring(plmn, 1, 3) != F.lit(f"{home_mcc:03d}"))
    return cell_id.isNull() & F.coalesce(foreign, F.lit(False))
