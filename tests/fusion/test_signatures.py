"""Linkage signatures exported by an MNO: stay tokens from the daily permanence, the export
equal to the numpy one on the same tokens, a planted duplicate across two MNOs found by the
matching (and a household partner not), roamer hashes, the key from the environment, and no
pseudonym, raw identifier or key in the written files."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest

from rmf_spark.errors import FusionError
from rmf_spark.fusion.matching import (
    SignatureExport,
    duplicate_counts_per_zone,
    export_signatures,
    match_devices,
)
from rmf_spark.fusion.signatures import (
    LINK_KEY_ENV,
    export_roamer_hashes,
    export_stay_signatures,
    load_link_key,
    period_keys,
    read_export,
    stay_tokens,
    write_export,
)
from rmf_spark.slayer.device.schemas import PERMANENCE_SCHEMA

MASTER = b"a shared secret of the MNOs, 42"
MONDAY = dt.date(2024, 1, 1)
FIRST_DAY = (MONDAY - dt.date(1970, 1, 1)).days
ZONES = ["Z0", "Z1", "Z2"]
E0, N0 = 35_000, 20_000  # the lower-left 100 m tile of the area (EPSG:3035 / 100)


def _tile(block: int, i: int = 0) -> int:
    """A 100 m tile (``tile_id``) inside 1 km block ``block`` of a 10 x 4 km area."""
    e = E0 + 10 * (block % 10) + i % 10
    n = N0 + 10 * (block // 10) + i // 10
    return e * (1 << 20) + n


def _tile_1km(tile: int) -> int:
    return (tile >> 20) // 10 * (1 << 20) + (tile & ((1 << 20) - 1)) // 10


def _grid(spark):
    rows = [(_tile(b, i), _tile_1km(_tile(b, i))) for b in range(40) for i in range(100)]
    return spark.createDataFrame(rows, "tile_id long, tile_1km_id long")


def _pseudonym(name: str) -> str:
    return hashlib.sha256(f"pseudonym {name}".encode()).hexdigest()


class World:
    """Persons with a home and (some) a workplace, devices on MNO a and b (or ``mnos``) that
    record a share of their slots; per device its permanence rows, its home block and, for the
    numpy reference, its tokens."""

    def __init__(self, seed: int = 3, mnos: tuple[str, ...] = ("a", "b")) -> None:
        self.rng = np.random.default_rng(seed)
        self.rows: dict[str, list[tuple]] = {m: [] for m in mnos}
        self.tokens: dict[str, list[tuple[str, int, int, int]]] = {m: [] for m in mnos}
        self.homes: dict[str, dict[str, str]] = {m: {} for m in mnos}
        self.home_blocks: dict[str, dict[str, int]] = {m: {} for m in mnos}

    def device(
        self, mno: str, name: str, *, home: int, work: int | None, rate: float,
        zone: str | None = "Z0", days: int = 7,
    ) -> str:  # fmt: skip
        dev = _pseudonym(name)
        if zone is not None:
            self.homes[mno][dev] = zone
            self.home_blocks[mno][dev] = home
        for d in range(days):
            day = MONDAY + dt.timedelta(days=d)
            for slot in range(24):
                if self.rng.uniform() >= rate:
                    continue
                at_work = work is not None and d < 5 and 9 <= slot < 17
                block = work if at_work else home
                tiles = [_tile(block, 11), _tile(block, 12)]
                if self.rng.uniform() < 0.3:  # a minority tile next door: not the main one
                    tiles.append(_tile(block + 1, 0))
                start = dt.datetime.combine(day, dt.time(slot))
                self.rows[mno].append((dev, day, slot, start, "grid", tiles, None))
                self.tokens[mno].append((dev, FIRST_DAY + d, slot, _tile_1km(tiles[0])))
        return dev

    def permanence(self, spark, mno: str):
        extra = [  # neither are stays: no token
            (_pseudonym("x"), MONDAY, 3, dt.datetime(2024, 1, 1, 3), "unknown", [], None),
            (_pseudonym("x"), MONDAY, 4, dt.datetime(2024, 1, 1, 4), "abroad", [], "20801"),
        ]
        return spark.createDataFrame(self.rows[mno] + extra, PERMANENCE_SCHEMA)

    def home_table(self, spark, mno: str):
        return spark.createDataFrame(
            sorted(self.homes[mno].items()), "device_id string, zone_id string"
        )


@pytest.fixture(scope="module")
def world() -> World:
    w = World()
    # the planted duplicate: one person, home in block 5 (zone Z1), work in block 33, a phone
    # on each network recording 85 % and 70 % of the slots
    w.device("a", "dup on a", home=5, work=33, rate=0.85, zone="Z1")
    w.device("b", "dup on b", home=5, work=33, rate=0.7, zone="Z1")
    # the duplicate's household partner on b: same home, another workplace
    w.device("b", "partner on b", home=5, work=21, rate=0.8, zone="Z1")
    for i in range(12):  # everyone else has a home of their own
        w.device("a", f"a{i}", home=10 + i, work=30 + i % 8, rate=0.8, zone="Z0")
        w.device("b", f"b{i}", home=24 + i, work=i % 4, rate=0.75, zone="Z2")
    w.device("a", "sparse", home=2, work=None, rate=0.1, zone="Z2")  # < 24 tokens
    w.device("a", "no home", home=3, work=None, rate=0.9, zone=None)  # tokens, no home zone
    return w


@pytest.fixture(scope="module")
def exports(spark, world):
    grid = _grid(spark)
    out = {}
    for mno in ("a", "b"):
        out[mno] = export_stay_signatures(
            world.permanence(spark, mno), grid, world.home_table(spark, mno), ZONES,
            start=MONDAY, master_key=MASTER, n_buckets=3, rng=np.random.default_rng(1),
        )  # fmt: skip
    return out


def test_stay_tokens_take_the_slots_main_1km_tile(spark):
    t, u = _tile(4, 0), _tile(5, 0)  # two 1 km blocks
    rows = [
        ("d", MONDAY, 0, "grid", [t, u, _tile(5, 1)]),  # most tiles in block 5
        ("d", MONDAY, 1, "grid", [u, t]),  # a tie: the smaller 1 km code
        ("d", MONDAY, 2, "grid", []),  # moving: no tile, no token
        ("d", MONDAY, 3, "unknown", []),
        ("d", MONDAY, 24, "grid", [t]),  # the 25th hour of a day when clocks go back
        ("d", MONDAY + dt.timedelta(days=7), 5, "grid", [t]),  # after the period
        ("d", MONDAY - dt.timedelta(days=1), 5, "grid", [t]),  # before it
    ]
    perm = spark.createDataFrame(
        [(d, day, s, dt.datetime.combine(day, dt.time()), k, tiles, None)
         for d, day, s, k, tiles in rows],
        PERMANENCE_SCHEMA,
    )  # fmt: skip
    got = stay_tokens(perm, _grid(spark), start=MONDAY).orderBy("slot").collect()
    assert [(r.day, r.slot, r.tile_1km) for r in got] == [
        (FIRST_DAY, 0, _tile_1km(u)),
        (FIRST_DAY, 1, min(_tile_1km(t), _tile_1km(u))),
    ]


def test_the_export_equals_numpy_on_the_same_tokens(world, exports):
    """The Spark export holds, in another order, what ``export_signatures`` makes of the
    world's tokens in one numpy call."""
    key = period_keys(MASTER, FIRST_DAY).tokens
    for mno in ("a", "b"):
        got, counts = exports[mno]
        devices = sorted(world.homes[mno])
        index = {d: i for i, d in enumerate(devices)}
        toks = [t for t in world.tokens[mno] if t[0] in index]
        dev, day, slot, tile = (np.array(c) for c in zip(*toks, strict=True))
        want, _ = export_signatures(
            np.array([index[d] for d in dev]), day, slot, tile,
            [ZONES.index(world.homes[mno][d]) for d in devices],
            key=key, first_day=FIRST_DAY, n_zones=len(ZONES),
        )  # fmt: skip

        def rows(e: SignatureExport) -> list[tuple]:
            return sorted(
                (e.signatures[i].tobytes(), e.work_signatures[i].tobytes(), bool(e.has_work[i]),
                 int(e.n_tokens[i]), int(e.n_work_tokens[i]), int(e.home_zone[i]))
                for i in range(len(e))
            )  # fmt: skip

        assert rows(got) == rows(want)
        np.testing.assert_array_equal(got.without_signature, want.without_signature)
        assert (got.first_day, got.fingerprint, got.key_check) == (
            want.first_day, want.fingerprint, want.key_check,
        )  # fmt: skip
        assert counts["residents"] == len(devices)
        assert counts["exported"] == len(got)
    assert exports["a"][1]["without_signature"] == 1  # the sparse device, counted in Z2
    assert exports["a"][0].without_signature.tolist() == [0, 0, 1]
    assert exports["a"][1]["without_home"] == 1 and exports["b"][1]["without_home"] == 0


def test_a_planted_duplicate_across_two_mnos_is_found(world, exports):
    (ea, _), (eb, _) = exports["a"], exports["b"]
    m = match_devices(ea, eb)
    assert m.assigned_a.size == 1
    assert duplicate_counts_per_zone(m, ea, n_zones=len(ZONES)).tolist() == [0, 1, 0]

    def n_tokens(mno: str, name: str) -> int:
        return sum(t[0] == _pseudonym(name) for t in world.tokens[mno])

    # the rows carry no id: the pair is told by its token counts (distinct here)
    assert n_tokens("b", "dup on b") != n_tokens("b", "partner on b")
    assert ea.n_tokens[m.assigned_a[0]] == n_tokens("a", "dup on a")
    assert eb.n_tokens[m.assigned_b[0]] == n_tokens("b", "dup on b")  # not the partner


def test_roamers_seen_by_both_mnos_share_their_keyed_hash(spark, monkeypatch):
    monkeypatch.setenv(LINK_KEY_ENV, MASTER.decode())
    day = MONDAY + dt.timedelta(days=2)
    a = spark.createDataFrame(
        [("234150000000001", MONDAY), ("234150000000001", day), ("208010000000007", day),
         ("262010000000003", MONDAY - dt.timedelta(days=1))],
        "foreign_id string, date date",
    )  # fmt: skip
    b = spark.createDataFrame(
        [("234150000000001", day + dt.timedelta(days=1)), ("222010000000009", MONDAY)],
        "foreign_id string, date date",
    )
    ra, rb = (export_roamer_hashes(r, start=MONDAY) for r in (a, b))
    assert (len(ra), len(rb)) == (2, 2)  # the one seen before the period is not there
    shared, ia, ib = np.intersect1d(ra.link_hash, rb.link_hash, return_indices=True)
    assert shared.size == 1 and ra.key_check == rb.key_check
    assert int(ra.days_seen[ia[0]]) == 0b101 and int(rb.days_seen[ib[0]]) == 0b1000
    with pytest.raises(FusionError) as exc:
        export_roamer_hashes(
            spark.createDataFrame([("+44 7700", MONDAY)], "foreign_id string, date date"),
            start=MONDAY,
        )
    assert exc.value.code == "FUSION_IDENTIFIER_INVALID" and "7700" not in str(exc.value)


def test_a_missing_or_short_key_is_a_clear_error(spark, monkeypatch, world):
    monkeypatch.delenv(LINK_KEY_ENV, raising=False)
    with pytest.raises(FusionError, match=LINK_KEY_ENV) as exc:
        load_link_key()
    assert exc.value.code == "FUSION_LINK_KEY_MISSING"
    with pytest.raises(FusionError, match=r"linkage key"):
        export_stay_signatures(
            world.permanence(spark, "a"), _grid(spark), world.home_table(spark, "a"), ZONES,
            start=MONDAY,
        )  # fmt: skip
    monkeypatch.setenv(LINK_KEY_ENV, "short")
    with pytest.raises(FusionError, match="too short") as exc:
        load_link_key()
    assert "short" not in str(exc.value).replace("too short", "")


def test_unknown_home_zone_is_an_error(spark, world):
    homes = spark.createDataFrame([(_pseudonym("a0"), "Z9")], "device_id string, zone_id string")
    with pytest.raises(FusionError, match="Z9") as exc:
        export_stay_signatures(
            world.permanence(spark, "a"), _grid(spark), homes, ZONES, start=MONDAY,
            master_key=MASTER,
        )  # fmt: skip
    assert exc.value.code == "FUSION_ZONE_UNKNOWN"


def test_no_pseudonym_raw_id_or_key_in_the_written_export(spark, world, exports, tmp_path):
    ids = ["234150000000001", "208010000000007"]
    roamers = export_roamer_hashes(
        spark.createDataFrame([(i, MONDAY) for i in ids], "foreign_id string, date date"),
        start=MONDAY,
        master_key=MASTER,
    )
    written = []
    for mno in ("a", "b"):
        export, counts = exports[mno]
        meta = write_export(tmp_path / mno, mno=f"mno_{mno}", signatures=export,
                            roamers=roamers, counts=counts)  # fmt: skip
        written += sorted(meta.parent.iterdir())
        back_meta, back, back_roamers = read_export(tmp_path / mno)
        assert back_meta["counts"] == counts and len(back) == len(export)
        np.testing.assert_array_equal(back.signatures, export.signatures)
        np.testing.assert_array_equal(back_roamers.link_hash, roamers.link_hash)
    blob = b"".join(p.read_bytes() for p in written)
    assert len(written) == 6 and len(blob) > 10_000
    keys = period_keys(MASTER, FIRST_DAY)
    secrets = [MASTER, MASTER.hex().encode(), *keys, *(k.hex().encode() for k in keys)]
    pseudonyms = [d.encode() for mno in ("a", "b") for d in world.homes[mno]]
    pseudonyms += [p[:16] for p in pseudonyms] + [bytes.fromhex(p.decode()) for p in pseudonyms]
    raw = [i.encode() for i in ids]
    raw += [((len(i) << 60) | int(i)).to_bytes(8, "little") for i in ids]  # packed words
    raw += [int(i).to_bytes(8, "little") for i in ids]
    for needle in secrets + pseudonyms + raw:
        assert needle not in blob, needle[:20]
    # a file that no longer matches its manifest is refused, naming the MNO and the file
    (tmp_path / "b" / "roamers.npz").write_bytes(b"tampered")
    with pytest.raises(FusionError, match=r"mno_b.*roamers\.npz"):
        read_export(tmp_path / "b")
