"""Run a study: the posts, reach, Community Notes, labels and narratives behind a CCDH-style
report, computed from the store and a :class:`~claimwatch.analysis.study_file.Study`.

The result's JSON follows ``formats/ccdh_style_report_target.json`` (``study``, ``posts``,
``summary``) and adds what the report's charts and methods need. Every figure is traceable:
each post row names its snapshot (value and time observed), its fact-checks (URL, rating,
how the match was made and by whom) and its notes; every total says how many posts it
could not include. The same study file and store always give the same result (apart from
``generated_at``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from claimwatch.analysis import narratives as nar
from claimwatch.analysis.labels import label_histories_by_id
from claimwatch.analysis.notes import PostNotes, post_notes_by_id
from claimwatch.analysis.reach import (
    EngagementTotal,
    Total,
    ad_equivalent,
    engagement_only,
    reach_as_of,
    views_as_of,
    views_over_time,
    week_of,
)
from claimwatch.analysis.study_file import Study
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.text import clean_query
from claimwatch.claims.topics import TopicSet
from claimwatch.records import MatchStatus, PostKind
from claimwatch.store import repo


@dataclass
class StudyResult:
    study: dict[str, Any]
    posts: list[dict[str, Any]]
    summary: dict[str, Any]
    topic_posts: dict[str, Any]
    by_account: list[dict[str, Any]]
    by_week: list[dict[str, Any]]
    views_over_time: dict[str, list[dict[str, Any]]]
    notes_coverage: dict[str, Any]
    labels: dict[str, Any]
    proposed_narratives: list[dict[str, Any]]
    methods: list[str]
    sources: list[dict[str, Any]]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    #: why the figures may count too few (posts not matched yet, no fact-checks): see analysis.checks
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> list[str]:
        """The study's findings as sentences, each figure with what it leaves out."""
        s, t, cov = self.summary, self.topic_posts, self.notes_coverage
        who = ", ".join("@" + a["handle"] for a in self.study["accounts"]) if isinstance(self.study["accounts"], list) \
            else "the selected accounts"
        engagement = EngagementTotal(**s["engagement_views_unknown"]).describe()
        unknown = (f"; views unknown for {s['posts_views_unknown']}: {engagement}" if engagement else
                   f" (views unknown for {s['posts_views_unknown']})" if s["posts_views_unknown"] else "")
        lines = [f"{s['posts']:,} posts by {who} repeat claims that fact-checkers rated false or misleading; "
                 f"viewed {s['total_views']:,} times{unknown}. {s['posts_analyst_confirmed']:,} confirmed by an analyst, "
                 f"{s['posts_machine_proposed_only']:,} machine-proposed only."]
        lines += [f"  {c['claim_category']}: {c['posts']:,} posts, {c['views']:,} views" for c in s["by_category"]]
        lines.append(f"{s['posts_with_note_shown']:,} of them showed a Community Note; the {s['posts_without_note_shown']:,} "
                     f"without one had {s['views_on_posts_without_note']:,} views. "
                     f"{cov['posts_with_proposed_notes']:,} had notes proposed, "
                     f"{cov['posts_with_proposed_notes_none_shown']:,} of those showed none.")
        lines.append(f"{s['posts_with_label']:,} carried a platform label at {self.labels['at'][:10]}.")
        t_unknown = f" (views unknown for {t['views_unknown']})" if t["views_unknown"] else ""
        lines.append(f"All {t['posts']:,} on-topic posts in the window: {t['views']:,} views{t_unknown}.")
        cpm = self.study["ad_equivalent_cpm_usd"]
        if cpm is not None:
            lines.append(f"Priced as ads at ${cpm:.2f} CPM: ${t['ad_equivalent_usd']:,.0f} for the on-topic posts, "
                         f"${s['ad_equivalent_usd']:,.0f} for the debunked-claim posts.")
        return lines


def run_study(engine: sa.Engine, study: Study, encoder: Encoder | None = None) -> StudyResult:
    """Compute the study. ``encoder`` is needed only for topic descriptions and narrative
    descriptions (embedding rules); keyword and seed rules work without it."""
    with engine.connect() as conn:
        posts = _window_posts(conn, study)
        ids = [p["id"] for p in posts]
        snaps = repo.snapshots_for_posts(conn, ids)
        on_topic = _on_topic(conn, study, posts, encoder)
        statuses = [MatchStatus.CONFIRMED.value] + ([] if study.confirmed_only else [MatchStatus.PROPOSED.value])
        matches = repo.matches_for_posts(conn, [i for i in ids if i in on_topic], statuses)
        earlier = repo.decisions_on_earlier_text(conn, [i for i in ids if i in on_topic])
        accounts = repo.authors_of(conn, study.accounts) if study.accounts else []
        runs = repo.ingest_runs(conn)
        qualifying = {pid: ms for pid, ms in ((pid, _qualifying(ms, study)) for pid, ms in matches.items()) if ms}
        matched = [p for p in posts if p["id"] in qualifying]
        mids = [p["id"] for p in matched]
        media = repo.media_for_posts(conn, mids)
        analysis = repo.analysis_for_posts(conn, mids)
        notes = post_notes_by_id(conn, mids, study.notes_as_of)
        labels_at = study.labels_as_of or study.views_as_of or study.until
        labels = label_histories_by_id(conn, mids)

    views = {p["id"]: views_as_of(snaps.get(p["id"], []), study.views_as_of) for p in posts}
    assignments = nar.assign([_matched_post(p, qualifying[p["id"]]) for p in matched], study.narratives,
                             encoder if any(n.description for n in study.narratives) else None)
    unassigned = [_matched_post(p, qualifying[p["id"]]) for p in matched
                  if assignments[p["id"]].narrative == nar.UNASSIGNED]
    proposals = nar.propose(unassigned, encoder)

    rows = [_post_row(p, snaps.get(p["id"], []), qualifying[p["id"]], assignments[p["id"]],
                      notes[p["id"]], labels.get(p["id"]), labels_at, media.get(p["id"], []),
                      analysis.get(p["id"], {}), study)
            for p in matched]
    rows.sort(key=lambda r: (r["views"] is None, -(r["views"] or 0), r["post_id"]))
    topic_posts = [p for p in posts if p["id"] in on_topic]
    platform_ids = {p["id"]: str(p["platform_id"]) for p in matched}
    return StudyResult(
        study=_study_block(study, accounts),
        posts=rows,
        summary=_summary(rows, study),
        topic_posts=_topic_block(topic_posts, views, study),
        by_account=_grouped(rows, "account"),
        by_week=_by_week(rows),
        views_over_time=_views_over_time(matched, snaps, assignments, study),
        notes_coverage=_notes_coverage(rows),
        labels=_labels_block(rows, labels_at),
        proposed_narratives=[{"name": g.name, "posts": len(g.posts),
                              "post_ids": sorted(platform_ids[k] for k in g.posts),
                              "claims": g.claims} for g in proposals],
        methods=_methods(study, rows, topic_posts, views, runs, labels_at, len(earlier)),
        sources=[_source(run) for run in runs],
    )


# --------------------------------------------------------------------------- selection

def _window_posts(conn: sa.Connection, study: Study) -> list[dict[str, Any]]:
    posts = repo.select_posts(conn, handles=study.accounts, since=study.since, until=study.until, include_reposts=True)
    return [p for p in posts if p["kind"] in study.kinds and (not study.platforms or p["platform"] in study.platforms)]


def _on_topic(conn: sa.Connection, study: Study, posts: list[dict[str, Any]], encoder: Encoder | None) -> set[int]:
    ids = [p["id"] for p in posts]
    if study.topic is None:
        return set(ids)
    if isinstance(study.topic, str):
        stored = repo.topics_for_posts(conn, ids)
        if not stored and ids:
            raise ValueError(f"topic {study.topic!r} has not been scored in this store; run "
                             f"`claimwatch match --topics FILE` (or `claimwatch topics score FILE`) first, "
                             "or define the topic inline in the study file")
        return {pid for pid, ts in stored.items() if any(t["topic"] == study.topic and t["assigned"] for t in ts)}
    return _inline_topic(study.topic, posts, encoder)


def _inline_topic(topics: TopicSet, posts: list[dict[str, Any]], encoder: Encoder | None) -> set[int]:
    topic = topics.topics[0]
    if not topic.descriptions:  # keywords alone: no encoder, exact and fast
        return {p["id"] for p in posts if topic.keywords_in(p["text"] or "")}
    if encoder is None:
        raise ValueError("the study's topic has descriptions, which need the text encoder")
    texts = [clean_query(p["text"] or "") for p in posts]
    emb = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), np.float32)
    scores = topics.score([p["text"] or "" for p in posts], emb, encoder)
    return {p["id"] for p, row in zip(posts, scores, strict=True) if row[0].assigned}


def _qualifying(ms: list[dict[str, Any]], study: Study) -> list[dict[str, Any]]:
    """The post's matches that count: a study verdict, and confirmed (or proposed sure enough)."""
    out = []
    for m in ms:
        if m["verdict"] not in study.verdicts:
            continue
        if m["status"] == MatchStatus.PROPOSED and study.min_confidence is not None and (
                m["confidence"] is None or m["confidence"] < study.min_confidence):
            continue
        out.append(m)
    return sorted(out, key=lambda m: (m["status"] != MatchStatus.CONFIRMED, -float(m["score"]), m["review_url"]))


def _matched_post(p: dict[str, Any], ms: list[dict[str, Any]]) -> nar.MatchedPost:
    return nar.MatchedPost(p["id"], p["text"] or "", [m["review_url"] for m in ms],
                           [" ".join(x for x in (m["claim_text"], m["title"]) if x) for m in ms])


# --------------------------------------------------------------------------- rows

def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def _post_row(p: dict[str, Any], snaps: list[dict[str, Any]], ms: list[dict[str, Any]],
              a: nar.Assignment, notes: PostNotes, labels: Any, labels_at: datetime, media: list[dict[str, Any]],
              analysis: dict[str, Any], study: Study) -> dict[str, Any]:
    reach = reach_as_of(snaps, study.views_as_of)
    periods = labels.periods if labels else []
    carried = [pd for pd in periods if pd.covers(labels_at)]
    return {
        "post_id": p["platform_id"], "platform": p["platform"], "url": p["url"], "created_at": _iso(p["created_at"]),
        "post_type": p["kind"], "account": p["handle"], "text": p["text"], "lang": p["lang"],
        "claim_category": a.narrative, "category_rule": a.method,
        "category_evidence": {"keywords": list(a.keywords), "similarity": a.similarity},
        "fact_checks": [{"publisher": m["publisher_name"], "url": m["review_url"], "claim": m["claim_text"],
                         "rating_text": m["rating_text"], "rating_class": m["verdict"],
                         "review_date": _iso(m["review_date"])[:10] if m["review_date"] else None,
                         "match_method": "analyst-confirmed" if m["status"] == MatchStatus.CONFIRMED else "machine-proposed",
                         "matcher": m["method"], "match_confidence": m["confidence"], "decided_by": m["decided_by"],
                         "match_id": m["match_id"]} for m in ms],
        "views": reach.views, "views_observed_at": _iso(reach.observed_at) if reach.views is not None else None,
        "views_history": [{"observed_at": _iso(s["observed_at"]), "views": s["views"]} for s in snaps
                          if s["views"] is not None],
        # the views' snapshot, else (a platform without view counts) the latest one that counted any
        "engagement": reach.engagement, "observed_at": _iso(reach.observed_at),
        "community_notes": {
            "proposed": notes.proposed, "shown_now": notes.shown_now, "ever_shown": notes.ever_shown,
            "shown_note_ids": notes.shown_note_ids, "note_ids": notes.note_ids,
            "notes": [{"note_id": n.note_id, "classification": n.classification, "status": n.status,
                       "status_at": _iso(n.status_at), "first_shown_at": _iso(n.first_shown_at),
                       "deleted_by": _iso(n.deleted_by)} for n in notes.notes],
            "snapshot_date": _iso(max((n.snapshot_at for n in notes.notes if n.snapshot_at), default=None)),
            "as_of": _iso(study.notes_as_of),
        },
        "platform_label": {
            "present": bool(carried), "at": _iso(labels_at), "source": "x_label_stream",
            "event_type": carried[0].event_type if carried else None,
            "history": [{"label": pd.label, "event_type": pd.event_type, "title": pd.title, "from": _iso(pd.start),
                         "to": _iso(pd.end)} for pd in periods],
        },
        "media": [{"media_key": m["media_key"], "type": m["type"], "view_count": m["view_count"]} for m in media],
        "checkworthiness": analysis.get("checkworthiness"),
    }


# --------------------------------------------------------------------------- totals

def _total(rows: list[dict[str, Any]]) -> Total:
    t = Total()
    for r in rows:
        t.add(r["views"])
    return t


def _summary(rows: list[dict[str, Any]], study: Study) -> dict[str, Any]:
    t = _total(rows)
    without_note = _total([r for r in rows if not r["community_notes"]["shown_now"]])
    engagement = EngagementTotal()
    for r in rows:
        engagement.add(r["views"], r["engagement"], r["platform"])
    confirmed = sum(any(fc["match_method"] == "analyst-confirmed" for fc in r["fact_checks"]) for r in rows)
    return {
        "posts": t.posts, "total_views": t.views, "posts_views_unknown": t.views_unknown,
        "engagement_views_unknown": asdict(engagement),
        "posts_analyst_confirmed": confirmed, "posts_machine_proposed_only": t.posts - confirmed,
        "posts_with_note_shown": t.posts - without_note.posts,
        "posts_without_note_shown": without_note.posts,
        "views_on_posts_without_note": without_note.views,
        "posts_with_label": sum(r["platform_label"]["present"] for r in rows),
        "ad_equivalent_usd": ad_equivalent(t.views, study.cpm_usd),
        "by_category": _grouped(rows, "claim_category", key_name="claim_category"),
    }


def _grouped(rows: list[dict[str, Any]], field_name: str, key_name: str | None = None) -> list[dict[str, Any]]:
    groups: dict[str, Total] = {}
    for r in rows:
        groups.setdefault(r[field_name] or "unknown", Total()).add(r["views"])
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1].posts, -kv[1].views, kv[0]))
    return [{key_name or field_name: k, **t.to_dict()} for k, t in ordered]


def _by_week(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    weeks: dict[str, Total] = {}
    for r in rows:
        if r["created_at"]:
            weeks.setdefault(week_of(datetime.fromisoformat(r["created_at"])).isoformat(), Total()).add(r["views"])
    return [{"week": w, **t.to_dict()} for w, t in sorted(weeks.items())]


def _topic_block(posts: list[dict[str, Any]], views: dict[int, Any], study: Study) -> dict[str, Any]:
    t = Total()
    for p in posts:
        t.add(views[p["id"]].value)
    topic = study.topic
    return {"definition": topic if isinstance(topic, str) or topic is None else topic.definition()[0],
            **t.to_dict(), "ad_equivalent_usd": ad_equivalent(t.views, study.cpm_usd)}


def _views_over_time(matched: list[dict[str, Any]], snaps: dict[int, list[dict[str, Any]]],
                     assignments: dict[int, nar.Assignment], study: Study) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[int]] = {}
    for p in matched:
        groups.setdefault(assignments[p["id"]].narrative, []).append(p["id"])
    groups["all"] = [p["id"] for p in matched]
    return {name: [{"observed_at": _iso(t), "views": v, "posts_views_unknown": u}
                   for t, v, u in views_over_time((snaps.get(i, []) for i in ids), study.views_as_of)]
            for name, ids in sorted(groups.items())}


def _notes_coverage(rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_notes = [r for r in rows if r["community_notes"]["proposed"]]
    not_shown = [r for r in with_notes if not r["community_notes"]["shown_now"]]
    t = _total(not_shown)
    return {
        "posts": len(rows), "posts_with_proposed_notes": len(with_notes),
        "posts_with_proposed_notes_none_shown": t.posts,
        "share_none_shown": round(t.posts / len(with_notes), 4) if with_notes else None,
        "views_of_those": t.views, "views_unknown_of_those": t.views_unknown,
        "posts_note_ever_shown": sum(r["community_notes"]["ever_shown"] for r in rows),
        "note_statuses": dict(sorted(Counter(n["status"] or "no status" for r in rows
                                             for n in r["community_notes"]["notes"]).items())),
    }


def _labels_block(rows: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    return {"at": _iso(at), "posts_with_label": sum(r["platform_label"]["present"] for r in rows),
            "posts_ever_labelled": sum(bool(r["platform_label"]["history"]) for r in rows)}


# --------------------------------------------------------------------------- provenance

def _study_block(study: Study, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": study.title, "file": study.source, "file_sha256": study.source_sha256,
        "accounts": [{"platform": a["platform"], "user_id": a["platform_id"], "handle": a["handle"],
                      "followers_at_collection": a["followers"]} for a in accounts] or "all",
        "window": {"from": study.start.isoformat(), "to": study.end.isoformat()},
        "platforms": list(study.platforms) or "all",
        "inclusion_rule": _inclusion_rule(study),
        "views_metric": ("views (X impression_count, Telegram message views; Bluesky and Mastodon count none, so "
                         "their posts show likes, reposts, replies and quotes instead) from the latest snapshot observed "
                         + (f"not after {_iso(study.views_as_of)}" if study.views_as_of else "in the store")),
        "community_note_rule": ("post counted as noted if a note on it has currentStatus CURRENTLY_RATED_HELPFUL and "
                                "classification MISINFORMED_OR_POTENTIALLY_MISLEADING and is not deleted, in the "
                                "latest noteStatusHistory snapshot "
                                + (f"not after {_iso(study.notes_as_of)}" if study.notes_as_of else "stored")),
        "ad_equivalent_cpm_usd": study.cpm_usd,
        "narratives": [asdict(n) for n in study.narratives],
    }


def _inclusion_rule(study: Study) -> str:
    kinds = " and ".join(f"{k} posts" for k in study.kinds)
    excluded = [k.value for k in PostKind if k.value not in study.kinds]
    who = f"by {', '.join('@' + a for a in study.accounts)}" if study.accounts else "by any account"
    matches = ("confirmed by an analyst" if study.confirmed_only else
               "confirmed by an analyst or proposed by the matcher"
               + (f" with confidence ≥ {study.min_confidence:.0%}" if study.min_confidence is not None else ""))
    topic = "" if study.topic is None else " on the study topic"
    return (f"{kinds.capitalize()} {who}{topic}, created {study.start} to {study.end} (UTC), "
            f"{'(' + ', '.join(excluded) + ' excluded) ' if excluded else ''}"
            f"whose text matches a fact-check rated {' or '.join(study.verdicts)}, the match {matches}.")


def _methods(study: Study, rows: list[dict[str, Any]], topic_posts: list[dict[str, Any]], views: dict[int, Any],
             runs: list[dict[str, Any]], labels_at: datetime, decisions_on_earlier_text: int) -> list[str]:
    observed = sorted(r["views_observed_at"] for r in rows if r["views_observed_at"])
    confirmed = sum(fc["match_method"] == "analyst-confirmed" for r in rows for fc in r["fact_checks"])
    proposed = sum(fc["match_method"] == "machine-proposed" for r in rows for fc in r["fact_checks"])
    rules = Counter(r["category_rule"] for r in rows)
    no_views = sum(engagement_only(r["views"], r["engagement"]) for r in rows)
    note_snaps = sorted({r["community_notes"]["snapshot_date"] for r in rows if r["community_notes"]["snapshot_date"]})
    out = [
        f"Study file {study.source} (sha256 {study.source_sha256[:12]}…).",
        f"Window: posts created {study.start} to {study.end} inclusive (UTC).",
        "Inclusion: " + _inclusion_rule(study),
        (f"Topic: {len(topic_posts):,} posts in the window are on the topic "
         f"({_topic_rule(study)}); views of {sum(views[p['id']].value is None for p in topic_posts):,} of them unknown."),
        (f"Views: {'as of ' + _iso(study.views_as_of) if study.views_as_of else 'latest observation'}; the snapshots "
         f"used were observed {observed[0][:10]} to {observed[-1][:10]}." if observed else
         "Views: no snapshot with views for any included post."),
        (f"Posts whose views are unknown are counted as unknown, never as 0: {sum(r['views'] is None for r in rows)}"
         + (f" ({no_views} of them with engagement counts only: their likes, reposts, replies and quotes are "
            "shown instead)." if no_views else ".")),
        (f"Matches: {confirmed} fact-check links confirmed by an analyst, {proposed} machine-proposed "
         f"(shown separately in every table)."
         + (f" {decisions_on_earlier_text} analyst decisions were made on an earlier text of a post (edited since) "
            "and are not counted." if decisions_on_earlier_text else "")),
        "Narratives: " + (", ".join(f"{n} unassigned" if rule == nar.UNASSIGNED else f"{n} assigned by {rule}"
                                    for rule, n in sorted(rules.items())) or "no posts") + ".",
        ("Community Notes: status snapshots used " + (", ".join(d[:10] for d in note_snaps) or "none") + "."),
        f"Platform labels: a post counts as labelled if a label was on it at {_iso(labels_at)}.",
    ]
    if study.cpm_usd is not None:
        out.append(f"Ad-equivalent cost: views / 1,000 × ${study.cpm_usd:.2f} (CPM).")
    out.append(f"Data: {len(runs)} ingest runs (see sources).")
    return out


def _topic_rule(study: Study) -> str:
    if study.topic is None:
        return "no topic filter: every post in the window"
    if isinstance(study.topic, str):
        return f"stored topic scores for {study.topic!r}"
    t = study.topic.topics[0]
    parts = []
    if t.keywords:
        parts.append("keywords " + ", ".join(t.keywords))
    if t.descriptions:
        parts.append(f"or cosine ≥ {t.threshold} to its descriptions")
    return " ".join(parts)


def _source(run: dict[str, Any]) -> dict[str, Any]:
    counts = run.get("counts") or {}
    files = [f.get("path") for f in counts.get("files", []) if isinstance(f, dict)] or list(run.get("files") or [])
    return {"ingest_run": run["id"], "kind": run["kind"], "status": run["status"],
            "retrieved": _iso(run["finished_at"]), "files": files,
            "observed_at": sorted({t for f in counts.get("files", []) if isinstance(f, dict) for t in _observed(f)})}


def _observed(file_report: dict[str, Any]) -> list[str]:
    """When a file's snapshots were observed: the range the source itself gave, and the fallback
    time (``--observed-at`` or the file's modification time) only if it dated some of them."""
    if file_report.get("source_observed_times"):
        fallback = [file_report["observed_at"]] if file_report.get("fallback_snapshots") else []
        return [file_report["source_observed_from"], file_report["source_observed_to"], *fallback]
    return [file_report["observed_at"]] if file_report.get("observed_at") else []
