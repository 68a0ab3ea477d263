"""Manipulated media without a label in a study (issue 14 item 5), from a store built here: X posts
with media, stored files, bank items and their own fact-checks, ``media:`` match rows (confirmed
and proposed), C2PA provenance rows, a label stream and a Community Notes download."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from ccdh_store import write_notes
from conftest import claimreview, page, post
from pdf_text import pdf_text

import claimwatch
from claimwatch.analysis.manipulated_media import LabelState
from claimwatch.analysis.study import StudyResult
from claimwatch.media.provenance import from_report
from claimwatch.records import MatchStatus
from claimwatch.reports.study import MEDIA_CSV, write_study
from claimwatch.store import repo
from claimwatch.store import schema as s
from claimwatch.store.media_provenance import save_provenance

AI_REPORT = {
    "active_manifest": "urn:c2pa:example",
    "manifests": {
        "urn:c2pa:example": {
            "claim_generator_info": [{"name": "example-generator", "version": "0.1"}],
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                            }
                        ]
                    },
                }
            ],
            "signature_info": {"alg": "Es256", "issuer": "Example Test Org"},
        }
    },
    "validation_status": [{"code": "signingCredential.untrusted"}],
    "validation_state": "Valid",
}
#: post id → (text, views, what its media is)
POSTS = {
    "100": ("LABELLED the ballot video", 5_000),
    "101": ("NOTED the ballot video", 6_000),
    "102": ("NEITHER the ballot video again", 7_000),
    "103": ("AI MANIFEST a ballot image", 8_000),
    "104": ("INVALID MANIFEST a ballot image", 9_000),
    "105": ("MISCAPTIONED ballot photo", 10_000),
    "106": ("PROPOSED ONLY ballot clip", None),
}
#: bank item fact-checks: URL → (label, rating)
BANK = {
    "https://example.org/fc/fake-ballot-video": ("manipulated", "Altered"),
    "https://example.org/fc/ai-ballot-image": ("ai-generated", "False"),
    "https://example.org/fc/old-photo": ("miscaptioned", "Missing context"),
}
#: (post, bank fact-check, confirmed?)
MEDIA_MATCHES = [
    ("100", "https://example.org/fc/fake-ballot-video", True),
    ("101", "https://example.org/fc/fake-ballot-video", True),
    ("102", "https://example.org/fc/fake-ballot-video", True),
    ("105", "https://example.org/fc/old-photo", True),
    ("106", "https://example.org/fc/ai-ballot-image", False),
]
STUDY = {
    "title": "SYNTHETIC media study",
    "platform": "x",
    "accounts": ["demo_account"],
    "window": {"from": "2024-07-01", "to": "2024-07-31"},
    "include": {"kinds": ["original", "quote"], "matches": "proposed", "verdicts": ["false", "misleading"]},
    "views": {"policy": "as_of", "as_of": "2024-08-01"},
    "notes": {"as_of": "2024-11-30"},
    "labels": {"as_of": "2024-08-01"},
}


def _label(tweet_id: str) -> dict:
    return {
        "data": {
            "public_tweet_notice": {
                "tweet": {"id": tweet_id, "author_id": "111"},
                "event_type": "misleading",
                "event_at": "2024-07-20T10:00:00.000Z",
                "application": "apply",
                "label_title": "SYNTHETIC manipulated media",
            }
        }
    }


def build(d: Path, *, labels: bool = True) -> claimwatch.Workspace:
    ws = claimwatch.open(d / "t.db")
    media = [{"media_key": f"3_{pid}", "type": "photo", "url": f"https://media.example.org/{pid}.jpg"} for pid in POSTS]
    posts = [
        post(pid, text, views, created="2024-07-10T10:00:00.000Z", attachments={"media_keys": [f"3_{pid}"]})
        for pid, (text, views) in POSTS.items()
    ]
    p = page(posts)
    p["includes"]["media"] = media
    (d / "p.jsonl").write_text(json.dumps(p) + "\n")
    ws.ingest_posts([d / "p.jsonl"])
    (d / "fc.json").write_text(
        json.dumps(
            [claimreview(url, f"SYNTHETIC {label} media", rating=rating) for url, (label, rating) in BANK.items()]
        )
    )
    ws.ingest_factchecks([d / "fc.json"])
    if labels:
        (d / "labels.jsonl").write_text(json.dumps(_label("100")) + "\n")
        ws.ingest_labels([d / "labels.jsonl"])
    write_notes(d, [("1860000000000000001", "101", "MISINFORMED_OR_POTENTIALLY_MISLEADING", "CURRENTLY_RATED_HELPFUL")])
    ws.ingest_notes([d / "notes-00000.tsv", d / "noteStatusHistory-00000.tsv"], snapshot_date=None)
    with ws.engine.begin() as conn:
        post_ids = {r.platform_id: r.id for r in conn.execute(sa.select(s.Post.platform_id, s.Post.id))}
        fc_ids = {r.review_url: r.id for r in conn.execute(sa.select(s.FactCheck.review_url, s.FactCheck.id))}
        conn.execute(sa.update(s.FactCheck).values(source_format="media-bank"))
        for url, (label, _) in BANK.items():
            conn.execute(sa.insert(s.MediaBankItem).values(factcheck_id=fc_ids[url], kind="image", label=label))
        files = {}
        for pid in POSTS:
            media_id = conn.execute(
                sa.select(s.Media.id).where(s.Media.post_id == post_ids[pid], s.Media.media_key == f"3_{pid}")
            ).scalar_one()
            files[pid] = conn.execute(
                sa.insert(s.MediaFile).values(
                    sha256=f"{int(pid):064x}",
                    md5=f"{int(pid):032x}",
                    size_bytes=100,
                    kind="image",
                    path=f"{pid}.jpg",
                    hashed_at=s.utcnow(),  # provenance is read only for hashed files
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(s.MediaFetch).values(
                    media_id=media_id, url=f"https://media.example.org/{pid}.jpg", status="fetched", file_id=files[pid]
                )
            )
        for pid, url, _ in MEDIA_MATCHES:
            repo.write_matches(
                conn,
                post_ids[pid],
                [
                    repo.CandidateRow(
                        fc_ids[url], 1, 0.98, {"media": {"media_key": f"3_{pid}", "pdq_distance": 4}}, None, True
                    )
                ],
                "media:pdq",
                "v",
            )
        save_provenance(conn, files["103"], from_report(AI_REPORT, "test"))
        tampered = copy.deepcopy(AI_REPORT) | {"validation_state": "Invalid"}
        tampered["validation_status"] = [{"code": "assertion.dataHash.mismatch"}]
        save_provenance(conn, files["104"], from_report(tampered, "test"))
        match_ids = {
            (r.post_id, r.factcheck_id): r.id
            for r in conn.execute(sa.select(s.Match.id, s.Match.post_id, s.Match.factcheck_id))
        }
    for pid, url, confirmed in MEDIA_MATCHES:
        if confirmed:
            ws.decide(match_ids[post_ids[pid], fc_ids[url]], MatchStatus.CONFIRMED, "analyst@example.org")
    (d / "study.yaml").write_text(yaml.safe_dump(STUDY))
    return ws


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> StudyResult:
    d = tmp_path_factory.mktemp("media")
    return build(d).run_study(d / "study.yaml")


def _by_post(result: StudyResult) -> dict:
    return {r.post_id: r for r in result.manipulated_media.rows}


def test_each_case_gets_its_state(result: StudyResult) -> None:
    rows = _by_post(result)
    # an invalid manifest says nothing; a miscaptioned item is real media in a false context
    assert set(rows) == {"100", "101", "102", "103", "106"}
    assert rows["100"].label_state is LabelState.LABELLED and rows["100"].label == "misleading"
    assert rows["101"].label_state is LabelState.NOTED
    assert rows["102"].label_state is LabelState.UNLABELLED and rows["102"].evidence == "analyst-confirmed"
    assert rows["103"].label_state is LabelState.UNLABELLED and rows["103"].evidence == "ai-manifest"
    assert rows["103"].ai_manifests[0].signer == "untrusted"
    assert rows["106"].evidence == "machine-proposed" and rows["106"].views is None
    assert rows["102"].bank_matches[0].evidence == {"media": {"media_key": "3_102", "pdq_distance": 4}}


def test_block_counts_and_views(result: StudyResult) -> None:
    mm = result.manipulated_media
    assert (mm.posts, mm.posts_without_label, mm.posts_labelled, mm.posts_noted, mm.posts_state_unknown) == (
        5,
        3,
        1,
        1,
        0,
    )
    # 102 and 103 counted (7,000 + 8,000); 106's views unknown, never 0
    assert (mm.views_without_label, mm.views_unknown_without_label) == (15_000, 1)
    assert (
        mm.without_label_analyst_confirmed,
        mm.without_label_ai_manifest,
        mm.without_label_machine_proposed_only,
    ) == (1, 1, 1)
    # unlabelled first, most viewed first, unknown views last
    assert [r.post_id for r in mm.rows][:3] == ["103", "102", "106"]


def test_headline_and_methods_say_it(result: StudyResult) -> None:
    line = next(x for x in result.headline() if "manipulated or AI-generated" in x)
    assert (
        "5 posts" in line
        and "3 of them had no platform label" in line
        and "with 15,000 views (views unknown for 1)" in line
    )
    method = next(m for m in result.methods if m.startswith("Manipulated media without a label"))
    assert "miscaptioned items are not counted" in method and "never as unlabelled" in method


def test_proposals_drop_out_when_the_study_counts_confirmed_only(tmp_path: Path) -> None:
    ws = build(tmp_path)
    (tmp_path / "study.yaml").write_text(
        yaml.safe_dump(STUDY | {"include": STUDY["include"] | {"matches": "confirmed"}})
    )
    rows = _by_post(ws.run_study(tmp_path / "study.yaml"))
    assert "106" not in rows and "102" in rows


def test_no_label_stream_means_unknown_not_unlabelled(tmp_path: Path) -> None:
    ws = build(tmp_path, labels=False)
    mm = ws.run_study(tmp_path / "study.yaml").manipulated_media
    rows = {r.post_id: r for r in mm.rows}
    assert mm.posts_without_label == 0 and mm.posts_state_unknown == 4
    assert rows["102"].label_state is LabelState.UNKNOWN
    assert "no X label stream has been ingested" in rows["102"].state_reason
    # a shown note settles it even when the label state is unknown
    assert rows["101"].label_state is LabelState.NOTED


@pytest.mark.slow
def test_reports_carry_the_table(result: StudyResult, tmp_path: Path) -> None:
    paths = write_study(result, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["manipulated_media"]["posts_without_label"] == 3
    assert [r["post_id"] for r in data["manipulated_media"]["rows"]][:2] == ["103", "102"]
    with (tmp_path / "out" / MEDIA_CSV).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["post_id"]: r["label_state"] for r in rows} == {
        "100": "labelled",
        "101": "noted",
        "102": "unlabelled",
        "103": "unlabelled",
        "106": "unlabelled",
    }
    assert next(r for r in rows if r["post_id"] == "106")["views"] == ""
    html = paths["html"].read_text()
    assert 'id="manipulated-media-table"' in html and "https://example.org/fc/fake-ballot-video" in html
    md = paths["md"].read_text()
    assert "## Manipulated media without a label" in md and "trainedAlgorithmicMedia" in md
    assert "Manipulated media without a label (3 of 5)" in pdf_text(paths["pdf"].read_bytes())
