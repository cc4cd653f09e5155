"""Allow-list sanitising (nh3) of HTML that crosses from one party to another.

Agent HTML is cleaned before it reaches the chatbot (the SDK shows ``answer`` messages
as HTML); customer and bot content is escaped or cleaned before an agent sees it.
"""

from __future__ import annotations

import html

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


def clean_html(markup: str) -> str:
    """Keep a small set of formatting tags and safe links; drop everything else."""
    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def escape_text(text: str) -> str:
    """Plain text for an HTML page: every character shown as itself."""
    return html.escape(text, quote=True)
