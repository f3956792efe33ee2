"""The device bucket: which slice of devices a row belongs to, the same in every table.

Bronze events and every device-level table are partitioned by ``(date, device_bucket)``, with
``device_bucket = pmod(xxhash64(device_id), ingest.n_device_buckets)``: a device's rows share
the bucket of every table, so a stage can work on bounded slices of devices.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["device_bucket"]


def device_bucket(n_buckets: int, device_id: str = "device_id") -> Column:
    """``pmod(xxhash64(device_id), n_buckets)`` as an int column."""
    return F.pmod(F.xxhash64(device_id), F.lit(n_buckets)).cast("int")
