"""The Tinychat adapter against offload-hub's conformance kit: ``pytest`` in this project."""

import time
from collections.abc import AsyncIterator

import pytest
from providers.signing import SIGNATURE_HEADER, sign
from providers.testing import AgentEvent, AgentSide, ProviderConformance

from fake_tinychat import FakeTinychat, free_port
from offload_hub_example import TinychatProvider

# The kit's kinds of agent-side events, as Tinychat names them.
KINDS = {
    "agent_joined": "joined",
    "agent_message": "message",
    "agent_typing": "typing",
    "conversation_closed": "closed",
}


@pytest.fixture
async def tinychat() -> AsyncIterator[FakeTinychat]:
    service = await FakeTinychat().start()
    yield service
    await service.stop()


class TestTinychat(ProviderConformance):
    provider_class = TinychatProvider
    remote = True  # it calls Tinychat: the kit also wants a config where nobody answers

    @pytest.fixture
    def provider_config(self, tinychat):
        return tinychat.config()

    @pytest.fixture
    def unreachable_config(self, tinychat):
        return tinychat.config(api_url=f"http://127.0.0.1:{free_port()}/api")

    @pytest.fixture
    def delivered_ids(self, tinychat):
        async def ids():
            return [message for _, message in tinychat.shown]

        return ids

    @pytest.fixture
    def agent_side(self, tinychat, context, http):
        async def post(event: AgentEvent) -> None:
            body, headers = tinychat.event(
                event.conversation.id,
                KINDS[event.kind],
                id=event.event_id,
                agent=event.agent,
                text=event.text,
                typing=event.typing,
            )
            async with http.post(context.url_for("/events"), data=body, headers=headers) as answer:
                assert answer.status == 200, await answer.text()

        return AgentSide(dict.fromkeys(KINDS, post))

    @pytest.fixture
    def platform_double(self, tinychat, context, http):
        return TinychatDouble(tinychat, context.url_for("/events"), http)


class TinychatDouble:
    """The kit's platform double over the fake Tinychat (providers.testing.PlatformDouble)."""

    def __init__(self, tinychat: FakeTinychat, events_url: str, http) -> None:
        self.tinychat, self.events_url, self.http = tinychat, events_url, http

    def _chat(self, conversation_id: str) -> str | None:
        known = self.tinychat.chats.get(conversation_id)
        return None if known is None else str(known["chat"])

    async def texts(self, conversation_id: str) -> list[str]:
        return self.tinychat.texts.get(self._chat(conversation_id) or "", [])

    async def typing(self, conversation_id: str) -> list[bool]:
        chat = self._chat(conversation_id)
        return [typing for c, typing in self.tinychat.typing if c == chat]

    async def set_agents_online(self, count: int) -> None:
        self.tinychat.status = {"open": True, "agents": count, "wait": 30}
        self.tinychat.full = count == 0

    async def go_down(self) -> None:
        self.tinychat.down = True

    async def come_back(self) -> None:
        self.tinychat.down = False

    async def drop(self, conversation_id: str) -> None:
        self.tinychat.closed.append(self._chat(conversation_id) or "")

    async def send(self, event: AgentEvent, *, signature: str = "valid") -> int:
        kind = KINDS.get(event.kind, "message")
        body, headers = self.tinychat.event(
            event.conversation.id, kind, id=event.event_id, agent=event.agent, text=event.text
        )
        if signature == "invalid":
            headers[SIGNATURE_HEADER] = sign("not-the-callback-secret-000000", body)
        elif signature == "stale":
            headers[SIGNATURE_HEADER] = sign(
                "tinychat-callback-secret-0123456789", body, timestamp=int(time.time()) - 3600
            )
        elif signature == "missing":
            del headers[SIGNATURE_HEADER]
        async with self.http.post(self.events_url, data=body, headers=headers) as answer:
            return answer.status
