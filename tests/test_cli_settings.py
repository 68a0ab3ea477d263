"""Every command reads its settings through the library (claimwatch.toml < CLAIMWATCH_* < flags),
--model is the sentence encoder everywhere, and `claimwatch --help` loads no report renderer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import run

import claimwatch
from claimwatch.claims import encoder as encoder_mod

SRC = Path(claimwatch.__file__).resolve().parents[1]


@pytest.fixture()
def house_table(tmp_path: Path) -> Path:
    table = tmp_path / "house.tsv"
    table.write_text("rating\tverdict\tlang\tnote\nWobbly\tmisleading\ten\tour house rule\n")
    return table


def test_verdicts_show_reads_the_configured_tables(house_table: Path, tmp_path: Path, monkeypatch) -> None:
    """A9: `verdicts show` used the shipped table only, whatever CLAIMWATCH_VERDICTS or claimwatch.toml said."""
    assert "'Wobbly' → unknown (unmapped)" in run("verdicts", "show", "Wobbly")[1]
    monkeypatch.setenv("CLAIMWATCH_VERDICTS", str(house_table))
    assert "'Wobbly' → misleading (table)" in run("verdicts", "show", "Wobbly")[1]
    monkeypatch.delenv("CLAIMWATCH_VERDICTS")
    (tmp_path / "claimwatch.toml").write_text(f'verdict_files = ["{house_table}"]\n')
    assert "'Wobbly' → misleading (table)" in run("verdicts", "show", "Wobbly")[1]
    other = tmp_path / "other.tsv"
    other.write_text("rating\tverdict\nWobbly\ttrue\n")
    assert "'Wobbly' → true (table)" in run("verdicts", "show", "Wobbly", "--verdicts", str(other))[1]
    (tmp_path / "claimwatch.toml").write_text('verdict_files = ["missing.tsv"]\n')
    code, _, err = run("verdicts", "show", "Wobbly")
    assert code == 2 and "missing.tsv" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # over half a second on 2 cores
def test_eval_and_train_take_the_encoder_from_the_settings(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "cw.tsv"
    data.write_text("Sentence_id\tText\tclass_label\n1\tTaxes rose by 40 percent.\tYes\n2\tThank you.\tNo\n")
    vclaims, queries, qrels = tmp_path / "v.jsonl", tmp_path / "q.tsv", tmp_path / "r.tsv"
    vclaims.write_text(json.dumps({"vclaim_id": "c1", "vclaim": "Taxes rose by 40 percent."}) + "\n")
    queries.write_text("q1\ttaxes went up 40%\n")
    qrels.write_text("q1\t0\tc1\t1\n")
    commands = [
        ("eval", "retrieval", "--vclaims", str(vclaims), "--queries", str(queries), "--qrels", str(qrels)),
        ("eval", "checkworthiness", "--data", str(data)),
        ("train", "retrieval", "--datasets", str(tmp_path), "--out", str(tmp_path / "m")),
        ("train", "encoder", "--datasets", str(tmp_path), "--out", str(tmp_path / "e")),
        ("train", "checkworthiness", "--datasets", str(tmp_path), "--out", str(tmp_path / "c")),
    ]
    (tmp_path / "claimwatch.toml").write_text('model = "./from-toml"\n')
    for command in commands:
        code, _, err = run(*command)
        assert code == 2 and "model path './from-toml' does not exist" in err, (command, err)
        code, _, err = run(*command, "--model", "./from-flag")
        assert code == 2 and "model path './from-flag' does not exist" in err, (command, err)
    monkeypatch.setenv("CLAIMWATCH_MODEL", "./from-env")
    assert "'./from-env' does not exist" in run(*commands[1])[2]
    assert not list(tmp_path.glob("[mec]")), "nothing is written when the settings are wrong"


@pytest.mark.slow  # over half a second on 2 cores
def test_the_check_worthiness_model_has_its_own_option(tmp_path: Path) -> None:
    data = tmp_path / "cw.tsv"
    data.write_text("Sentence_id\tText\tclass_label\n1\tTaxes rose by 40 percent.\tYes\n")
    (tmp_path / "claimwatch.toml").write_text('checkworthiness_model = "none"\n')
    code, _, err = run("eval", "checkworthiness", "--data", str(data))
    assert code == 2 and "check-worthiness scoring is off (checkworthiness_model = none)" in err
    code, _, err = run("eval", "checkworthiness", "--data", str(data), "--cw-model", str(tmp_path / "cw"))
    assert code == 2 and f"no check-worthiness model at {tmp_path / 'cw'}" in err
    # --model names the encoder here too: a path that is no check-worthiness model is not taken for one.
    (tmp_path / "claimwatch.toml").unlink()
    code, _, err = run("eval", "checkworthiness", "--data", str(data), "--model", str(tmp_path / "enc"))
    assert code == 2 and "model path" in err and "does not exist" in err
    assert run("init", "--db", str(tmp_path / "s.db"))[0] == 0
    code, _, err = run("match", "--db", str(tmp_path / "s.db"), "--cw-model", str(tmp_path / "cw"))
    assert code == 2 and f"no check-worthiness model at {tmp_path / 'cw'}" in err


@pytest.mark.slow
def test_one_encoder_per_command(tmp_path: Path, encoder, monkeypatch) -> None:
    built: list[str | None] = []
    real = encoder_mod.Encoder.__init__

    def counting(self: encoder_mod.Encoder, model: str | None = None, *args: object, **kwargs: object) -> None:
        built.append(model)
        real(self, model, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(encoder_mod.Encoder, "__init__", counting)
    data = tmp_path / "tweets.tsv"
    data.write_text(
        "tweet_id\ttweet_text\tclass_label\n1\tThe vaccine killed 3,000 people in Norway\t1\n"
        "2\tgood morning everyone\t0\n"
    )
    code, out, err = run("eval", "checkworthiness", "--data", str(data), "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 2 and len(built) == 1


@pytest.mark.slow  # a fresh interpreter: ~1.5 s
def test_help_loads_no_report_renderer() -> None:
    """matplotlib and fpdf2 (and Jinja2) cost a second at start-up; only writing a report needs them."""
    probe = (
        "import sys\nfrom claimwatch import cli\nsys.argv = ['claimwatch', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'fpdf', 'jinja2', 'torch'}))"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Find posts repeating fact-checked claims" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "[]"
