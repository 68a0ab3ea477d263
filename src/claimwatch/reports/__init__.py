"""Report renderers: Markdown, CSV, JSON and self-contained HTML from an analysis Report."""

from claimwatch.reports.render import write_all

__all__ = ["write_all"]
