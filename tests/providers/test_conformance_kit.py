"""The conformance kit, run against the scripted adapter the core tests use; and the kit's
checks shown to catch adapters that break the contract."""

from __future__ import annotations

import pytest

from providers import Capability, Opened, ProviderConfig
from providers.testing import ProviderConformance, RecordingContext, sample_handoff
from tests.support.scripted import ScriptedProvider


class TestScriptedAdapter(ProviderConformance):
    provider_class = ScriptedProvider

    @pytest.fixture
    def provider_config(self):
        return {"mode": "open"}

    @pytest.fixture
    def delivered_ids(self, provider):
        async def ids():
            return [message.id for message in provider.delivered]

        return ids


class LeakyConfig(ProviderConfig):
    api_token: str = "plain"


class LeakyAdapter(ScriptedProvider):
    name = "leaky"
    config_model = LeakyConfig  # type: ignore[assignment]


class ForgetfulAdapter(ScriptedProvider):
    """Opens a new ticket every time it is asked: not idempotent."""

    name = "forgetful"
    counter = 0

    async def open(self, handoff):
        ForgetfulAdapter.counter += 1
        return Opened(ref=f"ref-{ForgetfulAdapter.counter}")


class Liar(ScriptedProvider):
    name = "liar"
    capabilities = frozenset({Capability.TRANSFER})


def test_the_kit_catches_a_secret_stored_as_plain_text():
    kit = type("Kit", (ProviderConformance,), {"provider_class": LeakyAdapter})()
    with pytest.raises(AssertionError, match="api_token"):
        kit.test_secrets_are_secret_strings()


def test_the_kit_catches_an_undeclared_capability():
    kit = type("Kit", (ProviderConformance,), {"provider_class": Liar})()
    with pytest.raises(AssertionError):
        kit.test_declared_capabilities_are_implemented()


async def test_the_kit_catches_an_open_that_is_not_idempotent():
    kit = type("Kit", (ProviderConformance,), {"provider_class": ForgetfulAdapter})()
    context = RecordingContext()
    provider = kit.build({}, context)
    with pytest.raises(AssertionError):
        await kit.test_open_is_idempotent_on_the_conversation(provider, context)


async def test_the_recording_context_behaves_like_the_hubs():
    from providers import Agent, ConversationEnded, UnknownConversation

    context = RecordingContext()
    handoff = sample_handoff()
    with pytest.raises(UnknownConversation):
        await context.agent_message(handoff.conversation_id, "hi")
    context.own(handoff.conversation_id)
    await context.agent_joined(handoff.conversation_id, Agent("a1", "Ana"), event_id="e1")
    await context.agent_joined(handoff.conversation_id, Agent("a1", "Ana"), event_id="e1")
    assert len(context.named("agent_joined")) == 1
    await context.conversation_closed(handoff.conversation_id)
    with pytest.raises(ConversationEnded):
        await context.agent_message(handoff.conversation_id, "too late")
