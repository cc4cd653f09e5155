"""HTML to plain text: for a bot's HTML answers in a ticket, and for HTML-only replies."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "div", "dl", "dt", "dd", "footer", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
        "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"head", "script", "style", "template", "title"})
# Where mail clients put the quoted history: skipped with everything inside.
_QUOTE_CLASSES = frozenset({"gmail_quote", "moz-cite-prefix", "yahoo_quoted"})
# Outlook marks where the quoted history starts; everything after it is old.
_HISTORY_IDS = frozenset({"appendonsend", "divrplyfwdmsg"})
_TAG = re.compile(r"<[A-Za-z][^<>]*>|&[A-Za-z]+;|&#\d+;")


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


class _Text(HTMLParser):
    def __init__(self, *, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.out: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.pre = 0
        self.done = False

    def _skipped(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _HIDDEN:
            return True
        if not self.drop_quotes:
            return False
        found = dict(attrs)
        classes = set((found.get("class") or "").split())
        return tag == "blockquote" or bool(classes & _QUOTE_CLASSES)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if self.skip_tag is not None:
            self.skip_depth += tag == self.skip_tag
            return
        if self.drop_quotes and (dict(attrs).get("id") or "").lower() in _HISTORY_IDS:
            self.done = True
            return
        if self._skipped(tag, attrs):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n")
            if tag == "li":
                self.out.append("- ")
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag in _BLOCKS:
            self.out.append("\n")
        if tag == "pre" and self.pre:
            self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.done or self.skip_tag is not None:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(markup: str, *, drop_quotes: bool = False) -> str:
    """The readable text of some HTML; with ``drop_quotes``, without quoted mail history."""
    parser = _Text(drop_quotes=drop_quotes)
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
