"""The conformance kit: point it at your adapter and its config, and pytest checks the
provider contract (needs pytest and pytest-asyncio).

Subclass :class:`ProviderConformance` in a test module, name the adapter class, and give
its config as a fixture; the other fixtures are optional and each one adds checks::

    import pytest
    from providers.testing import AgentSide, ProviderConformance

    class TestMyAdapter(ProviderConformance):
        provider_class = MyAdapter
        remote = True  # it calls out over the network: unreachable_config is required

        @pytest.fixture
        def provider_config(self, platform):  # required: the [providers.X] table
            return {"api_url": platform.url, "api_token": "t0ken", "allow_private_network": True}

        @pytest.fixture
        def unreachable_config(self, provider_config):  # the remote end does not answer
            return {**provider_config, "api_url": "http://127.0.0.1:9/"}

        @pytest.fixture
        def delivered_ids(self, platform):  # deliver() reaches the agents once per id
            async def ids():
                return platform.message_ids
            return ids

        @pytest.fixture
        def agent_side(self, platform, context):  # the agent side's events reach the hub
            async def message(event):  # an AgentEvent; the adapter's route is served
                await platform.send(context.url_for("/events"), event)
            return AgentSide({"agent_message": message})

Then ``pytest`` runs the checks: the class declares a valid name, a strict config model
(unknown keys refused, secrets as ``SecretStr``) and the capabilities it implements;
``start``/``check``/``stop`` work and leave no task running and no HTTP session open,
also after a conversation, also when the remote end is down, and calls after ``stop``
fail typed or do no harm; ``availability`` answers an ``Availability``; ``open`` is
idempotent on the conversation id, ``deliver`` on the message id, ``close`` takes a
repeat; the optional calls it declares answer; failures are the typed errors the hub
acts on; and every agent-side event reaches the context once, replays included.

What the kit gives the adapter is a :class:`RecordingContext`: it records every call
(``context.calls``, ``context.named("agent_message")``) and refuses, as the hub does,
conversations it does not own or that have ended. A desk-like adapter that needs
``context.workspace`` gets one from a ``workspace`` fixture, for example a
:class:`MemoryWorkspace` with agents added. docs/providers.md walks through a whole
adapter and its kit test.
"""

from providers.testing.agent_side import AGENT_EVENTS, AgentEvent, AgentSide
from providers.testing.conformance import ProviderConformance
from providers.testing.context import ContextCall, MemoryStore, RecordingContext
from providers.testing.leftovers import Leftovers
from providers.testing.platform import PlatformDouble
from providers.testing.routes import serve_routes
from providers.testing.samples import ANA, BEN, sample_handoff, sample_message
from providers.testing.workspace import MemoryWorkspace

__all__ = [
    "AGENT_EVENTS",
    "ANA",
    "BEN",
    "AgentEvent",
    "AgentSide",
    "ContextCall",
    "Leftovers",
    "MemoryStore",
    "MemoryWorkspace",
    "PlatformDouble",
    "ProviderConformance",
    "RecordingContext",
    "sample_handoff",
    "sample_message",
    "serve_routes",
]
