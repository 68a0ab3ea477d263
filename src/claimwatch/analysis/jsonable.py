"""Results as JSON values: every report and study output goes through :func:`jsonable`, so a
field's JSON name is its attribute name and every time has one format, RFC 3339 in UTC with
``Z`` (``2024-08-01T12:00:00Z``); a date alone is ``YYYY-MM-DD``. The shapes are declared in
``claimwatch/schemas/`` (see :mod:`claimwatch.schemas`).

A field whose JSON name is not a Python name (``from``) names it in its metadata
(``field(metadata={JSON_NAME: "from"})``); a field whose name starts with ``_`` is internal
state (a compiled pattern, a cache) and is left out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

#: Field metadata key: the field's JSON name, where its attribute name cannot be (a keyword).
JSON_NAME = "json_name"


def rfc3339(when: datetime | None) -> str | None:
    """``when`` in UTC with ``Z``; a naive time is taken as UTC (the store keeps UTC only)."""
    if when is None:
        return None
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON values: dataclasses as objects of their public fields (in field
    order, named by :data:`JSON_NAME` if given), tuples as lists, datetimes via :func:`rfc3339`,
    dates as ISO dates, enums as their values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get(JSON_NAME, f.name): jsonable(getattr(value, f.name))
            for f in fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
