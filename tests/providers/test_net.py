"""providers.net: outbound calls refuse addresses inside the network, unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from yarl import URL

from providers.net import (
    ForbiddenAddress,
    check_address,
    check_literal,
    forbidden_reason,
    parse_url,
    resolve,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_addresses_inside_the_network(address, reason):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason
    if reason is None:
        assert check_address(address) == ipaddress.ip_address(address)
    else:
        with pytest.raises(ForbiddenAddress, match=reason):
            check_address(address)
        assert check_address(address, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/", "not an http"),
        ("file:///etc/passwd", "not an http"),
        ("//example.com/hook", "not an http"),
        ("https:///hook", "no host"),
    ],
)
def test_only_absolute_http_urls(url, words):
    with pytest.raises(ForbiddenAddress, match=words):
        parse_url(url)


def test_literal_addresses_are_checked_without_dns():
    for url in ("http://127.0.0.1:8080/x", "http://[::1]/x", "https://169.254.169.254/"):
        with pytest.raises(ForbiddenAddress):
            check_literal(url)
        assert check_literal(url, allow_private=True) == URL(url)
    # A name is left for resolve(): nothing is looked up at config time.
    assert check_literal("https://agents.internal.invalid/hook").host == ("agents.internal.invalid")


async def test_every_resolved_address_is_checked():
    async with asyncio.timeout(10):

        async def split_horizon(host: str, port: int) -> list[str]:
            assert (host, port) == ("partner.example", 443)
            return ["93.184.216.34", "10.0.0.7", "93.184.216.34"]

        with pytest.raises(ForbiddenAddress, match=r"10\.0\.0\.7 is a private address"):
            await resolve("https://partner.example/hook", resolver=split_horizon)
        allowed = await resolve(
            "https://partner.example/hook", resolver=split_horizon, allow_private=True
        )
        assert [str(a) for a in allowed.addresses] == ["93.184.216.34", "10.0.0.7"]


async def test_calls_are_pinned_to_the_checked_addresses():
    async with asyncio.timeout(10):

        async def public(host: str, port: int) -> list[str]:
            return ["2606:4700::6810:84e5", "93.184.216.34", "fe80::1%eth0"][: 2 if port else 0]

        destination = await resolve("https://partner.example:8443/hook?x=1", resolver=public)
        pinned = destination.pinned()
        assert [str(p.url) for p in pinned] == [
            "https://[2606:4700::6810:84e5]:8443/hook?x=1",
            "https://93.184.216.34:8443/hook?x=1",
        ]
        assert {(p.host, p.server_hostname) for p in pinned} == {
            ("partner.example:8443", "partner.example")
        }
        plain = await resolve("http://partner.example/hook", resolver=public)
        assert {(p.host, p.server_hostname) for p in plain.pinned()} == {("partner.example", None)}
        literal = await resolve("https://93.184.216.34/hook")
        (only,) = literal.pinned()
        assert (str(only.url), only.host, only.server_hostname) == (
            "https://93.184.216.34/hook",
            "93.184.216.34",
            None,
        )


async def test_the_system_resolver():
    async with asyncio.timeout(10):
        with pytest.raises(ForbiddenAddress, match="loopback"):
            await resolve("http://localhost:8080/hook")
        local = await resolve("http://localhost:8080/hook", allow_private=True)
        assert ipaddress.ip_address("127.0.0.1") in local.addresses
        with pytest.raises(socket.gaierror):
            await resolve("http://nonexistent.invalid/hook")

        async def nothing(host: str, port: int) -> list[str]:
            return []

        with pytest.raises(OSError, match="no address"):
            await resolve("http://partner.example/", resolver=nothing)
