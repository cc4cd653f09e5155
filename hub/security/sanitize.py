"""Allow-list sanitising (nh3) of HTML that crosses from one party to another.

Agent HTML is cleaned before it reaches the chatbot (the SDK shows ``answer`` messages
as HTML); customer and bot content is escaped or cleaned before an agent sees it.
"""

from __future__ import annotations

import html
import re

import nh3

_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "br",
    "p",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "blockquote",
    "span",
    "div",
}
_ATTRIBUTES = {"a": {"href", "title"}}
_SCHEMES = {"http", "https", "mailto", "tel"}


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    url_schemes=_SCHEMES,
    link_rel="noopener noreferrer nofollow",
)
# The only characters nh3 changes in text without markup (a test holds it to that): a
# string with none of them comes out as it went in, and need not be parsed.
_CHANGED = re.compile("[<>&\r\x00\xa0\ufeff]")


def clean_html(markup: str) -> str:
    """Keep a small set of formatting tags and safe links; drop everything else."""
    if _CHANGED.search(markup) is None:
        return markup
    return _CLEANER.clean(markup)


def escape_text(text: str) -> str:
    """Plain text for an HTML page: every character shown as itself."""
    return html.escape(text, quote=True)
