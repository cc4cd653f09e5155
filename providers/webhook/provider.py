"""The webhook adapter: a generic two-way signed HTTP bridge to any agent platform.

Out: one signed JSON POST per hub call (``conversation.opened``, ``message.created``,
``user.typing``, ``message.read``, ``conversation.closed``) to the configured URL.
In: the platform posts signed events to ``/providers/{instance}/events``.
The wire contract is docs/webhook.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError
from yarl import URL

from providers.base import Provider
from providers.capabilities import Capability
from providers.context import ProviderContext
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
)
from providers.values import Availability, ConversationRef, Health, Opened, TicketCreated
from providers.webhook import outgoing
from providers.webhook.answers import OpenAnswer, StatusAnswer
from providers.webhook.client import Answer, PlatformClient
from providers.webhook.config import WebhookConfig
from providers.webhook.endpoint import Endpoint
from providers.webhook.media_links import signed_link

if TYPE_CHECKING:
    from providers.values import (
        AvailabilityReason,
        AvailabilityRequest,
        Closing,
        Handoff,
        MediaInfo,
        OpenResult,
        OutboundMessage,
    )

# A platform that answers conversation.opened with one of these error codes is closed
# or has nobody now: the user hears so if no later step of the chain takes the chat.
UNAVAILABLE_CODES = frozenset({"closed", "no-agents"})
# A close answered with one of these: the platform does not know the chat (any more).
GONE_STATUSES = frozenset({404, 410})


class WebhookProvider(Provider):
    name = "webhook"
    title = "Webhook: a signed HTTP bridge to any agent platform"
    config_model = WebhookConfig
    capabilities = frozenset(
        {
            Capability.USER_TYPING,
            Capability.READ_RECEIPTS,
            Capability.MEDIA,
            Capability.TRANSFER,
        }
    )

    def __init__(self, instance: str, config: WebhookConfig, context: ProviderContext) -> None:
        super().__init__(instance, config, context)
        self.config: WebhookConfig = config
        self.client = PlatformClient(config, lambda: context.http, context.logger)
        self.endpoint = Endpoint(instance, config, context)
        # The hub calls check() this often: a platform that was down when the hub started is
        # used again once it is back, without a restart (0: the hub's own interval).
        self.check_every = config.health_check_seconds or None

    # -- lifecycle ------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        return self.endpoint.routes()

    async def check(self) -> Health:
        """GET ``status_url`` if configured, else a signed ``ping`` event: 2xx is healthy."""
        try:
            if self.config.status_url is not None:
                answer = await self.client.get(self.config.status_url)
            else:
                answer = await self.client.post(outgoing.ping(self.instance))
            answer.raise_for_status()
        except ProviderAuthError as exc:
            return Health(False, f"credentials rejected: {exc}")
        except ProviderError as exc:
            return Health(False, str(exc))
        return Health(True)

    # -- the calls ------------------------------------------------------------------------

    async def availability(self, request: AvailabilityRequest) -> Availability:
        """Open, unless ``status_url`` says otherwise (a failing status URL raises)."""
        if self.config.status_url is None:
            return Availability(open=True)
        query = {"queue": request.queue}
        if request.language:
            query["language"] = request.language
        if request.skills:
            query["skills"] = ",".join(request.skills)
        answer = await self.client.get(str(URL(self.config.status_url).update_query(query)))
        self._raise_for(answer)
        try:
            status = StatusAnswer.model_validate(answer.body)
        except ValidationError as exc:
            raise ProviderRefused(f"the status answer is not valid: {exc.errors()[0]}") from None
        if status.open:
            reason: AvailabilityReason = "open"
        elif status.reason is None or status.reason == "open":
            reason = "no-agents"  # closed without saying why
        else:
            reason = status.reason
        return Availability(
            open=status.open,
            reason=reason,
            agents_online=status.agents_online,
            estimated_wait=status.estimated_wait,
        )

    async def open(self, handoff: Handoff) -> OpenResult:
        event = outgoing.opened(
            self.instance, handoff, callback_url=self.context.url_for("/events")
        )
        answer = await self.client.post(event)
        if not answer.ok and answer.error_code in UNAVAILABLE_CODES:
            raise ProviderUnavailable(answer.error_code or "no-agents")
        self._raise_for(answer)
        return self._open_result(handoff.conversation_id, answer)

    def _raise_for(self, answer: Answer) -> None:
        """Raise the SDK error of a failed answer; a rejected signature also marks the
        instance unhealthy, so routing skips it until a health probe passes again."""
        try:
            answer.raise_for_status()
        except ProviderAuthError as exc:
            self.context.report_health(False, f"credentials rejected: {exc}")
            raise

    def _open_result(self, conversation_id: str, answer: Answer) -> OpenResult:
        try:
            body = OpenAnswer.model_validate(answer.body if answer.body is not None else {})
        except ValidationError as exc:
            # The platform took the chat; a malformed answer must not make the hub think
            # otherwise. Its fields are ignored and the defaults apply.
            self.context.logger.warning(
                "ignoring the platform's answer to conversation.opened: %s", exc.errors()[0]
            )
            body = OpenAnswer()
        ref = body.ref or conversation_id
        if body.ticket_id is not None:
            return TicketCreated(ticket_id=body.ticket_id, ref=ref)
        return Opened(
            ref=ref, status=body.status, position=body.position, estimated_wait=body.estimated_wait
        )

    async def deliver(self, message: OutboundMessage) -> None:
        media = self._media(message.media) if message.media is not None else None
        answer = await self.client.post(outgoing.message(self.instance, message, media_data=media))
        self._raise_for(answer)

    def _media(self, info: MediaInfo) -> dict[str, Any]:
        expires = int(time.time()) + self.config.media_link_seconds
        url = signed_link(
            self.context.url_for(f"/media/{info.id}"),
            self.config.secret.get_secret_value(),
            info.id,
            expires,
        )
        return outgoing.media(info, url, datetime.fromtimestamp(expires, UTC))

    async def user_typing(self, conversation: ConversationRef, typing: bool) -> None:
        answer = await self.client.post(outgoing.typing(self.instance, conversation, typing))
        self._raise_for(answer)

    async def user_read(self, conversation: ConversationRef, up_to: str) -> None:
        answer = await self.client.post(outgoing.read(self.instance, conversation, up_to))
        self._raise_for(answer)

    async def transfer(
        self, conversation: ConversationRef, *, queue: str | None, agent_id: str | None
    ) -> None:
        """A person in the hub moves the chat: the platform gets ``conversation.transfer``
        and moves it on its side (or hands it back with a transfer request of its own)."""
        event = outgoing.transfer(self.instance, conversation, queue=queue, agent_id=agent_id)
        self._raise_for(await self.client.post(event))

    async def close(self, closing: Closing) -> None:
        answer = await self.client.post(outgoing.closed(self.instance, closing))
        if answer.status in GONE_STATUSES:
            return  # the platform no longer knows the chat: it is closed there too
        self._raise_for(answer)
