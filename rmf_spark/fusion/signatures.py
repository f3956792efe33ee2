"""Linkage signatures: what one MNO exports for the fusion stage's duplicate matching.

Inside the MNO, from its device-level tables, one export per period (``docs/fusion.md``
section 6):

* **stay signatures** (:func:`export_stay_signatures`): per resident device (one with a home
  zone), the MinHash signatures of its keyed stay tokens, as
  :func:`rmf_spark.fusion.matching.export_signatures` makes them, read from the daily
  permanence (``<mno>/slayer/daily_permanence``). A *stay token* is (day, hourly slot, 1 km
  tile): a slot whose permanence row is a ``grid`` row with tiles, in the INSPIRE 1 km tile
  (the grid's ``tile_1km_id``, the integer code of ``inspire_1km``) that holds most of the
  slot's 100 m tiles (ties: the smallest code), so one token per slot, as the co-presence
  assumes. A device with fewer than ``min_tokens`` tokens exports nothing and is counted in
  its home zone (``without_signature``);
* **roamer hashes** (:func:`export_roamer_hashes`): per inbound roamer, a keyed hash of its
  foreign identifier (the IMSI of its SIM, the same on every network it visits) and the days
  of the period it was seen, so that the fusion can count a roamer seen by two MNOs once.

No pseudonym, raw identifier, token or event leaves: rows are in random order and carry no
device id (:func:`write_export`, tested by a search of the written bytes).

Keys
----
The MNOs share a master key ``RMF_LINK_KEY`` (an environment variable, at least 16 bytes,
read by :func:`load_link_key`, never written, unknown to the matching party and the office).
Each period gets two 128-bit keys derived from it (:func:`period_keys`)::

    K_tokens  = HMAC-SHA256(master, "rmf_spark fusion tokens|" || first_day)[:16]
    K_roamers = HMAC-SHA256(master, "rmf_spark fusion roamers|" || first_day)[:16]

so a period key that leaks exposes that period only, and token hashes and roamer hashes
cannot be compared with each other. Both are SipHash-2-4 keys
(:func:`rmf_spark.fusion.matching.keyed_token_hash`). The token key travels to the Spark
executors inside the pandas function that hashes the tokens (in memory; never in a plan or a
table); the master key stays on the driver.

Roamer hash: the identifier (digits only, at most 18) is packed exactly into one 64-bit word,
``len << 60 | int(digits)`` (the length keeps ``"012"`` and ``"12"`` apart), and hashed with
SipHash-2-4 under ``K_roamers``; equal identifiers give equal hashes on every MNO.

Work
----
Tokens are made in Spark (one aggregation over the exploded permanence tiles joined to the
grid); the signatures per device in ``groupBy(bucket).applyInArrow``: each device bucket's
tokens are hashed and MinHashed with numpy in one call (no per-row Python), and come back as
one row per device with its signatures as binary (``uint16`` values). The driver collects
those rows (640 bytes of signature per device: the export itself) and shuffles them.

Examples
--------
>>> keys = period_keys(b"0123456789abcdef", 19723)  # the week of Monday 2024-01-01
>>> len(keys.tokens), keys.tokens != keys.roamers
(16, True)
>>> h = roamer_link_hash(["214070000000001", "21407000000002", "214070000000001"], key=keys.roamers)
>>> bool(h[0] == h[2]), bool(h[0] == h[1])
(True, False)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from rmf_spark.errors import FusionError
from rmf_spark.fusion.matching import (
    DEFAULT_PARAMS,
    MatchingParams,
    SignatureExport,
    _siphash24_words,
    export_signatures,
    key_check_value,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = [
    "LINK_KEY_ENV",
    "MnoExport",
    "PeriodKeys",
    "RoamerExport",
    "ZoneCounts",
    "export_roamer_hashes",
    "export_roamer_links",
    "export_stay_signatures",
    "ingest_link_key",
    "load_link_key",
    "pack_identifiers",
    "period_keys",
    "read_export",
    "read_mno_export",
    "roamer_link_hash",
    "stay_tokens",
    "write_export",
]

LINK_KEY_ENV = "RMF_LINK_KEY"
_MIN_KEY_BYTES = 16
_EPOCH = dt.date(1970, 1, 1)
_MAX_DIGITS = 18  # 10^18 < 2^60: the length fits the top 4 bits
#: columns of the per-device rows the pandas function returns
_DEVICE_ROWS = (
    "zone long, n_tokens long, n_work_tokens long, has_work boolean, "
    "signature binary, work_signature binary"
)


# ---------------------------------------------------------------------------------------------
# keys


class PeriodKeys(NamedTuple):
    """The two SipHash keys of a period (16 bytes each), derived from the master key."""

    tokens: bytes
    roamers: bytes


def load_link_key(env: str = LINK_KEY_ENV) -> bytes:
    """The MNOs' shared master key from the environment variable ``env``.

    Raises
    ------
    FusionError
        ``FUSION_LINK_KEY_MISSING`` when the variable is not set or holds fewer than 16
        bytes; the message names the variable, never a value.
    """
    value = os.environ.get(env)
    if not value:
        raise FusionError(
            f"the linkage key is missing: set the environment variable {env} to the secret the "
            f"MNOs share (at least {_MIN_KEY_BYTES} bytes; never written to a file or a table)",
            code="FUSION_LINK_KEY_MISSING",
        )
    key = value.encode()
    if len(key) < _MIN_KEY_BYTES:
        raise FusionError(
            f"the linkage key in {env} is too short ({len(key)} bytes; at least {_MIN_KEY_BYTES})",
            code="FUSION_LINK_KEY_MISSING",
        )
    return key


def period_keys(master: bytes, first_day: int) -> PeriodKeys:
    """The period's token and roamer keys: ``HMAC-SHA256(master, label | first_day)[:16]``."""

    def derive(label: str) -> bytes:
        msg = f"rmf_spark fusion {label}|{int(first_day)}".encode()
        return hmac.new(master, msg, hashlib.sha256).digest()[:16]

    return PeriodKeys(derive("tokens"), derive("roamers"))


def ingest_link_key(master: bytes, day: dt.date) -> bytes:
    """The key of the roamer links the D-layer stores in bronze for the calendar month of
    ``day``: ``HMAC-SHA256(master, "rmf_spark fusion roamer link|YYYY-MM")[:16]``.

    The month is public and the same for every MNO, so equal foreign identifiers get equal
    links at every MNO within a month; a link in bronze changes with the month, as the default
    pseudonyms do (``docs/fusion.md`` section 7.1). The export re-keys the links with the
    period's roamer key (:func:`export_roamer_links`).

    >>> ingest_link_key(b"0123456789abcdef", dt.date(2024, 1, 31)) == ingest_link_key(
    ...     b"0123456789abcdef", dt.date(2024, 1, 1))
    True
    """
    msg = f"rmf_spark fusion roamer link|{day:%Y-%m}".encode()
    return hmac.new(master, msg, hashlib.sha256).digest()[:16]


def _keys(master_key: bytes | None, first_day: int) -> PeriodKeys:
    return period_keys(load_link_key() if master_key is None else master_key, first_day)


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


# ---------------------------------------------------------------------------------------------
# stay tokens and signatures


def stay_tokens(
    permanence: DataFrame,
    grid: DataFrame,
    *,
    start: dt.date,
    params: MatchingParams = DEFAULT_PARAMS,
) -> DataFrame:
    """One token per (device, day, slot) with a stay: ``device_id, day, slot, tile_1km``.

    Parameters
    ----------
    permanence
        Daily permanence rows (``rmf_spark.slayer.device.schemas.PERMANENCE_SCHEMA``): the
        period's days and slots of ``params.slots_per_day`` a day (``86400 /
        device.permanence.slot_s``), local days of ``device.time_zone``.
    grid
        The C-layer grid (``tile_id``, ``tile_1km_id``).
    start
        First day of the period; ``params.period_days`` days are read.

    Notes
    -----
    Only ``grid`` rows with tiles are stays (``unknown`` and ``abroad`` slots are not). Each
    100 m tile of the slot is mapped to its 1 km tile with the grid; the token's tile is the
    1 km tile holding most of them (ties: the smallest code). ``day`` counts days since
    1970-01-01; a slot index beyond ``slots_per_day`` (the 25th hour of a day when clocks go
    back) is dropped.
    """
    from pyspark.sql import functions as F

    end = start + dt.timedelta(days=params.period_days)
    rows = permanence.where(
        (F.col("date") >= F.lit(start))
        & (F.col("date") < F.lit(end))
        & (F.col("id_type") == "grid")
        & (F.col("slot_index") < params.slots_per_day)
    ).select(
        "device_id",
        F.datediff("date", F.lit(_EPOCH)).alias("day"),
        F.col("slot_index").alias("slot"),
        F.explode("tiles").alias("tile_id"),
    )
    tiles = rows.join(grid.select("tile_id", "tile_1km_id"), "tile_id")
    counted = tiles.groupBy("device_id", "day", "slot", "tile_1km_id").agg(F.count("*").alias("n"))
    best = counted.groupBy("device_id", "day", "slot").agg(
        F.max(F.struct("n", (-F.col("tile_1km_id")).alias("neg"))).alias("best")
    )
    return best.select("device_id", "day", "slot", (-F.col("best.neg")).alias("tile_1km"))


def _bucket_signatures(
    table: pa.Table,
    *,
    key: bytes,
    first_day: int,
    n_zones: int,
    params: MatchingParams,
) -> pa.Table:
    """Signatures of one bucket of devices: one row per device (:data:`_DEVICE_ROWS`), the
    signatures as binary (null when the device has too few tokens, or no home: zone -1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    device = pc.dictionary_encode(table.column("device_id")).combine_chunks()
    index = device.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_dev = len(device.dictionary)
    zone = np.zeros(n_dev, np.int64)
    zone[index] = pc.fill_null(table.column("zone"), -1).to_numpy()
    home = zone >= 0
    has_token = table.column("day").is_valid().to_numpy(zero_copy_only=False) & home[index]

    def col(name: str) -> np.ndarray:
        return table.column(name).filter(has_token).to_numpy().astype(np.int64)

    export, rows = export_signatures(
        index[has_token], col("day"), col("slot"), col("tile_1km"), np.maximum(zone, 0), key=key,
        first_day=first_day, n_zones=n_zones, params=params, rng=np.random.default_rng(0),
    )  # fmt: skip
    without = np.setdiff1d(np.arange(n_dev), rows)
    n_sig, n_out = rows.size, n_dev
    sig_bytes = export.signatures.dtype.itemsize * export.signatures.shape[1]
    work_bytes = export.work_signatures.dtype.itemsize * export.work_signatures.shape[1]

    def binary(matrix: np.ndarray, row_bytes: int) -> pa.Array:
        # rows with a signature first, then nulls: offsets built at once, no per-row Python
        offsets = np.r_[np.arange(n_sig + 1) * row_bytes, np.full(n_out - n_sig, n_sig * row_bytes)]
        valid = np.r_[np.ones(n_sig, bool), np.zeros(n_out - n_sig, bool)]
        return pa.Array.from_buffers(
            pa.binary(),
            n_out,
            [
                pa.py_buffer(np.packbits(valid, bitorder="little")),
                pa.py_buffer(offsets.astype(np.int32)),
                pa.py_buffer(np.ascontiguousarray(matrix).tobytes()),
            ],
        )

    return pa.table(
        {
            "zone": np.r_[export.home_zone, zone[without]],
            "n_tokens": np.r_[export.n_tokens, np.zeros(without.size, np.int64)],
            "n_work_tokens": np.r_[export.n_work_tokens, np.zeros(without.size, np.int64)],
            "has_work": np.r_[export.has_work, np.zeros(without.size, bool)],
            "signature": binary(export.signatures, sig_bytes),
            "work_signature": binary(export.work_signatures, work_bytes),
        }
    )


def _matrix(column: pa.ChunkedArray, n: int, width: int, dtype: np.dtype) -> np.ndarray:
    """The non-null binary rows of equal length as an (n, width) matrix (one buffer copy)."""
    arr = column.drop_null().combine_chunks() if column.null_count else column.combine_chunks()
    if len(arr) != n:
        raise AssertionError("signature rows and flags disagree")
    if n == 0:
        return np.empty((0, width), dtype)
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data.view(dtype).reshape(n, width)


def export_stay_signatures(
    permanence: DataFrame,
    grid: DataFrame,
    homes: DataFrame,
    zones: list[str],
    *,
    start: dt.date,
    params: MatchingParams = DEFAULT_PARAMS,
    master_key: bytes | None = None,
    n_buckets: int = 64,
    rng: np.random.Generator | None = None,
) -> tuple[SignatureExport, dict[str, int]]:
    """One MNO's stay signatures for the period from ``start``, and its counts.

    Parameters
    ----------
    permanence, grid
        As for :func:`stay_tokens`.
    homes
        ``device_id, zone_id``: the home zone of each resident device of the period (one row
        per device; a device with several keeps its first zone id in sort order). Only these
        devices are exported: the duplicates counted are residents' duplicates.
    zones
        The public zone list: a home zone's code is its position in it.
    start
        First day of the period (public, the same for every MNO).
    master_key
        The MNOs' shared key; default :func:`load_link_key` (``$RMF_LINK_KEY``).
    n_buckets
        Device buckets of the signature step: a bucket's tokens are in one pandas call (about
        ``tokens / n_buckets * 40`` bytes of memory).
    rng
        Source of the random row order (default: fresh OS entropy).

    Returns
    -------
    (SignatureExport, dict)
        The export (:class:`rmf_spark.fusion.matching.SignatureExport`; ``without_signature``
        per zone counts the residents with fewer than ``min_tokens`` tokens), and
        ``residents``, ``exported``, ``without_signature`` (those residents), ``without_home``
        (devices with tokens but no home zone: not exported, not counted in a zone).

    Raises
    ------
    FusionError
        ``FUSION_LINK_KEY_MISSING`` (no key); ``FUSION_ZONE_UNKNOWN`` when a home zone is not
        in ``zones``.
    """
    from pyspark.sql import functions as F

    first_day = _day_number(start)
    keys = _keys(master_key, first_day)
    spark = permanence.sparkSession
    codes = spark.createDataFrame(list(enumerate(zones)), "zone long, zone_id string")
    home = homes.groupBy("device_id").agg(F.min("zone_id").alias("zone_id"))
    coded = home.join(F.broadcast(codes), "zone_id", "left")
    unknown = [
        r[0] for r in coded.where(F.col("zone").isNull()).select("zone_id").limit(5).collect()
    ]
    if unknown:
        raise FusionError(
            f"home zones not in the public zone list ({len(zones)} zones), e.g. {unknown}: "
            "the homes and the zone list must come from the same zone set",
            code="FUSION_ZONE_UNKNOWN",
        )
    tokens = stay_tokens(permanence, grid, start=start, params=params)
    # residents without tokens, and devices with tokens but no home (zone null), come too
    devices = coded.select("device_id", "zone").join(tokens, "device_id", "full")
    token_key, n_zones = keys.tokens, len(zones)

    def signatures(table: pa.Table) -> pa.Table:
        return _bucket_signatures(
            table, key=token_key, first_day=first_day, n_zones=n_zones, params=params
        )

    rows = (
        devices.withColumn("bucket", F.pmod(F.xxhash64("device_id"), F.lit(n_buckets)))
        .groupBy("bucket")
        .applyInArrow(signatures, _DEVICE_ROWS)
        .toArrow()
    )
    has = rows.column("signature").is_valid().to_numpy(zero_copy_only=False)
    zone = rows.column("zone").to_numpy()
    resident = zone >= 0
    bits = np.uint16 if params.signature_bits == 16 else np.uint32
    sig = _matrix(rows.column("signature"), int(has.sum()), params.num_perm, bits)
    work = _matrix(rows.column("work_signature"), int(has.sum()), params.num_perm_work, bits)
    perm = (rng if rng is not None else np.random.default_rng()).permutation(sig.shape[0])
    export = SignatureExport(
        signatures=sig[perm],
        work_signatures=work[perm],
        has_work=rows.column("has_work").to_numpy(zero_copy_only=False)[has][perm],
        n_tokens=rows.column("n_tokens").to_numpy()[has][perm],
        n_work_tokens=rows.column("n_work_tokens").to_numpy()[has][perm],
        home_zone=zone[has][perm],
        without_signature=np.bincount(zone[~has & resident], minlength=n_zones).astype(np.int64),
        first_day=first_day,
        fingerprint=params.fingerprint(),
        key_check=key_check_value(token_key),
    )
    counts = {
        "residents": int(resident.sum()),
        "exported": int(has.sum()),
        "without_signature": int((~has & resident).sum()),
        "without_home": int((~resident).sum()),
    }
    return export, counts


# ---------------------------------------------------------------------------------------------
# roamers


@dataclass(frozen=True)
class RoamerExport:
    """An MNO's inbound roamers: per roamer a keyed hash of its foreign identifier and the
    days of the period it was seen (bit i: day ``first_day + i``), sorted by hash.

    ``key_check`` is :func:`rmf_spark.fusion.matching.key_check_value` of the roamer key: equal
    values show that the MNOs used the same key."""

    link_hash: np.ndarray  # uint64
    days_seen: np.ndarray  # uint64 bit mask
    first_day: int
    period_days: int
    key_check: int

    def __len__(self) -> int:
        return int(self.link_hash.size)


def pack_identifiers(identifiers: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each identifier packed exactly into one 64-bit word, ``len << 60 | int(digits)``, and
    whether it is valid (1 to 18 digits; the word of an invalid one is 0).

    >>> words, ok = pack_identifiers(["012", "12", "+44"])
    >>> [hex(int(w)) for w in words], ok.tolist()
    (['0x300000000000000c', '0x200000000000000c', '0x0'], [True, True, False])
    """
    ids = np.asarray(identifiers, dtype=str).reshape(-1)
    words = np.zeros(ids.size, np.uint64)
    if ids.size == 0:
        return words, np.zeros(0, bool)
    length = np.char.str_len(ids)
    ok = np.char.isdigit(ids) & (length <= _MAX_DIGITS)
    words[ok] = (length[ok].astype(np.uint64) << np.uint64(60)) | ids[ok].astype(np.uint64)
    return words, ok


def roamer_link_hash(identifiers: Any, *, key: bytes) -> np.ndarray:
    """SipHash-2-4 of each identifier (a string of at most 18 digits) under ``key``.

    Raises
    ------
    FusionError
        ``FUSION_IDENTIFIER_INVALID`` for an identifier that is empty, not all digits or
        longer than 18 digits (the message gives the count, not the identifiers).
    """
    words, ok = pack_identifiers(identifiers)
    if not ok.all():
        raise FusionError(
            f"{int((~ok).sum())} of {ok.size} roamer identifiers are not 1 to {_MAX_DIGITS} "
            "digits (a foreign IMSI is at most 15)",
            code="FUSION_IDENTIFIER_INVALID",
        )
    return _siphash24_words(words, key)


def _days_seen(
    records: DataFrame, column: str, *, start: dt.date, period_days: int, as_string: bool
) -> pa.Table:
    """Per distinct value of ``column`` seen in the period: ``value`` and ``mask``, the bit
    mask of its days (bit i: ``start + i``), one Spark aggregation, collected."""
    from pyspark.sql import functions as F

    if not 1 <= period_days <= 64:
        raise ValueError("period_days must be 1 to 64 (one bit per day)")
    end = start + dt.timedelta(days=period_days)
    value = F.col(column).cast("string") if as_string else F.col(column)
    return (
        records.where((F.col("date") >= F.lit(start)) & (F.col("date") < F.lit(end)))
        .where(F.col(column).isNotNull())
        .select(value.alias("value"), F.datediff("date", F.lit(start)).alias("d"))
        .distinct()
        .groupBy("value")
        .agg(F.expr("bit_or(shiftleft(1L, d))").alias("mask"))
        .toArrow()
    )


def _roamer_export(
    hashes: np.ndarray, seen: pa.Table, start: dt.date, days: int, key: bytes
) -> RoamerExport:
    mask = seen.column("mask").to_numpy().astype(np.int64).view(np.uint64)
    order = np.argsort(hashes, kind="stable")
    first_day = _day_number(start)
    return RoamerExport(hashes[order], mask[order], first_day, days, key_check_value(key))


def export_roamer_hashes(
    records: DataFrame,
    *,
    start: dt.date,
    period_days: int = DEFAULT_PARAMS.period_days,
    identifier: str = "foreign_id",
    master_key: bytes | None = None,
) -> RoamerExport:
    """The MNO's inbound roamers of the period, keyed (:class:`RoamerExport`), from their
    foreign identifiers.

    Parameters
    ----------
    records
        Rows with the roamer's foreign identifier (column ``identifier``, digits: the IMSI of
        its SIM) and the ``date`` it was seen, e.g. one row per inbound event or device-day;
        rows outside the period are ignored.
    start, period_days
        The period (public, the same for every MNO).
    master_key
        The MNOs' shared key; default :func:`load_link_key` (``$RMF_LINK_KEY``).

    Notes
    -----
    The distinct identifiers and their days are aggregated in Spark and collected (one row per
    roamer); only their keyed hashes and day masks are returned. The D-layer keeps no foreign
    identifier: from bronze, :func:`export_roamer_links` makes the same export from the links
    made at ingest.
    """
    key = _keys(master_key, _day_number(start)).roamers
    seen = _days_seen(records, identifier, start=start, period_days=period_days, as_string=True)
    hashes = roamer_link_hash(seen.column("value").to_numpy(zero_copy_only=False), key=key)
    return _roamer_export(hashes, seen, start, period_days, key)


def export_roamer_links(
    records: DataFrame,
    *,
    start: dt.date,
    period_days: int = DEFAULT_PARAMS.period_days,
    link: str = "roamer_link",
    master_key: bytes | None = None,
) -> RoamerExport:
    """The MNO's inbound roamers of the period from the links the D-layer stored at ingest.

    Parameters
    ----------
    records
        Rows with the link (column ``link``: ``bronze/events.roamer_link``, SipHash-2-4 of the
        packed foreign identifier under :func:`ingest_link_key` of the month, as a signed
        long) and the ``date`` it was seen; nulls (domestic devices) and rows outside the
        period are ignored.
    start, period_days, master_key
        As for :func:`export_roamer_hashes`.

    Notes
    -----
    Each distinct link is keyed again with the period's roamer key,
    ``SipHash-2-4(K_roamers, link)``, so that what leaves the MNO is keyed per period as the
    tokens are, and carries the same key check value as :func:`export_roamer_hashes`. Equal
    identifiers seen in one month give equal hashes at every MNO; a roamer seen on both sides
    of a month's end in one period has one link per month, so it is two rows (its days split
    between them): counted once per day, twice among the period's distinct roamers.
    """
    key = _keys(master_key, _day_number(start)).roamers
    seen = _days_seen(records, link, start=start, period_days=period_days, as_string=False)
    links = seen.column("value").to_numpy().astype(np.int64).view(np.uint64)
    return _roamer_export(_siphash24_words(links, key), seen, start, period_days, key)


# ---------------------------------------------------------------------------------------------
# files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ZoneCounts:
    """Per zone of the public zone list: the MNO's resident devices and its people (scalar
    expansion by its market share), from ``slayer/residents`` (role ``home``) at the
    calibration's zone level, and each zone's region. The zone list is the one the
    signatures' ``home_zone`` codes index; every MNO exports the same list."""

    zone_level: int
    region_level: int
    zones: tuple[str, ...]
    regions: tuple[str, ...]
    devices: np.ndarray  # float64, one per zone
    population: np.ndarray  # float64, one per zone

    def to_json(self) -> dict[str, Any]:
        """The ``residents.json`` content."""
        return {
            "zone_level": self.zone_level,
            "region_level": self.region_level,
            "zones": list(self.zones),
            "regions": list(self.regions),
            "devices": np.asarray(self.devices, float).tolist(),
            "population": np.asarray(self.population, float).tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZoneCounts:
        """Read back :meth:`to_json`."""
        return cls(
            zone_level=int(data["zone_level"]),
            region_level=int(data["region_level"]),
            zones=tuple(map(str, data["zones"])),
            regions=tuple(map(str, data["regions"])),
            devices=np.asarray(data["devices"], dtype=float),
            population=np.asarray(data["population"], dtype=float),
        )


def write_export(
    out_dir: str | Path,
    *,
    mno: str,
    signatures: SignatureExport,
    roamers: RoamerExport | None = None,
    counts: dict[str, int] | None = None,
    residents: ZoneCounts | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write an MNO's export to ``out_dir``: ``signatures.npz``, ``roamers.npz`` (if any),
    ``residents.json`` (if any) and ``export.json`` (MNO, period, fingerprint, key check
    values, counts, ``extra`` entries, and the SHA-256 of every other file).

    The arrays are stored uncompressed (``numpy.savez``): what leaves the MNO can be read as
    it is. Returns the path of ``export.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"signatures": out / "signatures.npz"}
    np.savez(
        files["signatures"],
        signatures=signatures.signatures,
        work_signatures=signatures.work_signatures,
        has_work=signatures.has_work,
        n_tokens=signatures.n_tokens,
        n_work_tokens=signatures.n_work_tokens,
        home_zone=signatures.home_zone,
        without_signature=signatures.without_signature,
    )
    meta: dict[str, Any] = {
        **dict(extra or {}),
        "mno": mno,
        "first_day": signatures.first_day,
        "first_date": str(_EPOCH + dt.timedelta(days=signatures.first_day)),
        "fingerprint": signatures.fingerprint,
        "key_check": signatures.key_check,
        "counts": dict(counts or {}),
    }
    if roamers is not None:
        if roamers.first_day != signatures.first_day:
            raise FusionError(
                f"{mno}: roamers and signatures cover different periods", code="FUSION_PERIOD"
            )
        files["roamers"] = out / "roamers.npz"
        np.savez(files["roamers"], link_hash=roamers.link_hash, days_seen=roamers.days_seen)
        meta["roamers"] = {"period_days": roamers.period_days, "key_check": roamers.key_check}
    if residents is not None:
        if len(residents.zones) != signatures.without_signature.size:
            raise FusionError(
                f"{mno}: {len(residents.zones)} zones of residents but the signatures code "
                f"{signatures.without_signature.size}",
                code="FUSION_ZONE_UNKNOWN",
            )
        files["residents"] = out / "residents.json"
        files["residents"].write_text(json.dumps(residents.to_json()) + "\n")
    meta["files"] = {p.name: _sha256(p) for p in files.values()}
    path = out / "export.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


@dataclass(frozen=True)
class MnoExport:
    """One MNO's export as the fusion stage reads it (:func:`read_mno_export`): its manifest
    (``export.json``), the SHA-256 of that manifest (``digest``: it holds the digest of every
    other file), the signatures, the roamers and the zone counts (None when not exported)."""

    path: Path
    meta: dict[str, Any]
    digest: str
    signatures: SignatureExport
    roamers: RoamerExport | None
    residents: ZoneCounts | None

    @property
    def mno(self) -> str:
        return str(self.meta["mno"])


def _invalid(what: str) -> FusionError:
    return FusionError(what, code="FUSION_EXPORT_INVALID")


def read_mno_export(out_dir: str | Path) -> MnoExport:
    """Read back :func:`write_export`'s files, checking each against ``export.json``.

    Raises
    ------
    FusionError
        ``FUSION_EXPORT_INVALID`` naming the MNO and the file when ``export.json`` is missing
        or unreadable, or a file it lists is missing or does not match its digest.
    """
    out = Path(out_dir)
    meta_path = out / "export.json"
    if not meta_path.is_file():
        raise _invalid(f"no export manifest {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
        mno, listed = str(meta["mno"]), dict(meta["files"])
        first_day, key_check = int(meta["first_day"]), int(meta["key_check"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid(f"export manifest {meta_path} cannot be read ({exc!r})") from None
    for name in dict.fromkeys(["signatures.npz", *listed]):
        f = out / name
        if not f.is_file() or _sha256(f) != listed.get(name):
            raise _invalid(f"export of {mno}: {f} is missing or does not match export.json")
    with np.load(out / "signatures.npz") as z:
        sig = SignatureExport(
            **{k: z[k] for k in z.files},
            first_day=first_day,
            fingerprint=meta["fingerprint"],
            key_check=key_check,
        )
    roamers = None
    if "roamers" in meta:
        if "roamers.npz" not in listed:
            raise _invalid(f"export of {mno}: {out / 'roamers.npz'} is not in export.json")
        with np.load(out / "roamers.npz") as z:
            roamers = RoamerExport(
                z["link_hash"],
                z["days_seen"],
                first_day,
                int(meta["roamers"]["period_days"]),
                int(meta["roamers"]["key_check"]),
            )
    residents = None
    if "residents.json" in listed:
        residents = ZoneCounts.from_json(json.loads((out / "residents.json").read_text()))
    digest = hashlib.sha256(meta_path.read_bytes()).hexdigest()
    return MnoExport(out, meta, digest, sig, roamers, residents)


def read_export(out_dir: str | Path) -> tuple[dict[str, Any], SignatureExport, RoamerExport | None]:
    """Read back :func:`write_export`'s files, checking them against ``export.json``
    (:func:`read_mno_export`): the manifest, the signatures and the roamers.

    Raises
    ------
    FusionError
        ``FUSION_EXPORT_INVALID`` naming the MNO and the file when a file is missing or does
        not match its digest.
    """
    export = read_mno_export(out_dir)
    return export.meta, export.signatures, export.roamers
