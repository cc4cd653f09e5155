"""Outbound calls to configured URLs: refuse addresses inside the hub's own network.

A URL in the config (a partner's webhook, a health endpoint) is resolved, and *every*
address it resolves to is checked: private (RFC 1918, unique-local), loopback,
link-local, unspecified, multicast, reserved and other non-global addresses are
refused unless the operator allows them for that instance (``allow_private_network``).
One bad address refuses the whole host, so a name cannot smuggle an internal address
in beside a public one.

The check and the connection must use the same addresses, or a name that resolves
differently the second time (DNS rebinding) gets past it. :func:`resolve` returns a
:class:`Destination` whose :meth:`Destination.pinned` gives, per checked address, the
URL to call, the ``Host`` header and the TLS server name, so a caller connects to
exactly the address that was checked (and TLS still verifies the configured host name).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})


class ForbiddenAddress(ValueError):
    """A URL is not allowed: wrong scheme, no host, or an address inside the network."""


@dataclass(frozen=True, slots=True)
class Pinned:
    """One way to call a destination: connect to ``url`` (an IP literal), send ``host``
    as the ``Host`` header and use ``server_hostname`` for TLS (None for plain HTTP)."""

    url: URL
    host: str
    server_hostname: str | None


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL and the checked addresses its host resolved to, in resolver order."""

    url: URL
    addresses: tuple[IPAddress, ...]

    def pinned(self) -> list[Pinned]:
        """The URL rewritten to each checked address, with what keeps the call honest."""
        host = self.url.host_port_subcomponent or ""
        tls_name = self.url.raw_host if self.url.scheme == "https" else None
        if tls_name is not None and _literal(tls_name) is not None:
            tls_name = None  # an IP literal: TLS checks the address itself
        return [
            Pinned(self.url.with_host(str(address)), host, tls_name) for address in self.addresses
        ]


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is inside the network (for example "loopback"); None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for reason, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


def check_address(address: IPAddress | str, *, allow_private: bool = False) -> IPAddress:
    """The address, if it may be called; raises ``ForbiddenAddress`` otherwise."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if not allow_private and (reason := forbidden_reason(ip)) is not None:
        raise ForbiddenAddress(
            f"{ip} is a {reason} address; outbound calls to it are not allowed "
            "(allow_private_network = true allows them)"
        )
    return ip


def parse_url(url: str | URL) -> URL:
    """The URL, if it is absolute http(s) with a host; raises ``ForbiddenAddress``."""
    parsed = url if isinstance(url, URL) else URL(url)
    if parsed.scheme not in SCHEMES:
        raise ForbiddenAddress(f"{str(parsed)!r} is not an http:// or https:// URL")
    if not parsed.raw_host:
        raise ForbiddenAddress(f"{str(parsed)!r} has no host")
    return parsed


def check_literal(url: str | URL, *, allow_private: bool = False) -> URL:
    """Check what can be checked without DNS: the scheme, the host, an IP-literal host.

    Meant for config validation; :func:`resolve` does the whole check before each call.
    """
    parsed = parse_url(url)
    literal = _literal(parsed.raw_host or "")
    if literal is not None:
        check_address(literal, allow_private=allow_private)
    return parsed


Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for a TCP connection to ``host:port``."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def resolve(
    url: str | URL, *, allow_private: bool = False, resolver: Resolver = system_resolver
) -> Destination:
    """Resolve the URL's host (with ``resolver``) and check every address it has.

    Raises ``ForbiddenAddress`` if the URL or any address is not allowed, and ``OSError``
    (``socket.gaierror``) if the name does not resolve.
    """
    parsed = parse_url(url)
    host = parsed.raw_host or ""
    literal = _literal(host)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        found = await resolver(host, port)
        # A scoped IPv6 address ("fe80::1%eth0") is checked without its scope.
        addresses = _unique(ipaddress.ip_address(a.split("%", 1)[0]) for a in found)
        if not addresses:
            raise OSError(f"{host!r} resolved to no address")
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return Destination(parsed, addresses)


@functools.lru_cache(maxsize=1024)
def _literal(host: str) -> IPAddress | None:
    """The address a host names literally (parsed once per host: every call to a
    platform checks it), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unique(addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    return tuple(dict.fromkeys(addresses))
