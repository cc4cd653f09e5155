"""Ticket ids, Message-IDs and subject tags: all derived from the conversation id.

Nothing here needs memory, so a reply is matched to its conversation even after a
restart. A hub conversation id (``c_`` and lower-case letters and digits) reads back from
its ticket id (``c_ab12...`` is ticket ``T-AB12...``); any other id gets a hashed ticket
id, which only the process that made it can map back (threading by Message-ID still works).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

MessageKind = str  # "ticket", "confirm", "msg" (a follow-up: item = the message id), "close"

_HUB_ID = re.compile(r"^c_([a-z0-9]{1,32})$")
_TICKET_BODY = re.compile(r"^[A-Z0-9]{1,32}$")
_PLAIN_PART = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_OURS = re.compile(
    r"^offload\.(?P<conversation>[A-Za-z0-9_-]+)\.(?P<kind>ticket|confirm|msg|close)"
    r"(?:\.(?P<item>[A-Za-z0-9_-]+))?$"
)
_ANGLE = re.compile(r"<([^<>\s]+)>")


def ticket_id(conversation_id: str, prefix: str) -> str:
    """The ticket id the user is shown for a conversation (stable, readable on the phone)."""
    match = _HUB_ID.match(conversation_id)
    if match:
        return f"{prefix}-{match.group(1).upper()}"
    digest = hashlib.sha256(conversation_id.encode()).digest()
    return f"{prefix}-X-{base64.b32encode(digest).decode('ascii')[:16]}"


def conversation_of_ticket(ticket: str, prefix: str) -> str | None:
    """The conversation id a ticket id was made from, when it can be read back."""
    if not ticket.startswith(prefix + "-"):
        return None
    body = ticket[len(prefix) + 1 :]
    return "c_" + body.lower() if _TICKET_BODY.match(body) else None


def subject_tag(ticket: str) -> str:
    return f"[{ticket}]"


def ticket_in_subject(subject: str, prefix: str) -> str | None:
    """The ticket id of this instance's prefix in a subject line (a ``[T-...]`` tag first)."""
    code = re.escape(prefix) + r"-(?:X-)?[A-Z0-9]{1,32}"
    for pattern in (rf"\[({code})\]", rf"(?<![A-Za-z0-9-])({code})(?![A-Za-z0-9-])"):
        match = re.search(pattern, subject)
        if match:
            return match.group(1)
    return None


def _encode(part: str) -> str:
    """A Message-ID piece: kept as is when it is a plain word, else hex (marked by '-')."""
    return part if _PLAIN_PART.match(part) else "-" + part.encode().hex()


def _decode(part: str) -> str | None:
    if not part.startswith("-"):
        return part
    try:
        return bytes.fromhex(part[1:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def message_id(
    kind: MessageKind, conversation_id: str, domain: str, item: str | None = None
) -> str:
    """The Message-ID of one of the emails this adapter sends about a conversation."""
    local = f"offload.{_encode(conversation_id)}.{kind}"
    if item is not None:
        local += "." + _encode(item)
    return f"<{local}@{domain}>"


def message_ids(header: str | None) -> list[str]:
    """The ``<...>`` ids in an In-Reply-To or References header, in order."""
    return [f"<{found}>" for found in _ANGLE.findall(header or "")]


def conversation_of_message_id(value: str, domain: str) -> str | None:
    """The conversation id inside one of our Message-IDs (of this domain), else None."""
    value = value.strip().removeprefix("<").removesuffix(">")
    local, at, right = value.rpartition("@")
    if not at or right.lower() != domain.lower():
        return None
    match = _OURS.match(local)
    return _decode(match.group("conversation")) if match else None


def conversation_in_thread(
    in_reply_to: str | None, references: str | None, domain: str
) -> str | None:
    """The conversation a reply belongs to, from the ids it answers (the newest first)."""
    candidates: Iterable[str] = [*message_ids(in_reply_to), *reversed(message_ids(references))]
    for candidate in candidates:
        conversation_id = conversation_of_message_id(candidate, domain)
        if conversation_id:
            return conversation_id
    return None
