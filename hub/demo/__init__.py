"""``offload-hub demo``: the hub plus a page with a chatbot widget wired to it.

The page (``/demo/``) holds a small stand-in for the Inbenta Chatbot SDK (the same
``actions`` and ``subscriptions``) with the hub's browser adapter
(``/static/offload-hub-adapter.js``). The command makes sure a demo bot allowed from the
hub's own origin and a demo agent exist, and prints how to sign in as that agent.
"""

from __future__ import annotations

from hub.demo.accounts import (
    DEMO_AGENT_EMAIL,
    DEMO_AGENT_NAME,
    DEMO_BOT_ID,
    DemoAccess,
    demo_origins,
    ensure_demo_agent,
    ensure_demo_bot,
    prepare_demo,
)
from hub.demo.page import create_demo_page, mount_demo

__all__ = [
    "DEMO_AGENT_EMAIL",
    "DEMO_AGENT_NAME",
    "DEMO_BOT_ID",
    "DemoAccess",
    "create_demo_page",
    "demo_origins",
    "ensure_demo_agent",
    "ensure_demo_bot",
    "mount_demo",
    "prepare_demo",
]
