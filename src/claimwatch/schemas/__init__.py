"""The declared shapes of claimwatch's JSON outputs, shipped with the package as JSON Schemas
(draft 2020-12): ``report.schema.json`` (``claimwatch report --json`` and ``report.json``),
``study.schema.json`` (``claimwatch study run --json`` and ``study.json``), and the post row and
fact-check they share (``post.schema.json``). Every output names its schema in its ``schema``
key; a change to an output's shape is a change to its schema (and its version)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The ``schema`` key of each output: its schema's name and version.
REPORT_SCHEMA = "claimwatch-report/1"
STUDY_SCHEMA = "claimwatch-study/1"
#: ``alert.schema.json``: an alert of ``claimwatch watch`` as a webhook receives it.
ALERT_SCHEMA = "claimwatch-alert/1"

_FILES = {REPORT_SCHEMA: "report.schema.json", STUDY_SCHEMA: "study.schema.json", ALERT_SCHEMA: "alert.schema.json"}
_SHARED = ("post.schema.json",)


def schema_text(name: str) -> str:
    """A schema file's text (``report.schema.json``, ``study.schema.json``, ``post.schema.json``)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def _validator(schema_id: str) -> Any:
    # jsonschema is imported only when something is validated (never by the CLI's own commands).
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (json.loads(schema_text(f))["$id"], Resource.from_contents(json.loads(schema_text(f))))
        for f in (*_SHARED, *_FILES.values())
    )
    schema = json.loads(schema_text(_FILES[schema_id]))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate(data: dict[str, Any]) -> None:
    """Check an output against the schema its ``schema`` key names; raises
    :class:`jsonschema.ValidationError` naming the first place that does not fit."""
    name = data.get("schema")
    if name not in _FILES:
        raise ValueError(
            f"not a claimwatch report, study or alert output (schema {name!r}; known: {', '.join(_FILES)})"
        )
    _validator(name).validate(data)
