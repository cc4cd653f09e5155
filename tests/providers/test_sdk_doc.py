"""The guide's examples of the context's storage (docs/providers.md), run against the kit's
RecordingContext: each block is executed as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from providers.testing import RecordingContext

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
BLOCK = re.compile(r"(?<!-->\n)```python\n(.*?)```", re.S)


def guide_block(containing: str) -> dict[str, Any]:
    (block,) = [b for b in BLOCK.findall(GUIDE.read_text()) if containing in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(GUIDE), "exec"), namespace)
    return namespace


async def test_the_guides_platform_id_example_works():
    example = guide_block("context.link(cid, chat)")
    context = RecordingContext("under-test")
    context.own("c_1")
    await example["on_platform_chat_created"](context, "c_1", "chat-9")
    event = {"id": "e1", "html": "<p>Hi</p>"}
    assert await example["on_platform_message"](context, "chat-9", event) == 200
    assert await example["on_platform_message"](context, "chat-9", event) == 200
    assert await example["on_platform_message"](context, "chat-0", event) == 404
    assert [c.arguments["html"] for c in context.named("agent_message", "c_1")] == ["<p>Hi</p>"]


async def test_the_guides_file_example_works():
    example = guide_block("media_link(media.id")
    context = RecordingContext("under-test")
    context.own("c_1")
    event = {"id": "e1", "name": "a.pdf", "type": "application/pdf"}
    first = await example["agent_file"](context, "c_1", event, b"%PDF")
    again = await example["agent_file"](context, "c_1", event, b"%PDF")
    assert first == again and len(context.media) == 1
    (info, _), *_ = context.media.values()
    link = example["user_file_for_the_platform"](context, info)
    assert link.startswith("http://") and "expires=" in link
