"""The roamer link at ingest: a keyed hash of an inbound roamer's foreign identifier.

Bronze keeps pseudonyms only (:mod:`~.pseudonymise`), and a pseudonym differs between MNOs,
so the fusion stage could not tell that two MNOs saw the same visitor. For an *inbound* event
(its ``mcc`` is not the country's, ``convergence.home_mcc``: the SIM is foreign, as the
C-layer's ``domain = 'inbound'``) the load also stores ``roamer_link``, the SipHash-2-4 of the
raw identifier (the IMSI of the visitor's SIM, the same on every network it attaches to)
packed into one 64-bit word (:func:`rmf_spark.fusion.signatures.pack_identifiers`), under a
key derived from the MNOs' shared ``RMF_LINK_KEY`` for the calendar month of the loaded date
(:func:`rmf_spark.fusion.signatures.ingest_link_key`)::

    K_month     = HMAC-SHA256(RMF_LINK_KEY, "rmf_spark fusion roamer link|YYYY-MM")[:16]
    roamer_link = SipHash-2-4(K_month, len(imsi) << 60 | imsi)

stored as a signed long (the same 64 bits). Domestic events, outbound roaming records (no
cell: the MNO's own subscriber abroad, whose MCC is the visited network's), identifiers that
are not 1 to 18
digits, and profiles whose identifier is already a pseudonym have a null link. The fusion
export reads the links of its period from bronze and keys them again per period
(:func:`rmf_spark.fusion.signatures.export_roamer_links`); ``docs/fusion.md`` section 7.1.

Keys: the month key is derived on the driver and reaches the executors inside the Arrow UDF
that hashes (pickled with it, in memory; in no plan string, column or table); the master key
stays on the driver. When ``RMF_LINK_KEY`` is not set the load goes on with a null link, says
so once in its log and in ``quality/load_metrics`` (``roamer_link_key_missing = 1``), and the
fusion export later stops with ``FUSION_LINK_KEY_MISSING``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rmf_spark.fusion.signatures import LINK_KEY_ENV, ingest_link_key, load_link_key

__all__ = ["KEY_MISSING_METRIC", "ROAMER_LINK", "roamer_link_key", "with_roamer_link"]

log = logging.getLogger(__name__)

#: the bronze column
ROAMER_LINK = "roamer_link"
#: quality metric of a load: 1 when RMF_LINK_KEY was not set (every link null), else 0
KEY_MISSING_METRIC = "roamer_link_key_missing"


def roamer_link_key(date: dt.date, *, env: str = LINK_KEY_ENV) -> bytes | None:
    """The month key of the links of a load of ``date``, or None when ``$env`` is not set
    (logged as a warning, once per load).

    Raises
    ------
    rmf_spark.errors.FusionError
        ``FUSION_LINK_KEY_MISSING`` when the variable is set but shorter than 16 bytes (a key
        meant to be there, and wrong).
    """
    if not os.environ.get(env):
        log.warning(
            "ingest: %s is not set: bronze roamer_link stays null, so the fusion export of "
            "this period cannot link inbound roamers across MNOs (it stops with "
            "FUSION_LINK_KEY_MISSING); set it and reload to link them",
            env,
        )
        return None
    return ingest_link_key(load_link_key(env), date)


def _hasher(key: bytes) -> Callable[[Any], Any]:
    """The Arrow UDF body: SipHash-2-4 of the valid identifiers of a batch, null elsewhere."""

    def link(raw: Any) -> Any:  # pyarrow arrays
        import pyarrow as pa

        from rmf_spark.fusion.matching import _siphash24_words
        from rmf_spark.fusion.signatures import pack_identifiers

        present = raw.is_valid().to_numpy(zero_copy_only=False)
        out = np.zeros(len(raw), np.uint64)
        valid = np.zeros(len(raw), bool)
        if present.any():
            ids = raw.filter(raw.is_valid()).to_numpy(zero_copy_only=False)
            words, ok = pack_identifiers(ids)
            where = np.flatnonzero(present)[ok]
            out[where] = _siphash24_words(words[ok], key)
            valid[where] = True
        return pa.array(out.view(np.int64), type=pa.int64(), mask=~valid)

    import pyarrow as pa

    # the type hints that make it a scalar Arrow UDF (this module's annotations are strings)
    link.__annotations__ = {"raw": pa.Array, "return": pa.Array}
    return link


def with_roamer_link(
    df: DataFrame,
    *,
    key: bytes | None,
    home_mcc: int,
    pseudonymised: bool,
    raw_id: str = "_raw_id",
) -> DataFrame:
    """``df`` with ``roamer_link`` (long): the keyed link of ``raw_id`` on inbound rows.

    Parameters
    ----------
    df
        Typed event rows with ``cell_id``, ``mcc`` and the raw identifier (:func:`~.pseudonymise.
        with_device_id` leaves it in ``_raw_id``).
    key
        :func:`roamer_link_key` of the load's date; None: every link null.
    home_mcc
        The country's mobile country code (``convergence.home_mcc``): other MCCs are inbound.
    pseudonymised
        The profile's identifier already is a pseudonym: no foreign identifier, links null.

    Notes
    -----
    An Arrow UDF (vectorised numpy SipHash, no per-row Python) receives the identifier of
    inbound rows and null for the others, so domestic rows cost a null bit each.
    """
    if key is None or pseudonymised:
        return df.withColumn(ROAMER_LINK, F.lit(None).cast("long"))
    link = F.arrow_udf(_hasher(bytes(key)), "long")
    # a row without a cell is an outbound roaming record: the MNO's own subscriber abroad
    inbound: Column = (
        F.col("cell_id").isNotNull() & F.col("mcc").isNotNull() & (F.col("mcc") != F.lit(home_mcc))
    )
    return df.withColumn(ROAMER_LINK, link(F.when(inbound, F.col(raw_id).cast("string"))))
