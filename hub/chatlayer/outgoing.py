"""What of a conversation's event log goes back to Chatlayer, and in which words.

Chatlayer's side of the contract has bot messages and the end of the offload, nothing
more. So, of the envelopes of a Chatlayer conversation:

- an agent message (``displayChatbotMessage``) is sent as a text message (the agent's
  sanitised HTML as plain text; links kept as ``text (url)``), with the agent's file as an
  image or a link;
- a system message (``displaySystemMessage``: an agent joined or left, no agents, out of
  hours, a ticket, the idle warning, the chat closed) is sent as a text message in the
  integration's words (``texts``; "" sends nothing: ``queue-position`` by default);
- the end of the conversation (``setExternalInfo`` with status ``ended`` or ``ticket``)
  hands the session back to the bot;
- typing, ticks, the agent's name and icon, input control and the other state reports
  have no counterpart in Chatlayer's contract and are not sent.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from hub.chatlayer.settings import ChatlayerSettings
from hub.eventbus import Envelope

MESSAGE = "message"
NOTICE = "notice"
RESUME = "resume"
ENDED = ("ended", "ticket")
_BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            text = "".join(self.parts[start:]).strip()
            if href and href != text and not href.startswith("mailto:" + text):
                self.parts.append(f" ({href})" if text else href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Sanitised agent HTML as the plain text a Chatlayer text message shows."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def row_for(
    envelope: Envelope, integration: ChatlayerSettings
) -> tuple[str, dict[str, Any]] | None:
    """The outbox row (kind and payload) an envelope makes, or None when it makes none."""
    action = envelope.action
    if action == "displayChatbotMessage":
        data = json.loads(envelope.data_json)
        custom = data.get("custom") or {}
        payload: dict[str, Any] = {
            "text": html_to_text(str(data.get("message") or "")),
            "agentName": custom.get("agentName"),
        }
        media = data.get("media")
        if isinstance(media, dict):
            payload["media"] = {key: media.get(key) for key in ("id", "name", "contentType", "url")}
        return MESSAGE, payload
    if action == "displaySystemMessage":
        data = json.loads(envelope.data_json)
        label = str(data.get("message") or "")
        text = integration.text(label, data.get("replacements"))
        return (NOTICE, {"label": label, "text": text}) if text else None
    if action == "setExternalInfo":
        hub = json.loads(envelope.data_json).get("hub") or {}
        if hub.get("status") in ENDED:
            return RESUME, {"status": hub["status"], "reason": hub.get("reason")}
    return None


def agent_text(payload: dict[str, Any], integration: ChatlayerSettings) -> str:
    text = str(payload.get("text") or "")
    name = payload.get("agentName")
    if text and integration.show_agent_name and name:
        return f"{name}: {text}"
    return text
