"""An alert payload as people read it: a Slack message, an e-mail (subject, text, HTML).

The payload is the runner's (``schemas/alert.schema.json``) and everything in it that came from a
post or a fact-check is hostile: a post can hold ``<!channel>`` (a Slack ping of everyone),
``<https://evil.example|a trusted name>`` (a disguised link), ``<script>``, or a CR/LF that would
start a new mail header. So every value is escaped for where it goes (Slack mrkdwn: ``& < >``;
HTML: :func:`html.escape`; a header: control characters removed), Slack text is ``verbatim`` (no
auto-linked URLs, channel names or mentions), and the only links are the post's URL and the
fact-check's review URL, and only when they are http(s). Any field may be missing or null: it is
shown as unknown, never as 0.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from claimwatch.claims import relation

#: longest post / claim excerpt in a message (the full text is one click away)
EXCERPT_CHARS = 600
UNKNOWN = "unknown"
_KIND_TITLES = {
    "match": "Post repeats a debunked claim",
    "media": "Post shares debunked media",
    "views": "Matched post passed the view threshold",
    "test": "Test message from claimwatch",
}
#: a text match's title by the matcher's (or analyst's) claim-vs-narrative label; None: not known
_RELATION_TITLES = {
    relation.REPEATS: "Post repeats a debunked claim",
    relation.NARRATIVE: "Post shares a debunked claim's narrative",
    None: "Post matches a debunked claim",
}
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of an alert: a label and its value (plain, unescaped text), or a link."""

    label: str
    value: str
    link: str | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    """What every rendering of one alert says, read defensively from its payload."""

    alert_id: Any
    kind: str
    title: str
    post_text: str | None
    claim: str | None
    facts: list[Fact]
    post_url: str | None
    review_url: str | None
    author: str | None
    publisher: str | None


def view(payload: Any) -> AlertView:
    p = payload if isinstance(payload, dict) else {}
    post, fc, match, views = (_obj(p, k) for k in ("post", "factcheck", "match", "views"))
    kind = _text(p.get("kind")) or "alert"
    post_url, review_url = safe_url(post.get("url")), safe_url(fc.get("review_url"))
    author = _text(post.get("author"))
    publisher = _text(fc.get("publisher"))
    facts = [
        Fact("Post", f"{_text(post.get('platform')) or UNKNOWN} post by {author or 'an unknown author'}", post_url),
        Fact("Posted", _text(post.get("created_at")) or UNKNOWN),
        Fact("Views", _views(post.get("views"), post.get("views_observed_at"))),
    ]
    if views:
        facts.append(Fact("View threshold", f"{_count(views.get('threshold'))} (seen {_count(views.get('value'))})"))
    if fc:
        rating = " / ".join(x for x in (_text(fc.get("rating")), _text(fc.get("verdict"))) if x) or UNKNOWN
        facts.append(Fact("Fact-check", f"{publisher or 'unknown publisher'}: {rating}", review_url))
    label = _text(match.get("relation")) if match else None
    if match:
        conf = match.get("confidence")
        conf_text = f"{conf:.2f}" if _number(conf) else UNKNOWN
        how = relation.DESCRIBED.get(label) if label in relation.RELATIONS else None
        parts = [f"confidence {conf_text}", how or "", _text(match.get("method")) or ""]
        facts.append(Fact("Match", " · ".join(x for x in parts if x)))
    alert_id = p.get("alert_id")
    facts.append(
        Fact("Alert", f"#{alert_id if alert_id is not None else '?'} · rule {_text(p.get('rule')) or UNKNOWN}")
    )
    return AlertView(
        alert_id=alert_id,
        kind=kind,
        title=_RELATION_TITLES[label if label in relation.RELATIONS else None]
        if kind == "match"
        else _KIND_TITLES.get(kind, "claimwatch alert"),
        post_text=_excerpt(post.get("text")),
        claim=_excerpt(fc.get("claim")),
        facts=facts,
        post_url=post_url,
        review_url=review_url,
        author=author,
        publisher=publisher,
    )


# ----------------------------------------------------------------------------- Slack


def slack_body(payload: Any) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification's fallback) and ``blocks``."""
    v = view(payload)
    lines = [f"*{_slack(f.label)}:* {_slack_link(f.link, f.value) if f.link else _slack(f.value)}" for f in v.facts]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": v.title, "emoji": False}},
        _section("\n".join(lines)),
    ]
    if v.post_text:
        blocks.append(_section(f"*Post:*\n{_quote(_slack(v.post_text))}"))
    if v.claim:
        blocks.append(_section(f"*Debunked claim:*\n{_quote(_slack(v.claim))}"))
    fallback = f"{v.title}: {v.author or 'unknown author'}" + (f" — fact-check by {v.publisher}" if v.publisher else "")
    return {"text": _slack(fallback), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack leaves URLs, #channel names and @mentions in the text as they are (no links, no pings)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000], "verbatim": True}}


def _slack(text: str) -> str:
    """Slack's own escaping of message text: ``&``, ``<``, ``>`` (``<!channel>`` cannot ping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    # inside <url|label> a '|' or '>' would end the URL early: percent-encode them
    target = _slack(url.replace("|", "%7C"))
    return f"<{target}|{_slack(label).replace('|', '¦')}>"


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


# ----------------------------------------------------------------------------- e-mail


def subject(payload: Any) -> str:
    """``[claimwatch] <title>: <author> — <publisher>``, one line (no header injection)."""
    v = view(payload)
    text = f"[claimwatch] {v.title}: {v.author or 'unknown author'}"
    if v.publisher:
        text += f" — fact-check by {v.publisher}"
    return header_safe(text)[:200]


def header_safe(text: str) -> str:
    """A value fit for one mail header: CR, LF and every other control character removed."""
    return " ".join(_HEADER_UNSAFE.sub(" ", text).split())


def email_text(payload: Any) -> str:
    v = view(payload)
    lines = [v.title, ""]
    lines += [f"{f.label}: {f.value}" + (f" <{f.link}>" if f.link else "") for f in v.facts]
    if v.post_text:
        lines += ["", "Post:", v.post_text]
    if v.claim:
        lines += ["", "Debunked claim:", v.claim]
    return "\n".join(lines) + "\n"


def email_html(payload: Any) -> str:
    v = view(payload)
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(f.label)}</th><td>"
        + (f'<a href="{e(f.link, quote=True)}">{e(f.value)}</a>' if f.link else e(f.value))
        + "</td></tr>"
        for f in v.facts
    )
    parts = [f"<h2>{e(v.title)}</h2>", f"<table>{rows}</table>"]
    if v.post_text:
        parts.append(f"<h3>Post</h3><blockquote>{_html_lines(v.post_text)}</blockquote>")
    if v.claim:
        parts.append(f"<h3>Debunked claim</h3><blockquote>{_html_lines(v.claim)}</blockquote>")
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>"


def _html_lines(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.splitlines())


# ----------------------------------------------------------------------------- values


def safe_url(value: Any) -> str | None:
    """An http(s) URL with a host and no spaces or control characters, else None (not linked)."""
    if not isinstance(value, str) or not value or len(value) > 2048 or _HEADER_UNSAFE.search(value) or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _obj(p: dict[str, Any], key: str) -> dict[str, Any]:
    value = p.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = " ".join(value.split())
        return value or None
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else UNKNOWN


def _views(value: Any, observed_at: Any) -> str:
    text = _count(value)
    when = _text(observed_at)
    return f"{text} (as of {when})" if text != UNKNOWN and when else text


def _excerpt(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = _HEADER_UNSAFE.sub(lambda m: "\n" if "\n" in m.group() else " ", value).strip()
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
