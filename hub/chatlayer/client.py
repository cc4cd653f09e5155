"""Chatlayer's REST API, as the hub calls it: one class, so its calls change in one place.

What Chatlayer documents, and where:

- Chatlayer's Offloading Webhook guide (docs.chatlayer.ai, "Offloading Webhook", section
  "Recipes > Sending messages as an agent"): *use the conversation actions API*
  (``https://api.chatlayer.ai/v1/docs/#operation/executeConversationAction``) *to send
  messages as an agent*.
- Chatlayer's own example of an offloading webhook (github.com/chatlayerai/
  chatlayer-examples, ``offloading-webhook/index.js`` and ``messaging.js``) makes that call
  as ``POST {server}/v1/bots/{botId}/conversations/{sessionId}/actions?version={version}``
  with ``Authorization: Bearer <API token>`` and the body ``{"sendMessages": [message]}``,
  where a text message is ``{"textMessageTemplate": {"textMessages": [{"text": "..."}]}}``
  and an image ``{"attachmentTemplate": {"media": {"url": "...", "type": "image"}}}``. Its
  README gives the servers: ``https://api.chatlayer.ai`` (EU, the default here),
  ``https://api.prod.us-east4.gcp.chatlayer.ai`` (US), and
  ``https://api.prod.asia-south1.gcp.chatlayer.ai`` (Asia).
- Chatlayer's "Human handover & live chat" guide: once the agent platform accepts an
  offload *Chatlayer will pause the session*, and *when the agent sends the customer back
  to Chatlayer, the session will get unpaused and the bot will start the conversation
  again*.

What is **not** documented where the hub could read it: the body of the conversation
action that sends the customer back. The API reference page (api.chatlayer.ai/v1/docs)
could not be retrieved, so :meth:`ChatlayerApi.resume` is a design, following the words of
the offload's own answer: the hub answered ``"pauseBot": true`` when it took the chat, and
resumes with the same conversation action carrying ``"pauseBot": false`` (and, when the
integration names one, ``"action": {"nextDialogstate": "<id>"}``, the field Chatlayer's
API plugin uses to send a user to a dialog state). Check it against your Chatlayer
account's API reference; :func:`resume_body` is the only place to change.
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


def resume_body(dialogstate: str | None) -> dict[str, Any]:
    """The conversation action that hands the session back to the bot (see above)."""
    body: dict[str, Any] = {"pauseBot": False}
    if dialogstate is not None:
        body["action"] = {"nextDialogstate": dialogstate}
    return body


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

    async def resume(self, session: Coordinates, *, dialogstate: str | None = None) -> None:
        """Hand the session back to the bot (Chatlayer unpauses it)."""
        await self._post(self.actions_url(session), resume_body(dialogstate))

    async def _post(self, url: URL, body: dict[str, Any]) -> None:
        answer = await self._client.call(
            "POST", url, encode(body), {"Content-Type": "application/json"}
        )
        answer.raise_for_status()
