"""Check-worthiness: CheckThat! readers and metrics, the shipped model on awkward input, training and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import run

from claimwatch.claims.checkworthiness import (
    SHIPPED,
    CheckworthinessModel,
    embedding_text,
    load_model,
)
from claimwatch.claims.rerank import ModelError
from claimwatch.evaluation import checkworthiness_protocol as protocol
from claimwatch.evaluation.checkworthiness import (
    DataError,
    LabelledText,
    load_labelled,
    score_metrics,
)
from claimwatch.evaluation.checkworthiness_sets import LabelledSet
from claimwatch.training import checkworthiness as training

CLAIMS = [
    "Unemployment fell to 3.5 percent in 2019, the lowest rate in fifty years.",
    "The new tax law cut taxes for 82 percent of middle-class families.",
    "Crime in our cities has gone up 40 percent since he took office.",
    "We spent $6 trillion in the Middle East and got nothing for it.",
    "He voted against the defense budget 17 times in the Senate.",
    "Over 200,000 people have died of COVID-19 in this country.",
    "China produces more carbon dioxide than the United States and Europe combined.",
    "Our trade deficit with Mexico was $60 billion last year.",
    "The vaccine was tested on 43,000 volunteers before it was approved.",
    "Eleven million people live here without legal papers.",
    "Under his plan, premiums went up by 25 percent in Arizona.",
    "We created 15 million new jobs in the last eight years.",
]
CHATTER = [
    "Thank you all for coming tonight.",
    "I think that's a great question.",
    "Let me finish, please.",
    "Well, I'll tell you what I believe.",
    "Good evening, everybody.",
    "You know what I mean?",
    "That's not what I said, and you know it.",
    "I want to thank the moderator.",
    "We're going to do great things together.",
    "Can I respond to that?",
    "Folks, it's wonderful to be here.",
    "I hope you'll give me your support.",
]


def tsv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# ------------------------------------------------------------------------------ readers and metrics


def test_reads_every_checkthat_shape(tmp_path: Path) -> None:
    ct24 = tsv(
        tmp_path,
        "ct24.tsv",
        "Sentence_id\tText\tclass_label\r\n"
        '1\t"I saw a movie - ""Crocodile Dundee."""\tNo\r\n'
        "2\tWe're consuming 50 percent of the world's cocaine.\tYes\r\n",
    )
    items = load_labelled(ct24)
    assert [(x.id, x.text, x.checkworthy, x.kind, x.line) for x in items] == [
        ("1", 'I saw a movie - "Crocodile Dundee."', False, "sentence", 2),
        ("2", "We're consuming 50 percent of the world's cocaine.", True, "sentence", 3),
    ]
    ct23 = tsv(tmp_path, "ct23.tsv", "ClasSentence_id\tText\tclass_label\n37436\tHe's been a professor.\tNo\n")
    assert load_labelled(ct23)[0].id == "37436"
    ct22 = tsv(
        tmp_path,
        "ct22.tsv",
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        'COVID-19\t136\thttp://twitter.com/u/status/136\tHe said "vaccines work" 💉\t1\n',
    )
    tweet = load_labelled(ct22)[0]
    assert (tweet.id, tweet.text, tweet.checkworthy, tweet.kind) == ("136", 'He said "vaccines work" 💉', True, "post")
    ct21 = tsv(
        tmp_path,
        "ct21.tsv",
        "topic_id\ttweet_id\ttweet_url\ttweet_text\tclaim\tclaim_worthiness\n"
        "covid-19\t7\thttps://twitter.com/u/status/7\tA claim here\t1\t0\n",
    )
    assert load_labelled(ct21)[0].checkworthy is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "Sentence_id\tText\tclass_label\n1\tFine.\tNo\n2\tWe've got to invest.\tNo29286\tYou can't.\tNo\n",
            r":3: 5 fields but the header has 3 \(two records fused on one line: label 'No' runs into the next id '29286'",
        ),
        ("Sentence_id\tText\tclass_label\n1\tOne.\tNo\n2\t   \tYes\n", r":3: record '2' has empty text"),
        ("Sentence_id\tText\tclass_label\n1\tOne.\tMaybe\n", r":2: label 'Maybe' of record '1' is not Yes/No"),
        ("Sentence_id\tText\n1\tOne.\n", r":1: no label column .* without gold labels cannot be evaluated"),
        ("Sentence_id\tText\tclass_label\n1\tOne.\tNo\n1\tAnother.\tNo\n", r":3: id '1' repeated with other text"),
        ("Sentence_id\tText\tclass_label\n1\tOne.\n", r":2: 2 fields but the header has 3"),
        ("Sentence_id\tText\tclass_label\n", r"no labelled records"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    f = tsv(tmp_path, "bad.tsv", content)
    with pytest.raises(DataError, match=message) as exc:
        load_labelled(f)
    assert str(exc.value).startswith(f"{f}")


def test_metrics() -> None:
    m = score_metrics([True, False, True, False], [0.9, 0.8, 0.3, 0.1], threshold=0.5)
    assert (m["precision"], m["recall"], m["f1"], m["accuracy"]) == (0.5, 0.5, 0.5, 0.5)
    assert m["map"] == pytest.approx((1 + 2 / 3) / 2) and m["n"] == 4 and m["positives"] == 2
    none = score_metrics([True, False], [0.1, 0.2], threshold=0.5)
    assert none["f1"] == 0.0 and none["precision"] == 0.0 and none["accuracy"] == 0.5


# ------------------------------------------------------------------------------ the shipped model


@pytest.fixture(scope="module")
def model() -> CheckworthinessModel:
    return load_model()


@pytest.mark.slow  # over half a second on 2 cores
def test_shipped_model_says_what_it_is(model: CheckworthinessModel, encoder) -> None:
    assert model.encoder_name == encoder.name
    text = model.describe()
    assert "v2" in text and "CheckThat! 2022 1A tweets" in text and "sentence" in text and "post" in text
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 5_000_000
    assert 0.0 < model.threshold("sentence") < 1.0 and 0.0 < model.threshold("post") < 1.0


@pytest.mark.slow  # over half a second on 2 cores
def test_claims_outscore_chatter_reusing_matching_embeddings(model: CheckworthinessModel, encoder) -> None:
    texts = CLAIMS + CHATTER
    emb = encoder.encode([embedding_text(t) for t in texts])
    scores = model.score(texts, emb, kind="sentence")
    assert np.all((scores >= 0) & (scores <= 1))
    assert score_metrics([True] * len(CLAIMS) + [False] * len(CHATTER), scores, 0.5)["map"] > 0.9
    # Without embeddings the model encodes the texts itself, the way matching does.
    assert np.allclose(model.score(texts, kind="sentence", encoder=encoder), scores, atol=0.05)


@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_awkward_posts(model: CheckworthinessModel, encoder) -> None:
    texts = [
        "",
        "   \n\t",
        "https://t.co/abc https://example.org/x 😀🔥🇺🇸",
        "@someone @other",
        "#StopTheSteal #Election2020 #MAGA",
        "x" * 100_000,
        "Die Impfung enthält einen Mikrochip. The vaccine contains a microchip, 5G activates it.",
    ]
    t0 = time.perf_counter()
    scores = model.score(texts, kind="post", encoder=encoder)
    assert time.perf_counter() - t0 < 5
    assert list(scores[:4]) == [0.0, 0.0, 0.0, 0.0]
    assert np.all((scores >= 0) & (scores <= 1)) and scores[6] > scores[4]
    with pytest.raises(ValueError, match="one row per text"):
        model.score(["a claim"], np.zeros((2, 384), dtype=np.float32))
    with pytest.raises(ValueError, match="unknown kind 'tweet'"):
        model.score(["a claim"], kind="tweet")


@pytest.mark.slow  # over half a second on 2 cores
def test_missing_or_damaged_model_fails_clearly(tmp_path: Path, model: CheckworthinessModel) -> None:
    with pytest.raises(ModelError, match="no check-worthiness model at .*train checkworthiness"):
        load_model(str(tmp_path / "nowhere"))
    model.save(tmp_path / "m")
    assert load_model(str(tmp_path / "m")).threshold("post") == model.threshold("post")
    with open(tmp_path / "m" / "post.npz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0\0\0\0")
    with pytest.raises(ModelError, match=r"post.npz is missing or does not match its checksum"):
        load_model(str(tmp_path / "m"))
    (tmp_path / "m" / "meta.json").write_text("{")
    with pytest.raises(ModelError, match="unreadable"):
        load_model(str(tmp_path / "m"))


# ------------------------------------------------------------------------------ training and the CLI


def fake_datasets(root: Path, sentence_labels: list[bool]) -> Path:
    """A tiny CheckThat! layout: hand-written sentences and tweets in the organisers' formats."""
    sentences = CLAIMS + CHATTER
    ct24 = root / "clef2024-checkthat-task1-checkworthiness-en"
    ct24.mkdir(parents=True)
    (ct24 / "CT24_checkworthy_english_train.fixed.tsv").write_text(
        "Sentence_id\tText\tclass_label\n"
        + "".join(
            f"{i}\t{t}\t{'Yes' if y else 'No'}\n"
            for i, (t, y) in enumerate(zip(sentences, sentence_labels, strict=True))
        )
    )
    # A dev-test sentence also in train is trained on once.
    (ct24 / "CT24_checkworthy_english_dev-test.tsv").write_text(
        f"Sentence_id\tText\tclass_label\n99\t{CHATTER[0]}\tNo\n"
    )
    tweets = root / "clef2022-checkthat-task1a-checkworthiness-tweets-en"
    tweets.mkdir()
    (tweets / "CT22_english_1A_checkworthy_train.tsv").write_text(
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        + "".join(
            f"COVID-19\t{i}\thttp://twitter.com/u/status/{i}\t{t} https://t.co/x{i}\t{int(y)}\n"
            for i, (t, y) in enumerate(zip(sentences, [True] * len(CLAIMS) + [False] * len(CHATTER), strict=True))
        )
    )
    (tweets / "CT22_english_1A_checkworthy_dev.tsv").write_text(
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        "COVID-19\t90\thttp://twitter.com/u/status/90\tlovely sunny morning in the park, coffee time\t0\n"
        "COVID-19\t91\thttp://twitter.com/u/status/91\t3 million doses were wasted last month, the ministry says\t1\n"
    )
    ct21 = root / "clef2021-checkthat-task1a-checkworthiness-tweets-en"
    ct21.mkdir()
    (ct21 / "dataset_train_v1_english.tsv").write_text(
        "topic_id\ttweet_id\ttweet_url\ttweet_text\tclaim\tcheck_worthiness\n"
        "covid-19\t500\thttps://twitter.com/u/status/500\tMasks cut infections by 80 percent, a study found\t1\t1\n"
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [[], ["--finetune"]])
def test_single_class_training_set_is_refused(tmp_path: Path, recipe: list[str]) -> None:
    data = fake_datasets(tmp_path / "data", [False] * (len(CLAIMS) + len(CHATTER)))
    code, _, err = run("train", "checkworthiness", *recipe, "--datasets", str(data), "--out", str(tmp_path / "m"))
    assert code == 2
    assert "sentence training set: every example is labelled not check-worthy; training needs both classes" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_train_is_deterministic_and_eval_reads_its_model(tmp_path: Path, encoder) -> None:
    data = fake_datasets(tmp_path / "data", [True] * len(CLAIMS) + [False] * len(CHATTER))
    code, out, err = run("train", "checkworthiness", "--datasets", str(data), "--out", str(tmp_path / "a"))
    assert code == 0, err
    assert "CT24 train: held-out F1" in err and "model written to" in out
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    # Every labelled text of a kind, each once: the dev-test sentence repeats a train sentence;
    # tweets: CT2022 train and dev, and the one CT2021 tweet.
    assert meta["heads"]["sentence"]["n_train"] == len(CLAIMS) + len(CHATTER)
    assert meta["heads"]["post"]["n_train"] == len(CLAIMS) + len(CHATTER) + 3
    assert set(meta["heads"]["sentence"]["figures"]) == {"CT24 train", "CT23 1B"}
    assert set(meta["heads"]["post"]["figures"]) == {"CT22 1A", "CT21 1A"}
    for head in meta["heads"].values():
        assert 0.05 <= head["threshold"] <= 0.95
        assert all(0.0 <= f["f1"] <= 1.0 and f["n"] > 0 for f in head["figures"].values())
    assert run("train", "checkworthiness", "--datasets", str(data), "--out", str(tmp_path / "b"))[0] == 0
    for name in ("sentence.npz", "post.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    test = tsv(
        tmp_path,
        "test.tsv",
        "Sentence_id\tText\tclass_label\n"
        + "".join(
            f"{i}\t{t}\t{y}\n"
            for i, (t, y) in enumerate(
                [("Taxes went up 30 percent for 4 million families.", "Yes"), ("Thank you so much, everyone.", "No")]
            )
        ),
    )
    code, out, err = run("eval", "checkworthiness", "--data", str(test), "--cw-model", str(tmp_path / "a"), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {"f1", "precision", "recall", "map", "n", "accuracy", "threshold"} <= res.keys()
    assert res["n"] == 2 and res["map"] == 1.0 and res["kind"] == "sentence"
    # The spelling before --cw-model (--model DIR of a check-worthiness model) still works, with a note.
    code, old_out, err = run("eval", "checkworthiness", "--data", str(test), "--model", str(tmp_path / "a"), "--json")
    assert code == 0 and json.loads(old_out) == res
    assert f"use `--cw-model {tmp_path / 'a'}`" in err and "--model is the sentence encoder" in err


@pytest.mark.slow  # over half a second on 2 cores
def test_eval_cli_with_the_shipped_model_and_bad_input(tmp_path: Path, encoder) -> None:
    tweets = tsv(
        tmp_path,
        "tweets.tsv",
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        "COVID-19\t1\thttp://t/1\tThe vaccine killed 3,000 people in Norway last week, officials admit\t1\n"
        "COVID-19\t2\thttp://t/2\tgood morning everyone, have a lovely day ☀️\t0\n",
    )
    code, out, err = run("eval", "checkworthiness", "--data", str(tweets))
    assert code == 0, err
    assert "post head, 2 texts (1 check-worthy)" in out and "MAP" in out
    assert "model: claimwatch check-worthiness v2" in out
    bad = tsv(tmp_path, "bad.tsv", "Sentence_id\tText\tclass_label\n1\tOne.\tNo\n2\tTwo.\tNo3\tThree.\tYes\n")
    code, _, err = run("eval", "checkworthiness", "--data", str(bad), "--json")
    assert code == 2 and f"{bad}:3: 5 fields" in err
    code, _, err = run("eval", "checkworthiness", "--data", str(tweets), "--cw-model", str(tmp_path / "none"))
    assert code == 2 and "no check-worthiness model" in err
    code, _, err = run("eval", "checkworthiness", "--data", str(tweets), "--cw-model", "none")
    assert code == 2 and "check-worthiness scoring is off" in err


def test_overlap_normalisation() -> None:
    assert training.normalised("I'll give you an EXAMPLE!  https://t.co/x") == "i ll give you an example"


def _set(name: str, rows: list[tuple[str, bool, str]], kind: str = "sentence") -> LabelledSet:
    items = [LabelledText(str(i), t, y, kind) for i, (t, y, _) in enumerate(rows)]
    return LabelledSet(name, items, np.array([g for _, _, g in rows]), np.eye(len(rows), 4, dtype=np.float32))


@pytest.mark.slow
def test_all_sets_protocol_holds_out_texts_and_debates_across_sets() -> None:
    """A held-out fold's texts are not trained on from any set, nor are other sentences of its debates."""
    crowd = _set("crowd", [(f"Taxes rose {i} percent.", i % 2 == 0, f"debate-{i % 4}") for i in range(8)])
    strict = _set("strict", [("Taxes rose 0 percent!", True, "debate-0"), ("Other words here.", False, "debate-9")])
    tweets = _set("tweets", [("a tweet", True, "train.tsv"), ("b tweet", False, "dev.tsv")], "post")
    sets = [crowd, strict, tweets]
    pool = protocol.Pool.of(sets)
    assert len(pool.texts) == 11  # "Taxes rose 0 percent!" is crowd's first text, normalised
    for fold in protocol.plan(sets, pool):
        held = sets[fold.set_index]
        held_keys = {training.normalised(held.items[i].text) for i in fold.test}
        trained = [pool.keys[i] for i in fold.train]
        assert not held_keys & set(trained)
        if held.kind == "sentence":
            held_debates = set(held.groups[fold.test])
            assert not {pool.groups[i] for i in fold.train if pool.kinds[i] == "sentence"} & held_debates
    # Every set is scored whole, each text in exactly one fold; one group = the set held out whole.
    for si, s in enumerate(sets):
        tested = np.concatenate([f.test for f in protocol.plan(sets, pool) if f.set_index == si])
        assert sorted(tested.tolist()) == list(range(len(s.items)))
    assert len(protocol.folds_of(_set("one", [("x", True, "g"), ("y", False, "g")]))) == 1


def test_threshold_is_chosen_on_other_sets_only() -> None:
    """A set's figure never uses a threshold picked on its own labels."""
    a = _set("a", [("p", True, "1"), ("q", False, "2")])
    b = _set("b", [("r", True, "1"), ("s", False, "2")])
    # a separates at 0.5; b only at a high threshold; each set's threshold comes from the other.
    logits = [np.array([0.2, -0.2]), np.array([3.0, 2.0])]
    rows = protocol.table([a, b], logits)
    t_b = protocol.choose_threshold_for([b.labels], [protocol.sigmoid(logits[1])])
    assert rows[0]["threshold"] == t_b == 0.89 and rows[0]["f1"] == 0.0  # at a's own best (0.5) it would be 1.0
    assert rows[1]["threshold"] == 0.46 and rows[1]["f1"] == pytest.approx(2 / 3)


def test_all_sets_cli_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("eval", "checkworthiness", "--all-sets")
    assert code == 2 and "--all-sets evaluates the training recipe on --datasets DIR" in err
    code, _, err = run("eval", "checkworthiness")
    assert code == 2 and "give --data FILE" in err
    code, _, err = run("eval", "checkworthiness", "--all-sets", "--datasets", str(tmp_path))
    assert code == 2 and "not found: the all-sets evaluation needs" in err


def complete_datasets(root: Path) -> Path:
    """The tiny layout plus every other set's files (ClaimBuster's strict subset and debates, CT24 dev,
    CT2021 dev and test tweets), so that the all-sets protocol can run."""
    root = fake_datasets(root, [True] * len(CLAIMS) + [False] * len(CHATTER))
    cb = root / "claimbuster-arslan2020"
    cb.mkdir()
    sentences = CLAIMS + CHATTER
    (cb / "crowdsourced.csv").write_text(
        "Sentence_id,Text,File_id,Verdict\n"
        + "".join(f'{i},"{t}",debate-{i % 3}.txt,{1 if i < len(CLAIMS) else -1}\n' for i, t in enumerate(sentences))
    )
    strict = [{"sentence_id": i, "label": int(i < len(CLAIMS)), "text": t} for i, t in enumerate(sentences) if i % 2]
    (cb / "3xNCS.json").write_text(json.dumps(strict))
    ct24 = root / "clef2024-checkthat-task1-checkworthiness-en"
    (ct24 / "CT24_checkworthy_english_dev.tsv").write_text(
        "Sentence_id\tText\tclass_label\n"
        "200\tWages grew 4 percent in 2022, the fastest in decades.\tYes\n"
        "201\tThank you, that is very kind of you.\tNo\n"
    )
    ct21 = root / "clef2021-checkthat-task1a-checkworthiness-tweets-en"
    header = "topic_id\ttweet_id\ttweet_url\ttweet_text\tclaim\tcheck_worthiness\n"
    for name, rows in (
        ("dataset_dev_v1_english.tsv", [("600", "Hospitals admitted 1,200 patients yesterday", 1)]),
        ("dataset_test_english.tsv", [("700", "happy friday friends!!", 0), ("701", "Cases doubled in 7 days", 1)]),
    ):
        (ct21 / name).write_text(
            header + "".join(f"covid-19\t{i}\thttps://twitter.com/u/status/{i}\t{t}\t{y}\t{y}\n" for i, t, y in rows)
        )
    return root


@pytest.mark.slow
def test_all_sets_cli_reports_every_set_with_its_baseline(tmp_path: Path, encoder) -> None:
    data = complete_datasets(tmp_path / "data")
    code, out, err = run("eval", "checkworthiness", "--all-sets", "--datasets", str(data), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [r["set"] for r in report["sets"]] == [
        "CT21 1A",
        "CT22 1A",
        "CT23 1B",
        "CT24 dev",
        "ClaimBuster",
        "CT24 train",
    ]
    assert report["mean_f1"] == pytest.approx(np.mean([r["f1"] for r in report["sets"]]), abs=1e-4)
    assert report["all_above_baseline"] == all(
        r["f1"] >= max(r["baseline_f1"], r["baseline_cv_f1"]) for r in report["sets"]
    )
    assert {r["set"]: r["n"] for r in report["sets"]}["ClaimBuster"] == 12
    code, out, err = run("eval", "checkworthiness", "--all-sets", "--datasets", str(data))
    assert code == 0 and "baseline F1" in out and "mean F1" in out
