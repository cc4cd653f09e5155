"""docs/protocol.md is executable: its Python examples run against a real hub, its checked
JSON is compared with what the hub emits, and its error table lists every code."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from providers import Agent

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text()
CHECKED = re.compile(r"<!-- checked: ([\w-]+) -->\s*```json\n(.*?)```", re.S)
PYTHON = re.compile(r"```python\n(.*?)```", re.S)
DESK = {
    "providers": {"desk": {"type": "scripted"}},
    "queues": [{"name": "support", "chain": ["desk"]}],
}


def checked(name: str):
    blocks = dict(CHECKED.findall(DOC))
    return json.loads(blocks[name])


def examples() -> dict:
    namespace: dict = {}
    for block in PYTHON.findall(DOC):
        exec(compile(block, "docs/protocol.md", "exec"), namespace)
    return namespace


async def test_the_whole_conversation_in_the_doc_is_what_the_hub_emits(hub_factory):
    hub = await hub_factory(**DESK)
    chatbot, context = hub.chatbot, hub.provider("desk").context
    cid = (await chatbot.escalate(expect=201))["conversationId"]
    ana = Agent("a1", "Ana", "https://cdn.example/ana.png")
    await context.agent_joined(cid, ana)
    await context.agent_typing(cid, True)
    await context.agent_typing(cid, False)
    agent_message = await context.agent_message(cid, "Hi, I'm Ana. <b>How can I help?</b>")
    sent = await chatbot.send(cid, "client-1", "Where is my order A-17?")
    await hub.settled()
    await context.message_status(cid, sent["externalId"], "read")
    await chatbot.call(
        "POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={"reason": "resolved"}
    )

    text = json.dumps(await chatbot.events(cid))
    text = text.replace(agent_message, "m_agent1").replace(sent["externalId"], "m_user1")
    text = text.replace(cid, "c_1").replace(chatbot.bot_id, "bot_1")
    emitted = [{key: e[key] for key in ("seq", "action", "data")} for e in json.loads(text)]
    assert emitted == checked("whole-conversation")


async def test_the_validation_error_example_is_real(hub):
    response = await hub.client.post(
        "/v1/escalations", json={"user": {"email": "jo"}}, headers=hub.chatbot.key_headers
    )
    documented = json.loads(re.search(r"## Errors.*?```json\n(.*?)```", DOC, re.S).group(1))
    assert response.status == 422
    assert await response.json() == documented


async def test_the_python_examples_escalate_write_and_follow(hub_factory):
    hub = await hub_factory(**DESK)
    namespace = examples()
    base = str(hub.client.make_url("")).rstrip("/")
    session = hub.client.session
    transcript = [{"user": "guest", "message": "Where is my order?"}]

    conversation = await namespace["escalate"](
        session, base, hub.chatbot.secret, "s-doc", transcript
    )
    again = await namespace["escalate"](session, base, hub.chatbot.secret, "s-doc", transcript)
    assert again["conversationId"] == conversation["conversationId"]
    cid = conversation["conversationId"]
    hub.chatbot.tokens[cid] = conversation["token"]

    applied: list[tuple[str, dict]] = []
    following = asyncio.create_task(
        namespace["follow"](
            session, base, conversation, 0, lambda action, data: applied.append((action, data))
        )
    )
    context = hub.provider("desk").context
    await context.agent_joined(cid, Agent("a1", "Ana"))
    stored = await namespace["send_message"](session, base, conversation, "c1", "hello")
    replay = await namespace["send_message"](session, base, conversation, "c1", "hello")
    assert replay["externalId"] == stored["externalId"] and replay["duplicate"]
    await context.conversation_closed(cid, "resolved")
    last = await asyncio.wait_for(following, 10)

    log = await hub.chatbot.events(cid)
    assert last == log[-1]["seq"]
    assert applied == [(e["action"], e["data"]) for e in log]
    assert (
        "updateMessage",
        {"id": "c1", "action": "UPDATE_EXTERNAL", "newExternalId": stored["externalId"]},
    ) in applied


def test_the_error_table_lists_every_code_the_hub_answers():
    table = re.search(r"\| status \| codes \|(.*?)\n\n", DOC, re.S).group(1)
    documented = set(re.findall(r"`([a-z_-]+)`", table))
    used = set()
    for path in (ROOT / "hub").rglob("*.py"):
        if {"agents", "chatlayer"} & set(path.parts):  # documented in their own guides
            continue
        source = path.read_text()
        used |= set(re.findall(r'code="([a-z_-]+)"', source))
        used |= set(re.findall(r'^\s+code = "([a-z_-]+)"', source, re.M))
    rules = (ROOT / "providers" / "input_rules.py").read_text()  # the text rules' codes
    used |= set(re.findall(r'InputError\(\s*"([a-z_]+)"', rules))
    # Not a bot's concern: 405 on a route the API does not serve, a crash (500), and the
    # class defaults of Unauthorized and Conflict, which the hub always replaces.
    # Neither are the answers to agents' transfers (the dashboard) nor to platforms fetching
    # a file link (docs/webhook.md lists `invalid_link`).
    not_for_bots = {
        "transfer_not_supported",
        "transfer_failed",
        "invalid_link",
        "method_not_allowed",
        "internal_error",
        "error",
        "unauthorized",
        "conflict",
    }
    assert used - not_for_bots <= documented, used - not_for_bots - documented


async def test_the_callback_check_in_the_doc_accepts_the_hubs_posts(hub_factory):
    from tests.hub.test_callbacks import Receiver, with_callback

    verify = examples()["verify_callback"]
    receiver = Receiver()
    checked: list[bool] = []
    original = receiver.handle

    async def handle(request):
        body = await request.read()
        signature = request.headers["Hub-Signature"]
        checked.append(verify(receiver.secret, signature, body))
        checked.append(verify("another secret", signature, body))
        return await original(request)

    receiver.handle = handle
    await receiver.start()
    try:
        hub = await hub_factory(**DESK, allow_private_urls=True)
        await with_callback(hub, receiver)
        await hub.chatbot.escalate()
        await hub.settled()
    finally:
        await receiver.stop()
    assert checked and checked[0::2] == [True] * (len(checked) // 2)
    assert checked[1::2] == [False] * (len(checked) // 2)
