"""A lean Socket.IO client for load (Engine.IO 4 over WebSocket, Socket.IO 5 packets).

python-socketio's own client costs the load process more than the server it measures; this
speaks the few packets a relay needs: open, namespace connect with ``auth``, ping/pong,
events, and acknowledgements.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp


class SocketIO:
    def __init__(
        self, session: aiohttp.ClientSession, base: str, auth: dict[str, Any] | None = None
    ) -> None:
        self.session = session
        self.url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.on_event: Callable[[str, Any], None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.ws = await self.session.ws_connect(self.url, max_msg_size=0)
        opened = await self.ws.receive_str()
        if not opened.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO open packet {opened!r}")
        await self.ws.send_str("40" + (json.dumps(self.auth) if self.auth else ""))
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), 10)

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            packet: str = frame.data
            if packet == "2":
                await self.ws.send_str("3")
            elif packet.startswith("40"):
                self._connected.set()
            elif packet.startswith("42"):
                name, data = json.loads(packet[packet.index("[") :])
                if self.on_event is not None:
                    self.on_event(name, data)
            elif packet.startswith("43"):
                bracket = packet.index("[")
                future = self._acks.pop(int(packet[2:bracket]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(packet[bracket:]))
            elif packet.startswith("44"):
                raise RuntimeError(f"Socket.IO refused the connection: {packet}")

    async def emit(self, name: str, data: Any) -> Any:
        """Emit an event and wait for its acknowledgement."""
        assert self.ws is not None
        ack = self._next_ack
        self._next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack] = future
        await self.ws.send_str(f"42{ack}" + json.dumps([name, data]))
        return await future

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
