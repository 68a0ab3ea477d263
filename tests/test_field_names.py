"""The project's own metric names are defined once (records.py) and agree with the store's columns."""

from __future__ import annotations

from claimwatch.analysis import reach
from claimwatch.records import ENGAGEMENT_FIELDS, METRIC_FIELDS, MetricSnapshot
from claimwatch.sources import generic
from claimwatch.store import schema


def test_metric_names_are_the_snapshot_fields_and_the_store_columns() -> None:
    columns = {c.name for c in schema.MetricSnapshot.__table__.columns}
    assert set(METRIC_FIELDS) <= columns
    assert columns - set(METRIC_FIELDS) == {"id", "post_id", "observed_at", "ingest_run_id"}
    assert set(ENGAGEMENT_FIELDS) == set(METRIC_FIELDS) - {"views"} and len(ENGAGEMENT_FIELDS) == 5
    # Every counter can be read from a generic CSV/JSONL column under its own name.
    assert all(name in generic.FIELD_ALIASES[name] for name in METRIC_FIELDS)
    assert reach.ENGAGEMENT is ENGAGEMENT_FIELDS and generic.METRIC_FIELDS is METRIC_FIELDS
    snap = MetricSnapshot(observed_at=None, **dict.fromkeys(METRIC_FIELDS, 1))  # type: ignore[arg-type]
    assert [getattr(snap, f) for f in METRIC_FIELDS] == [1] * 6
