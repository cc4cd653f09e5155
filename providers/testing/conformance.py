"""The contract checks, as a pytest base class (needs pytest and pytest-asyncio).

Fixtures a subclass defines:

- ``provider_config`` (required): the adapter's config, as the ``[providers.X]`` table
  would give it, pointing at whatever test servers the adapter needs;
- ``delivered_ids`` (optional): an async callable returning the message ids the agent
  side has received so far; with it, delivery is checked to happen exactly once per id;
- ``unreachable_config``: a config whose remote end does not answer; with it, the
  adapter's failures are checked to be typed ``ProviderError`` s. Required when the class
  sets ``remote = True`` (the adapter calls out over the network).
"""

from __future__ import annotations

import re
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr, ValidationError

from providers.base import Provider, ProviderConfig
from providers.capabilities import Capability, missing_methods
from providers.errors import ProviderError, ProviderRefused, ProviderUnavailable
from providers.testing.context import RecordingContext
from providers.testing.samples import sample_handoff, sample_message
from providers.values import (
    Availability,
    AvailabilityRequest,
    Closing,
    ConversationRef,
    Health,
    Opened,
    TicketCreated,
)

_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey")


class ProviderConformance:
    provider_class: ClassVar[type[Provider]]
    instance_name: ClassVar[str] = "under-test"
    remote: ClassVar[bool] = False

    # -- fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def provider_config(self) -> dict[str, Any]:
        raise NotImplementedError("define a provider_config fixture on your test class")

    @pytest.fixture
    def delivered_ids(self) -> Callable[[], Awaitable[list[str]]] | None:
        return None

    @pytest.fixture
    def unreachable_config(self) -> dict[str, Any] | None:
        return None

    @pytest_asyncio.fixture
    async def http(self) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession() as session:
            yield session

    @pytest.fixture
    def context(self, http: aiohttp.ClientSession) -> RecordingContext:
        return RecordingContext(self.instance_name, http=http)

    def build(self, config: dict[str, Any], context: RecordingContext) -> Provider:
        model = self.provider_class.config_model.model_validate(config)
        return self.provider_class(self.instance_name, model, context)

    @pytest_asyncio.fixture
    async def provider(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> AsyncIterator[Provider]:
        provider = self.build(provider_config, context)
        await provider.start()
        try:
            yield provider
        finally:
            await provider.stop()

    async def opened(self, provider: Provider, context: RecordingContext) -> ConversationRef:
        handoff = sample_handoff()
        context.own(handoff.conversation_id)
        result = await provider.open(handoff)
        ref = result.ref if isinstance(result, (Opened, TicketCreated)) else None
        return ConversationRef(handoff.conversation_id, ref)

    # -- the adapter class -----------------------------------------------------------------------

    def test_declares_its_name_config_and_capabilities(self) -> None:
        cls = self.provider_class
        assert issubclass(cls, Provider)
        assert isinstance(cls.name, str) and re.match(r"^[a-z0-9][a-z0-9_-]*$", cls.name)
        assert issubclass(cls.config_model, ProviderConfig)
        assert isinstance(cls.capabilities, frozenset)
        assert all(isinstance(capability, Capability) for capability in cls.capabilities)

    def test_config_refuses_unknown_keys(self, provider_config: dict[str, Any]) -> None:
        self.provider_class.config_model.model_validate(provider_config)
        with pytest.raises(ValidationError):
            self.provider_class.config_model.model_validate(
                {**provider_config, "no_such_key_for_conformance": 1}
            )

    def test_secrets_are_secret_strings(self) -> None:
        for name, field in self.provider_class.config_model.model_fields.items():
            if any(word in name.lower() for word in _SECRET_WORDS):
                annotation = field.annotation
                allowed = {annotation, *typing.get_args(annotation)}
                assert SecretStr in allowed, f"config field {name!r} must be a SecretStr"

    def test_declared_capabilities_are_implemented(self) -> None:
        cls = self.provider_class
        assert missing_methods(cls, frozenset(cls.capabilities)) == []

    def test_routes_are_route_definitions(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        for route in self.build(provider_config, context).routes():
            assert isinstance(route, web.RouteDef)
            assert route.path.startswith("/")

    # -- the calls ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_starts_checks_and_stops_cleanly(
        self, provider_config: dict[str, Any], context: RecordingContext
    ) -> None:
        provider = self.build(provider_config, context)
        await provider.start()
        health = await provider.check()
        await provider.stop()
        assert isinstance(health, Health)
        assert health.ok, health.detail

    @pytest.mark.asyncio
    async def test_availability_is_an_availability(self, provider: Provider) -> None:
        answer = await provider.availability(AvailabilityRequest(queue="support", language="en"))
        assert isinstance(answer, Availability)
        assert answer.reason in ("open", "closed", "disabled", "no-agents")
        assert answer.kind in ("live", "ticket")
        assert answer.open == (answer.reason == "open")

    @pytest.mark.asyncio
    async def test_open_is_idempotent_on_the_conversation(
        self, provider: Provider, context: RecordingContext
    ) -> None:
        handoff = sample_handoff()
        context.own(handoff.conversation_id)
        try:
            first = await provider.open(handoff)
        except (ProviderRefused, ProviderUnavailable):
            return  # a refusal is a valid answer; it must then be typed, as it was
        assert isinstance(first, (Opened, TicketCreated))
        second = await provider.open(handoff)
        assert type(second) is type(first)
        if isinstance(first, Opened):
            assert isinstance(second, Opened)
            assert second.ref == first.ref
        else:
            assert isinstance(second, TicketCreated)
            assert second.ticket_id == first.ticket_id

    @pytest.mark.asyncio
    async def test_deliver_is_idempotent_on_the_message_id(
        self,
        provider: Provider,
        context: RecordingContext,
        delivered_ids: Callable[[], Awaitable[list[str]]] | None,
    ) -> None:
        ref = await self.opened(provider, context)
        message = sample_message(ref.id, ref.ref)
        await provider.deliver(message)
        await provider.deliver(message)
        if delivered_ids is not None:
            assert (await delivered_ids()).count(message.id) == 1

    @pytest.mark.asyncio
    async def test_close_is_accepted_twice(
        self, provider: Provider, context: RecordingContext
    ) -> None:
        ref = await self.opened(provider, context)
        closing = Closing(ref, "resolved", "user")
        await provider.close(closing)
        await provider.close(closing)

    @pytest.mark.asyncio
    async def test_failures_are_typed(
        self,
        unreachable_config: dict[str, Any] | None,
        context: RecordingContext,
    ) -> None:
        if unreachable_config is None:
            assert not self.remote, "an adapter with a remote end must define unreachable_config"
            return
        provider = self.build(unreachable_config, context)
        await provider.start()
        try:
            health = await provider.check()
            assert not health.ok, "check() should report an unreachable remote end"
            handoff = sample_handoff()
            context.own(handoff.conversation_id)
            with pytest.raises(ProviderError):
                await provider.open(handoff)
        finally:
            await provider.stop()
