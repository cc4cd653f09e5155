"""The Tinychat adapter against offload-hub's conformance kit: ``pytest`` in this project."""

from collections.abc import AsyncIterator

import pytest
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
