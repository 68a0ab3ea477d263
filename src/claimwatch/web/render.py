"""One Jinja environment for every page: autoescaping on for every template (post and
fact-check text is hostile), links through the reports' ``safe_url`` (no ``javascript:``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from claimwatch.claims import relation
from claimwatch.media.evidence import is_media_evidence, media_match_phrase
from claimwatch.reports.render import safe_url
from claimwatch.reports.study_view import human
from claimwatch.web import security as sec

TEMPLATES = Path(__file__).resolve().parent / "templates"


def highlight(text: str, start: int | None, end: int | None) -> Markup:
    """``text`` escaped, with ``<mark>`` around ``text[start:end]`` (the claim sentence the
    analysis found) when those offsets fall inside it; only the tags are markup."""
    if start is None or end is None or not 0 <= start < end <= len(text):
        return escape(text)
    return escape(text[:start]) + Markup("<mark>") + escape(text[start:end]) + Markup("</mark>") + escape(text[end:])


def as_json(value: Any) -> str:
    """A value for reading (audit before/after): JSON as text, escaped by the template like any text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
env.filters["safe_url"] = safe_url
env.filters["human"] = human
env.filters["day"] = lambda dt: dt.strftime("%Y-%m-%d") if dt else "unknown"
env.filters["highlight"] = highlight
env.filters["json"] = as_json
env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "unknown"
env.filters["count"] = lambda n: "unknown" if n is None else f"{n:,}"
env.globals["relation_described"] = relation.DESCRIBED
env.globals["media_phrase"] = media_match_phrase
env.globals["is_media"] = is_media_evidence


def render(
    request: Request,
    template: str,
    who: sec.Principal | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """The page ``template`` with the layout's values: who is signed in, the CSRF token for its
    forms, the URL prefix (``--root-path``) and a one-time message from the last change."""
    page = env.get_template(template).render(
        request=request,
        who=who,
        csrf=sec.csrf_token(request),
        base=request.scope.get("root_path", ""),
        flash=request.session.pop("flash", None),
        **values,
    )
    return HTMLResponse(page, status_code=status, headers=headers)
