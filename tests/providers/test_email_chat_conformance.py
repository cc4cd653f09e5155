"""The email adapter in chat mode (``mode = "chat"``: the conversation stays open, the
agents' emailed replies show in the chat, the user's messages follow by email) passes the
conformance kit too; tests/providers/test_email.py runs it in ticket mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tests.providers.test_email as email_tests
from tests.providers.smtp_server import MailServer
from tests.providers.test_email import certificates  # noqa: F401  (a fixture the class uses)


class TestEmailChatAdapter(email_tests.TestEmailAdapter):
    @pytest.fixture
    def provider_config(self, server: MailServer) -> dict[str, Any]:
        return server.config(
            reply_to=email_tests.INBOUND, inbound_secret=email_tests.SECRET, retries=1, mode="chat"
        )

    async def test_the_conversation_stays_open_as_a_chat(self, provider: Any, context: Any) -> None:
        async with asyncio.timeout(10):
            ref = await self.opened(provider, context)
        assert ref.id not in context.ended  # Opened, not a ticket
