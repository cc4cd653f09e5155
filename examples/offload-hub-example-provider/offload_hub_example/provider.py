"""Tinychat: an example offload-hub provider adapter (docs/providers.md walks through it).

Tinychat is a small HTTP chat service where human agents answer. The hub calls it with
JSON and a bearer token; Tinychat calls the hub back with signed events:

    GET    {api_url}/status?queue=Q                 -> {"open": true, "agents": 2, "wait": 30}
    PUT    {api_url}/chats/{conversation}            -> {"chat": "tc-1", "position": 1, "wait": 30}
    PUT    {api_url}/chats/{chat}/messages/{message}
    PUT    {api_url}/chats/{chat}/typing             {"typing": true}
    DELETE {api_url}/chats/{chat}
    POST   {callback}  (the hub's /providers/{instance}/events, signed with Hub-Signature)
           {"id": "ev-1", "conversation": "c_...", "type": "joined" | "message" | "typing"
            | "closed", "agent": {"id": "a1", "name": "Ana", "avatar": null}, "text": "",
            "typing": false}

The hub's ids are Tinychat's keys (a PUT of the same conversation or message id changes
nothing), which makes ``open`` and ``deliver`` idempotent without any state here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp
from aiohttp import web
from providers import (
    Agent,
    Availability,
    AvailabilityRequest,
    Capability,
    Closing,
    ConversationEnded,
    ConversationRef,
    Handoff,
    Health,
    Opened,
    OutboundMessage,
    Provider,
    ProviderAuthError,
    ProviderConfig,
    ProviderContext,
    ProviderError,
    ProviderRefused,
    ProviderTransientError,
    ProviderUnavailable,
    UnknownConversation,
)
from providers.net import ForbiddenAddress, check_literal, resolve
from providers.signing import SIGNATURE_HEADER, SignatureError, verify
from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator


class TinychatConfig(ProviderConfig):
    """The ``[providers.<name>]`` table of a ``type = "tinychat"`` instance."""

    api_url: str  # Tinychat's API, e.g. "https://tinychat.example/api"
    api_token: SecretStr  # sent as "Authorization: Bearer ..."
    callback_secret: SecretStr  # Tinychat signs the events it posts back with it
    allow_private_network: bool = False  # a Tinychat inside your own network
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _public_api_url(self) -> TinychatConfig:
        check_literal(self.api_url, allow_private=self.allow_private_network)
        return self


class TinychatProvider(Provider):
    name = "tinychat"
    title = "Tinychat (the example adapter of docs/providers.md)"
    config_model = TinychatConfig
    capabilities = frozenset({Capability.USER_TYPING})

    def __init__(self, instance: str, config: TinychatConfig, context: ProviderContext) -> None:
        super().__init__(instance, config, context)
        self.config: TinychatConfig = config

    # -- the hub's calls -----------------------------------------------------------------------

    async def check(self) -> Health:
        try:
            await self._call("GET", "/status")
        except ProviderError as exc:
            return Health(False, str(exc))
        return Health(True)

    async def availability(self, request: AvailabilityRequest) -> Availability:
        status = await self._call("GET", "/status", params={"queue": request.queue})
        agents = int(status.get("agents", 0))
        if not status.get("open", False):
            return Availability(open=False, reason="closed", agents_online=agents)
        if agents == 0:
            return Availability(open=False, reason="no-agents", agents_online=0)
        return Availability(open=True, agents_online=agents, estimated_wait=status.get("wait"))

    async def open(self, handoff: Handoff) -> Opened:
        chat = await self._call(
            "PUT",
            f"/chats/{handoff.conversation_id}",
            {
                "queue": handoff.queue,
                "user": {"name": handoff.user.display_name, "email": handoff.user.email},
                "inquiry": handoff.inquiry,
                "transcript": [
                    {"from": item.user, "text": item.message} for item in handoff.transcript
                ],
                "callback": self.context.url_for("/events"),
            },
        )
        return Opened(
            ref=str(chat["chat"]), position=chat.get("position"), estimated_wait=chat.get("wait")
        )

    async def deliver(self, message: OutboundMessage) -> None:
        chat = message.conversation.ref or message.conversation.id
        body = {"text": message.text, "sentAt": message.sent_at.isoformat()}
        await self._call("PUT", f"/chats/{chat}/messages/{message.id}", body)

    async def user_typing(self, conversation: ConversationRef, typing: bool) -> None:
        chat = conversation.ref or conversation.id
        await self._call("PUT", f"/chats/{chat}/typing", {"typing": typing})

    async def close(self, closing: Closing) -> None:
        chat = closing.conversation.ref or closing.conversation.id
        await self._call("DELETE", f"/chats/{chat}", gone_is_fine=True)

    # -- calling Tinychat ------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        gone_is_fine: bool = False,
    ) -> dict[str, Any]:
        """One call; its failures become the SDK's typed errors."""
        url = self.config.api_url.rstrip("/") + path
        try:
            destination = await resolve(url, allow_private=self.config.allow_private_network)
        except ForbiddenAddress as exc:
            raise ProviderRefused(f"refusing to call {url}: {exc}") from None
        except OSError as exc:
            raise ProviderTransientError(f"cannot resolve {url}: {exc}") from None
        target = destination.pinned()[0]  # connect to the address that was checked
        headers = {
            "Authorization": f"Bearer {self.config.api_token.get_secret_value()}",
            "Host": target.host,
        }
        try:
            async with self.context.http.request(
                method,
                target.url,
                json=body,
                params=params,
                headers=headers,
                server_hostname=target.server_hostname,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            ) as response:
                status, raw = response.status, await response.read()
                retry_after = response.headers.get("Retry-After", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderTransientError(f"{method} {url}: {type(exc).__name__}") from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if 200 <= status < 300 or (status == 404 and gone_is_fine):
            return answer if isinstance(answer, dict) else {}
        if status in (401, 403):
            raise ProviderAuthError(f"Tinychat refused the API token (HTTP {status})")
        if status == 429 or status >= 500:
            seconds = float(retry_after) if retry_after.isdigit() else None
            raise ProviderTransientError(f"Tinychat answered HTTP {status}", retry_after=seconds)
        error = answer.get("error") if isinstance(answer, dict) else None
        if status == 409 and error in ("closed", "no-agents"):
            raise ProviderUnavailable(error)
        raise ProviderRefused(f"Tinychat answered HTTP {status} ({error or 'no reason given'})")

    # -- Tinychat's events -------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.post("/events", self.events)]

    async def events(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            secret = self.config.callback_secret.get_secret_value()
            verify(secret, body, request.headers.get(SIGNATURE_HEADER))
        except SignatureError as exc:
            return _error(401, f"signature_{exc.problem}", str(exc))
        try:
            event = Event.model_validate_json(body)
        except ValidationError as exc:
            return _error(400, "invalid_event", exc.errors()[0]["msg"])
        try:
            await self._tell_hub(event)
        except UnknownConversation as exc:
            return _error(404, "unknown_conversation", str(exc))
        except ConversationEnded as exc:
            return _error(409, "conversation_ended", str(exc))
        return web.json_response({"ok": True})

    async def _tell_hub(self, event: Event) -> None:
        conversation, agent = event.conversation, event.hub_agent()
        if event.type == "joined" and agent is not None:
            await self.context.agent_joined(conversation, agent, event_id=event.id)
        elif event.type == "message":
            text = html.escape(event.text).replace("\n", "<br>")
            await self.context.agent_message(conversation, text, agent=agent, event_id=event.id)
        elif event.type == "typing":
            await self.context.agent_typing(conversation, event.typing, agent=agent)
        elif event.type == "closed":
            await self.context.conversation_closed(conversation, event_id=event.id)


class EventAgent(BaseModel):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    avatar: str | None = None


class Event(BaseModel):
    """One event Tinychat posts: ``id`` is the same when it posts it again."""

    id: str = Field(min_length=1, max_length=200)
    conversation: str = Field(min_length=1, max_length=200)
    type: Literal["joined", "message", "typing", "closed"]
    agent: EventAgent | None = None
    text: str = Field("", max_length=10_000)
    typing: bool = False

    @model_validator(mode="after")
    def _joined_by_someone(self) -> Event:
        if self.type == "joined" and self.agent is None:
            raise ValueError("a joined event names its agent")
        return self

    def hub_agent(self) -> Agent | None:
        if self.agent is None:
            return None
        return Agent(self.agent.id, self.agent.name, self.agent.avatar)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
