"""One micro-batch of live events: read, stored, matched, alerted — the synchronous half of the
watch runner (it runs in a worker thread; the event loop only moves events).

Order and guarantees:

1. each event's payload is read by the sources reader of its format
   (:func:`claimwatch.sources.objects.read_object`), with the event's arrival as the metrics'
   observation time; rejections and the streams' problems go to the quarantine with where they
   came from (a replay's ``FILE`` and ``line N``);
2. **one transaction** stores the posts (inside the watch session's ``ingest_runs`` row), the
   quarantine entries and each stream's cursor (the batch's last), so a crash replays events,
   never skips one; a replayed event's post is absorbed by the upsert (stored once);
3. the batch's collected posts are matched at once with models loaded once per session
   (:class:`Matcher`); matching is incremental, so a replayed post is not matched again;
4. the alert rules (:func:`claimwatch.alerts.rules.evaluate`) insert each alert once (dedup keys)
   with its pending deliveries.

A crash between 2 and 4 leaves posts stored but not matched or alerted on: the next session
finds them through its interrupted run and finishes them first (:meth:`BatchPipeline.recover`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from claimwatch import ingest
from claimwatch import records as r
from claimwatch.alerts import rules as alert_rules
from claimwatch.claims.match import MatchReport, match_posts
from claimwatch.claims.multilingual import MultilingualSearch
from claimwatch.claims.retrieval import Retriever
from claimwatch.live.events import LiveEvent, LiveProblem
from claimwatch.live.watchlist import Account, AlertRules
from claimwatch.sources.base import ReadContext, clip_raw
from claimwatch.sources.objects import read_object
from claimwatch.store import db, lookups, repo
from claimwatch.store import watch_cursors as cursors

if TYPE_CHECKING:
    from claimwatch.api import Workspace

#: ``source_format`` of quarantined stream problems (frames that were no event of any format)
PROBLEM_FORMAT = "live"


class Matcher:
    """The session's matcher: index, encoder, re-ranker and analyser loaded once, then each batch's
    posts matched by id (no scan of the store).

    Fact-checks ingested while ``watch`` runs are picked up: at most every ``check_every`` seconds a
    batch first reads the store's fact-check signature (count, newest id and change time — one
    small query), and when it moved, the index is brought up to date and the retriever rebuilt (the
    encoder and models stay loaded). Posts matched before keep their matches until
    ``claimwatch match`` re-matches them against the new index. A store with no fact-checks yet
    stores posts without matching them until the first fact-checks arrive (then the same look loads
    the index)."""

    def __init__(
        self, ws: Workspace, *, check_every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ws = ws
        self.engine = ws.engine
        self.analyser = ws.analyser()
        self.top_k = ws.settings.top_k
        self.threshold = ws.settings.threshold
        self.min_confidence = ws.settings.min_confidence
        self.check_every = check_every
        self.clock = clock
        self.reloads = 0
        self.retriever: Retriever | None = None
        self.multilingual: MultilingualSearch | None = None
        with self.engine.connect() as conn:
            self._signature = lookups.factcheck_signature(conn)
        self._load()

    @property
    def ready(self) -> bool:
        """Whether there is an index to match against (the store holds fact-checks)."""
        return self.retriever is not None

    def _load(self) -> None:
        self._checked = self.clock()
        if self._signature[0]:  # no fact-checks, no index
            self.retriever = self.ws.retriever()
            self.multilingual = self.ws.multilingual(self.retriever.index)

    def refresh(self) -> bool:
        """Reload the index when the store's fact-checks changed since the last look (at most every
        ``check_every`` seconds); True when it did."""
        if self.clock() - self._checked < self.check_every:
            return False
        self._checked = self.clock()
        with self.engine.connect() as conn:
            signature = lookups.factcheck_signature(conn)
        if signature == self._signature:
            return False
        self._signature = signature
        self._load()
        self.reloads += 1
        return True

    def match(self, post_ids: Sequence[int]) -> MatchReport | None:
        """The batch's posts matched; None while the store has no fact-checks."""
        self.refresh()
        if self.retriever is None:
            return None
        return match_posts(
            self.engine,
            self.retriever,
            top_k=self.top_k,
            threshold=self.threshold,
            min_confidence=self.min_confidence,
            analyser=self.analyser,
            multilingual=self.multilingual,
            post_ids=post_ids,
        )


@dataclass
class BatchOutcome:
    """What one batch did (the runner's status lines and totals)."""

    events: int = 0
    problems: int = 0
    #: posts new or changed in the store (a replayed, unchanged post is not counted)
    stored: int = 0
    unchanged: int = 0
    quarantined: int = 0
    #: collected posts of the batch (stored or unchanged), their store ids
    posts: list[int] = field(default_factory=list)
    matched: int = 0
    proposals: int = 0
    alerts: list[int] = field(default_factory=list)
    #: when each of ``posts`` arrived (its first event in the batch): handed on to the media step,
    #: not summed into totals
    received: dict[int, datetime] = field(default_factory=dict)

    def add(self, other: BatchOutcome) -> None:
        self.events += other.events
        self.problems += other.problems
        self.stored += other.stored
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.posts.extend(other.posts)
        self.matched += other.matched
        self.proposals += other.proposals
        self.alerts.extend(other.alerts)


class BatchPipeline:
    """Stores, matches and alerts on batches of one watch session (one ``ingest_runs`` row).

    ``streams`` maps each stream's name to ``(cursor key, origin)``: the ``watch_cursors`` row and
    what a quarantine entry names as the record's source (a replay file's path, else the name)."""

    def __init__(
        self,
        engine: sa.Engine,
        streams: dict[str, tuple[str, str]],
        matcher: Matcher | None,
        rules: AlertRules,
        accounts: Sequence[Account] = (),
    ) -> None:
        self.engine = engine
        self.streams = streams
        self.matcher = matcher
        self.rules = rules
        self.accounts = tuple(accounts)
        self.run_id: int | None = None

    # ------------------------------------------------------------------ session

    def start(self) -> int:
        """Open the session's run, after marking the runs of processes that died as interrupted
        (their posts are finished by :meth:`recover`); returns the run's id."""
        with db.writing(self.engine) as conn:
            ingest.close_dead_runs(conn)
            options = {"streams": sorted(k for k, _ in self.streams.values()), "pid": os.getpid()}
            options["host"] = socket.gethostname()
            self.run_id = repo.start_run(conn, cursors.WATCH_RUN, sorted(o for _, o in self.streams.values()), options)
        return self.run_id

    def recover(self) -> BatchOutcome:
        """Match and alert on the posts interrupted sessions stored (matching skips those already
        matched, the alert keys those already alerted): a crash after a batch's commit loses nothing."""
        with self.engine.connect() as conn:
            runs, posts = cursors.interrupted_watch_posts(conn)
        outcome = BatchOutcome(posts=posts)
        if posts:
            self._match_and_alert(outcome, {})
        if runs:
            with db.writing(self.engine) as conn:
                cursors.mark_recovered(conn, runs)
        return outcome

    def finish(self, status: str, totals: BatchOutcome) -> None:
        if self.run_id is None:
            return
        counts = {
            "events": totals.events,
            "problems": totals.problems,
            "stored": totals.stored,
            "unchanged": totals.unchanged,
            "quarantined": totals.quarantined,
            "matched": totals.matched,
            "proposals": totals.proposals,
            "alerts": len(totals.alerts),
        }
        with db.writing(self.engine) as conn:
            repo.finish_run(conn, self.run_id, status, counts)

    # ------------------------------------------------------------------ one batch

    def process(self, items: Sequence[LiveEvent | LiveProblem]) -> BatchOutcome:
        assert self.run_id is not None, "start() the session first"
        out = BatchOutcome()
        posts: list[r.Post] = []
        quarantine: list[tuple[r.Rejected, str]] = []
        positions: dict[str, tuple[str, int]] = {}
        arrival: dict[tuple[str, str], datetime] = {}
        for item in items:
            key, origin = self.streams.get(item.stream, (item.stream, item.stream))
            if isinstance(item, LiveProblem):
                out.problems += 1
                source = r.SourceRef(origin, item.location, PROBLEM_FORMAT)
                quarantine.append((r.Rejected(source, item.reason, clip_raw(item.raw)), "rejected"))
                continue
            out.events += 1
            ctx = ReadContext(observed_at=item.received_at)
            for result in read_object(item.fmt, item.payload, origin, item.location, ctx):
                if isinstance(result, r.Rejected):
                    quarantine.append((result, "rejected"))
                    continue
                post = result.record
                assert isinstance(post, r.Post)
                posts.append(post)
                quarantine.extend((ingest.warning_entry(post, w), "field_dropped") for w in result.warnings)
                if post.collected:
                    arrival.setdefault((post.platform, post.platform_id), item.received_at)
            if item.cursor is not None:
                positions[key] = (item.cursor, positions.get(key, ("", 0))[1] + 1)
        counts = self._write(posts, quarantine, positions)
        out.stored = counts.inserted + counts.updated
        out.unchanged = counts.unchanged
        out.quarantined = len(quarantine) + len(counts.rejected) + len(counts.refused) + len(counts.duplicates)
        received = {counts.ids[k]: at for k, at in arrival.items() if k in counts.ids}
        out.posts = sorted(received)
        out.received = received
        self._match_and_alert(out, received)
        return out

    def _write(
        self, posts: list[r.Post], quarantine: list[tuple[r.Rejected, str]], positions: dict[str, tuple[str, int]]
    ) -> repo.BatchCounts:
        """Posts, quarantine and cursors in one transaction; when the store refuses the batch, the
        ingest's record-by-record fallback stores what it can, then the cursors (never before)."""
        assert self.run_id is not None
        try:
            with db.writing(self.engine) as conn:
                counts = repo.upsert_posts(conn, posts, self.run_id) if posts else repo.BatchCounts()
                ingest.quarantine_counts(conn, "posts", self.run_id, quarantine, counts)
                cursors.save_cursors(conn, positions)
            return counts
        except sa.exc.OperationalError:
            raise  # the store itself is unusable: stop, the cursors did not move
        except (sa.exc.StatementError, ValueError, OverflowError):
            pass
        # record by record: each record's counts carry its store id, so the batch's ids are whole
        counts = ingest.write_batch(self.engine, "posts", repo.upsert_posts, posts, quarantine, self.run_id)
        with db.writing(self.engine) as conn:
            cursors.save_cursors(conn, positions)
        return counts

    def _match_and_alert(self, out: BatchOutcome, received: dict[int, datetime]) -> None:
        if not out.posts:
            return
        report = self.matcher.match(out.posts) if self.matcher is not None else None
        if report is not None:
            out.matched += report.posts_matched
            out.proposals += report.proposals
        with db.writing(self.engine) as conn:
            out.alerts.extend(alert_rules.evaluate(conn, out.posts, self.rules, self.accounts, received))
