"""The built-in ``webhook`` provider: a generic two-way signed HTTP bridge to any agent
platform (the wire contract is docs/webhook.md)."""

from providers.webhook.config import WebhookConfig
from providers.webhook.provider import WebhookProvider

__all__ = ["WebhookConfig", "WebhookProvider"]
