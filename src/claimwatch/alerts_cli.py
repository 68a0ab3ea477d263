"""``claimwatch alerts …``: list recorded alerts, send what is due (cron), re-queue failed
deliveries, send a test message to a channel; and ``claimwatch metrics refetch``.

Registered by :mod:`claimwatch.cli` at its end, and built on its helpers (store opening, one-line
errors), so no traceback reaches a user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from claimwatch import api
from claimwatch.alerts import manage
from claimwatch.analysis.jsonable import jsonable
from claimwatch.cli import ActorOpt, DbOpt, JsonOpt, _fail, _open, _say, _user_errors, _warn, console
from claimwatch.live import refetch
from claimwatch.live.watchlist import Refetch, Watchlist, WatchlistError, load_watchlist
from claimwatch.store import alert_deliveries
from claimwatch.terminal import safe
from claimwatch.wording import count

alerts_app = typer.Typer(help="Alerts of `claimwatch watch`: list, send, retry, test a channel.", no_args_is_help=True)
metrics_app = typer.Typer(help="Metrics of matched posts over time.", no_args_is_help=True)

WatchlistArg = Annotated[Path, typer.Argument(help="The watchlist YAML (its alerts.channels).")]


def _watchlist(path: Path) -> Watchlist:
    try:
        return load_watchlist(path)
    except WatchlistError as exc:
        _fail(str(exc))


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None, typer.Option(help="Only alerts with a delivery in this state: pending | sent | failed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest alerts shown.")] = 50,
    json_out: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Recorded alerts, newest first: the post, the fact-check, and each channel's delivery."""
    with _user_errors():
        rows = manage.list_alerts(_open(db, read_only=True).engine, status, limit)
    if json_out:
        print(json.dumps(jsonable(rows), ensure_ascii=False))
        return
    if not rows:
        _say("no alerts" + (f" with a {status} delivery" if status else ""))
        return
    table = Table("id", "kind", "created", "confidence", "post", "fact-check", "deliveries", show_lines=True)
    for a in rows:
        post = f"{a.platform} {a.author or 'unknown author'}\n{a.post_url or a.platform_id}"
        fc = f"{a.publisher or 'unknown publisher'}\n{a.review_url}" if a.review_url else "—"
        cells = (post, fc, "\n".join(_delivery(d) for d in a.deliveries) or "no channel")
        # Text, not str: a handle such as "[red]x" is data, never Rich markup
        confidence = "unknown" if a.confidence is None else f"{a.confidence:.2f}"
        table.add_row(
            str(a.alert_id),
            Text(a.kind),
            f"{a.created_at:%Y-%m-%d %H:%M}",
            confidence,
            *(Text(safe(c)) for c in cells),
        )
    console.print(table)


def _delivery(d: alert_deliveries.DeliveryState) -> str:
    text = f"{d.channel}: {d.status} ({count(d.attempts, 'attempt')})"
    if d.status == "pending" and d.next_attempt_at is not None and d.attempts:
        text += f", next {d.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    return text + (f" — {d.last_error}" if d.last_error and d.status != "sent" else "")


@alerts_app.command("send")
def alerts_send(watchlist: WatchlistArg, db: DbOpt = None) -> None:
    """Send every due delivery once now (for cron, when `claimwatch watch` is not running)."""
    wl = _watchlist(watchlist)
    if not wl.alerts.channels:
        _fail(f"{wl.source}: alerts.channels names no channel to send to")
    with _user_errors():
        report = manage.send_due(_open(db).engine, wl)
    _say(f"sent {report.sent}, to retry {report.retrying}, failed {report.failed}")
    _warn(report.errors)


@alerts_app.command("retry")
def alerts_retry(
    alert_id: Annotated[int | None, typer.Argument(help="The alert whose failed deliveries to send again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed delivery.")] = False,
    by: ActorOpt = None,
    db: DbOpt = None,
) -> None:
    """Re-queue failed deliveries (fresh attempts; the next `alerts send` or `watch` sends them)."""
    if (alert_id is None) == (not failed):
        _fail("give an alert id or --failed (not both)")
    with _user_errors():
        requeued = manage.retry_failed(_open(db).engine, api._actor(by), alert_id)
    if not requeued:
        _say("no failed deliveries" + (f" for alert {alert_id}" if alert_id is not None else ""))
        return
    _say(f"re-queued {count(len(requeued), 'delivery', 'deliveries')}:")
    for a, ch in requeued:
        _say(f"  alert {a} → {ch}")


@alerts_app.command("test")
def alerts_test(
    watchlist: WatchlistArg,
    channel: Annotated[str, typer.Option("--channel", help="The channel's name in the watchlist.")],
) -> None:
    """Send a clearly marked test message to one channel; nothing is recorded."""
    wl = _watchlist(watchlist)
    found = {c.name: c for c in wl.alerts.channels}
    if channel not in found:
        _fail(f"{wl.source}: no channel {channel!r} in alerts.channels (known: {', '.join(found) or 'none'})")
    outcome = manage.send_test(found[channel])
    if not outcome.ok:
        _fail(f"channel {channel}: {outcome.error}", code=1)
    _say(f"test message sent to {channel}")


@metrics_app.command("refetch")
def metrics_refetch(
    watchlist: Annotated[
        Path | None, typer.Argument(help="The watchlist (its refetch settings and X token); default settings.")
    ] = None,
    due_only: Annotated[bool, typer.Option("--due-only", help="Only posts whose re-fetch is due.")] = False,
    db: DbOpt = None,
) -> None:
    """Fetch the current metrics of matched posts now: each fetch is a new snapshot."""
    wl = _watchlist(watchlist) if watchlist is not None else None
    settings = wl.refetch if wl is not None else Refetch()
    if not settings.enabled:
        _fail(f"{wl.source if wl else 'watchlist'}: refetch is turned off")
    fetchers = refetch.fetchers_for(wl)
    if "x" not in fetchers:
        _say("X posts are not re-fetched: set X_BEARER_TOKEN (or a watchlist X stream's bearer_token_env)")
    with _user_errors():
        report = refetch.refetch_once(_open(db).engine, fetchers, settings, due_only=due_only)
    _say(
        f"fetched {count(len(report.fetched), 'post')} ({count(report.snapshots, 'new snapshot')}), "
        f"gone {len(report.gone)}, failed {len(report.failed)}"
    )
    for platform, seconds in sorted(report.waiting.items()):
        _say(f"{platform}: rate limited, asked to wait {seconds:.0f} s")
    _warn([f"post {post_id}: {reason}" for post_id, reason in sorted(report.failed.items())])
