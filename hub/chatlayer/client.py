"""Chatlayer's REST API, as the hub calls it: one class, so its calls change in one place.

What Chatlayer documents, and where (docs/chatlayer.md says the same for operators):

- Chatlayer's Offloading Webhook guide (docs.chatlayer.ai, "Offloading Webhook", section
  "Recipes > Sending messages as an agent"): *use the conversation actions API*
  (``https://api.chatlayer.ai/v1/docs/#operation/executeConversationAction``) *to send
  messages as an agent*. The offload's answer pauses the bot with ``"pauseBot": true``.
- Chatlayer's own example of an offloading webhook (github.com/chatlayerai/
  chatlayer-examples, ``offloading-webhook/index.js`` and ``messaging.js``) makes that call
  as ``POST {server}/v1/bots/{botId}/conversations/{sessionId}/actions?version={version}``
  with ``Authorization: Bearer <API token>`` and the body ``{"sendMessages": [message]}``,
  where a text message is ``{"textMessageTemplate": {"textMessages": [{"text": "..."}]}}``
  and an image ``{"attachmentTemplate": {"media": {"url": "...", "type": "image"}}}``. Its
  README gives the servers: ``https://api.chatlayer.ai`` (EU, the default here),
  ``https://api.prod.us-east4.gcp.chatlayer.ai`` (US), and
  ``https://api.prod.asia-south1.gcp.chatlayer.ai`` (Asia).
- Chatlayer's guides for its built-in providers (Genesys, Help Scout, #Interact): *when the
  agent closes the conversation, the bot will be resumed*; its Sinch Contact guide shows a
  bot reading the session variables ``internal.isPaused`` and ``internal.offload``.
- Chatlayer's (deprecated) Webhook Channel API: ``POST /api/webview`` with ``botId``,
  ``senderId``, ``session`` ``{namespace, data}`` and ``action`` ``{nextDialogstate}``
  ("Asynchronous actions").

Not documented anywhere public: how a Webhook offloading provider hands a paused session
back to the bot. So the hand-back is a setting (``hand_back``), one of the plausible
mechanisms (:func:`hand_back_call`):

- ``conversation-action`` (the default): the conversation actions call above with
  ``{"pauseBot": false}``: the documented API for offloading providers, and the key of the
  offload's own answer;
- ``dialogstate``: ``/api/webview`` with ``action.nextDialogstate`` (the integration's
  ``resume_dialogstate``);
- ``session-variables``: ``/api/webview`` with ``session`` setting ``internal.isPaused``
  and ``internal.offload`` to ``false``;
- ``none``: the hub sends nothing; the bot's own flow resumes it.

Every one of them needs checking on a real Chatlayer account. A hand-back that fails is
retried, then dead-lettered, logged and shown to admins (:mod:`hub.chatlayer.delivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from hub.chatlayer.history import Coordinates
from providers.signed_http import OutboundClient, bearer, encode

log = logging.getLogger(__name__)


def text_message(text: str) -> dict[str, Any]:
    return {"textMessageTemplate": {"textMessages": [{"text": text}]}}


def image_message(url: str) -> dict[str, Any]:
    return {"attachmentTemplate": {"media": {"url": url, "type": "image"}}}


def send_messages_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sendMessages": messages}


class ChatlayerApi:
    """Calls on one Chatlayer server with one API token. One call is one attempt: the
    outbox retries. Network failures, timeouts, 408/425/429 and 5xx are transient; 401/403
    mean the token is wrong; a redirect or another 4xx is a refusal; a server inside the
    hub's network is refused unless ``allow_private``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        http: Callable[[], aiohttp.ClientSession],
        *,
        timeout: float,
        allow_private: bool,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.allow_private = allow_private
        self._client = OutboundClient(
            http,
            authorize=bearer(lambda: token),
            timeout=timeout,
            allow_private=allow_private,
            logger=log,
            party="Chatlayer",
        )

    def actions_url(self, session: Coordinates) -> URL:
        base = URL(self.base_url)
        path = base.path.rstrip("/")
        return base.with_path(
            f"{path}/v1/bots/{session.chatlayer_bot_id}/conversations/{session.session_id}/actions",
            encoded=False,
        ).with_query(version=session.version)

    async def send_messages(self, session: Coordinates, messages: list[dict[str, Any]]) -> None:
        """Send ``messages`` to the session's user, as the bot (the agent's words)."""
        await self._post(self.actions_url(session), send_messages_body(messages))

    def webview_url(self) -> URL:
        base = URL(self.base_url)
        return base.with_path(base.path.rstrip("/") + "/api/webview", encoded=False)

    def hand_back_call(
        self, session: Coordinates, strategy: str, dialogstate: str | None
    ) -> tuple[URL, dict[str, Any]] | None:
        """The request that hands the session back to the bot, by ``strategy`` (see
        above); None for ``none``."""
        if strategy == "conversation-action":
            return self.actions_url(session), {"pauseBot": False}
        webview = {"botId": session.chatlayer_bot_id, "senderId": session.session_id}
        if strategy == "dialogstate":
            return self.webview_url(), {**webview, "action": {"nextDialogstate": dialogstate}}
        if strategy == "session-variables":
            data = {"isPaused": False, "offload": False}
            session_data = {"namespace": "internal", "data": data}
            return self.webview_url(), {**webview, "session": session_data}
        if strategy == "none":
            return None
        raise ValueError(f"unknown hand-back strategy {strategy!r}")

    async def hand_back(
        self, session: Coordinates, *, strategy: str, dialogstate: str | None = None
    ) -> None:
        """Hand the session back to the bot (Chatlayer unpauses it), as configured."""
        call = self.hand_back_call(session, strategy, dialogstate)
        if call is not None:
            await self._post(*call)

    async def _post(self, url: URL, body: dict[str, Any]) -> None:
        answer = await self._client.call(
            "POST", url, encode(body), {"Content-Type": "application/json"}
        )
        answer.raise_for_status()
