"""Plain text from the HTML of a fediverse post (Mastodon ``content``, an ActivityPub ``Note``).

What a reader of the post sees, as text to match: paragraphs and ``<br>`` become line breaks,
links their whole text (Mastodon hides ``https://`` and the tail of long URLs in
``invisible``/``ellipsis`` spans; both are kept, so the URL is whole), entities are unescaped,
and what no reader sees is dropped: ``<script>``/``<style>`` content and Mastodon's
``quote-inline`` fallback ("RE: <link>") that clients hide under a quote post.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements that start a new line / are a paragraph of their own.
_LINE_ELEMENTS = frozenset({"li", "tr"})
_BLOCK_ELEMENTS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
#: Elements whose content is never shown.
_HIDDEN_ELEMENTS = frozenset({"script", "style", "template"})
#: Class of Mastodon's quote-post fallback paragraph ("RE: https://…"), hidden by clients.
HIDDEN_CLASS = "quote-inline"
#: Elements with no end tag (they never open anything to skip).
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)

_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BREAKS = re.compile(r" *\n *")
_PARAGRAPHS = re.compile(r"\n{3,}")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        #: the hidden element being skipped, and how many of its kind are open inside it
        #: (counting only that tag keeps a missing inner end tag from hiding the rest of the post)
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_tag is not None:
            self.skip_depth += tag == self.skip_tag
            return
        if tag == "br":
            self.parts.append("\n")
            return
        classes = next((value or "" for name, value in attrs if name == "class"), "").split()
        if tag not in _VOID_ELEMENTS and (tag in _HIDDEN_ELEMENTS or HIDDEN_CLASS in classes):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if tag in _BLOCK_ELEMENTS:
            self.parts.append("\n\n")
        elif tag in _LINE_ELEMENTS:
            self.parts.append("\n")
        self.pre_depth += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag is not None:
            self.skip_depth -= tag == self.skip_tag
            if not self.skip_depth:
                self.skip_tag = None
            return
        if tag in _BLOCK_ELEMENTS:
            self.parts.append("\n\n")
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_tag is None:
            self.parts.append(data if self.pre_depth else _SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """The visible text of ``html``: at most one blank line between paragraphs, no edge spaces."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = _BREAKS.sub("\n", "".join(parser.parts))
    return _PARAGRAPHS.sub("\n\n", text).strip()
