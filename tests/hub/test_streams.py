"""The event stream on WebSocket, SSE and long-poll: live delivery, and resume after a drop
with nothing lost or repeated."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from hub import keys
from providers import Agent
from tests.support.waiting import until


async def _escalated(hub):
    cid = (await hub.chatbot.escalate())["conversationId"]
    await hub.provider().context.agent_joined(cid, Agent("a1", "Ana"))
    return cid


async def _say(hub, cid, *texts):
    for text in texts:
        await hub.provider().context.agent_message(cid, text)


def _said(envelopes):
    return [e["data"]["message"] for e in envelopes if e["action"] == "displayChatbotMessage"]


async def _ws_take(ws, count):
    received = []
    async with asyncio.timeout(10):
        while len(received) < count:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            received.append(json.loads(message.data))
    return received


async def test_websocket_live_and_resume(hub):
    cid = await _escalated(hub)
    token = hub.chatbot.tokens[cid]
    path = f"/v1/conversations/{cid}/events"
    ws = await hub.client.ws_connect(path, params={"token": token})
    backlog = await _ws_take(ws, 5)  # queue-position, info; name, agent-joined, info
    assert [e["seq"] for e in backlog] == [1, 2, 3, 4, 5]
    await _say(hub, cid, "one", "two")
    live = await _ws_take(ws, 2)
    assert _said(live) == ["one", "two"]
    await ws.close()  # the connection drops

    await _say(hub, cid, "three", "four")  # said while nobody listened
    ws = await hub.client.ws_connect(path, params={"token": token, "after": live[-1]["seq"]})
    resumed = await _ws_take(ws, 2)
    assert _said(resumed) == ["three", "four"]
    await _say(hub, cid, "five")
    assert _said(await _ws_take(ws, 1)) == ["five"]
    await ws.close()

    seqs = [e["seq"] for e in backlog + live + resumed] + [live[-1]["seq"] + 3]
    assert seqs == list(range(1, len(seqs) + 1))


async def _sse_take(response, count):
    """Read ``count`` SSE events: (id, envelope)."""
    events = []
    event_id, data = None, []
    async with asyncio.timeout(10):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\r\n")
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                events.append((event_id, json.loads("\n".join(data))))
                event_id, data = None, []
    return events


async def test_server_sent_events_live_and_resume_with_last_event_id(hub):
    cid = await _escalated(hub)
    headers = {"Accept": "text/event-stream", **hub.chatbot.token_headers(cid)}
    path = f"/v1/conversations/{cid}/events"
    response = await hub.client.get(path, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await _sse_take(response, 5)
    assert [int(event_id) for event_id, _ in first] == [e["seq"] for _, e in first]
    await _say(hub, cid, "one")
    (live,) = await _sse_take(response, 1)
    assert _said([live[1]]) == ["one"]
    response.close()

    await _say(hub, cid, "two", "three")
    response = await hub.client.get(path, headers={**headers, "Last-Event-ID": live[0]})
    resumed = await _sse_take(response, 2)
    assert _said([e for _, e in resumed]) == ["two", "three"]
    assert int(resumed[0][0]) == int(live[0]) + 1
    response.close()


async def test_long_poll_pages_and_waits(hub):
    chatbot = hub.chatbot
    cid = await _escalated(hub)
    page = await chatbot.poll(cid)
    assert [e["seq"] for e in page["events"]] == list(range(1, 6))
    assert page["next"] == 5

    # Nothing new: an immediate answer, and next stays where it was.
    empty = await chatbot.poll(cid, after=page["next"])
    assert empty == {"events": [], "next": 5}

    # A waiting poll is answered as soon as something happens.
    waiting = asyncio.create_task(chatbot.poll(cid, after=5, wait=10))
    await until(lambda: hub.app[keys.BUS].watching(cid) == 1)  # the poll is waiting
    assert not waiting.done()
    await _say(hub, cid, "one")
    answered = await asyncio.wait_for(waiting, 5)
    assert _said(answered["events"]) == ["one"]
    assert answered["next"] == 6

    # limit pages through the log.
    head = await chatbot.call(
        "GET",
        f"/v1/conversations/{cid}/events",
        conversation_id=cid,
        params={"after": 0, "limit": 4},
    )
    rest = await chatbot.poll(cid, after=head["next"])
    assert [e["seq"] for e in head["events"] + rest["events"]] == list(range(1, 7))


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_shutdown_ends_streams_with_going_away(hub, transport):
    from offload_hub.app import _close_streams

    cid = await _escalated(hub)
    path = f"/v1/conversations/{cid}/events"
    if transport == "websocket":
        ws = await hub.client.ws_connect(path, params={"token": hub.chatbot.tokens[cid]})
        await _ws_take(ws, 5)
        await _close_streams(hub.app)
        message = await asyncio.wait_for(ws.receive(), 5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
    else:
        headers = {"Accept": "text/event-stream", **hub.chatbot.token_headers(cid)}
        response = await hub.client.get(path, headers=headers)
        await _sse_take(response, 5)
        await _close_streams(hub.app)
        async with asyncio.timeout(5):
            rest = await response.content.read()
        assert b"data:" not in rest
