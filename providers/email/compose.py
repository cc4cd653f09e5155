"""The emails this adapter sends: the ticket, the user's confirmation, follow-ups, the
closing note. Each has a plain-text part and an HTML part; in the HTML part everything the
customer or the bot wrote is escaped, so nothing they typed is ever markup in an inbox."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any

from providers import Closing, Handoff, OutboundMessage, TranscriptItem
from providers.email import references
from providers.email.config import EmailConfig, mailbox
from providers.email.html_text import html_to_text, looks_like_html
from providers.email.quotes import REPLY_MARKER

_INQUIRY_IN_SUBJECT = 80


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An email and its envelope recipients."""

    message: EmailMessage
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Thread:
    """What the follow-ups of a ticket need to know about it (kept in memory)."""

    conversation_id: str
    ticket_id: str
    subject: str
    user_name: str
    user_address: str | None


def one_line(text: str, limit: int | None = None) -> str:
    line = " ".join(text.split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def address(name: str | None, addr_spec: str | None) -> Address | None:
    """A header address, or None when ``addr_spec`` is not a usable address."""
    if not addr_spec:
        return None
    try:
        _, checked = mailbox(addr_spec)
        return Address(display_name=one_line(name or "", 200), addr_spec=checked)
    except (ValueError, IndexError):
        return None


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _transcript_line(item: TranscriptItem) -> tuple[str, str, str]:
    """(time, speaker, text) of a transcript item; a bot's HTML answer is read as text."""
    speaker = "Customer" if item.user == "guest" else "Bot"
    text = item.message
    if item.user == "assistant" and looks_like_html(text):
        text = html_to_text(text)
    return item.datetime or "", speaker, text


class Composer:
    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        name, addr = mailbox(config.from_address)
        self.sender = Address(display_name=name, addr_spec=addr)
        self.envelope_from = addr
        support_name, support_addr = mailbox(config.support_address)
        self.support = Address(display_name=support_name, addr_spec=support_addr)
        self.inbound: Address | None = None
        if config.reply_to is not None:
            inbound_name, inbound_addr = mailbox(config.reply_to)
            self.inbound = Address(display_name=inbound_name, addr_spec=inbound_addr)
        self.domain = config.domain
        self.replies_come_back = config.inbound_secret is not None and self.inbound is not None

    @property
    def reply_to_user(self) -> bool:
        configured = self.config.reply_to_user
        return configured if configured is not None else self.config.mode == "ticket"

    # -- the pieces every email shares ------------------------------------------------------

    def _message(
        self,
        *,
        to: Iterable[Address],
        subject: str,
        kind: str,
        conversation_id: str,
        ticket_id: str,
        item: str | None = None,
        reply_to: Iterable[Address] = (),
        in_thread: bool = False,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = tuple(to)
        reply_to = tuple(reply_to)
        if reply_to:
            message["Reply-To"] = reply_to
        message["Subject"] = one_line(subject, 250)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = references.message_id(kind, conversation_id, self.domain, item)
        if in_thread:
            ticket = references.message_id("ticket", conversation_id, self.domain)
            message["In-Reply-To"] = ticket
            message["References"] = ticket
        message["X-Offload-Conversation"] = conversation_id
        message["X-Offload-Ticket"] = ticket_id
        return message

    def _ticket_reply_to(self, user: Address | None) -> list[Address]:
        """Who an agent's reply goes to: the inbound address (the hub records it) and,
        when configured, the customer (who then reads the answer in their inbox)."""
        targets = [self.inbound] if self.inbound is not None else []
        if user is not None and self.reply_to_user:
            targets.append(user)
        return targets

    def _outgoing(
        self, message: EmailMessage, text: str, html: str, *, language: str | None = None
    ) -> Outgoing:
        message.set_content(text)  # (this drops any Content-* header set before)
        message.add_alternative(html, subtype="html")
        if language:
            message["Content-Language"] = one_line(language, 35)
        recipients = tuple(a.addr_spec for a in message["To"].addresses)
        return Outgoing(message, recipients)

    def _marker(self) -> tuple[list[str], str]:
        if not self.replies_come_back:
            return [], ""
        return [REPLY_MARKER, ""], f'<p style="color:#888">{escape(REPLY_MARKER)}</p>\n'

    # -- the ticket ---------------------------------------------------------------------------

    def subject(self, handoff: Handoff, ticket_id: str) -> str:
        user = handoff.user
        return self.config.subject_template.format(
            ticket_id=ticket_id,
            inquiry=one_line(handoff.inquiry, _INQUIRY_IN_SUBJECT),
            user_name=one_line(user.display_name, 100),
            user_email=user.email or "",
            language=user.language or "",
            queue=handoff.queue,
            conversation_id=handoff.conversation_id,
        )

    def thread(self, handoff: Handoff, ticket_id: str) -> Thread:
        user = address(handoff.user.display_name, handoff.user.email)
        return Thread(
            conversation_id=handoff.conversation_id,
            ticket_id=ticket_id,
            subject=one_line(self.subject(handoff, ticket_id), 250),
            user_name=handoff.user.display_name,
            user_address=None if user is None else user.addr_spec,
        )

    def ticket(self, handoff: Handoff, thread: Thread) -> Outgoing:
        user = handoff.user
        customer = address(user.display_name, user.email)
        message = self._message(
            to=[self.support],
            subject=thread.subject,
            kind="ticket",
            conversation_id=handoff.conversation_id,
            ticket_id=thread.ticket_id,
            reply_to=self._ticket_reply_to(customer),
        )
        if user.language:
            message["X-Offload-Language"] = one_line(user.language, 35)
        chat = self.config.mode == "chat"
        title = (
            f"{user.display_name} is waiting in the chat ({thread.ticket_id})"
            if chat
            else f"New request {thread.ticket_id} from {user.display_name}"
        )
        facts = [
            ("Customer", str(customer) if customer is not None else user.display_name),
            ("Language", user.language or "unknown"),
            ("Queue", handoff.queue),
            ("Received", _when(handoff.created_at)),
            ("Conversation", handoff.conversation_id),
        ]
        howto = self._howto(customer, chat=chat)
        transcript = [_transcript_line(item) for item in handoff.transcript]
        marker_text, marker_html = self._marker()

        text = [*marker_text, title, ""]
        text += [f"{label}: {value}" for label, value in facts]
        text += ["", *_section("Inquiry"), handoff.inquiry]
        text += _mapping_text("Customer details", user.extra)
        text += _mapping_text("Escalation data", handoff.data)
        text += ["", *_section("Conversation with the bot")]
        text += [
            f"[{at}] {who}: {said}" if at else f"{who}: {said}" for at, who, said in transcript
        ]
        if not transcript:
            text.append("(no messages)")
        text += ["", howto]

        html = [_HTML_HEAD, marker_html, f"<h2>{escape(title)}</h2>\n", _table(facts)]
        html.append(f"<h3>Inquiry</h3>\n<p{_PRE}>{escape(handoff.inquiry)}</p>\n")
        html.append(_mapping_html("Customer details", user.extra))
        html.append(_mapping_html("Escalation data", handoff.data))
        html.append("<h3>Conversation with the bot</h3>\n")
        if transcript:
            rows = "".join(
                f"<tr><td{_MUTED}>{escape(at)}</td><td><b>{escape(who)}</b></td>"
                f"<td{_PRE}>{escape(said)}</td></tr>\n"
                for at, who, said in transcript
            )
            html.append(f"<table>\n{rows}</table>\n")
        else:
            html.append("<p>(no messages)</p>\n")
        html.append(f"<p{_MUTED}>{escape(howto)}</p>\n{_HTML_TAIL}")
        return self._outgoing(message, "\n".join(text) + "\n", "".join(html))

    def _howto(self, customer: Address | None, *, chat: bool) -> str:
        to_user = customer is not None and self.reply_to_user
        if chat and self.replies_come_back:
            return "Reply to this email: the customer sees your answer in the chat."
        if self.replies_come_back and to_user:
            return (
                "Reply to this email: your answer goes to the customer and is recorded "
                "on the conversation."
            )
        if self.replies_come_back:
            return "Reply to this email: your answer is recorded on the conversation."
        if to_user:
            return "Reply to this email to answer the customer."
        return "The customer left no email address." if customer is None else ""

    # -- the user's confirmation ----------------------------------------------------------------

    def confirmation(self, handoff: Handoff, thread: Thread) -> Outgoing | None:
        user = handoff.user
        customer = address(user.display_name, user.email)
        if customer is None:
            return None
        subject = self.config.confirmation_subject_template.format(
            ticket_id=thread.ticket_id,
            inquiry=one_line(handoff.inquiry, _INQUIRY_IN_SUBJECT),
            user_name=one_line(user.display_name, 100),
            user_email=customer.addr_spec,
            language=user.language or "",
            queue=handoff.queue,
            conversation_id=handoff.conversation_id,
        )
        message = self._message(
            to=[customer],
            subject=subject,
            kind="confirm",
            conversation_id=handoff.conversation_id,
            ticket_id=thread.ticket_id,
            reply_to=[self.support],
        )
        # RFC 3834: automatic; auto-responders must not answer it.
        message["Auto-Submitted"] = "auto-generated"
        greeting = f"Hello {user.name}," if user.name else "Hello,"
        lines = [
            greeting,
            "",
            "We received your request and a member of our team will get back to you "
            "as soon as possible.",
            f"Your ticket number is {thread.ticket_id}.",
            "",
            "Your request:",
            handoff.inquiry,
        ]
        html = (
            f"{_HTML_HEAD}<p>{escape(greeting)}</p>\n"
            f"<p>{escape(lines[2])}<br>\n{escape(lines[3])}</p>\n"
            f"<p>Your request:</p>\n<p{_PRE}>{escape(handoff.inquiry)}</p>\n{_HTML_TAIL}"
        )
        return self._outgoing(message, "\n".join(lines) + "\n", html, language=user.language)

    # -- in the ticket's thread -----------------------------------------------------------------

    def follow_up(self, message: OutboundMessage, thread: Thread) -> Outgoing:
        email = self._message(
            to=[self.support],
            subject=_re(thread.subject),
            kind="msg",
            conversation_id=thread.conversation_id,
            ticket_id=thread.ticket_id,
            item=message.id,
            reply_to=self._ticket_reply_to(address(thread.user_name, thread.user_address)),
            in_thread=True,
        )
        email["X-Offload-Message"] = message.id
        marker_text, marker_html = self._marker()
        intro = f"{thread.user_name} wrote at {_when(message.sent_at)}:"
        text = [*marker_text, intro, "", message.text]
        html = (
            f"{_HTML_HEAD}{marker_html}<p>{escape(intro)}</p>\n"
            f"<p{_PRE}>{escape(message.text)}</p>\n"
        )
        if message.media is not None:
            note = f"(with a file: {message.media.name}, {message.media.content_type})"
            text += ["", note]
            html += f"<p{_MUTED}>{escape(note)}</p>\n"
        return self._outgoing(email, "\n".join(text) + "\n", html + _HTML_TAIL)

    def closing_note(self, closing: Closing, thread: Thread) -> Outgoing:
        email = self._message(
            to=[self.support],
            subject=_re(thread.subject),
            kind="close",
            conversation_id=thread.conversation_id,
            ticket_id=thread.ticket_id,
            in_thread=True,
        )
        note = (
            f"The chat with {thread.user_name} has ended ({closing.reason}, by the "
            f"{closing.by}). Replies to this thread no longer reach the chat."
        )
        return self._outgoing(
            email, note + "\n", f"{_HTML_HEAD}<p>{escape(note)}</p>\n{_HTML_TAIL}"
        )


def fallback_thread(conversation_id: str, ticket_id: str) -> Thread:
    """A ticket this process did not open (it restarted since): the same thread ids."""
    return Thread(
        conversation_id=conversation_id,
        ticket_id=ticket_id,
        subject=f"{references.subject_tag(ticket_id)} Conversation {conversation_id}",
        user_name="The customer",
        user_address=None,
    )


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _section(title: str) -> list[str]:
    return [title, "-" * len(title)]


def _mapping_text(title: str, values: Mapping[str, Any]) -> list[str]:
    if not values:
        return []
    return ["", *_section(title), *(f"{key}: {_value(value)}" for key, value in values.items())]


_PRE = ' style="white-space:pre-wrap;margin:0"'
_MUTED = ' style="color:#666"'
_HTML_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
    '<body style="font-family:sans-serif">\n'
)
_HTML_TAIL = "</body></html>\n"


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(str(label))}</th>'
        f"<td{_PRE}>{escape(_value(value))}</td></tr>\n"
        for label, value in rows
    )
    return f"<table>\n{cells}</table>\n"


def _mapping_html(title: str, values: Mapping[str, Any]) -> str:
    if not values:
        return ""
    return f"<h3>{escape(title)}</h3>\n{_table(values.items())}"
