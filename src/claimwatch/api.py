"""The library API: every CLI command is one call here, usable from a notebook.

    >>> import claimwatch
    >>> ws = claimwatch.open("study.db")
    >>> ws.ingest_posts(["archive.jsonl"]).summary()
    >>> ws.ingest_factchecks(["claimreview.json"])
    >>> ws.build_index(); ws.match()
    >>> report = ws.report(claimwatch.Selection(handles=("example_account",)))
    >>> import pandas as pd; pd.DataFrame(report.table())

Evaluation, training and rating look-ups need no store: :func:`tools` gives the same settings,
encoder and models without one (``claimwatch.tools().eval_retrieval(...)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import sqlalchemy as sa

from claimwatch import auth, ingest
from claimwatch.analysis import checks
from claimwatch.analysis.post_rows import PostRow
from claimwatch.analysis.report import (
    UNCHECKED_LIMIT,
    UNCHECKED_MIN_SCORE,
    Report,
    Selection,
    build_report,
    unchecked_rows,
    unchecked_rule,
)
from claimwatch.analysis.selection_cache import SelectionCache
from claimwatch.analysis.study import StudyResult, review_selection, run_study, selection_key, selection_needs_encoder
from claimwatch.analysis.study_file import Study, load_study
from claimwatch.claims import checkworthiness as cw
from claimwatch.claims.analyse import Analyser, Scorer
from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, IndexStats
from claimwatch.claims.language import DETECTOR
from claimwatch.claims.match import MatchReport, match_posts, score_topics
from claimwatch.claims.multilingual import MultilingualSearch
from claimwatch.claims.rerank import RetrievalModel, load_model
from claimwatch.claims.retrieval import Retriever
from claimwatch.claims.text import clean_query
from claimwatch.claims.topics import TopicSet
from claimwatch.config import Settings, load_settings
from claimwatch.records import DecisionKind, MatchStatus, Role, Verdict
from claimwatch.store import db, lookups, repo
from claimwatch.store.review import DecisionConflict, UnknownMatch
from claimwatch.store.rows import (
    ApiTokenInfo,
    AuditEntry,
    Decision,
    QuarantineEntry,
    QueueItem,
    ReviewPage,
    StoredFactCheck,
    StoredPost,
    StoreStats,
    User,
)
from claimwatch.verdicts import VerdictTable

if TYPE_CHECKING:
    from claimwatch.evaluation.retrieval import OpenWorld, RetrievalRun
    from claimwatch.media.bank import Banked
    from claimwatch.media.downloads import Attached, FetchSummary
    from claimwatch.media.match import MediaMatchReport
    from claimwatch.training.selection import CVResult

__all__ = ["DecisionConflict", "Tools", "UnknownMatch", "Workspace", "open", "tools"]

#: What ``decide`` accepts as the new status (``proposed`` reopens, as it always did).
_DECISIONS = {
    MatchStatus.CONFIRMED.value: DecisionKind.CONFIRMED,
    MatchStatus.REJECTED.value: DecisionKind.REJECTED,
    MatchStatus.PROPOSED.value: DecisionKind.REOPENED,
    DecisionKind.REOPENED.value: DecisionKind.REOPENED,
}


class Tools:
    """What the settings configure, without a store: the sentence encoder (built once), the
    retrieval and check-worthiness models, the verdict table, and the commands that need only
    those — evaluation, training, rating look-ups. :class:`Workspace` adds a store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._encoder: Encoder | None = None
        self._model: RetrievalModel | None | bool = False  # False = not looked up yet
        self._cw_model: cw.CheckworthinessModel | None | bool = False

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder(self.settings.model or None, backend=self.settings.encoder_backend)
        return self._encoder

    def verdict_table(self) -> VerdictTable:
        return VerdictTable.load([Path(p) for p in self.settings.verdict_files])

    def verdict(self, rating: str) -> tuple[Verdict | None, str]:
        """How a rating text is normalised with the configured tables: (verdict or None, method)."""
        return self.verdict_table().normalise(rating)

    def retrieval_model(self) -> RetrievalModel | None:
        """The configured (or shipped) re-ranker, if it was trained with the encoder in use."""
        if self._model is False:
            self._model = load_model(self.settings.retrieval_model, self.encoder.name)
        return self._model

    def checkworthiness_model(self) -> Scorer | None:
        """The configured (or shipped) check-worthiness model, if it fits the encoder in use.

        "none" turns scoring off; the shipped model is skipped (None) under another encoder,
        a configured one that does not fit is an error. A model with its own encoder fits any."""
        if self._cw_model is False:
            setting = self.settings.checkworthiness_model
            model = None
            if setting.strip().lower() != "none":
                model = cw.load_model(setting)
                if not model.has_own_encoder and model.encoder_name != self.encoder.name:
                    if setting:
                        model.check_encoder(self.encoder)  # raises with the reason
                    model = None
            self._cw_model = model
        return self._cw_model

    def multilingual(self, index: ClaimIndex) -> MultilingualSearch | None:
        """The multilingual index beside ``index`` when the multilingual_model setting names one."""
        name = self.settings.multilingual_model.strip()
        if not name or name.lower() == "none":
            return None
        return MultilingualSearch.build(index, encoder=Encoder(name, backend=self.settings.encoder_backend))

    def topic_set(self, topics: str | Path | TopicSet | None = None) -> TopicSet | None:
        """``topics`` (a file or a loaded set), else the configured topic file, else None."""
        if isinstance(topics, TopicSet):
            return topics
        path = topics or self.settings.topics
        return TopicSet.load(path) if path else None

    # ------------------------------------------------------------------ evaluation and training

    def eval_retrieval(
        self,
        vclaims: str | Path,
        queries: Path,
        qrels: Path,
        *,
        negatives: Sequence[Path] = (),
        open_world: OpenWorld | None = None,
        context: int = 0,
        depth: int = 20,
        show_progress: bool = False,
    ) -> tuple[dict[str, Any], RetrievalRun]:
        """Ranking metrics (and, with ``negatives``, false proposals on posts without a fact-check,
        per file and together; with ``open_world``, the leave-gold-out figures).

        ``vclaims``: CheckThat! verified claims (JSONL/TSV), or a claimwatch store (a ``.db`` file or a
        database URL, opened read-only) whose fact-checks are the claims; its qrels name fact-check
        ids or review URLs. Returns the metrics and the run (ranked ids, for a TREC run file)."""
        from claimwatch.evaluation import checkthat
        from claimwatch.evaluation.retrieval import evaluate_files
        from claimwatch.training.retrieval import no_claim_posts

        if _is_store(vclaims):
            by_url = any("://" in d for docs in checkthat.load_qrels(qrels).values() for d in docs)
            store = Workspace(self.settings.with_overrides(db=str(vclaims)), read_only=True)
            try:
                claims = store.claim_docs(by_url=by_url)
            finally:
                store.engine.dispose()
        else:
            claims = checkthat.load_vclaims(Path(vclaims))
        neg = {str(path): no_claim_posts(checkthat.existing_file(path)) for path in negatives}
        return evaluate_files(
            claims,
            queries,
            qrels,
            self.encoder,
            self.retrieval_model(),
            negatives=neg,
            open_world=open_world,
            context_window=context,
            alpha=self.settings.alpha,
            threshold=self.settings.threshold,
            depth=depth,
            show_progress=show_progress,
        )

    def eval_checkworthiness(
        self, data: Path, *, kind: str | None = None, threshold: float | None = None
    ) -> dict[str, Any]:
        """F1, precision, recall, accuracy and MAP of the configured check-worthiness model on a
        labelled CheckThat! TSV (``kind``: the head, default by the file's texts)."""
        from claimwatch.evaluation.checkworthiness import evaluate, load_labelled

        setting = self.settings.checkworthiness_model
        if setting.strip().lower() == "none":
            raise ValueError(
                "check-worthiness scoring is off (checkworthiness_model = none); name a model with --cw-model DIR"
            )
        model = cw.load_model(setting)
        return evaluate(model, load_labelled(data), self.encoder, kind=kind, threshold=threshold)

    def train_retrieval(self, datasets: Path, out: Path, *, log: Callable[[str], None] = print) -> dict[str, Any]:
        """The re-ranker and its calibration for the configured encoder (seeded); see README "Matching"."""
        from claimwatch.training.retrieval import train

        return train(datasets, out, self.encoder, log=log)

    def cv_retrieval(
        self, datasets: Path, *, folds: int = 5, group_by_gold: bool = True, log: Callable[[str], None] = print
    ) -> list[CVResult]:
        """Grouped k-fold CV of the re-ranker's feature sets over all labelled 2A+2B queries (no
        model written)."""
        from claimwatch.training.selection import FEATURE_SETS, cross_validate, labelled_queries

        queries = labelled_queries(datasets, self.encoder, log=log)
        return cross_validate(queries, FEATURE_SETS, k=folds, group_by_gold=group_by_gold, log=log)

    def train_encoder(
        self, datasets: Path, out: Path, *, epochs: int = 1, log: Callable[[str], None] = print
    ) -> dict[str, Any]:
        """A fine-tuned copy of the configured encoder (seeded)."""
        from claimwatch.training.encoder import train_encoder

        return train_encoder(datasets, out, self.encoder, epochs=epochs, log=log)

    def cv_checkworthiness(self, datasets: Path, *, log: Callable[[str], None] = print) -> dict[str, Any]:
        """The check-worthiness recipe and its baseline over every labelled set (no model written)."""
        from claimwatch.training.checkworthiness import all_sets_report

        return all_sets_report(datasets, self.encoder, log=log)

    def train_checkworthiness(
        self,
        datasets: Path,
        out: Path,
        *,
        finetune: bool = False,
        steps: int | None = None,
        seed: int | None = None,
        log: Callable[[str], None] = print,
    ) -> dict[str, Any]:
        """Heads over the configured encoder's embeddings, or with ``finetune`` a model with a
        fine-tuned copy of that encoder (``steps``/``seed`` only apply there)."""
        if finetune:
            from claimwatch.training.checkworthiness_finetune import finetune as train_finetuned

            return train_finetuned(datasets, out, steps=steps, base=self.settings.model or None, seed=seed, log=log)
        from claimwatch.training.checkworthiness import train

        return train(datasets, out, self.encoder, log=log)


class Workspace(Tools):
    """One store (SQLite file or server URL) and its search index.

    ``read_only``: for commands that only read (reports, stats, studies): the store must
    exist at the current schema and is opened read-only (see :func:`claimwatch.store.db.open_store`).
    ``create``: a missing store is created (init, ingest); false for commands that work on
    stored data (match, review …), where a missing store is a typo, not a new study.
    """

    def __init__(self, settings: Settings, *, read_only: bool = False, create: bool = True) -> None:
        super().__init__(settings)
        self.read_only = read_only
        self.engine: sa.Engine = db.open_store(settings.db, read_only=read_only, create=create)
        #: the semantic search's retriever and the fact-check count it was built for
        self._similar: tuple[int, Retriever] | None = None
        self._similar_lock = threading.Lock()
        #: the review queue's study selections (see :meth:`_study_selection`)
        self._selections = SelectionCache()
        self.index_dir = Path(settings.index_dir) if settings.index_dir else db.index_dir_for(settings.db)
        #: what the last index update did (e.g. rebuilt a corrupt index, and why)
        self.index_stats: IndexStats | None = None

    def reset(self) -> None:
        """Drop and recreate every table: the demo's fresh start (on a store it checked is its own)."""
        db.reset(self.engine)

    # ------------------------------------------------------------------ ingest

    def ingest_posts(
        self,
        paths: Sequence[str | Path],
        *,
        fmt: str = "auto",
        observed_at: datetime | None = None,
        column_map: dict[str, str] | None = None,
        platform: str = "x",
        account: str | None = None,
        progress: ingest.ProgressFn | None = None,
    ) -> ingest.IngestReport:
        """Post archives; ``account`` names the author of posts that carry none (an account archive)."""
        return ingest.ingest_posts(
            self.engine,
            [Path(p) for p in paths],
            fmt=fmt,
            observed_at=observed_at,
            column_map=column_map,
            platform=platform,
            account=account,
            progress=progress,
        )

    def ingest_factchecks(
        self,
        paths: Sequence[str | Path],
        *,
        fmt: str = "auto",
        column_map: dict[str, str] | None = None,
        progress: ingest.ProgressFn | None = None,
    ) -> ingest.IngestReport:
        return ingest.ingest_factchecks(
            self.engine,
            [Path(p) for p in paths],
            fmt=fmt,
            column_map=column_map,
            verdicts=self.verdict_table(),
            progress=progress,
        )

    def ingest_notes(
        self,
        paths: Sequence[str | Path],
        snapshot_date: datetime | None = None,
        *,
        fmt: str = "auto",
        column_map: dict[str, str] | None = None,
        progress: ingest.ProgressFn | None = None,
    ) -> ingest.IngestReport:
        """Community Notes notes / noteStatusHistory / ratings TSVs; per-post facts are in
        :mod:`claimwatch.analysis.notes`. Give all files of one download the same ``snapshot_date``.
        ``column_map`` ({field: column}) names columns under names no download used."""
        return ingest.ingest_notes(
            self.engine,
            [Path(p) for p in paths],
            fmt=fmt,
            snapshot_date=snapshot_date,
            column_map=column_map,
            progress=progress,
        )

    def ingest_labels(
        self, paths: Sequence[str | Path], *, progress: ingest.ProgressFn | None = None
    ) -> ingest.IngestReport:
        """X label stream events; histories per post are in :mod:`claimwatch.analysis.labels`."""
        return ingest.ingest_labels(self.engine, [Path(p) for p in paths], progress=progress)

    def renormalise_verdicts(self) -> dict[str, int]:
        """Re-apply the (possibly extended) verdict table to every stored fact-check."""
        table = self.verdict_table()
        changed = 0
        with db.writing(self.engine) as conn:
            rows = repo.factchecks_for_verdicts(conn)
            for row in rows:
                verdict, method = table.normalise(row.rating_text, row.rating_value, row.best_rating, row.worst_rating)
                value = verdict.value if verdict else None
                if (value, method) != (row.verdict, row.verdict_method):
                    repo.set_verdict(conn, row.id, value, method)
                    changed += 1
        return {"factchecks": len(rows), "changed": changed}

    # ------------------------------------------------------------------ index and match

    def claim_docs(self, by_url: bool = False) -> list[ClaimDoc]:
        """The store's fact-checks as retrieval documents, identified by fact-check id (or review URL)."""
        with self.engine.connect() as conn:
            return [
                ClaimDoc(
                    id=row.review_url if by_url else str(row.id),
                    claim=row.claim_text,
                    title=row.title or "",
                    date=row.review_date or row.claim_date,
                    speaker=row.claimant,
                )
                for row in repo.factcheck_docs(conn)
            ]

    def _sync_index(self, show_progress: bool = False) -> tuple[ClaimIndex, IndexStats]:
        """Bring the persisted index up to date with the store (incrementally) and return it."""
        index, self.index_stats = ClaimIndex.build(
            self.index_dir, self.claim_docs(), self.encoder, show_progress=show_progress
        )
        return index, self.index_stats

    def build_index(self, show_progress: bool = False) -> IndexStats:
        index, stats = self._sync_index(show_progress)
        self.multilingual(index)  # built (or brought up to date) with the main index
        return stats

    def load_index(self) -> ClaimIndex:
        """The index, updated first when fact-checks changed or the files are corrupt or for another model."""
        return self._sync_index()[0]

    def retriever(self) -> Retriever:
        return Retriever(self.load_index(), self.encoder, self.retrieval_model(), alpha=self.settings.alpha)

    def analyser(self, topics: str | Path | TopicSet | None = None) -> Analyser:
        """Language, check-worthiness and topics, computed alongside matching."""
        return Analyser(self.encoder, self.checkworthiness_model(), self.topic_set(topics))

    def match(
        self,
        *,
        rematch: bool = False,
        threshold: float | None = None,
        min_confidence: float | None = None,
        top_k: int | None = None,
        topics: str | Path | TopicSet | None = None,
        progress: Callable[[int, int], None] | None = None,
        post_ids: Sequence[int] | None = None,
    ) -> MatchReport:
        analyser = self.analyser(topics)  # a bad topic file fails here, before any work
        retriever = self.retriever()
        return match_posts(
            self.engine,
            retriever,
            top_k=top_k or self.settings.top_k,
            threshold=self.settings.threshold if threshold is None else threshold,
            min_confidence=self.settings.min_confidence if min_confidence is None else min_confidence,
            rematch=rematch,
            analyser=analyser,
            progress=progress,
            multilingual=self.multilingual(retriever.index),
            post_ids=post_ids,
        )

    def score_topics(self, topics: str | Path | TopicSet, progress: Callable[[int, int], None] | None = None) -> int:
        """Score every post against new topic definitions without re-matching; returns posts scored."""
        topic_set = self.topic_set(topics)
        assert topic_set is not None
        return score_topics(self.engine, Analyser(self.encoder, None, topic_set), progress)

    # ------------------------------------------------------------------ media (the 'media' extra)
    # Imported when called: the core install works without the media extra (pdqhash, c2pa-python).

    @property
    def media_dir(self) -> Path:
        """Where fetched media files live (``media_dir`` setting, else beside a SQLite store)."""
        from claimwatch.media.storage import media_dir_of

        return media_dir_of(self.settings)

    def fetch_media(self, *, limit: int | None = None, retry_failed: bool = False, **limits: Any) -> FetchSummary:
        """Download what the stored posts' media references point at (resumable); ``limits`` are
        :class:`~claimwatch.media.fetch.FetchLimits` fields (``max_bytes``, ``allow_private`` …)."""
        from claimwatch.media import downloads
        from claimwatch.media.fetch import FetchLimits
        from claimwatch.media.storage import MediaStore

        store = MediaStore(self.media_dir)
        return downloads.fetch_media(self.engine, store, FetchLimits(**limits), limit=limit, retry_failed=retry_failed)

    def add_media(self, post_id: str, path: str | Path, *, platform: str = "x", **limits: Any) -> Attached:
        """Attach a local file to a stored post (copied into the media folder, matched like fetched media)."""
        from claimwatch.media import downloads
        from claimwatch.media.fetch import FetchLimits
        from claimwatch.media.storage import MediaStore

        store = MediaStore(self.media_dir)
        return downloads.add_local(self.engine, store, FetchLimits(**limits), platform, post_id, Path(path))

    def bank_media(
        self,
        path: str | Path,
        factcheck_url: str,
        *,
        label: str = "other",
        claim: str | None = None,
        rating: str | None = None,
        publisher: str | None = None,
        by: str | None = None,
    ) -> Banked:
        """Bank a debunked image, video or audio file with the fact-check that debunked it."""
        from claimwatch.media import bank

        given = bank.GivenFactCheck(factcheck_url, claim, rating, publisher)
        return bank.add_file(self.engine, Path(path), given, label=label, by=by, verdicts=self.verdict_table())

    def match_media(self, **rules: Any) -> MediaMatchReport:
        """Hash the fetched media not hashed yet (reading its provenance), then match every post's
        media against the bank; ``rules`` are :class:`~claimwatch.media.match.MediaRules` fields."""
        from claimwatch.media.match import MediaRules, match_media

        return match_media(self.engine, self.media_dir, rules=MediaRules(**rules))

    # ------------------------------------------------------------------ review and audit

    def review_queue(
        self,
        status: str = "proposed",
        accounts: Sequence[str] = (),
        min_confidence: float | None = None,
        max_confidence: float | None = None,
        platform: str | None = None,
        lang: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        study: str | Path | Study | None = None,
        narrative: str | None = None,
    ) -> ReviewPage:
        """Posts awaiting an analyst, one :class:`~claimwatch.store.rows.QueueItem` per post: the
        match to decide (``match_id``) and all the post's candidates beside it, with their versions.

        ``status``: ``proposed`` — posts with a machine proposal; ``candidate`` — posts with only
        candidates below the proposal threshold (no proposal, nothing confirmed): what the machine
        may have missed, decided with :meth:`choose`; ``all`` — either; ``decided`` — posts with a
        confirmed or rejected match. Filters: author handles (``accounts``), the item's confidence
        band, platform, language (detected, else the platform's tag), ``since <= created_at < until``.

        Order: confidence × views, highest first. An item's confidence is its best match's
        calibrated confidence, else its score (no trained model); views are those of the post's
        latest snapshot that counted views. Posts with unknown views come after every post with
        known views (0 included), by confidence; ties by post id, so pages are stable.

        ``study`` (a study file or a parsed :class:`Study`): only the posts it selects — its
        accounts, window, platforms, kinds and topic rule, as :meth:`run_study` applies them.
        ``narrative`` (one of that study's names): only the posts that fall in it by the study's
        rules as :meth:`run_study` assigns them (seed fact-checks, keywords, the description by
        embedding), judged on their pending or confirmed fact-checks. A topic or narrative
        description loads the encoder; the selection is cached until the study's rules or the
        store change (:mod:`claimwatch.analysis.selection_cache`). Raises
        :class:`~claimwatch.analysis.study_file.StudyError` for an unusable study file, ValueError
        for a narrative without a study or not in it, or a stored topic not scored in the store."""
        if narrative is not None and study is None:
            raise ValueError("a narrative filter needs the study that defines it")
        with self.engine.connect() as conn:
            selected = None
            if study is not None:
                study = study if isinstance(study, Study) else load_study(study)
                selected = self._study_selection(conn, study, narrative)
            return repo.review_queue(
                conn,
                post_ids=selected,
                status=status,
                accounts=accounts,
                min_confidence=min_confidence,
                max_confidence=max_confidence,
                platform=platform,
                lang=lang,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )

    def _study_selection(self, conn: sa.Connection, study: Study, narrative: str | None) -> list[int]:
        """:func:`~claimwatch.analysis.study.review_selection`, cached per study rules, narrative
        and store change marks (the rule: :mod:`claimwatch.analysis.selection_cache`). The
        encoder loads only when a topic or the narrative has a description, and serves one
        request at a time, as for the semantic search."""
        topic = study.topic if isinstance(study.topic, str) else None
        key = (selection_key(study, narrative), repo.change_marks(conn, topic=topic, matches=narrative is not None))
        if (ids := self._selections.get(key)) is not None:
            return ids
        needs = selection_needs_encoder(study, narrative)
        with self._similar_lock if needs else contextlib.nullcontext():
            ids = review_selection(conn, study, narrative, self.encoder if needs else None)
        self._selections.put(key, ids)
        return ids

    def decide(
        self,
        match_id: int,
        status: MatchStatus | str,
        by: str,
        note: str | None = None,
        expected_version: int | None = None,
        relation: str | None = None,
    ) -> Decision:
        """Confirm (``confirmed``), reject (``rejected``) or reopen (``proposed``/``reopened``: the
        decision withdrawn, the match back to the machine's status) a match, appended to its
        history with an audit entry, in one transaction. A confirmation may say whether the post
        ``repeats`` the rated claim or shares its ``narrative`` only (``relation``; None keeps the
        machine's label).

        ``expected_version``: the match version the analyst reviewed (``Candidate.version``); when
        someone decided it since, :class:`DecisionConflict` says who and when and nothing is
        written. None decides on the current version (the CLI). Raises :class:`UnknownMatch` for
        an unknown id, ValueError for another status, an unusable name or note."""
        kind = _DECISIONS.get(str(status))
        if kind is None:
            raise ValueError(f"an analyst can confirm, reject or reopen a match, not set it to {status}")
        with db.writing(self.engine) as conn:
            return repo.decide(conn, match_id, kind, by, note, expected_version, relation=relation)

    def choose(
        self,
        match_id: int,
        by: str,
        note: str | None = None,
        expected_version: int | None = None,
        seen_versions: Mapping[int, int] | None = None,
        relation: str | None = None,
    ) -> list[Decision]:
        """Pick this candidate for its post: it is confirmed (decision ``chosen``) and the post's
        other proposed or confirmed matches are rejected, all in one transaction; the chosen
        decision comes first. A conflict writes nothing: on the chosen match (``expected_version``)
        or, with ``seen_versions`` (every candidate's version as the page showed them), on any
        match it would reject — so a choice never overturns a confirmation its analyst did not see."""
        with db.writing(self.engine) as conn:
            return repo.choose(conn, match_id, by, note, expected_version, seen_versions, relation=relation)

    def propose_factcheck(
        self,
        post_id: int,
        factcheck_id: int,
        by: str,
        note: str | None = None,
        seen_versions: Mapping[int, int] | None = None,
    ) -> Decision:
        """The analyst's own match: this stored fact-check is the post's claim (found by searching
        the fact-checks, e.g. one the machine missed). The post × fact-check match is re-used or
        added (method ``analyst``), confirmed (history ``chosen``, audit ``match.attach``), and the
        post's other proposed or confirmed matches are rejected as :meth:`choose` does, with the
        same ``seen_versions`` guard; one transaction. Returns the confirming decision. Raises
        LookupError (unknown post or fact-check), :class:`DecisionConflict`, ValueError."""
        with db.writing(self.engine) as conn:
            return repo.attach(conn, post_id, factcheck_id, by, note, seen_versions)

    def bulk_confirm(self, match_ids: Sequence[int], by: str, note: str | None = None) -> list[Decision]:
        """Confirm several matches (posts repeating the same claim), each in its own transaction.

        Each is confirmed only if it still awaits a decision (proposed or candidate): one another
        analyst decided meanwhile is skipped, never overwritten, and an unknown id is skipped too;
        what was confirmed before or after a skipped one stays confirmed. Returns the decisions
        made, in the order given: the ids missing from it were skipped."""
        out = []
        for match_id in dict.fromkeys(match_ids):
            with db.writing(self.engine) as conn:
                version = repo.pending_version(conn, match_id)
                if version is not None:
                    out.append(repo.decide(conn, match_id, DecisionKind.CONFIRMED, by, note, version))
        return out

    def review_item(self, match_id: int) -> QueueItem:
        """The queue item of the post of ``match_id`` as it is now, decided or not, with all its
        candidates (raises :class:`UnknownMatch`)."""
        with self.engine.connect() as conn:
            return repo.review_item(conn, match_id)

    def proposals_by_factcheck(self, factcheck_ids: Sequence[int]) -> dict[int, list[int]]:
        """For each fact-check, the ids of its matches still proposed: the posts repeating that
        claim, for :meth:`bulk_confirm`."""
        with self.engine.connect() as conn:
            return repo.proposals_by_factcheck(conn, factcheck_ids)

    def match_history(self, match_id: int) -> list[Decision]:
        """Every decision on a match, oldest first (raises :class:`UnknownMatch`)."""
        with self.engine.connect() as conn:
            return repo.match_history(conn, match_id)

    def audit(
        self,
        since: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Audit entries, newest first; ``action`` exact (``match.confirm``) or a prefix ending
        in a dot (``match.``)."""
        with self.engine.connect() as conn:
            return repo.list_audit(conn, since=since, actor=actor, action=action, limit=limit, offset=offset)

    def export_audit(self, out: str | Path | IO[str], format: str = "jsonl") -> int:  # noqa: A002 - the contract's name
        """Write the whole audit log, oldest first, as JSON Lines or CSV to a file (replaced whole,
        see :mod:`claimwatch.atomic`) or an open text stream; returns the entries written."""
        from claimwatch.audit_export import export

        with self.engine.connect() as conn:
            return export(repo.list_audit(conn, limit=None, newest_first=False), out, format)

    # ------------------------------------------------------------------ users and API tokens
    # Every change appends an audit entry in its own transaction. ``actor``: who made it (the
    # signed-in user on the web); None is the operating-system user running this process (the CLI).

    def add_user(self, name: str, role: str | Role, password: str, *, actor: str | None = None) -> User:
        """A new workspace user; ValueError (one line) for a taken name, bad role or short password."""
        name, role = auth.check_name(name), auth.check_role(role)
        password_hash = auth.hash_password(password)
        with db.writing(self.engine) as conn:
            if repo.find_user(conn, name) is not None:
                raise ValueError(f"user {name!r} exists already")
            user = repo.add_user(conn, name, role.value, password_hash)
            repo.append_audit(conn, AuditEntry(_actor(actor), "user.add", "user", name, None, _public(user)))
            return user

    def remove_user(self, name: str, *, actor: str | None = None) -> bool:
        """Delete the user and their API tokens; False when there is none of that name."""
        with db.writing(self.engine) as conn:
            user = repo.find_user(conn, name)
            if user is None or not repo.remove_user(conn, name):
                return False
            repo.append_audit(conn, AuditEntry(_actor(actor), "user.remove", "user", name, _public(user), None))
            return True

    def set_role(self, name: str, role: str | Role, *, actor: str | None = None) -> User:
        """Give a user another role (audited as ``user.role``); ValueError for no such user or role."""
        role = auth.check_role(role)
        with db.writing(self.engine) as conn:
            user = repo.find_user(conn, name)
            if user is None:
                raise ValueError(f"no user {name!r}")
            repo.set_role(conn, user.id, role.value)
            changed = repo.find_user(conn, name)
            assert changed is not None
            repo.append_audit(
                conn, AuditEntry(_actor(actor), "user.role", "user", name, _public(user), _public(changed))
            )
            return changed

    def user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            return repo.find_user(conn, name)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return repo.list_users(conn)

    def verify_login(self, name: str, password: str) -> User | None:
        """The user if the name and password match and the user is enabled. An unknown name takes
        as long as a wrong password (a dummy hash is verified), so timing does not tell names apart."""
        with self.engine.connect() as conn:
            found = repo.login_record(conn, name)
        user, password_hash = found if found else (None, None)
        if not auth.check_password(password_hash, password) or user is None or user.disabled:
            return None
        if password_hash and auth.needs_rehash(password_hash):
            with db.writing(self.engine) as conn:
                repo.set_password_hash(conn, user.id, auth.hash_password(password))
        return user

    def create_token(self, user: str, name: str, *, actor: str | None = None) -> str:
        """A new API token for ``user``: returned once, only its SHA-256 is stored (and never logged)."""
        token = auth.new_token()
        with db.writing(self.engine) as conn:
            owner = repo.find_user(conn, user)
            if owner is None:
                raise ValueError(f"no user {user!r}")
            info = repo.add_token(conn, owner.id, auth.check_name(name), auth.token_digest(token))
            repo.append_audit(
                conn, AuditEntry(_actor(actor), "token.create", "token", str(info.id), None, _public(info))
            )
        return token

    def verify_token(self, token: str) -> User | None:
        """The enabled user of an unrevoked token (its last use is recorded), else None."""
        with db.writing(self.engine) as conn:
            return repo.user_for_token(conn, auth.token_digest(token), datetime.now(UTC))

    def revoke_token(self, token_id: int, *, actor: str | None = None) -> ApiTokenInfo | None:
        """Revoke a token by its id (kept, marked with when); None when there is no such token."""
        with db.writing(self.engine) as conn:
            before = next((tk for tk in repo.list_tokens(conn) if tk.id == token_id), None)
            revoked = repo.revoke_token(conn, token_id, datetime.now(UTC))
            if revoked is not None and before is not None and before.revoked_at is None:
                entry = AuditEntry(
                    _actor(actor), "token.revoke", "token", str(token_id), _public(before), _public(revoked)
                )
                repo.append_audit(conn, entry)
            return revoked

    def list_tokens(self, user: str | None = None) -> list[ApiTokenInfo]:
        with self.engine.connect() as conn:
            return repo.list_tokens(conn, user)

    def shared_secret(self, name: str) -> str:
        """A random secret kept in the store, made on first use (e.g. the web session key)."""
        with db.writing(self.engine) as conn:
            return repo.shared_secret(conn, name, lambda: secrets.token_urlsafe(48))

    # ------------------------------------------------------------------ search

    def search_posts(self, phrase: str, limit: int = 50) -> list[StoredPost]:
        """Collected posts containing ``phrase`` (any case), newest first."""
        with self.engine.connect() as conn:
            return repo.search_posts(conn, phrase, limit)

    def similar_factchecks(self, text: str, limit: int = 10) -> list[tuple[StoredFactCheck, float]]:
        """Stored fact-checks whose claim means what ``text`` says (semantic search: the matcher's
        own retrieval, dense + BM25, no re-ranking threshold), best first, with the fused score.

        The retriever (encoder and index) is loaded on first use and kept for the process; it is
        reloaded when the store's fact-checks change, so a new ingest is searched too."""
        query = clean_query(text)
        if not query:
            return []
        with self.engine.connect() as conn:
            count = lookups.factcheck_count(conn)
        if count == 0:
            return []
        with self._similar_lock:  # one encoder per process, used by one request at a time
            if self._similar is None or self._similar[0] != count:
                self._similar = (count, self.retriever())
            hits = self._similar[1].search([Query("search", query)], top_k=max(1, limit))[0]
        with self.engine.connect() as conn:
            found = repo.factchecks_by_id(conn, [int(h.doc_id) for h in hits])
        return [(found[int(h.doc_id)], h.score) for h in hits if int(h.doc_id) in found]

    def search_factchecks(self, phrase: str, limit: int = 50) -> list[StoredFactCheck]:
        """Fact-checks whose claim, title or publisher contains ``phrase`` (any case), newest first."""
        with self.engine.connect() as conn:
            return repo.search_factchecks(conn, phrase, limit)

    # ------------------------------------------------------------------ reports and inspection

    def matching_settings(self) -> dict[str, Any]:
        model = self.retrieval_model()
        out: dict[str, Any] = {
            "method": model.method if model else "hybrid-bm25-dense-v1",
            "encoder": self.encoder.name,
            "top_k": self.settings.top_k,
        }
        if model and model.calibration:
            out["min_confidence"] = self.settings.min_confidence
            out["trained"] = {k: model.meta.get(k) for k in ("command", "seed", "trained_on", "calibrated_on")}
        else:
            out.update(threshold=self.settings.threshold, alpha=self.settings.alpha)
        cw_model = self.checkworthiness_model()
        out["checkworthiness_model"] = cw_model.describe() if cw_model else "none"
        out["language_detector"] = DETECTOR
        return out

    def run_study(self, study: str | Path | Study, *, actor: str | None = None) -> StudyResult:
        """Compute a study (a YAML file or a parsed :class:`Study`) from the store.

        ``actor``: who ran it, recorded in the audit log as ``study.run`` with its headline
        counts (a study changes nothing in the store, so it is logged only when someone is named).
        Raises :class:`~claimwatch.analysis.checks.UnknownName` when the study names an account,
        topic or platform no stored post has; ``warnings`` say what the figures may miss."""
        study = study if isinstance(study, Study) else load_study(study)
        with self.engine.connect() as conn:
            checks.check_names(conn, checks.Names.of_study(study), where=f"{study.source}: ")
            warnings = checks.study_warnings(conn, study)
        result = run_study(self.engine, study, self.encoder)
        result.warnings.extend(warnings)
        if actor is not None:
            after = {"title": study.title, "sha256": study.source_sha256, "summary": result.to_dict().get("summary")}
            entry = AuditEntry(actor, "study.run", "study", Path(study.source).name, None, after)
            with db.writing(self.engine) as conn:
                repo.append_audit(conn, entry)
        return result

    def report(self, selection: Selection | None = None) -> Report:
        """Headline and rows for ``selection`` (default: every post).

        Raises :class:`~claimwatch.analysis.checks.UnknownName` when it names an account, topic,
        language or platform no stored post has; ``warnings`` say what the figures may miss."""
        selection = selection or Selection()
        with self.engine.connect() as conn:
            checks.check_names(conn, checks.Names.of_selection(selection))
        report = build_report(self.engine, selection, self.matching_settings(), self._checkworthy_from())
        with self.engine.connect() as conn:
            report.warnings.extend(checks.report_warnings(conn, report))
        return report

    def unchecked(self, limit: int = UNCHECKED_LIMIT) -> list[PostRow]:
        """The first ``limit`` (at most 50) check-worthy posts no fact-check covers yet, as
        ``report().unchecked`` lists them, without building the report (the dashboard)."""
        with self.engine.connect() as conn:
            return unchecked_rows(conn, self._checkworthy_from(), min(limit, UNCHECKED_LIMIT))

    def unchecked_rule(self) -> str:
        """The rule of :meth:`unchecked`, in words, with the model's thresholds."""
        return unchecked_rule(self._checkworthy_from())

    def store_warnings(self) -> list[str]:
        """The ``warnings`` of ``report()`` (every post), from counts the store keeps."""
        with self.engine.connect() as conn:
            return checks.store_warnings(conn)

    def _checkworthy_from(self) -> tuple[float, float]:
        """The check-worthiness model's (post, sentence) thresholds; 0.5 each without a model."""
        cw_model = self.checkworthiness_model()
        if cw_model is None:
            return (UNCHECKED_MIN_SCORE, UNCHECKED_MIN_SCORE)
        return (cw_model.threshold("post"), cw_model.threshold("sentence"))

    def stats(self) -> StoreStats:
        with self.engine.connect() as conn:
            return repo.stats(conn)

    def quarantine(
        self, *, action: str | None = None, path: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[QuarantineEntry]:
        with self.engine.connect() as conn:
            return repo.list_quarantine(conn, action=action, path=path, limit=limit, offset=offset)


def _actor(actor: str | None) -> str:
    """Who made a change: the name given, else the operating-system user running the process."""
    if actor is not None:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "unknown"


def _public(record: User | ApiTokenInfo) -> dict[str, Any]:
    """A user or token record for the audit log (neither holds a password hash or a token)."""
    return json.loads(json.dumps(dataclasses.asdict(record), default=str))


def _is_store(target: str | Path) -> bool:
    """A database URL, a ``.db`` path, or a file that is a SQLite database (by its header)."""
    if "://" in str(target) or str(target).endswith(".db"):
        return True
    try:
        with Path(target).open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def open(
    db_path: str | Path | None = None,
    *,
    read_only: bool = False,  # noqa: A001 - reads like claimwatch.open()
    create: bool = True,
    **overrides: Any,
) -> Workspace:
    """Open a store (creating and migrating it if needed — unless ``create`` is false; with
    ``read_only`` only an existing, current one, read-only); settings from config/env, then ``overrides``.

    Raises :class:`claimwatch.store.db.StoreError` (one line) when the store cannot be used."""
    settings = load_settings().with_overrides(db=str(db_path) if db_path else None, **overrides)
    return Workspace(settings, read_only=read_only, create=create)


def tools(**overrides: Any) -> Tools:
    """The configured encoder, models and tables without a store (settings from config/env, then
    ``overrides``): for evaluation, training and rating look-ups."""
    return Tools(load_settings().with_overrides(**overrides))
