"""The batch engine: Arrow conversions, bad input, export, import checks, and (slow) the local and
Ray runners end to end, equal to `claimwatch match` and idempotent on import."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import claimreview, page, post
from test_cli import run

import claimwatch
from claimwatch.batch import schema as S
from claimwatch.batch.convert import FactCheckKey, PostKey, normalised_posts, posts_of, results_batch, results_of
from claimwatch.batch.importer import import_results
from claimwatch.batch.local import run_local
from claimwatch.batch.matcher import BatchMatcher, plan
from claimwatch.batch.on_ray import chunk_aligned
from claimwatch.claims.analyse import Analysis
from claimwatch.claims.compute import MAX_MATCH_CHARS, PostIn, PostResult, match_version
from claimwatch.claims.language import Detected
from claimwatch.claims.sentences import Span
from claimwatch.claims.topics import TopicScore
from claimwatch.demo import CSV_OBSERVED_AT, DATA_DIR, FACTCHECK_FILES, POST_FILES
from claimwatch.store.matches import CandidateRow

FACTCHECKS = [
    claimreview("https://example.org/fc/machines", "Voting machines secretly switched votes between candidates."),
    claimreview("https://example.org/fc/dead", "Thousands of dead people cast ballots in the last election."),
]
POSTS = [
    post("1", "The voting machines flipped votes from one candidate to the other, everyone knows it"),
    post("2", "Dead people voted by the thousands in the last election, wake up"),
    post("3", "https://t.co/abc @someone #tag"),
]


def _analysis() -> Analysis:
    return Analysis(
        Detected("en", 0.97),
        0.8123,
        Span(0, 20, "Dead people voted."),
        "dead people voted",
        [[0, 20, 0.8123], [21, 40, 0.1]],
        [TopicScore("elections", 0.61, ["ballot"], True), TopicScore("health", None, [], False)],
    )


def _result(post_id: int, fc_id: int, text_hash: str = "h") -> PostResult:
    evidence = {"shared_terms": ["dead", "voted"], "query": "dead voted", "features": {"cos": 0.71, "bm25": 3.5}}
    return PostResult(
        post_id,
        text_hash,
        None,
        _analysis(),
        [CandidateRow(fc_id, 1, 0.912345, evidence, 0.9312, True, "repeats"), CandidateRow(fc_id + 1, 2, 0.5, {})],
        "hybrid",
    )


# ----------------------------------------------------------------------------------- pure functions


def test_results_round_trip_through_arrow() -> None:
    """What a worker writes is what the import reads: analysis, topics, candidates, evidence."""
    results = [_result(7, 3), PostResult(8, "h8", "only links, handles or hashtags", _analysis(), [], "hybrid")]
    keys = {3: FactCheckKey("https://example.org/a", "k3"), 4: FactCheckKey("https://example.org/b", "k4")}
    models = {"language": "fasttext", "checkworthiness": None, "encoder": "m", "topics": "t1"}
    batch = results_batch(results, [PostKey("x", "7"), PostKey("x", "8")], "v1", models, keys)
    assert batch.schema == S.RESULTS
    rows = results_of(batch)
    assert [r.result for r in rows] == results
    assert [r.keys for r in rows] == [[keys[3], keys[4]], []]
    assert {r.index_version for r in rows} == {"v1"} and rows[0].models == models
    assert rows[1].post == PostKey("x", "8")


def test_a_run_without_analysis_writes_none() -> None:
    res = PostResult(1, "h", None, None, [], "hybrid")
    (row,) = results_of(results_batch([res], [PostKey("x", "1")], "v", None, {}))
    assert row.result.analysis is None and row.models is None


def test_posts_are_normalised_to_what_matching_reads() -> None:
    """Narrower ints, zoned timestamps, unknown lengths and overlong text, as another tool may write them."""
    created = datetime(2024, 7, 1, 12, 30, tzinfo=UTC)
    table = pa.table(
        {
            S.POST_ID: pa.array([5, 6], pa.int32()),
            S.PLATFORM: ["x", "bluesky"],
            S.PLATFORM_ID: ["5", "at://example/6"],
            S.TEXT: ["a" * (MAX_MATCH_CHARS + 50), "short text"],
            S.TEXT_LENGTH: pa.array([None, 10], pa.int64()),
            S.TEXT_HASH: ["h5", None],
            S.CREATED_AT: pa.array([created, None], pa.timestamp("ms", tz="UTC")),
            "extra": [1, 2],
        }
    )
    S.check_schema(table.schema, S.POSTS, "t")
    posts, keys = posts_of(normalised_posts(table))
    assert posts == [
        PostIn(5, "a" * MAX_MATCH_CHARS, MAX_MATCH_CHARS + 50, "h5", datetime(2024, 7, 1, 12, 30)),
        PostIn(6, "short text", 10, None, None),
    ]
    assert keys == [PostKey("x", "5"), PostKey("bluesky", "at://example/6")]


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({S.POST_ID: [1]}, "missing column(s) platform, platform_id, text, text_length, text_hash, created_at"),
        (
            {
                S.POST_ID: ["1"],
                S.PLATFORM: ["x"],
                S.PLATFORM_ID: ["1"],
                S.TEXT: ["t"],
                S.TEXT_LENGTH: [1],
                S.TEXT_HASH: ["h"],
                S.CREATED_AT: [None],
            },
            "column post_id is string, expected int64",
        ),
    ],
)
def test_bad_posts_files_are_refused_in_one_line(tmp_path: Path, columns: dict, reason: str) -> None:
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), bad)
    run("init", "--db", str(tmp_path / "s.db"))
    code, out, err = run("batch", "run", str(bad), "--out", str(tmp_path / "out"), "--db", str(tmp_path / "s.db"))
    assert code == 2 and "Traceback" not in err
    assert " ".join(err.split()) == f"error: {bad}: {reason}"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "posts.parquet"
    bad.write_text('{"post_id": 1}\n')
    run("init", "--db", str(tmp_path / "s.db"))
    for args in (["batch", "run", str(bad), "--out", str(tmp_path / "o")], ["batch", "import", str(bad)]):
        code, _, err = run(*args, "--db", str(tmp_path / "s.db"))
        assert code == 2 and f"{bad}: not a Parquet file" in " ".join(err.split()) and "Traceback" not in err


def test_ray_missing_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = tmp_path / "p.parquet"
    pq.write_table(S.POSTS.empty_table(), posts)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    code, _, err = run("batch", "run", str(posts), "--out", str(tmp_path / "o"), "--engine", "ray")
    assert code == 2 and " ".join(err.split()) == "error: --engine ray needs Ray: pip install 'claimwatch[ray]'"


# ------------------------------------------------------------------------------- export and import


@pytest.fixture()
def store(mws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> claimwatch.Workspace:
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(FACTCHECKS))
    mws.ingest_factchecks([fc])
    mws.ingest_posts([write_jsonl("p.jsonl", [page(POSTS)])])
    return mws


@pytest.mark.slow
def test_export_writes_what_matching_reads_and_never_overwrites(store: claimwatch.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "posts.parquet"
    code, said, _ = run("export", "posts", "--parquet", str(out), "--db", store.settings.db)
    assert code == 0 and "exported 3 posts" in said
    table = pq.read_table(out)
    assert table.schema == S.POSTS
    assert table.column(S.PLATFORM_ID).to_pylist() == ["1", "2", "3"]
    with sqlite3.connect(store.settings.db) as conn:
        hashes = dict(conn.execute("select platform_id, text_hash from posts"))
    assert (
        dict(zip(table.column(S.PLATFORM_ID).to_pylist(), table.column(S.TEXT_HASH).to_pylist(), strict=True)) == hashes
    )
    code, _, err = run("export", "posts", "--parquet", str(out), "--db", store.settings.db)
    assert code == 2 and "exists" in err and pq.read_table(out).equals(table)


@pytest.mark.slow
def test_export_in_part_files_cut_at_matching_chunks(store: claimwatch.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    code, _, err = run("export", "posts", "--parquet", str(out), "--part-rows", "1000", "--db", store.settings.db)
    assert code == 2 and "--part-rows must be a positive multiple of 1,024" in err and not out.exists()
    code, said, _ = run("export", "posts", "--parquet", str(out), "--part-rows", "1024", "--db", store.settings.db)
    assert code == 0 and "exported 3 posts" in said
    assert [p.name for p in sorted(out.iterdir())] == ["part-00000.parquet"]
    assert pq.read_table(out).column(S.PLATFORM_ID).to_pylist() == ["1", "2", "3"]


def test_ray_reads_part_files_one_block_each_only_when_they_are_cut_at_chunks(tmp_path: Path) -> None:
    def parts(*sizes: int) -> list[Path]:
        files = []
        for k, n in enumerate(sizes):
            f = tmp_path / f"{len(sizes)}-{k}.parquet"
            pq.write_table(pa.table({"i": list(range(n))}), f)
            files.append(f)
        return files

    assert chunk_aligned(parts(2048, 1024, 300), 1024, 2)
    assert not chunk_aligned(parts(2000, 1024, 300), 1024, 2)  # a part not at a chunk boundary
    assert not chunk_aligned(parts(2048, 300), 1024, 3)  # fewer parts than workers: some would idle
    assert not chunk_aligned(parts(5000), 1024, 1)  # one file: Ray splits it evenly


def test_import_refuses_rows_it_cannot_trust(store: claimwatch.Workspace, tmp_path: Path) -> None:
    """Another fact-check behind an id, another post behind an id, another index version: each row
    refused in one line naming the part file and row; the good row is imported."""
    version = match_version(store.load_index(), None)
    with sqlite3.connect(store.settings.db) as conn:
        posts = dict(conn.execute("select platform_id, id from posts"))
        fcs = dict(conn.execute("select id, review_url from factchecks"))
        hashes = dict(conn.execute("select id, text_hash from posts"))
        fc_keys = {
            i: FactCheckKey(u, k) for i, u, k in conn.execute("select id, review_url, claim_key from factchecks")
        }
    p1, p2, p3 = posts["1"], posts["2"], posts["3"]
    fc = min(fcs)
    good = _result(p1, fc, hashes[p1])
    good.candidates = good.candidates[:1]
    wrong_fc = _result(p2, fc, hashes[p2])
    wrong_fc.candidates = wrong_fc.candidates[:1]
    wrong_post = _result(p3, fc, hashes[p3])
    wrong_post.candidates = []
    models = {"language": "l", "checkworthiness": None, "encoder": "e", "topics": None}
    part = tmp_path / "res" / "part-0.parquet"
    part.parent.mkdir()
    keys = {fc: fc_keys[fc]}
    batch = results_batch([good], [PostKey("x", "1")], version, models, keys)
    bad_fc = results_batch([wrong_fc], [PostKey("x", "2")], version, models, {fc: FactCheckKey(fcs[fc], "other")})
    bad_post = results_batch([wrong_post], [PostKey("x", "999")], version, models, keys)
    older = _result(p2, fc, hashes[p2])
    older.candidates = older.candidates[:1]
    other = results_batch([older], [PostKey("x", "2")], "old-version", models, keys)
    pq.write_table(pa.Table.from_batches([batch, bad_fc, bad_post, other]), part)

    rep = import_results(store, part.parent)
    assert (rep.rows, rep.refused, rep.written.posts_matched) == (4, 3, 1)
    assert rep.problems == [
        f"{part} row 1: fact-check {fc} is not {fcs[fc]} (claim key other) in this store",
        f"{part} row 2: post {p3} is not x post 999 in this store",
        f"{part} row 3: made with index old-version, the store's is {version} (fact-checks or settings changed "
        "since the run): run `claimwatch batch run` again, or import with --allow-other-version",
    ]
    with sqlite3.connect(store.settings.db) as conn:
        assert conn.execute("select post_id, factcheck_id, status from matches").fetchall() == [(p1, fc, "proposed")]
        assert conn.execute("select post_id, index_version from match_state").fetchall() == [(p1, version)]
    again = import_results(store, part.parent, allow_other_version=True)
    assert (again.already, again.written.posts_matched) == (1, 1)  # the row of another version, now taken
    with sqlite3.connect(store.settings.db) as conn:
        assert dict(conn.execute("select post_id, index_version from match_state")) == {
            p1: version,
            p2: "old-version",
        }


def test_an_edited_post_is_counted_not_written(store: claimwatch.Workspace, tmp_path: Path) -> None:
    version = match_version(store.load_index(), None)
    with sqlite3.connect(store.settings.db) as conn:
        p1 = conn.execute("select id from posts where platform_id = '1'").fetchone()[0]
    res = PostResult(p1, "hash of the text before an edit", None, None, [], "hybrid")
    pq.write_table(
        pa.Table.from_batches([results_batch([res], [PostKey("x", "1")], version, None, {})]), tmp_path / "r.parquet"
    )
    rep = import_results(store, tmp_path / "r.parquet")
    assert rep.written.posts_matched == 0 and rep.written.skipped == {
        "text changed while matching (matched on the next run)": 1
    }


# --------------------------------------------------------------------- end to end (worker processes)


def _demo_store(path: Path) -> claimwatch.Workspace:
    ws = claimwatch.open(path)
    ws.ingest_posts([DATA_DIR / f for f in POST_FILES], observed_at=CSV_OBSERVED_AT)
    ws.ingest_factchecks([DATA_DIR / f for f in FACTCHECK_FILES])
    return ws


#: What matching writes; a row's own id and timestamps aside, a run + import must leave them as `match` does.
TABLES = ("matches", "post_analysis", "post_topics", "match_state", "review_queue_entries")


def _rows(db: str, *, timestamps: bool) -> dict[str, list[tuple]]:
    out = {}
    with sqlite3.connect(db) as conn:
        for table in TABLES:
            cols = [r[1] for r in conn.execute(f"pragma table_info({table})")]
            if not timestamps:
                cols = [c for c in cols if not c.endswith("_at") and c != "id"]
            out[table] = sorted(conn.execute(f"select {', '.join(cols)} from {table}"), key=repr)
    return out


@pytest.mark.slow
def test_run_and_import_leave_the_store_as_match_does(tmp_path: Path, encoder) -> None:
    """The demo's 195 posts (< 1,024: one encoder batch either way; int8 dynamic quantisation makes
    a few proposals depend on batch composition), with topics, two worker processes."""
    topics = str(DATA_DIR / "topics.yaml")
    matched = _demo_store(tmp_path / "a.db")
    matched._encoder = encoder
    matched.match(topics=topics)
    batch = _demo_store(tmp_path / "b.db")
    db = batch.settings.db
    assert run("export", "posts", "--parquet", str(tmp_path / "p.parquet"), "--db", db, "--pending")[0] == 0
    code, out, err = run(
        "batch", "run", str(tmp_path / "p.parquet"), "--out", str(tmp_path / "res"), "--db", db, "--topics", topics,
        "--workers", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "195 posts in 1 part(s)" in out
    code, out, _ = run("batch", "import", str(tmp_path / "res"), "--db", db)
    assert code == 0 and "193 posts matched" in out
    assert _rows(db, timestamps=False) == _rows(matched.settings.db, timestamps=False)
    assert len(_rows(db, timestamps=False)["matches"]) > 100

    before = _rows(db, timestamps=True)
    code, out, _ = run("batch", "import", str(tmp_path / "res"), "--db", db)
    assert code == 0 and "0 posts matched (0 proposals), 195 already matched, 0 refused" in out
    assert _rows(db, timestamps=True) == before


@pytest.mark.slow
def test_a_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    """Parts are whole or absent: a re-run writes only the missing ones, the same as before."""
    ws = _demo_store(tmp_path / "s.db")
    posts = tmp_path / "p.parquet"
    assert run("export", "posts", "--parquet", str(posts), "--db", ws.settings.db)[0] == 0
    spec = plan(claimwatch.open(ws.settings.db, read_only=True))
    out = tmp_path / "res"
    first = run_local(posts, out, spec, workers=1, batch_size=64)
    assert (first.posts, first.parts_written, first.parts_skipped) == (195, 4, 0)
    parts = sorted(out.glob("*.parquet"))
    kept = pq.read_table(parts[2])
    parts[2].unlink()
    again = run_local(posts, out, spec, workers=1, batch_size=64)
    assert (again.posts, again.parts_written, again.parts_skipped) == (kept.num_rows, 1, 3)
    assert pq.read_table(parts[2]).equals(kept)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # the same folder with another batch size is another run: refused, nothing touched
    with pytest.raises(S.BatchInputError, match="holds results of another run"):
        run_local(posts, out, spec, workers=1, batch_size=32)


@pytest.mark.slow
def test_batch_matcher_maps_a_record_batch(tmp_path: Path, encoder) -> None:
    """The callable Ray instantiates: one results row per post, skip reasons kept, tables in → tables out."""
    ws = _demo_store(tmp_path / "s.db")
    ws._encoder = encoder
    assert run("export", "posts", "--parquet", str(tmp_path / "p.parquet"), "--db", ws.settings.db)[0] == 0
    table = pq.read_table(tmp_path / "p.parquet").slice(0, 40)
    matcher = BatchMatcher(plan(ws))
    out = matcher(table)
    assert isinstance(out, pa.Table) and out.schema == S.RESULTS and out.num_rows == 40
    assert out.column(S.POST_ID).to_pylist() == table.column(S.POST_ID).to_pylist()
    assert matcher(table.to_batches()[0].slice(0, 0)).num_rows == 0


def _many_posts(n: int) -> list[dict]:
    """``n`` synthetic posts of varied length, some repeating the demo's claims (more than one chunk)."""
    claims = [
        "Dominion machines erased millions of votes",
        "dead people voted in Wayne County",
        "ballots were found in a dumpster in Arizona",
        "non-citizens are voting in Texas",
    ]
    chatter = ["lunch was great", "the game last night went to overtime", "new bike lanes downtown", "rain again"]
    return [
        post(str(10_000 + i), f"{(claims if i % 3 == 0 else chatter)[i % 4]} (synthetic {i})" + " really" * (i % 17))
        for i in range(n)
    ]


@pytest.mark.slow
def test_ray_runs_the_same_functions(tmp_path: Path, write_jsonl) -> None:
    """Over more than one chunk: a folder export cut at chunks gives Ray the local runner's batches,
    so the results are the same row for row (the encoder's int8 scales depend on a batch's posts)."""
    ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")
    ws = _demo_store(tmp_path / "s.db")
    ws.ingest_posts([write_jsonl("many.jsonl", [page(_many_posts(2_300))])])
    db = ws.settings.db
    posts = tmp_path / "parts"
    code, _, err = run("export", "posts", "--parquet", str(posts), "--db", db, "--pending", "--part-rows", "1024")
    assert code == 0, err
    assert len(list(posts.iterdir())) == 3  # 2,495 posts: 1,024 + 1,024 + 447
    run_local(posts, tmp_path / "local", plan(claimwatch.open(db, read_only=True)), workers=1, batch_size=1024)
    code, out, err = run(
        "batch", "run", str(posts), "--out", str(tmp_path / "ray"), "--db", db, "--engine", "ray", "--workers", "2",
        "--object-store-mb", "150",
    )  # fmt: skip
    assert code == 0, err
    assert not ray.is_initialized()
    assert "2,495 posts" in out and "note:" not in out
    got = pq.read_table(tmp_path / "ray").sort_by(S.POST_ID)
    want = pq.read_table(tmp_path / "local").sort_by(S.POST_ID)
    assert got.select(S.RESULTS.names).equals(want.select(S.RESULTS.names))
