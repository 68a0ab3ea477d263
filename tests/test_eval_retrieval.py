"""`claimwatch eval retrieval`: CheckThat! formats, metrics, bad input, and evaluating a store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import claimreview, page, post
from test_cli import run

from claimwatch.claims.rerank import (
    ModelError,
    RetrievalModel,
    load_model,
    train_ranker,
)
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.checkthat import DataError
from claimwatch.evaluation.metrics import (
    average_precision,
    reliability_table,
    retrieval_metrics,
)

CLAIMS = [
    (
        "vclaim-1",
        "Voting machines switched millions of votes from one candidate to another.",
        "Did machines flip votes?",
    ),
    ("vclaim-2", "Dead people cast thousands of ballots in Michigan.", "Dead voters in Michigan"),
    ("vclaim-3", "A video shows a shark swimming on a flooded highway.", "Shark on the highway"),
    ("vclaim-4", "Drinking hot water cures the flu.", "Hot water and the flu"),
    ("vclaim-5", "The moon landing was filmed in a studio.", "Was the moon landing staged?"),
]
QUERIES = [
    (
        "q1",
        "Those voting machines flipped MILLIONS of votes, wake up https://t.co/x — Some Name (@someone) "
        "November 5, 2020",
    ),
    ("q2", "thousands of dead people voted in michigan!!"),
    ("q3", "look at this shark swimming down the flooded freeway"),
    ("q4", "hot water will cure your flu, doctors hate it"),
]


@pytest.fixture()
def ct(tmp_path: Path) -> dict[str, Path]:
    v = tmp_path / "vclaims.jsonl"
    v.write_text("".join(json.dumps({"vclaim_id": i, "vclaim": c, "title": t}) + "\n" for i, c, t in CLAIMS))
    q = tmp_path / "queries.tsv"
    q.write_text("\ufefftweet_id\ttweet_text\n" + "".join(f"{i}\t{t}\n" for i, t in QUERIES), encoding="utf-8")
    r = tmp_path / "qrels.tsv"
    r.write_text("".join(f"q{n}\t0\tvclaim-{n}\t1\n" for n in range(1, 5)))
    return {"vclaims": v, "queries": q, "qrels": r}


def _eval(ct: dict[str, Path], *args: str) -> tuple[int, str, str]:
    """`claimwatch eval retrieval` on the small CheckThat!-format fixture, with extra options."""
    return run(
        "eval",
        "retrieval",
        "--vclaims",
        str(ct["vclaims"]),
        "--queries",
        str(ct["queries"]),
        "--qrels",
        str(ct["qrels"]),
        *args,
    )


def test_metrics_follow_the_checkthat_scorer() -> None:
    assert average_precision(["a", "b", "c"], {"b"}, 5) == 0.5
    assert average_precision(["a", "b", "c"], {"b", "c"}, 5) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert average_precision(["a", "b"], {"b"}, 1) == 0.0
    m = retrieval_metrics({"q1": ["x", "y"], "q2": ["z"]}, {"q1": {"y"}, "q2": {"z"}, "q3": {"w"}})
    assert m["n_queries"] == 3 and m["p@1"] == pytest.approx(1 / 3) and m["mrr"] == pytest.approx((0.5 + 1) / 3)
    assert m["map@5"] == pytest.approx((0.5 + 1) / 3) and m["recall@20"] == pytest.approx(2 / 3)
    bins = reliability_table([0.05, 0.95, 0.92], [False, True, False])
    assert bins[0].n == 1 and bins[9].n == 2 and bins[9].accuracy == 0.5


def test_loaders_read_all_checkthat_shapes(tmp_path: Path) -> None:
    tsv = tmp_path / "claims.tsv"
    tsv.write_text("vclaim_id\tvclaim\ttitle\nv1\tA claim.\tA title\n")
    assert checkthat.load_vclaims(tsv)[0].title == "A title"
    old = tmp_path / "2020.tsv"
    old.write_text('\tvclaim\ttitle\n0\t"A ""quoted"" claim."\tT\n')
    assert checkthat.load_vclaims(old)[0].claim == 'A "quoted" claim.' and checkthat.load_vclaims(old)[0].id == "0"
    b = tmp_path / "2b.jsonl"
    b.write_text(
        json.dumps(
            {
                "vclaim_id": "vclaim-pol-1",
                "vclaim": "X said Y.",
                "speaker": "X",
                "title": "T",
                "date": "stated on October 22, 2019 in a campaign mailer.:",
                "text": "Article.",
            }
        )
        + "\n"
    )
    doc = checkthat.load_vclaims(b)[0]
    assert (doc.speaker, doc.extra, doc.date.date().isoformat()) == ("X", "Article.", "2019-10-22")
    q = tmp_path / "debate.tsv"
    q.write_text("20121023_debate_0001\tFirst.\n20121023_debate_0002\tSecond.\n20121023_debate_0005\tFar.\n")
    qs = {x.id: x for x in checkthat.load_queries(q, context_window=1)}
    assert qs["20121023_debate_0001"].context == "Second." and qs["20121023_debate_0005"].context == ""
    assert qs["20121023_debate_0002"].date.date().isoformat() == "2012-10-23"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("q1\tfirst text\tq2\tsecond text fused\n", "fused on one line"),
        ("q1\t \n", "empty text"),
        ("q1\tone\nq1\tanother\n", "repeated with different text"),
    ],
)
def test_bad_queries_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "q.tsv"
    f.write_text(content)
    with pytest.raises(DataError, match=message) as exc:
        checkthat.load_queries(f)
    assert f"{f}:" in str(exc.value)


def test_bad_claims_and_qrels(tmp_path: Path) -> None:
    v = tmp_path / "v.jsonl"
    v.write_text(
        json.dumps({"vclaim_id": "a", "vclaim": "x"}) + "\n" + json.dumps({"vclaim_id": "a", "vclaim": "y"}) + "\n"
    )
    with pytest.raises(DataError, match="appears twice"):
        checkthat.load_vclaims(v)
    v.write_text(json.dumps({"vclaim_id": "a", "vclaim": ""}) + "\n")
    with pytest.raises(DataError, match=r"v.jsonl:1: claim 'a' has empty"):
        checkthat.load_vclaims(v)
    r = tmp_path / "qrels"
    r.write_text("q1 0 a\n")
    with pytest.raises(DataError, match="qrels:1: expected 'qid 0 docid relevance'"):
        checkthat.load_qrels(r)


def test_eval_cli_plain_fusion(ct: dict[str, Path], tmp_path: Path, encoder) -> None:
    run_file = tmp_path / "run.trec"
    code, out, err = _eval(ct, "--retrieval-model", "none", "--json", "--run-out", str(run_file))
    assert code == 0, err
    res = json.loads(out)
    assert {"map@1", "map@5", "p@1", "mrr", "recall@20", "n_queries"} <= res.keys()
    assert res["n_queries"] == 4 and res["map@5"] == 1.0 and res["method"] == "hybrid-bm25-dense-v1"
    first = run_file.read_text().splitlines()[0].split("\t")
    assert first[:4] == ["q1", "Q0", "vclaim-1", "1"]


def test_eval_warns_about_qrels_for_unknown_ids(ct: dict[str, Path], encoder) -> None:
    ct["qrels"].write_text(ct["qrels"].read_text() + "q9\t0\tvclaim-1\t1\nq1\t0\tvclaim-404\t1\n")
    code, out, err = _eval(ct, "--retrieval-model", "none", "--json")
    assert code == 0
    assert "1 qrels name queries not in" in err and "relevant claims are not in the claim set" in err
    assert json.loads(out)["n_queries"] == 4


@pytest.mark.slow
def test_eval_against_a_store(tmp_path: Path, encoder, write_jsonl) -> None:
    db = str(tmp_path / "s.db")
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps([claimreview(f"https://example.org/fc/{i}", c, "False") for i, c, _ in CLAIMS]))
    assert run("ingest", "factchecks", str(fc), "--db", db)[0] == 0
    q = tmp_path / "q.tsv"
    q.write_text("".join(f"{i}\t{t}\n" for i, t in QUERIES))
    r = tmp_path / "r.tsv"
    r.write_text("".join(f"q{n}\t0\thttps://example.org/fc/vclaim-{n}\t1\n" for n in range(1, 5)))
    code, out, err = run(
        "eval",
        "retrieval",
        "--vclaims",
        db,
        "--queries",
        str(q),
        "--qrels",
        str(r),
        "--retrieval-model",
        "none",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["p@1"] == 1.0


def test_eval_with_a_missing_model_path_fails_clearly(ct: dict[str, Path]) -> None:
    code, _, err = _eval(ct, "--model", "./nowhere")
    assert code == 2 and "does not exist" in err
    code, _, err = _eval(ct, "--retrieval-model", "./no-model")
    assert code == 2 and "no retrieval model" in err


def test_ranker_is_deterministic_and_model_files_are_checked(tmp_path: Path) -> None:
    from claimwatch.claims.features import FEATURE_NAMES

    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(10, len(FEATURE_NAMES))).astype(np.float32) for _ in range(40)]
    labels = [(f[:, 0] == f[:, 0].max()).astype(np.int32) for f in feats]
    a, b = train_ranker(feats, labels), train_ranker(feats, labels)
    assert np.array_equal(a.predict(feats[0]), b.predict(feats[0]))
    model = RetrievalModel(a, None, {"encoder": "enc-x"})
    model.save(tmp_path / "m")
    assert load_model(str(tmp_path / "m"), "enc-x") is not None
    with pytest.raises(ModelError, match="trained with encoder"):
        load_model(str(tmp_path / "m"), "another encoder")
    (tmp_path / "m" / "ranker.txt").write_text("tampered")
    with pytest.raises(ModelError, match="checksum"):
        RetrievalModel.load(tmp_path / "m")
    assert load_model("none", "enc-x") is None


@pytest.mark.slow  # over half a second on 2 cores
def test_match_records_confidence_with_a_model(mws, tmp_path: Path, write_jsonl) -> None:
    """With the shipped model only the top candidate carries a confidence and can be proposed."""
    import sqlalchemy as sa

    from claimwatch.store import schema as s

    if mws.retrieval_model() is None:
        pytest.skip("no shipped retrieval model for this encoder")
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps([claimreview(f"https://example.org/fc/{i}", c, "False") for i, c, _ in CLAIMS]))
    mws.ingest_factchecks([fc])
    mws.ingest_posts([write_jsonl("p.jsonl", [page([post("1", QUERIES[0][1]), post("2", QUERIES[2][1])])])])
    rep = mws.match()
    assert rep.method == "hybrid-rerank-lgbm-v1"
    with mws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.Post.platform_id, s.Match.rank, s.Match.confidence, s.Match.status, s.FactCheck.review_url)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
        ).all()
    top = {pid: (conf, status, url) for pid, rank, conf, status, url in rows if rank == 1}
    assert top["1"][2].endswith("/vclaim-1") and top["2"][2].endswith("/vclaim-3")
    assert all(0.0 <= conf <= 1.0 for conf, _, _ in top.values())
    assert all(conf is None and status == "candidate" for _, rank, conf, status, _ in rows if rank > 1)
    assert {status for conf, status, _ in top.values()} <= {"proposed", "candidate"}
    assert all((status == "proposed") == (conf >= 0.5) for conf, status, _ in top.values())


def _negatives(tmp_path: Path) -> Path:
    """Two posts a check-worthiness set says make no claim: one repeating a stored claim's words
    (so every matcher proposes it), one greeting (proposed by none)."""
    f = tmp_path / "negatives.tsv"
    f.write_text(
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        f"x\t1\thttp://t/1\t{CLAIMS[0][1]}\t0\n"
        "x\t2\thttp://t/2\tgood morning everyone, have a lovely day\t0\n"
        "x\t3\thttp://t/3\tThe vaccine killed 3,000 people in Norway\t1\n",
        encoding="utf-8",
    )
    return f


def test_false_proposals_without_a_trained_model_are_at_the_score_threshold(
    ct: dict[str, Path], tmp_path: Path, encoder, monkeypatch
) -> None:
    """A9: the plain fusion has no confidence, so "0.0 % at confidence ≥ 0.9" would be made up; the
    rate is measured where `match` proposes: at the fused-score threshold of the settings."""
    args = [
        "eval",
        "retrieval",
        "--vclaims",
        str(ct["vclaims"]),
        "--queries",
        str(ct["queries"]),
        "--qrels",
        str(ct["qrels"]),
        "--retrieval-model",
        "none",
        "--negatives",
        str(_negatives(tmp_path)),
    ]
    code, out, err = run(*args)
    assert code == 0, err
    line = " ".join(out.split())
    assert (
        "false proposals on 2 posts without a fact-check: no calibrated confidence without a trained model, so "
        "none at a confidence; 50.0% at the fused score threshold 0.62 (from which `claimwatch match` proposes)"
    ) in line
    assert "at confidence ≥" not in line
    res = json.loads(run(*args, "--json")[1])
    assert "false_proposal_rate" not in res and res["false_proposal_rate_at_score"] == {"0.62": 0.5}
    monkeypatch.setenv("CLAIMWATCH_THRESHOLD", "0.0")  # every post with a candidate is proposed
    assert json.loads(run(*args, "--json")[1])["false_proposal_rate_at_score"] == {"0.0": 1.0}


def test_false_proposals_with_the_calibrated_model_are_at_confidences(
    ct: dict[str, Path], tmp_path: Path, encoder
) -> None:
    code, out, err = _eval(ct, "--negatives", str(_negatives(tmp_path)), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["method"] == "hybrid-rerank-lgbm-v1" and "false_proposal_rate_at_score" not in res
    rates = res["false_proposal_rate"]
    assert list(rates) == ["0.5", "0.7", "0.9"] and all(r in (0.0, 0.5) for r in rates.values())
    assert rates["0.5"] == 0.5, "the post repeating a claim word for word is proposed at 0.5"
