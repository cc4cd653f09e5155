"""Reading an agent's reply: a raw RFC 5322 message, as an inbound-mail service posts it.

The conversation is found from the ids the reply answers (``In-Reply-To``, then
``References``: our Message-IDs carry the conversation id), else from the ticket tag in
the subject. The text is the plain-text part (or the HTML part read as text) without the
quoted history.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from html import escape
from typing import Any

from providers.email import references
from providers.email.html_text import html_to_text
from providers.email.quotes import strip_quoted
from providers.input_rules import InputError, check_strings

_EVENT_ID_LIMIT = 200  # what the hub keeps of an event id
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


class ReplyError(Exception):
    """The request cannot be a reply: ``status`` and ``code`` say how to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Reply:
    event_id: str
    sender_name: str
    sender_address: str
    conversation_id: str | None  # from the thread's Message-IDs
    ticket_id: str | None  # from the subject, when the thread says nothing
    text: str  # what is new in it, quoted history removed
    automatic: str | None  # why it looks machine-made (an out-of-office), else None


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot make sense of counts as absent
        return None
    return None if value is None else str(value)


def _sender(message: Message) -> tuple[str, str]:
    try:
        addresses: Any = getattr(message["From"], "addresses", ())
    except Exception:
        addresses = ()
    for found in addresses:
        if found.username and found.domain:
            name = found.display_name or found.username
            return " ".join(name.split())[:200], found.addr_spec.lower()
    raise ReplyError(422, "invalid_message", "the message has no usable From address")


def _event_id(message: Message, raw: bytes) -> str:
    found = references.message_ids(_header(message, "Message-ID"))
    if found and len(found[0]) <= _EVENT_ID_LIMIT:
        return found[0]
    source = found[0].encode() if found else raw
    return "sha256:" + hashlib.sha256(source).hexdigest()


def _automatic(message: Message) -> str | None:
    auto = (_header(message, "Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _header(message, name) is not None:
            return name
    precedence = (_header(message, "Precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    return None


def _decoded(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _text(message: EmailMessage) -> str:
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    if body is None:
        return ""
    content = _decoded(body)
    if body.get_content_subtype() == "html":
        content = html_to_text(content, drop_quotes=True)
    return strip_quoted(content)


def parse_reply(raw: bytes, *, domain: str, ticket_prefix: str) -> Reply:
    """The reply in ``raw``; raises ``ReplyError`` when it is not a usable email."""
    if not raw.strip():
        raise ReplyError(400, "bad_request", "the request carries no email message")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise ReplyError(422, "invalid_message", "this is not an RFC 5322 email message")
    assert isinstance(message, EmailMessage)
    sender_name, sender_address = _sender(message)
    conversation_id = references.conversation_in_thread(
        _header(message, "In-Reply-To"), _header(message, "References"), domain
    )
    ticket = None
    if conversation_id is None:
        ticket = references.ticket_in_subject(_header(message, "Subject") or "", ticket_prefix)
    reply = Reply(
        event_id=_event_id(message, raw),
        sender_name=sender_name,
        sender_address=sender_address,
        conversation_id=conversation_id,
        ticket_id=ticket,
        text=_text(message),
        automatic=_automatic(message),
    )
    try:  # what the hub keeps must be storable text (no NUL, no undecodable bytes)
        check_strings((name, value) for name, value in asdict(reply).items() if value)
    except InputError as exc:
        raise ReplyError(400, exc.code, str(exc)) from None
    return reply


def text_to_html(text: str) -> str:
    """Plain text as simple HTML: paragraphs and line breaks, every character escaped."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(escape(line) for line in p.strip("\n").split("\n")) + "</p>"
        for p in paragraphs
    )
