"""Checks before figures are computed from a selection, so that a typo or a skipped step never
passes for a finding.

- A name the store does not know — an account, topic, language or platform that a report or a
  study selects — would select nothing and print a confident zero. :func:`check_names` stops the
  command with one line instead (:class:`UnknownName`), naming the close stored names.
- Posts not matched yet count as repeating no claim, and a store without fact-checks can match
  nothing: :func:`coverage_warnings` says so. These are warnings carried in the result (the
  figures can be computed; they are incomplete, and the result says why).

The decisions are pure functions over what the store holds (:class:`Names`, counts); the store is
asked only through :mod:`claimwatch.store.lookups`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from claimwatch.analysis.report import Report, Selection
from claimwatch.analysis.study_file import Study
from claimwatch.store import lookups, queue_table, repo


class UnknownName(ValueError):
    """A selection names an account, topic, language or platform no stored post has (one line)."""


@dataclass(frozen=True)
class Names:
    """The names a selection filters on, or (from the store) the names its posts have."""

    accounts: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()

    @classmethod
    def of_selection(cls, sel: Selection) -> Names:
        return cls(sel.handles, sel.topics, sel.langs, (sel.platform,) if sel.platform else ())

    @classmethod
    def of_study(cls, study: Study) -> Names:
        return cls(study.accounts, (study.topic,) if isinstance(study.topic, str) else (), (), study.platforms)


def _quoted(names: Sequence[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _listed(names: Sequence[str], limit: int = 12) -> str:
    more = f" and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def unknown_names(asked: Names, stored: Names) -> list[str]:
    """One message per asked name that no stored post has. Accounts compare as reports select them
    (case-insensitive, a leading @ ignored) and come with the closest stored handles; the other
    names are few, so the stored ones are listed."""
    out = []
    handles = {h.lower(): h for h in stored.accounts}
    for name in asked.accounts:
        if name.lstrip("@").lower() in handles:
            continue
        close = difflib.get_close_matches(name.lstrip("@").lower(), list(handles), n=3, cutoff=0.6)
        out.append(
            f"no stored account {name!r}"
            + (
                f" — did you mean {_quoted([handles[c] for c in close])}?"
                if close
                else f" ({len(handles):,} accounts have posts in the store)"
            )
        )
    for name in (t for t in asked.topics if t not in stored.topics):
        out.append(
            f"topic {name!r} is not stored (stored: {_listed(stored.topics)})"
            if stored.topics
            else f"topic {name!r} is not stored (no topics are: score posts with `claimwatch match --topics "
            "FILE` or `claimwatch topics score FILE`)"
        )
    for name in (lang for lang in asked.languages if lang not in stored.languages):
        out.append(
            f"no stored post is in language {name!r} (languages of stored posts: {_listed(stored.languages) or 'none'})"
        )
    for name in (p for p in asked.platforms if p not in stored.platforms):
        out.append(f"no stored post is from platform {name!r} (stored: {_listed(stored.platforms) or 'none'})")
    return out


def check_names(conn: sa.Connection, asked: Names, where: str = "") -> None:
    """Raise :class:`UnknownName` (``where`` first, e.g. the study file) when ``asked`` names
    something no stored post has; only the kinds of name asked for are looked up."""
    stored = Names(
        tuple(lookups.account_handles(conn)) if asked.accounts else (),
        tuple(lookups.topic_names(conn)) if asked.topics else (),
        tuple(lookups.post_languages(conn)) if asked.languages else (),
        tuple(lookups.platforms(conn)) if asked.platforms else (),
    )
    problems = unknown_names(asked, stored)
    if problems:
        raise UnknownName(where + "; ".join(problems))


def coverage_warnings(unmatched: int, posts: int, factchecks: int, scope: str) -> list[str]:
    """Why figures over ``posts`` posts (in ``scope``, e.g. "this report") may count too few."""
    if posts and not factchecks:
        return [
            "the store holds no fact-checks, so no post can be matched to one yet; ingest them with "
            "`claimwatch ingest factchecks`, then run `claimwatch match`"
        ]
    if not unmatched:
        return []
    one = unmatched == 1
    return [
        f"{unmatched:,} of the {posts:,} posts in {scope} {'is' if one else 'are'} not matched yet and "
        f"{'counts' if one else 'count'} as repeating no fact-checked claim; run `claimwatch match`"
    ]


def report_warnings(conn: sa.Connection, report: Report) -> list[str]:
    """Coverage warnings for the posts behind a report's figures."""
    keys = [(row.platform, row.post_id) for row in report.rows]
    return coverage_warnings(
        lookups.unmatched_among(conn, keys), len(keys), lookups.factcheck_count(conn), "this report"
    )


def store_warnings(conn: sa.Connection) -> list[str]:
    """:func:`report_warnings` of a whole-store report, from the counts the store keeps (the
    dashboard shows them without building the report)."""
    return coverage_warnings(
        repo.queue_count(conn, queue_table.UNMATCHED),
        repo.queue_count(conn, queue_table.REPORT),
        lookups.factcheck_count(conn),
        "this report",
    )


def study_warnings(conn: sa.Connection, study: Study) -> list[str]:
    """Coverage warnings for the posts of a study's window (accounts, dates, kinds, platforms)."""
    unmatched, posts = lookups.unmatched_in_window(
        conn, handles=study.accounts, since=study.since, until=study.until, kinds=study.kinds, platforms=study.platforms
    )
    return coverage_warnings(unmatched, posts, lookups.factcheck_count(conn), "the study's window")
