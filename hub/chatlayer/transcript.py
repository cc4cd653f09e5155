"""Chatlayer's messages as the hub's transcript items (``getConversationTranscript``).

Every structure of Chatlayer's Offloading Webhook documentation becomes plain text an
agent can read: the bot's text, quick replies (``Options: A | B``), generic (carousel) and
button templates (titles, subtitles, buttons with their links) and media attachments; the
user's ``text``, ``postback`` (the option's title), ``fileUploadInputResult`` (the file's
link), ``location`` (the coordinates) and ``intro`` (the user opened the chat: no item).
Anything else is named in brackets, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One message as Chatlayer sent it, with the key it is kept under."""

    actor: str
    message: dict[str, Any]
    timestamp: str | None
    key: str

    @classmethod
    def of(cls, actor: str, message: dict[str, Any], timestamp: str | None) -> HistoryItem:
        moment = timestamp or _text(message.get("timestamp"))
        return cls(actor, message, moment, key_of(actor, message, moment))


def key_of(actor: str, message: Mapping[str, Any], timestamp: str | None) -> str:
    """Chatlayer's id of a user message; otherwise a hash of who, when and what."""
    message_id = message.get("id")
    if actor == "user" and isinstance(message_id, str) and 0 < len(message_id) <= 60:
        return f"u:{message_id}"
    canonical = json.dumps([actor, timestamp, message], sort_keys=True, separators=(",", ":"))
    return "h:" + hashlib.sha256(canonical.encode()).hexdigest()[:60]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _titles(choices: Any) -> list[str]:
    if not isinstance(choices, list):
        return []
    return [title for choice in choices if (title := _text(_get(choice, "title")))]


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _button(button: Any) -> str | None:
    title = _text(_get(button, "title"))
    url = _text(_get(button, "url"))
    if title and url:
        return f"{title} ({url})"
    return title or url


def _buttons(buttons: Any) -> str | None:
    if not isinstance(buttons, list):
        return None
    shown = [text for button in buttons if (text := _button(button))]
    return "Buttons: " + " | ".join(shown) if shown else None


def _template(payload: Mapping[str, Any]) -> str:
    kind = _text(payload.get("template_type")) or "template"
    lines: list[str] = []
    if text := _text(payload.get("text")):
        lines.append(text)
    elements = payload.get("elements")
    if isinstance(elements, list):
        for element in elements:
            title = _text(_get(element, "title")) or "(untitled)"
            subtitle = _text(_get(element, "subtitle"))
            lines.append(f"- {title}: {subtitle}" if subtitle else f"- {title}")
            if buttons := _buttons(_get(element, "buttons")):
                lines.append(f"  {buttons}")
    if buttons := _buttons(payload.get("buttons")):
        lines.append(buttons)
    return "\n".join(lines) if lines else f"[{kind} template]"


def bot_text(message: Mapping[str, Any]) -> tuple[str, str]:
    """A bot message as text, and what kind of message it was."""
    attachment = message.get("attachment")
    if isinstance(attachment, Mapping):
        kind = _text(attachment.get("type")) or "attachment"
        payload = attachment.get("payload")
        payload = payload if isinstance(payload, Mapping) else {}
        if kind == "template":
            return _template(payload), _text(payload.get("template_type")) or "template"
        url = _text(payload.get("url"))
        return (f"[{kind}] {url}" if url else f"[{kind}]"), kind
    text = _text(message.get("text")) or ""
    options = _titles(message.get("quick_replies"))
    if options:
        return (f"{text}\nOptions: " if text else "Options: ") + " | ".join(options), "quickReplies"
    if text:
        return text, "text"
    return "[message]", "unknown"


def user_text(message: Mapping[str, Any]) -> tuple[str, str]:
    """A user message as text ("" for one that says nothing: ``intro``), and its kind."""
    kind = _text(message.get("messageType")) or ("text" if "text" in message else "unknown")
    if kind == "intro":
        return "", kind
    if kind == "postback":
        return _text(message.get("title")) or _text(message.get("text")) or "[postback]", kind
    if kind == "fileUploadInputResult":
        urls = [url for url in message.get("urls") or [] if _text(url)]
        if not urls and (url := _text(_get(message.get("data"), "fileUrl"))):
            urls = [url]
        return ("Sent a file: " + " ".join(urls)) if urls else "[file upload]", kind
    if kind == "location":
        coordinates = message.get("coordinates")
        lat, long = _get(coordinates, "lat"), _get(coordinates, "long")
        if isinstance(lat, int | float) and isinstance(long, int | float):
            return f"Shared a location: {lat}, {long}", kind
        return "[location]", kind
    if text := _text(message.get("text")):
        return text, kind
    return f"[{kind}]", kind


def render(item: HistoryItem) -> tuple[str, str]:
    if item.actor == "user":
        return user_text(item.message)
    return bot_text(item.message)


def transcript_item(item: HistoryItem, *, max_chars: int) -> dict[str, Any] | None:
    """The item in the SDK's transcript shape, or None when it says nothing."""
    text, kind = render(item)
    if not text:
        return None
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    result: dict[str, Any] = {
        "user": "guest" if item.actor == "user" else "assistant",
        "message": text,
        "kind": kind,
    }
    if item.timestamp:
        result["datetime"] = item.timestamp
    message_id = item.message.get("id")
    if item.actor == "user" and isinstance(message_id, str) and 0 < len(message_id) <= 100:
        result["id"] = message_id
    return result


EARLIEST = datetime.min.replace(tzinfo=UTC)


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def build_transcript(
    items: Iterable[HistoryItem], *, max_chars: int, max_items: int
) -> list[dict[str, Any]]:
    """The kept history and the offload's own transcript as one transcript: each message
    once (the same message may come in both), in time order, the last ``max_items``."""
    seen: set[tuple[str, str | None, str]] = set()
    converted: list[dict[str, Any]] = []
    for item in items:
        entry = transcript_item(item, max_chars=max_chars)
        if entry is None:
            continue
        identity = (entry["user"], entry.get("datetime"), entry["message"])
        if identity in seen:
            continue
        seen.add(identity)
        converted.append(entry)
    # An item without a readable time keeps its place after the one before it.
    keyed: list[tuple[datetime, int, dict[str, Any]]] = []
    previous = EARLIEST
    for index, entry in enumerate(converted):
        previous = _moment(entry.get("datetime")) or previous
        keyed.append((previous, index, entry))
    keyed.sort(key=lambda k: (k[0], k[1]))
    ordered = [entry for _, _, entry in keyed]
    return ordered[-max_items:] if max_items else []


def sender_of(items: Iterable[HistoryItem]) -> dict[str, Any]:
    """What the users' ``sender`` fields say, the later ones over the earlier (the intro
    has the name and language, later messages often only the id)."""
    found: dict[str, Any] = {}
    for item in items:
        sender = item.message.get("sender") if item.actor == "user" else None
        if isinstance(sender, Mapping):
            found.update({key: value for key, value in sender.items() if value not in (None, "")})
    return found


def channel_of(items: Iterable[HistoryItem]) -> str | None:
    found = None
    for item in items:
        if item.actor == "user" and (channel := _text(item.message.get("channelType"))):
            found = channel
    return found


def last_user_text(transcript: Iterable[Mapping[str, Any]]) -> str:
    """What the user last typed or chose in a built transcript, for the inquiry."""
    last = ""
    for entry in transcript:
        if entry["user"] == "guest" and entry.get("kind") in ("text", "postback"):
            last = entry["message"]
    return last
