"""The bank's PDQ index: exact radius search (MultiHash and Flat agree), batch queries, the bank
store as its source, and the on-disk cache (used when current, rebuilt when stale or damaged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import claimwatch
from claimwatch.config import CACHE_ENV
from claimwatch.media import index as mi
from claimwatch.media.hashlist import ListedPdq
from claimwatch.store import media_bank
from claimwatch.store.db import writing
from claimwatch.store.media_bank import BankFactCheck, NewBankItem

RNG_SEED = 14


def flip(code: bytes, n: int, rng: np.random.Generator) -> bytes:
    """``code`` with exactly ``n`` bits flipped."""
    bits = np.unpackbits(np.frombuffer(code, dtype=np.uint8))
    bits[rng.choice(256, size=n, replace=False)] ^= 1
    return np.packbits(bits).tobytes()


def random_codes(n: int, rng: np.random.Generator) -> list[bytes]:
    return [bytes(r) for r in rng.integers(0, 256, (n, 32), dtype=np.uint8)]


@pytest.mark.parametrize("kind", mi.KINDS)
def test_radius_is_exact_at_the_threshold(kind: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    bank = random_codes(2000, rng)
    index = mi.PdqIndex.build([list(enumerate(bank, start=1))], kind=kind)
    assert len(index) == 2000
    queries = [flip(bank[9], 31, rng), flip(bank[99], 32, rng), flip(bank[499], 0, rng)]
    hits = index.query(queries)
    assert [(h.query_row, h.hash_id, h.distance) for h in hits] == [(0, 10, 31), (2, 500, 0)]
    # a tighter radius drops the far one; a wider one finds the 32-bit one
    assert [h.query_row for h in index.query(queries, max_distance=30)] == [2]
    assert {h.query_row for h in index.query(queries, max_distance=32)} == {0, 1, 2}


def test_multihash_and_flat_agree_on_many_queries() -> None:
    rng = np.random.default_rng(RNG_SEED)
    bank = random_codes(5000, rng)
    pairs = list(enumerate(bank, start=1))
    near = [flip(bank[i], int(rng.integers(0, 32)), rng) for i in range(0, 5000, 50)]
    queries = near + random_codes(100, rng)
    found = {}
    for kind in mi.KINDS:
        index = mi.PdqIndex.build([pairs[:2500], pairs[2500:]], kind=kind)  # in chunks
        rows, ids, dist = index.search(queries)
        found[kind] = sorted(zip(rows.tolist(), ids.tolist(), dist.tolist(), strict=True))
    assert found[mi.MULTIHASH] == found[mi.FLAT]
    planted = {(q, 1 + 50 * q) for q in range(len(near))}
    assert planted <= {(r, i) for r, i, _ in found[mi.FLAT]}  # every planted near-duplicate
    assert all(d <= mi.DEFAULT_MAX_DISTANCE for _, _, d in found[mi.FLAT])


def test_bad_queries_are_refused() -> None:
    index = mi.PdqIndex.build([[(1, bytes(32))]])
    with pytest.raises(ValueError, match="32 bytes"):
        index.query([b"\x00" * 31])
    with pytest.raises(ValueError, match="distance"):
        index.query([bytes(32)], max_distance=256)
    with pytest.raises(ValueError, match="kind"):
        mi.PdqIndex.build([], kind="ivf")
    assert index.query([]) == []
    assert mi.PdqIndex.build([]).query([bytes(32)]) == []


# ------------------------------------------------------------------ from the store, cached


def _bank(engine, key: str, codes: list[tuple[bytes, int | None]]) -> None:
    fc = BankFactCheck("https://example.org/fc/x", "a synthetic claim", "False", "false", "table", raw={})
    with writing(engine) as conn:
        fc_id = media_bank.put_bank_factcheck(conn, key, fc)
        pdq = [ListedPdq(c, q) for c, q in codes]
        media_bank.put_item(conn, NewBankItem("image", "manipulated", "test", key), fc_id, pdq)


@pytest.fixture
def store(each_store: claimwatch.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """On SQLite and on PostgreSQL (when the test database is set); a cache of the test's own."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return each_store.engine


def test_bank_index_reads_the_store_and_skips_low_quality(store) -> None:
    rng = np.random.default_rng(RNG_SEED)
    good, poor, unknown = random_codes(3, rng)
    _bank(store, "a", [(good, 90), (poor, 49), (unknown, None)])
    index = mi.bank_index(store, chunk_size=1)  # keyset pages of one row
    assert len(index) == 2
    hits = index.query([good, poor, unknown])
    assert sorted(h.query_row for h in hits) == [0, 2]
    with store.connect() as conn:
        refs = media_bank.hash_refs(conn, [h.hash_id for h in hits])
    assert {r.quality for r in refs.values()} == {90, None}
    assert len(mi.bank_index(store, min_quality=0)) == 3


def test_cache_is_used_when_current_and_rebuilt_when_stale(store, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(RNG_SEED)
    first, second = random_codes(2, rng)
    _bank(store, "a", [(first, 90)])
    built = mi.bank_index(store)
    cached = list((Path(mi.cache_dir()) / "media-index").rglob("*.pdqidx"))
    assert len(cached) == 1 and built.version in cached[0].name

    calls = []
    real_build = mi.PdqIndex.build.__func__

    def counting_build(cls, *args, **kwargs):
        calls.append(1)
        return real_build(cls, *args, **kwargs)

    monkeypatch.setattr(mi.PdqIndex, "build", classmethod(counting_build))
    again = mi.bank_index(store)
    assert calls == [] and len(again) == 1  # loaded, not rebuilt

    _bank(store, "b", [(second, 90)])  # the bank changed: the cache is stale
    fresh = mi.bank_index(store)
    assert calls == [1] and len(fresh) == 2 and fresh.version != built.version
    assert {h.query_row for h in fresh.query([first, second])} == {0, 1}
    assert len(list((Path(mi.cache_dir()) / "media-index").rglob("*.pdqidx"))) == 1  # the old one went

    # a damaged file of the current version is rebuilt, not trusted
    path = next((Path(mi.cache_dir()) / "media-index").rglob("*.pdqidx"))
    whole = path.read_bytes()
    for spot in (len(whole) // 3, len(whole) - 5):  # in FAISS's bytes, in the trailer
        data = bytearray(whole)
        data[spot] ^= 0xFF
        path.write_bytes(bytes(data))
        before = len(calls)
        assert len(mi.bank_index(store)) == 2 and len(calls) == before + 1
    path.write_bytes(b"not an index")
    assert len(mi.bank_index(store)) == 2 and len(calls) == 4
    path.write_bytes(whole[: len(whole) // 2])  # cut short
    assert len(mi.bank_index(store)) == 2 and len(calls) == 5
    assert mi.PdqIndex.load(path, fresh.version, mi.MULTIHASH) is not None  # rebuilt and cached again


def test_a_rebuilt_store_with_the_same_ids_does_not_reuse_the_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    rng = np.random.default_rng(RNG_SEED)
    old, new = random_codes(2, rng)
    engine = claimwatch.open(tmp_path / "bank.db").engine
    _bank(engine, "a", [(old, 90)])
    assert len(mi.bank_index(engine).query([old])) == 1
    engine.dispose()
    (tmp_path / "bank.db").unlink()
    engine = claimwatch.open(tmp_path / "bank.db").engine
    _bank(engine, "a", [(new, 90)])  # same ids, count and id sum; other hashes
    index = mi.bank_index(engine)
    assert [h.query_row for h in index.query([old, new])] == [1]
