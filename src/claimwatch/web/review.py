"""The review queue, a match's history and the audit log: the pages (cards redrawn by htmx after
each decision) and their JSON API under ``/api/v1``, both on the library's review calls
(``ws.review_queue / decide / choose / bulk_confirm / match_history / audit / export_audit``).

Every decision passes the match version the page showed (``expected_version``): when someone
decided the match since, the library's :class:`~claimwatch.store.review.DecisionConflict` comes
back as 409 with its one-line message, shown in the card (the API returns it as JSON).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from claimwatch.api import Workspace
from claimwatch.claims import relation
from claimwatch.records import Role
from claimwatch.store.review import QUEUE_STATUSES, DecisionConflict, UnknownMatch
from claimwatch.store.rows import AuditEntry, Decision, QueueItem, ReviewPage
from claimwatch.web import security as sec
from claimwatch.web.render import render
from claimwatch.web.studies import study_files, study_path

router = APIRouter()
api = APIRouter(prefix="/api/v1")
Viewer = Annotated[sec.Principal, Depends(sec.require(Role.VIEWER))]
Analyst = Annotated[sec.Principal, Depends(sec.require(Role.ANALYST))]

#: what a card's buttons (and the API's ``decision``) ask for → the library's decision
VERDICTS = {"confirm": "confirmed", "reject": "rejected", "reopen": "reopened"}
#: what a card says after a decision
DONE = {"confirm": "confirmed", "reject": "rejected", "reopen": "reopened", "choose": "chosen"}
#: the largest page of the queue or the audit log
MAX_LIMIT = 200
#: fact-checks a card's search lists
FOUND_LIMIT = 10


# --------------------------------------------------------------------------- filters (pages and API)


@dataclass(frozen=True)
class QueueFilter:
    """The queue's filters as the page's form sends them (every field a string: an empty field
    of the form is "no filter", not an error)."""

    status: str = "proposed"
    account: str = ""
    platform: str = ""
    lang: str = ""
    min_confidence: str = ""
    max_confidence: str = ""
    since: str = ""
    until: str = ""
    #: a study file's name in the server's studies folder, and one of its narratives
    study: str = ""
    narrative: str = ""
    limit: int = 20
    offset: int = 0

    def query(self, **changes: object) -> str:
        """This filter as a query string (for the pagination links), with ``changes``."""
        values = asdict(replace(self, **changes))  # type: ignore[arg-type]
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def page(self, request: Request) -> ReviewPage:
        """The queue page; 400 with a one-line reason for a filter that is not understood, 404
        for a study file not in the server's studies folder."""
        study = None
        if self.study.strip():
            folder = request.app.state.options.studies_dir
            study = study_path(folder, self.study.strip())
            if study is None:
                raise HTTPException(404, f"no study file {self.study.strip()!r} in {folder}")
        try:
            return sec.workspace(request).review_queue(
                study=study,
                narrative=self.narrative.strip() or None,
                status=self.status,
                accounts=[a.strip().lstrip("@") for a in self.account.replace(",", " ").split() if a.strip("@ ")],
                min_confidence=_number("min_confidence", self.min_confidence),
                max_confidence=_number("max_confidence", self.max_confidence),
                platform=self.platform.strip() or None,
                lang=self.lang.strip() or None,
                since=_day("since", self.since),
                until=_day("until", self.until, next_day=True),
                limit=max(1, min(self.limit, MAX_LIMIT)),
                offset=max(0, self.offset),
            )
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None


def _number(name: str, text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r}: a number between 0 and 1, e.g. 0.5") from None


def _day(name: str, text: str, next_day: bool = False) -> datetime | None:
    """A day (YYYY-MM-DD) as a UTC time; ``until`` is inclusive, so it means the next midnight."""
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} {text!r}: a day as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + (timedelta(days=1) if next_day else timedelta())


QueueQuery = Annotated[QueueFilter, Depends(QueueFilter)]


@contextmanager
def review_errors() -> Iterator[None]:
    """The library's review errors as HTTP: unknown match (post, fact-check) 404, conflict 409,
    bad input 400."""
    try:
        yield
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _seen(field: str) -> dict[int, int] | None:
    """The card's ``match_id:version`` pairs (every candidate as the page showed it), or None."""
    try:
        pairs = [pair.split(":") for pair in field.split(",") if pair.strip()]
        return {int(m): int(v) for m, v in pairs} or None
    except ValueError:
        raise ValueError(f"seen versions {field[:80]!r}: expected match_id:version pairs") from None


def _decide(
    ws: Workspace,
    match_id: int,
    decision: str,
    label: str,
    by: str,
    note: str | None,
    version: int | None,
    seen: str = "",
) -> None:
    """``decision`` with ``label``: the form's "confirm:narrative" / "confirm:repeats" split at the
    colon, a confirmation that sets the claim vs narrative label ("" for none)."""
    note = (note or "").strip() or None
    if label and decision != "confirm":
        raise ValueError(f"decision {decision!r}: only a confirmation takes a relation")
    if decision == "choose":  # guarded for the whole post: the other candidates as the card showed them
        ws.choose(match_id, by, note, expected_version=version, seen_versions=_seen(seen))
    elif decision in VERDICTS:
        ws.decide(match_id, VERDICTS[decision], by, note, expected_version=version, relation=label or None)
    else:
        raise ValueError(
            f"decision {decision!r}: one of confirm, confirm:repeats, confirm:narrative, reject, reopen, choose"
        )


# --------------------------------------------------------------------------- pages


def _cards(
    request: Request, who: sec.Principal, template: str, items: list[QueueItem], status: int = 200, **values: object
) -> HTMLResponse:
    """A page (or one card, as htmx swaps it in after a decision) of queue items, with what their
    cards need: the posts proposed for each candidate's fact-check, and whether to show actions."""
    bulk = sec.workspace(request).proposals_by_factcheck([c.factcheck.id for item in items for c in item.candidates])
    can_decide = who.role.allows(Role.ANALYST)
    return render(request, template, who, status=status, bulk=bulk, can_decide=can_decide, **values)


def _decided(
    request: Request, who: sec.Principal, match_id: int, message: str | None, error: str | None, status: int
) -> Response:
    """After a decision on ``match_id``: htmx gets its card redrawn as it is now (with the outcome);
    a plain form post goes back to the queue with the outcome as the flash message."""
    if request.headers.get("HX-Request") != "true":
        request.session["flash"] = error or message
        return RedirectResponse(request.scope.get("root_path", "") + "/review", status_code=303)
    item = sec.workspace(request).review_item(match_id)
    return _cards(request, who, "_card.html.j2", [item], status, item=item, message=message, error=error)


@router.get("/review")
def review_queue(request: Request, who: Viewer, f: QueueQuery) -> HTMLResponse:
    """One card per post awaiting review, best first (confidence × views); read-only for viewers."""
    page = f.page(request)
    studies = study_files(request.app.state.options.studies_dir)
    return _cards(request, who, "review.html.j2", page.items, page=page, f=f, statuses=QUEUE_STATUSES, studies=studies)


@router.post("/review/match/{match_id}/decide")
def decide(
    request: Request,
    match_id: int,
    who: Analyst,
    decision: Annotated[str, Form()],
    expected_version: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    seen: Annotated[str, Form()] = "",
) -> Response:
    """Confirm, reject, reopen or choose; htmx gets the card redrawn in its decided state (409 and
    the card as it is now, with the message, when someone decided it first). A plain form post
    (no script) goes back to the queue with the message."""
    ws = sec.workspace(request)
    try:
        verb, _, label = decision.partition(":")
        _decide(ws, match_id, verb, label, who.user.name, note, expected_version, seen)
        said = f", {relation.DESCRIBED[label]}" if label in relation.RELATIONS else ""
        message, error, status = f"match {match_id} {DONE[verb]} by you{said}", None, 200
    except UnknownMatch as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionConflict as exc:
        message, error, status = None, str(exc), 409
    except ValueError as exc:
        message, error, status = None, str(exc), 400
    return _decided(request, who, match_id, message, error, status)


@router.get("/review/post/{post_id}/factchecks")
def find_factchecks(request: Request, post_id: int, who: Viewer, q: str = "", seen: str = "") -> HTMLResponse:
    """The card's fact-check search: stored fact-checks containing ``q``, each with an "attach"
    button for analysts (a fragment htmx puts under the card's search box)."""
    phrase = q.strip()
    found = sec.workspace(request).search_factchecks(phrase, limit=FOUND_LIMIT) if phrase else []
    can_decide = who.role.allows(Role.ANALYST)
    return render(
        request, "_found.html.j2", who, post_id=post_id, q=phrase, seen=seen, found=found, can_decide=can_decide
    )


@router.post("/review/post/{post_id}/attach")
def attach(
    request: Request,
    post_id: int,
    who: Analyst,
    factcheck_id: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
    seen: Annotated[str, Form()] = "",
) -> Response:
    """Attach a stored fact-check to the post as the analyst's match: confirmed, the post's other
    proposals rejected (as choose). htmx gets the card redrawn; a conflict (a candidate decided
    since the card was drawn) is 409 with the card as it is now and nothing written."""
    ws = sec.workspace(request)
    shown = None
    try:
        done = ws.propose_factcheck(post_id, factcheck_id, who.user.name, note.strip() or None, _seen(seen))
        message, error, status, shown = f"fact-check {factcheck_id} attached by you", None, 200, done.match_id
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DecisionConflict as exc:
        message, error, status, shown = None, str(exc), 409, exc.match_id
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _decided(request, who, shown, message, error, status)


@router.post("/review/bulk-confirm")
def bulk_confirm(
    request: Request, who: Analyst, match_ids: Annotated[list[int], Form()], note: Annotated[str, Form()] = ""
) -> Response:
    """Confirm every match listed (the posts proposed for one fact-check); those someone decided
    since are skipped, never overwritten. The page reloads with the count."""
    wanted = list(dict.fromkeys(match_ids))
    done = sec.workspace(request).bulk_confirm(wanted, who.user.name, note.strip() or None)
    skipped = len(wanted) - len(done)
    request.session["flash"] = f"confirmed {len(done)} matches" + (
        f"; {skipped} skipped: already decided by someone (or no longer in the store)" if skipped else ""
    )
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(request.scope.get("root_path", "") + "/review", status_code=303)


@router.get("/review/match/{match_id}")
def match_page(request: Request, match_id: int, who: Viewer) -> HTMLResponse:
    """A match's post and candidates as they are now, and every decision on it, oldest first."""
    ws = sec.workspace(request)
    with review_errors():
        history = ws.match_history(match_id)
        item = ws.review_item(match_id)
    return _cards(request, who, "match.html.j2", [item], match_id=match_id, history=history, item=item)


@router.get("/audit")
def audit(
    request: Request, who: Viewer, actor: str = "", action: str = "", limit: int = 50, offset: int = 0
) -> HTMLResponse:
    """The audit log, newest first; ``action`` exact or a prefix ending in a dot (``match.``)."""
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    entries = sec.workspace(request).audit(
        actor=actor.strip() or None, action=action.strip() or None, limit=limit + 1, offset=offset
    )
    query = {"actor": actor.strip(), "action": action.strip(), "limit": limit}
    return render(
        request,
        "audit.html.j2",
        who,
        entries=entries[:limit],
        more=len(entries) > limit,
        actor=query["actor"],
        action=query["action"],
        offset=offset,
        limit=limit,
        older=urlencode({**{k: v for k, v in query.items() if v}, "offset": offset + limit}),
        newer=urlencode({**{k: v for k, v in query.items() if v}, "offset": max(0, offset - limit)}),
    )


@router.get("/audit/export")
def audit_export(request: Request, who: Viewer, format: Literal["jsonl", "csv"] = "jsonl") -> Response:  # noqa: A002
    """The whole audit log, oldest first, as a file to download."""
    out = io.StringIO()
    sec.workspace(request).export_audit(out, format=format)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="claimwatch-audit.{format}"'
    return Response(out.getvalue(), media_type=media, headers={"Content-Disposition": disposition})


# --------------------------------------------------------------------------- JSON API


class DecisionIn(BaseModel):
    decision: Literal["confirm", "reject", "reopen"]
    #: with a confirmation: the post repeats the rated claim or shares its narrative only (None: the matcher's label)
    relation: Literal["repeats", "narrative"] | None = None
    #: the match version reviewed (``Candidate.version``): 409 if someone decided it since
    expected_version: int | None = None
    note: str | None = None


class ChooseIn(BaseModel):
    expected_version: int | None = None
    #: every candidate of the post as the caller saw it (match id → version): guards the whole post
    seen_versions: dict[int, int] | None = None
    note: str | None = None


class AttachIn(BaseModel):
    factcheck_id: int
    #: every candidate of the post as the caller saw it (match id → version): guards the whole post
    seen_versions: dict[int, int] | None = None
    note: str | None = None


class BulkIn(BaseModel):
    match_ids: list[int]
    note: str | None = None


class BulkOut(BaseModel):
    confirmed: list[Decision]
    #: ids not confirmed: someone decided them first, or no such match
    skipped: list[int]


@api.get("/review/queue")
def api_queue(request: Request, who: Viewer, f: QueueQuery) -> ReviewPage:
    """The review queue (the page's filters), one item per post with all its candidates."""
    return f.page(request)


@api.post("/matches/{match_id}/decision")
def api_decide(request: Request, match_id: int, body: DecisionIn, who: Analyst) -> Decision:
    with review_errors():
        ws = sec.workspace(request)
        return ws.decide(
            match_id, VERDICTS[body.decision], who.user.name, body.note, body.expected_version, relation=body.relation
        )


@api.post("/matches/{match_id}/choose")
def api_choose(request: Request, match_id: int, body: ChooseIn, who: Analyst) -> list[Decision]:
    """Confirm this candidate for its post and reject the post's other proposals (chosen first)."""
    with review_errors():
        return sec.workspace(request).choose(
            match_id, who.user.name, body.note, body.expected_version, body.seen_versions
        )


@api.post("/posts/{post_id}/attach")
def api_attach(request: Request, post_id: int, body: AttachIn, who: Analyst) -> Decision:
    """The analyst's match: this stored fact-check is the post's claim (confirmed; the post's
    other proposals rejected, as choose). 404 unknown post or fact-check, 409 conflict."""
    with review_errors():
        return sec.workspace(request).propose_factcheck(
            post_id, body.factcheck_id, who.user.name, body.note, body.seen_versions
        )


@api.post("/matches/bulk-confirm")
def api_bulk_confirm(request: Request, body: BulkIn, who: Analyst) -> BulkOut:
    with review_errors():
        done = sec.workspace(request).bulk_confirm(body.match_ids, who.user.name, body.note)
    confirmed = {d.match_id for d in done}
    return BulkOut(confirmed=done, skipped=[i for i in dict.fromkeys(body.match_ids) if i not in confirmed])


@api.get("/matches/{match_id}/history")
def api_history(request: Request, match_id: int, who: Viewer) -> list[Decision]:
    with review_errors():
        return sec.workspace(request).match_history(match_id)


@api.get("/audit")
def api_audit(
    request: Request,
    who: Viewer,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AuditEntry]:
    """Audit entries, newest first; ``action`` exact or a prefix ending in a dot."""
    return sec.workspace(request).audit(
        since=since, actor=actor, action=action, limit=max(1, min(limit, MAX_LIMIT)), offset=max(0, offset)
    )
