"""The media bank: banking a hashed file with its own fact-check row, importing and exporting
ThreatExchange-compatible hash lists (every variant in ``fixtures/hashlists``, bad lines one by
one, the round trip through py-tx's own readers), re-runs that update instead of duplicating,
removal refused over analysts' decisions, the audit log, and the CLI's one-line errors.

Files are never hashed here: the bank is given :class:`MediaHashes` built directly (the hasher
has its own tests; the end-to-end test lands with both)."""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, claimreview, page, post
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app
from claimwatch.media import bank, hashlist
from claimwatch.media.records import AudioPrint, MediaHashes, MediaInfo, MediaKind, PdqHash
from claimwatch.records import DecisionKind
from claimwatch.sources.base import FormatError
from claimwatch.store import media_bank, review
from claimwatch.store import schema as s
from claimwatch.store.audit import list_audit
from claimwatch.store.db import writing

LISTS = FIXTURES / "hashlists"
FC_URL = "https://example.org/fc/doctored-photo"
A, B, C, D = "0f" * 32, "f0" * 32, "00ff" * 16, "ff00" * 16


def hashes(sha: str, *codes: str, kind: MediaKind = MediaKind.IMAGE, frames: bool = False) -> MediaHashes:
    """What the hasher returns for a file: PDQ of the image (variants) or of video frames."""
    pdq = tuple(
        PdqHash(bytes.fromhex(c), 90, "original" if frames or i == 0 else f"dihedral-{i}", i * 200 if frames else None)
        for i, c in enumerate(codes)
    )
    return MediaHashes(MediaInfo(kind, "image/png"), pdq, None, sha * 64, "ab" * 16, 1234)


def fixed(h: MediaHashes) -> bank.Hasher:
    return lambda _path: h


def with_factcheck(w: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    """The store with one ingested fact-check (the debunking review of the banked photo)."""
    fcs = tmp_path / "fc.json"
    fcs.write_text(json.dumps([claimreview(FC_URL, "This photo shows flooded polling stations", "Altered photo")]))
    w.ingest_factchecks([fcs])
    return w


@pytest.fixture
def ws(each_store: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    """On SQLite and on PostgreSQL (when the test database is set)."""
    return with_factcheck(each_store, tmp_path)


@pytest.fixture
def sqlite_ws(tmp_path: Path) -> claimwatch.Workspace:
    return with_factcheck(claimwatch.open(tmp_path / "bank.db"), tmp_path)


def count(ws: claimwatch.Workspace, table: type) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def bank_rows(ws: claimwatch.Workspace) -> list:
    with ws.engine.connect() as conn:
        return list(conn.execute(sa.select(s.FactCheck).where(s.FactCheck.source_format == "media-bank")))


# ------------------------------------------------------------------ add a file


def test_add_copies_the_debunking_factcheck_and_re_adding_updates(ws, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"synthetic")
    h = hashes("a", A, B)
    done = bank.add_file(ws.engine, photo, bank.GivenFactCheck(FC_URL), label="manipulated", by="ana", hasher=fixed(h))
    assert done.created and done.item.kind == "image" and done.item.label == "manipulated"
    assert done.item.pdq_hashes == 2 and done.item.sha256 == h.sha256
    (row,) = bank_rows(ws)
    assert row.review_url == FC_URL and row.claim_text == "This photo shows flooded polling stations"
    assert row.rating_text == "Altered photo" and row.publisher_name == "Example Check (synthetic)"
    assert row.claim_key == media_bank.bank_claim_key(h.sha256) and row.raw["copied_from_factcheck_id"]
    assert done.item.factcheck_id == row.id

    again = bank.add_file(ws.engine, photo, bank.GivenFactCheck(FC_URL), label="ai-generated", by="bo", hasher=fixed(h))
    assert not again.created and again.item.id == done.item.id and again.item.label == "ai-generated"
    assert count(ws, s.MediaBankItem) == 1 and count(ws, s.MediaBankHash) == 2 and len(bank_rows(ws)) == 1
    assert count(ws, s.MediaFile) == 1
    with ws.engine.connect() as conn:
        actions = [e.action for e in list_audit(conn, action="media_bank.", newest_first=False)]
    assert actions == ["media_bank.add", "media_bank.update"]

    # banked again under another review: the item moves to it, the old bank row goes
    given = bank.GivenFactCheck("https://example.org/fc/other", claim="Another claim", rating="False")
    moved = bank.add_file(ws.engine, photo, given, hasher=fixed(h))
    assert moved.item.id == done.item.id and moved.item.review_url == "https://example.org/fc/other"
    assert [r.review_url for r in bank_rows(ws)] == ["https://example.org/fc/other"]


def test_a_factcheck_not_in_the_store_needs_the_users_claim_and_rating(ws, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"synthetic")
    h = hashes("b", A, B, kind=MediaKind.VIDEO, frames=True)
    elsewhere = "https://example.org/fc/cloned-voice"
    with pytest.raises(ValueError, match="not in the store.*--claim TEXT --rating TEXT"):
        bank.add_file(ws.engine, clip, bank.GivenFactCheck(elsewhere, claim="A claim"), hasher=fixed(h))
    assert count(ws, s.MediaBankItem) == 0 and count(ws, s.MediaFile) == 0  # nothing half-written

    given = bank.GivenFactCheck(elsewhere, claim="The video shows the candidate", rating="False", publisher="Ex")
    done = bank.add_file(ws.engine, clip, given, label="ai-generated", hasher=fixed(h))
    (row,) = [r for r in bank_rows(ws) if r.review_url == elsewhere]
    assert row.rating_text == "False" and row.verdict == "false" and row.publisher_name == "Ex"
    assert row.raw == {
        "given_by_user": {"claim": "The video shows the candidate", "rating": "False", "publisher": "Ex"}
    }
    assert done.item.kind == "video"

    # another file of the same review: what the user gave is reused, not asked again
    other = bank.add_file(ws.engine, clip, bank.GivenFactCheck(elsewhere), hasher=fixed(hashes("d", C)))
    assert other.item.rating_text == "False" and other.item.claim_text == "The video shows the candidate"
    assert {r.raw["given_by_user"]["rating"] for r in bank_rows(ws) if r.review_url == elsewhere} == {"False"}


@pytest.mark.parametrize(
    ("given", "label", "message"),
    [
        (bank.GivenFactCheck(None), "other", "--factcheck"),
        (bank.GivenFactCheck("javascript:alert(1)"), "other", "not an http"),
        (bank.GivenFactCheck(FC_URL), "deepfake", "label 'deepfake' is not one of"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(ws, tmp_path, given, label, message) -> None:
    with pytest.raises(ValueError, match=message):
        bank.add_file(ws.engine, tmp_path, given, label=label, hasher=fixed(hashes("c", A)))
    assert count(ws, s.MediaBankItem) == 0


def test_a_file_with_only_poor_hashes_is_banked_with_a_warning(ws, tmp_path: Path) -> None:
    flat = MediaHashes(MediaInfo(MediaKind.IMAGE, "image/png"), (PdqHash(bytes(32), 0),), None, "e" * 64, "ef" * 16, 10)
    done = bank.add_file(ws.engine, tmp_path, bank.GivenFactCheck(FC_URL), hasher=fixed(flat))
    assert done.created and "quality below 50" in done.warnings[0]


# ------------------------------------------------------------------ reading hash lists


@pytest.mark.parametrize(
    ("name", "form", "signals", "rejected"),
    [
        ("plain.txt", "lines", [A, B, C], {7: "64 hex digits, not 62", 8: "not hexadecimal"}),
        ("plain_upper_bom_crlf.txt", "lines", [A, B, C], {}),
        (
            "with_quality.txt",
            "lines",
            [A, B, "fedcba9876543210" * 4],
            {3: "101 is outside", 4: "-1 is outside", 5: "not a whole number"},
        ),
        (
            "typed.txt",
            "lines",
            [A, B, "0123456789abcdef" * 2, "vpdq"],
            {5: "'url' is not", 6: "not 60", 7: "not hexadecimal", 8: "no signal after", 9: "vPDQ frame 1"},
        ),
        ("dataset.csv", "csv", [A, B, "0123456789abcdef" * 2], {5: "'raw_text' is not media", 6: "not 66"}),
        ("te_descriptors.csv", "csv", [A, B, "0123456789abcdef" * 2], {5: "without the media_type_video", 6: "'URI'"}),
        ("te_descriptors.tsv", "csv", [A, B, "0123456789abcdef" * 2], {5: "without the media_type_video", 6: "'URI'"}),
        (
            "te_descriptors.jsonl",
            "jsonl",
            [A, B, "0123456789abcdef" * 2],
            {3: "not JSON", 5: "not a JSON object", 6: "no signal"},
        ),
        ("simple.HASH_PDQ.te", "te-simple", [A, B], {3: "4 or 5"}),
        ("ours.csv", "csv", [A, B, C], {5: "quality 150 is outside"}),
    ],
)
def test_every_list_form_reads_and_each_bad_line_is_named(name, form, signals, rejected) -> None:
    listed = hashlist.read_hashlist(LISTS / name)
    assert listed.form == form
    got = [e.pdq[0].hex if e.signal_type == "pdq" else e.md5 or "vpdq" for e in listed.entries]
    assert got == signals
    assert {int(r.source.location.removeprefix("line ")): r.reason for r in listed.rejected}.keys() == rejected.keys()
    for r in listed.rejected:
        assert r.source.path == str(LISTS / name)
        assert rejected[int(r.source.location.removeprefix("line "))] in r.reason


def test_what_each_form_says_of_an_entry_is_kept() -> None:
    q = {e.pdq[0].hex: e.pdq[0].quality for e in hashlist.read_hashlist(LISTS / "with_quality.txt").entries}
    assert q == {A: 100, B: 49, "fedcba9876543210" * 4: None}  # no quality given: unknown, not 0
    te = hashlist.read_hashlist(LISTS / "te_descriptors.tsv").entries
    assert [e.external_id for e in te] == ["100000000000001", "100000000000002", "100000000000003"]
    assert te[0].tags == ("synthetic", "manipulated") and te[2].kind == "video"
    simple = hashlist.read_hashlist(LISTS / "simple.HASH_PDQ.te").entries
    assert [e.external_id for e in simple] == ["200000000000001", "300000000000002"]
    vpdq = next(e for e in hashlist.read_hashlist(LISTS / "typed.txt").entries if e.signal_type == "vpdq")
    assert [(h.hex, h.quality, h.t_ms) for h in vpdq.pdq] == [(A, 100, 0), (B, 90, 1000), (C, 80, 2000)]
    ours = hashlist.read_hashlist(LISTS / "ours.csv").entries
    assert [(e.external_id, e.label, e.factcheck_url, e.pdq[0].variant) for e in ours[:2]] == [
        ("item-1", "ai-generated", "https://example.org/fc/one", "original"),
        ("item-1", "ai-generated", "https://example.org/fc/one", "flip-h"),
    ]


def test_a_broken_csv_line_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    rows = [
        "signal_type,signal_str",
        f"pdq,{A}",
        'pdq,"' + B,
        f"pdq,{C}",
        'pdq,"x"y',
        "vpdq," + "9" * (1 << 21),
        f"pdq,{D}",
    ]
    path.write_text("\n".join(rows) + "\n")
    listed = hashlist.read_hashlist(path)
    assert [e.pdq[0].hex for e in listed.entries] == [A, C, D]  # the line after an unclosed quote stays
    assert [(r.source.location, r.reason.split(" (")[0]) for r in listed.rejected] == [
        ("line 3", "not a CSV row"),
        ("line 5", "not a CSV row"),
        ("line 6", "not a CSV row"),
    ]
    assert len(listed.rejected[2].raw) <= 4096
    assert csv.field_size_limit() == 131072  # the module-wide limit is put back


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not a hash list"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"\xff\xfe\xfa", "not UTF-8"),
        (b"# only\n\n", "no hashes"),
    ],
)
def test_a_file_that_is_not_a_hash_list_is_refused_whole(tmp_path: Path, content, message) -> None:
    path = LISTS / "not_a_list.json" if content is None else tmp_path / "x.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        hashlist.read_hashlist(path)


# ------------------------------------------------------------------ import / export


def test_import_banks_valid_entries_and_re_importing_updates(ws) -> None:
    rep = bank.import_list(
        ws.engine, LISTS / "te_descriptors.csv", bank.GivenFactCheck(FC_URL), label="manipulated", by="ana"
    )
    assert (rep.inserted, rep.updated, len(rep.rejected)) == (3, 0, 2)
    items = bank.list_items(ws.engine)
    assert [(i.origin, i.external_id, i.kind, i.label) for i in items] == [
        ("te_descriptors.csv", "100000000000001", "image", "manipulated"),
        ("te_descriptors.csv", "100000000000002", "image", "manipulated"),
        ("te_descriptors.csv", "100000000000003", "video", "manipulated"),
    ]
    assert all(i.claim_text == "This photo shows flooded polling stations" for i in items)
    with ws.engine.connect() as conn:
        assert media_bank.item_hashes(conn, [items[2].id])[items[2].id] == ((), "0123456789abcdef" * 2)

    again = bank.import_list(ws.engine, LISTS / "te_descriptors.csv", bank.GivenFactCheck(FC_URL), by="ana")
    assert (again.inserted, again.updated) == (0, 3)
    assert count(ws, s.MediaBankItem) == 3 and count(ws, s.MediaBankHash) == 3 and len(bank_rows(ws)) == 3
    with ws.engine.connect() as conn:
        (entry, _) = list_audit(conn, action="media_bank.import")
    assert entry.object_id == "te_descriptors.csv" and entry.after["rejected"] == 2


def test_text_neither_store_can_hold_is_refused_not_stored(ws, tmp_path: Path) -> None:
    given = bank.GivenFactCheck("https://example.org/fc/nul", claim="a\x00claim", rating="False")
    with pytest.raises(ValueError, match="--claim must be plain text"):
        bank.add_file(ws.engine, tmp_path, given, hasher=fixed(hashes("9", A)))
    hostile = tmp_path / "hostile.jsonl"  # JSON escapes are how a NUL or a lone surrogate gets into text
    hostile.write_text(
        f'{{"indicator": "{A}", "id": "ok-1", "tags": ["a\\u0000b", "\\ud800"]}}\n'
        f'{{"indicator": "{B}", "id": "bad\\u0000id"}}\n'
    )
    rep = bank.import_list(ws.engine, hostile, bank.GivenFactCheck(FC_URL))
    assert rep.inserted == 1 and [r.reason.split(" is")[0] for r in rep.rejected] == ["id 'bad\\x00id'"]
    (item,) = bank.list_items(ws.engine)
    assert item.note == "a\\u0000b \\ud800"  # the tags kept, escaped


def test_import_warns_of_hashes_too_poor_to_match(ws) -> None:
    rep = bank.import_list(ws.engine, LISTS / "with_quality.txt", bank.GivenFactCheck(FC_URL))
    assert rep.inserted == 3
    assert [w.split(" PDQ")[0] for w in rep.warnings] == ["1"]  # B at quality 49; unknown quality is no warning


def test_import_takes_each_entrys_factcheck_from_a_column(ws) -> None:
    # fc/one is not in the store and no claim is given: its entries are rejected, line by line
    rep = bank.import_list(ws.engine, LISTS / "ours.csv", bank.GivenFactCheck(), url_column="factcheck_url")
    assert rep.inserted == 0
    assert sorted(r.source.location for r in rep.rejected) == ["line 2", "line 3", "line 4", "line 5"]
    assert all("not in the store" in r.reason for r in rep.rejected if r.source.location != "line 5")

    given = bank.GivenFactCheck(claim="Synthetic claim", rating="Fabricated")
    rep = bank.import_list(ws.engine, LISTS / "ours.csv", given, url_column="factcheck_url", origin="partner")
    assert (rep.inserted, len(rep.rejected)) == (2, 1)
    items = {i.external_id: i for i in bank.list_items(ws.engine)}
    assert items["item-1"].pdq_hashes == 2 and items["item-1"].label == "ai-generated"
    assert items["item-2"].review_url == "https://example.org/fc/two" and items["item-2"].rating_text == "Fabricated"
    with pytest.raises(FormatError, match="no column 'url'"):
        bank.import_list(ws.engine, LISTS / "ours.csv", given, url_column="url")

    # without --column, --factcheck names every entry's fact-check; --label beats the label column
    rep = bank.import_list(ws.engine, LISTS / "ours.csv", bank.GivenFactCheck(FC_URL), label="other", origin="o2")
    assert rep.inserted == 2
    mine = [i for i in bank.list_items(ws.engine) if i.origin == "o2"]
    assert {(i.review_url, i.label) for i in mine} == {(FC_URL, "other")}


def _a_bank_of_each_kind(ws, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    bank.add_file(ws.engine, f, bank.GivenFactCheck(FC_URL), label="manipulated", hasher=fixed(hashes("1", A, B, A)))
    video = hashes("2", C, D, kind=MediaKind.VIDEO, frames=True)
    bank.add_file(ws.engine, f, bank.GivenFactCheck(FC_URL), label="ai-generated", hasher=fixed(video))
    audio = MediaHashes(
        MediaInfo(MediaKind.AUDIO, "audio/wav"),
        (),
        AudioPrint((1, 2, 3)),
        "3" * 64,
        "cd" * 16,
        9,
    )
    bank.add_file(ws.engine, f, bank.GivenFactCheck(FC_URL), label="ai-generated", hasher=fixed(audio))


def test_export_round_trips_through_py_tx_readers(ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("threatexchange")
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    # py-tx's vPDQ helpers import the vpdq hasher (a C++ build) at module level; the parser needs none of it
    monkeypatch.setitem(sys.modules, "vpdq", types.SimpleNamespace(VpdqFeature=object))
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    _a_bank_of_each_kind(ws, tmp_path)
    out = tmp_path / "bank.te"
    counts = bank.export_list(ws.engine, out, "te")
    assert counts.items == 2 and counts.signals == 4  # image: A, B (the repeat once); video: vpdq + md5
    assert counts.skipped == {"audio item (Chromaprint has no ThreatExchange signal type)": 1}

    collab = FileCollaborationConfig(name="synthetic", api="local_file", enabled=True, filename=str(out))
    (delta,) = LocalFileSignalExchangeAPI(collab).fetch_iter([], None)
    read = sorted(delta.updates)
    assert [t for t, _ in read] == ["pdq", "pdq", "video_md5", "vpdq"]
    for signal_type, signal in read:
        if signal_type == "pdq":
            assert PdqSignal.validate_signal_str(signal) == signal
        elif signal_type == "video_md5":
            assert VideoMD5Signal.validate_signal_str(signal) == "ab" * 16
        else:
            frames = json_to_vpdq(signal)
            assert [(f.pdq_hex, f.quality, f.timestamp) for f in frames] == [(C, 90, 0.0), (D, 90, 0.2)]
    assert {sig for t, sig in read if t == "pdq"} == {A, B}


@pytest.mark.slow
def test_csv_export_imports_into_another_bank_unchanged(ws, tmp_path: Path) -> None:
    _a_bank_of_each_kind(ws, tmp_path)
    out = tmp_path / "bank.csv"
    bank.export_list(ws.engine, out, "csv")
    other = claimwatch.open(tmp_path / "other.db")  # a SQLite bank receives a list from either store
    rep = bank.import_list(
        other.engine, out, bank.GivenFactCheck(claim="c", rating="False"), url_column="factcheck_url"
    )
    assert (rep.inserted, rep.rejected) == (2, [])
    mine = {i.external_id: i for i in bank.list_items(ws.engine)}
    theirs = {i.external_id: i for i in bank.list_items(other.engine)}
    assert theirs.keys() == {"1" * 64, "2" * 64}
    for key, item in theirs.items():
        assert (item.kind, item.label, item.review_url) == (mine[key].kind, mine[key].label, FC_URL)
    with ws.engine.connect() as a, other.engine.connect() as b:
        ours = media_bank.item_hashes(a, [mine[k].id for k in theirs])
        got = media_bank.item_hashes(b, [theirs[k].id for k in theirs])
    for key in theirs:
        mine_pdq = {(h.hex, h.quality, h.t_ms) for h in ours[mine[key].id][0]}
        assert {(h.hex, h.quality, h.t_ms) for h in got[theirs[key].id][0]} == mine_pdq
    assert got[theirs["2" * 64].id][1] == "ab" * 16  # the video's MD5 travelled


def test_export_never_replaces_a_file_without_force(ws, tmp_path: Path) -> None:
    _a_bank_of_each_kind(ws, tmp_path)
    out = tmp_path / "mine.txt"
    out.write_text("keep me")
    with pytest.raises(ValueError, match="exists; give --force"):
        bank.export_list(ws.engine, out, "hex")
    assert out.read_text() == "keep me"
    counts = bank.export_list(ws.engine, out, "hex", force=True)
    assert out.read_text().split() == [A, B]
    assert "video (a plain hex list holds image PDQ hashes only)" in counts.skipped
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


# ------------------------------------------------------------------ remove


def _media_match(ws, folder: Path, pid: str, factcheck_id: int, *, decided: bool) -> None:
    """A post matched to a bank item's fact-check (as the media matcher writes it), confirmed or not."""
    posts = folder / f"{pid}.json"
    posts.write_text(json.dumps(page([post(pid, "look at this photo", 10)])))
    ws.ingest_posts([posts])
    with writing(ws.engine) as conn:
        post_id = conn.execute(sa.select(s.Post.id).where(s.Post.platform_id == pid)).scalar_one()
        match_id = conn.execute(
            sa.insert(s.Match).values(
                post_id=post_id,
                factcheck_id=factcheck_id,
                rank=1,
                score=1.0,
                method="media:pdq",
                evidence={"distance": 4},
            )
        ).inserted_primary_key[0]
        if decided:
            review.decide(conn, match_id, DecisionKind.CONFIRMED, "ana")


def test_remove_refuses_an_item_analysts_decided_on(ws, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    kept = bank.add_file(ws.engine, f, bank.GivenFactCheck(FC_URL), hasher=fixed(hashes("1", A))).item
    gone = bank.add_file(ws.engine, f, bank.GivenFactCheck(FC_URL), hasher=fixed(hashes("2", B))).item
    _media_match(ws, tmp_path, "901", kept.factcheck_id, decided=True)
    _media_match(ws, tmp_path, "902", gone.factcheck_id, decided=False)
    with pytest.raises(media_bank.BankItemInUse, match="analysts decided 1 match"):
        bank.remove(ws.engine, kept.id, by="ana")
    assert bank.remove(ws.engine, gone.id, by="ana").id == gone.id
    assert [i.id for i in bank.list_items(ws.engine)] == [kept.id]
    assert len(bank_rows(ws)) == 1 and count(ws, s.MediaBankHash) == 1
    assert count(ws, s.Match) == 1  # the undecided match went with its item
    with pytest.raises(ValueError, match="no bank item"):
        bank.remove(ws.engine, gone.id, by="ana")
    with ws.engine.connect() as conn:
        (entry,) = list_audit(conn, action="media_bank.remove")
    assert entry.actor == "ana" and entry.before["id"] == gone.id and entry.after is None


# ------------------------------------------------------------------ the CLI


@pytest.mark.slow
def test_cli_errors_are_one_line_and_rejections_name_file_and_line(sqlite_ws, tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    db = str(sqlite_ws.engine.url.database)
    f = tmp_path / "photo.png"
    f.write_bytes(b"x")
    monkeypatch.setattr(bank, "_hash_for_bank", fixed(hashes("a", A)))
    res = runner.invoke(app, ["media", "bank", "add", str(f), "--factcheck", "https://example.org/fc/none", "--db", db])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.strip().startswith("error:") and len(res.stderr.strip().splitlines()) == 1

    res = runner.invoke(
        app, ["media", "bank", "add", str(f), "--factcheck", FC_URL, "--label", "manipulated", "--db", db]
    )
    assert res.exit_code == 0 and "banked item 1 (image, manipulated)" in res.stdout

    res = runner.invoke(app, ["media", "bank", "import", str(LISTS / "plain.txt"), "--factcheck", FC_URL, "--db", db])
    assert res.exit_code == 0 and "3 new, 0 updated, 2 lines rejected" in res.stdout
    assert f"{LISTS / 'plain.txt'}:7: a PDQ hash is 64 hex digits" in res.stderr

    hostile = tmp_path / "[bold]list[red].txt"
    hostile.write_text(f"{A}\n{B[:60]}\x1b[31m\x07\n")
    res = runner.invoke(app, ["media", "bank", "import", str(hostile), "--factcheck", FC_URL, "--db", db])
    assert res.exit_code == 0 and "\x1b" not in res.stderr and "\x07" not in res.stderr
    assert f"{hostile}:2:" in res.stderr  # the name as it is, no markup applied

    res = runner.invoke(
        app, ["media", "bank", "import", str(LISTS / "not_a_list.json"), "--factcheck", FC_URL, "--db", db]
    )
    assert res.exit_code == 2 and "not a hash list" in res.stderr and "Traceback" not in res.output

    out = tmp_path / "out.te"
    assert runner.invoke(app, ["media", "bank", "export", str(out), "--db", db]).exit_code == 0
    res = runner.invoke(app, ["media", "bank", "export", str(out), "--db", db])
    assert res.exit_code == 2 and "--force" in res.stderr

    res = runner.invoke(app, ["media", "bank", "list", "--json", "--db", db])
    listed = json.loads(res.stdout)
    assert [i["origin"] for i in listed] == ["file", "plain.txt", "plain.txt", "plain.txt", hostile.name]

    res = runner.invoke(app, ["media", "bank", "remove", "99", "--by", "ana", "--db", db])
    assert res.exit_code == 2 and "no bank item 99" in res.stderr
    res = runner.invoke(app, ["media", "bank", "remove", "2", "--by", "ana", "--db", db])
    assert res.exit_code == 0 and "removed item 2" in res.stdout
