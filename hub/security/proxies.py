"""The client's address behind trusted reverse proxies.

Only a request that comes from a proxy the operator listed (``trusted_proxies``: addresses
or networks) has its ``X-Forwarded-For`` believed. The header is read from the right (the
proxy nearest the hub wrote the last entry): every entry that is itself a trusted proxy is
skipped, and the first one that is not is the client. From any other peer the header is
ignored, whatever it says, so nobody can pick the address their sign-in attempts (or rate
limits) are counted against. The middleware sets ``request.remote`` to that address for
every handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import hdrs, web

Network = IPv4Network | IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# More entries than this is not a chain of proxies but someone padding the header.
MAX_HOPS = 30


def parse_networks(values: Iterable[str]) -> list[Network]:
    """``["10.0.0.5", "192.168.0.0/16", "::1"]`` as networks; ValueError names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return networks


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address, networks: list[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: list[str], networks: list[Network]
) -> str | None:
    """The client's address for a request from ``peer`` with these X-Forwarded-For
    headers: the peer itself unless it is a trusted proxy."""
    address = _address(peer or "")
    if address is None or not networks or not _trusted(address, networks):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    if not hops or len(hops) > MAX_HOPS:
        return peer
    client = peer
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:
            return client  # a garbled entry: believe nothing to its left
        client = str(found)
        if not _trusted(found, networks):
            return client
    return client  # every hop is a proxy we trust: the leftmost is the client


def forwarded_middleware(networks: list[Network]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(
            request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []), networks
        )
        if client is not None and client != request.remote:  # None: no peer, as before
            request = request.clone(remote=client)
        return await handler(request)

    return middleware
