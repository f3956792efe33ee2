"""Keyed pseudonyms: HMAC-SHA256 of the raw identifier, computed with Spark SQL functions.

The master key is read on the driver from an environment variable or a key file. It never
enters a DataFrame: for each key period the driver derives a period key
``K_p = HMAC-SHA256(master, "rmf_spark pseudonym|" || period_start)`` and ships the two padded
forms of ``K_p`` to the executors as a one-row *broadcast DataFrame* (data, not a literal), so
no plan string, ``explain()`` output or Spark UI page shows it. A leaked period key exposes
one period only; the master key is never on an executor.

Notes
-----
HMAC (RFC 2104) with SHA-256, block size B = 64 bytes::

    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))

with K' the key zero-padded to 64 bytes, ipad = 0x36 * 64, opad = 0x5c * 64. In Spark:
``sha2(concat(opad_key, unhex(sha2(concat(ipad_key, cast(id as binary)), 256))), 256)``.
The result is the lower-case hex digest, identical to Python's ``hmac.new(K_p, id,
hashlib.sha256).hexdigest()`` (tested).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, StructField, StructType

from rmf_spark.dlayer.settings import IngestSettings
from rmf_spark.errors import RmfError

__all__ = [
    "PseudonymKeyError",
    "derive_period_key",
    "hmac_hex",
    "key_period_start",
    "load_master_key",
    "period_keys",
    "with_device_id",
]

_BLOCK = 64
_KEY_COLS = ("_k", "_ipad_key", "_opad_key", "_qkey")


class PseudonymKeyError(RmfError):
    """Thrown when the pseudonymisation key is missing or too short (the key is never shown)."""

    code = "PSEUDONYM_KEY_MISSING"


def load_master_key(settings: IngestSettings) -> bytes:
    """The master key: ``$<key_env>`` if set, else the content of ``key_file``.

    Raises
    ------
    PseudonymKeyError
        Neither is set, the file is unreadable, or the key is shorter than 16 bytes. The
        message names the variable or file, never the key.
    """
    value = os.environ.get(settings.key_env)
    where = f"environment variable {settings.key_env}"
    if not value and settings.key_file:
        where = f"key file {settings.key_file}"
        try:
            value = Path(settings.key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PseudonymKeyError(f"{where}: cannot be read ({exc.strerror})") from None
    if not value:
        raise PseudonymKeyError(
            f"no pseudonymisation key: set {where} (or ingest.key_file) to a secret of at "
            "least 16 bytes"
        )
    key = value.encode("utf-8")
    if len(key) < 16:
        raise PseudonymKeyError(f"{where}: the key is shorter than 16 bytes", code="KEY_TOO_SHORT")
    return key


def key_period_start(date: dt.date, rotation: str) -> dt.date:
    """First day of the key period holding ``date`` (``none``: 1970-01-01)."""
    if rotation == "none":
        return dt.date(1970, 1, 1)
    if rotation == "day":
        return date
    if rotation == "week":
        return date - dt.timedelta(days=date.weekday())
    if rotation == "month":
        return date.replace(day=1)
    if rotation == "quarter":
        return date.replace(month=3 * ((date.month - 1) // 3) + 1, day=1)
    if rotation == "year":
        return date.replace(month=1, day=1)
    raise ValueError(f"unknown key rotation {rotation!r}")


def derive_period_key(master: bytes, period_start: dt.date, *, purpose: str = "pseudonym") -> bytes:
    """``HMAC-SHA256(master, "rmf_spark <purpose>|<period_start ISO>")`` (32 bytes)."""
    msg = f"rmf_spark {purpose}|{period_start.isoformat()}".encode()
    return hmac.new(master, msg, hashlib.sha256).digest()


def hmac_hex(key: bytes, message: bytes) -> str:
    """Reference HMAC-SHA256 hex digest in Python (tests and documentation only)."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def period_keys(spark: SparkSession, master: bytes, period_start: dt.date) -> DataFrame:
    """One-row DataFrame with the padded period key (and the quarantine encryption key).

    Columns: ``_k`` int (0, the join key), ``_ipad_key``, ``_opad_key`` binary (64 bytes),
    ``_qkey`` binary (32 bytes, AES key for quarantined raw content).
    """
    key = derive_period_key(master, period_start)
    padded = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in padded)
    opad = bytes(b ^ 0x5C for b in padded)
    qkey = derive_period_key(master, period_start, purpose="quarantine")
    schema = StructType(
        [
            StructField("_k", IntegerType(), False),
            StructField("_ipad_key", BinaryType(), False),
            StructField("_opad_key", BinaryType(), False),
            StructField("_qkey", BinaryType(), False),
        ]
    )
    return spark.createDataFrame([(0, bytearray(ipad), bytearray(opad), bytearray(qkey))], schema)


def hmac_column(message: Column) -> Column:
    """HMAC-SHA256 hex of ``message`` (binary) with the keys of :func:`period_keys` in scope."""
    inner = F.unhex(F.sha2(F.concat(F.col("_ipad_key"), message), 256))
    return F.sha2(F.concat(F.col("_opad_key"), inner), 256)


def with_device_id(
    df: DataFrame,
    *,
    keys: DataFrame,
    identifier: str,
    pseudonymised: bool,
    raw_id_col: str = "_raw_id",
) -> DataFrame:
    """Add ``device_id`` (hex pseudonym) and the period key columns.

    Parameters
    ----------
    df
        Rows with the raw identifier in column ``identifier`` (string; hex string when
        ``pseudonymised``).
    keys
        :func:`period_keys` (joined by broadcast; its columns stay until :func:`drop_keys`).
    identifier
        Raw identifier column; it is renamed to ``raw_id_col`` (drop it before writing).
    pseudonymised
        True: the identifier already is a pseudonym (hex): it is carried through, lower case.

    Returns
    -------
    DataFrame
        ``df`` plus ``device_id`` string (null when the identifier is null) and the key columns.
    """
    out = df.withColumnRenamed(identifier, raw_id_col).withColumn("_k", F.lit(0))
    out = out.join(F.broadcast(keys), on="_k", how="inner")
    raw = F.col(raw_id_col)
    device = F.lower(raw) if pseudonymised else hmac_column(raw.cast("binary"))
    return out.withColumn("device_id", F.when(raw.isNotNull(), device))


def drop_keys(df: DataFrame) -> DataFrame:
    """Drop the period-key columns added by :func:`with_device_id`."""
    return df.drop(*_KEY_COLS)
