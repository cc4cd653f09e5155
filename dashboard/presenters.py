"""Turning hub records into what the dashboard shows: the same dicts feed the templates
and the script's JSON, so a row looks the same whether the page or the script drew it.

Customer and bot content stays text here (the templates escape it, the script only sets
``textContent``); agent HTML is the nh3-cleaned HTML the hub stored, cleaned once more.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import nh3
from aiohttp import web
from markupsafe import Markup

from hub.clock import iso
from hub.security.sanitize import clean_html
from hub.store.inbox import InboxItem
from hub.store.ratings import score
from hub.store.tickets import TicketItem

_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)


def link(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


def user_name(user: Mapping[str, Any]) -> str:
    parts = [str(user.get(key) or "").strip() for key in ("name", "lastName")]
    name = " ".join(part for part in parts if part)
    return name or str(user.get("email") or "").strip() or "Anonymous user"


def duration(seconds: float | None) -> str:
    """A wait as people say it: "40 s", "3 min", "1 h 5 min", "2 d"."""
    if seconds is None:
        return "\u2014"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def text_to_html(text: str) -> str:
    """What an agent typed (plain text) as the HTML the chatbot shows."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))


def html_to_text(markup: str) -> str:
    """Stored agent HTML as plain text (for the script, which never inserts HTML)."""
    stripped = nh3.clean(_BREAK.sub("\n", markup), tags=set())
    return html.unescape(stripped)


def agent_html(markup: str) -> Markup:
    """Agent HTML for a page: the hub stored it cleaned; clean it again on the way out."""
    return Markup(clean_html(markup))  # allow-list sanitised by nh3


def inbox_row(
    request: web.Request, item: InboxItem, *, me: str, names: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    offered = ""
    if item.offered_to == me:
        offered = "Offered to you"
    elif item.offered_to is not None:
        offered = f"Offered to {names.get(item.offered_to, 'another agent')}"
    return {
        "id": item.id,
        "url": link(request, "conversation", conversation_id=item.id),
        "accept_url": link(request, "accept", conversation_id=item.id),
        "user": user_name(item.user),
        "inquiry": item.inquiry,
        "language": item.language or "\u2014",
        "queue": item.queue,
        "since": iso(item.since),
        "waited": duration((now - item.since).total_seconds()),
        "offer": offered,
        "offered_to_me": item.offered_to == me,
        "unread": item.unread,
        "unread_label": f"{item.unread} unread" if item.unread else "",
        "status": item.status,
        "end_reason": item.end_reason or "",
        "rating": rating_label(item.rating) if item.rating is not None else "",
    }


def rating_label(value: str) -> str:
    """A user's rating as agents read it: "4 of 5", "Yes", or the value as it came."""
    scored = score(value)
    if isinstance(scored, bool):
        return "Yes (positive)" if scored else "No (negative)"
    if scored is not None and 1 <= scored <= 5:
        return f"{value.strip()} of 5"
    return value


def rating_of(value: str | None, comment: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"value": value, "label": rating_label(value), "comment": comment or ""}


def ticket_row(request: web.Request, item: TicketItem) -> dict[str, Any]:
    """A ticket as the ticket list shows it: answered once a reply came back."""
    replies = item.replies
    return {
        "id": item.id,
        "url": link(request, "conversation", conversation_id=item.id),
        "ticket_id": item.ticket_id,
        "user": user_name(item.user),
        "email": str(item.user.get("email") or ""),
        "inquiry": item.inquiry,
        "queue": item.queue,
        "created": iso(item.created_at),
        "status": "answered" if replies else "waiting",
        "status_label": "Answered" if replies else "Waiting for a reply",
        "replies": replies,
        "replies_label": f"{replies} {'reply' if replies == 1 else 'replies'}",
        "last_reply": iso(item.last_reply_at) if item.last_reply_at else "",
    }


def _media(request: web.Request, row: Mapping[str, Any]) -> dict[str, Any] | None:
    if row.get("media_id") is None:
        return None
    return {
        "id": row["media_id"],
        "name": row.get("media_name") or "file",
        "size": row.get("media_size") or 0,
        "size_label": file_size(row.get("media_size") or 0),
        "url": link(request, "media", media_id=row["media_id"]),
    }


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def messages(
    request: web.Request, rows: Iterable[Mapping[str, Any]], *, read_up_to: str | None
) -> list[dict[str, Any]]:
    """The live chat, both sides; the agent's messages carry their tick (delivered, read)."""
    rows = list(rows)
    read_seq = next((row["seq"] for row in rows if row["id"] == read_up_to), None)
    shown = []
    for row in rows:
        message: dict[str, Any] = {
            "id": row["id"],
            "author": row["author"],
            "at": iso(row["created_at"]),
            "media": _media(request, row),
        }
        if row["author"] == "agent":
            read = read_seq is not None and row["seq"] <= read_seq
            message |= {
                "agent_name": row.get("agent_name") or "Agent",
                "html": agent_html(row["body"]),
                "text": html_to_text(row["body"]),
                "tick": "read" if read else "delivered",
            }
        else:
            message |= {"text": row["body"], "read": row["status"] == "read"}
        shown.append(message)
    return shown


def as_json(message: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "html"}


def transcript(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The bot's history: who said it, what, when. The bot's answers are HTML (the SDK
    shows them so), rendered through the allow-list; the user's lines stay text."""
    lines = []
    for item in items:
        who = "user" if item.get("user") == "guest" else "bot"
        message = str(item.get("message", ""))
        lines.append(
            {
                "who": who,
                "message": message,
                "html": Markup(clean_html(message)) if who == "bot" else None,
                "datetime": str(item.get("datetime") or ""),
            }
        )
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def details(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A free-form mapping (escalation data, user extras) as (key, text) pairs."""
    return [(str(key), _shown(value)) for key, value in values.items()]


def user_details(user: Mapping[str, Any]) -> list[tuple[str, str]]:
    shown = [
        (label, str(user[key]))
        for key, label in (
            ("name", "Name"),
            ("lastName", "Last name"),
            ("email", "Email address"),
            ("language", "Language"),
        )
        if user.get(key)
    ]
    return shown + details(user.get("extra") or {})
