"""Identifiers: a prefix, then 24 characters of base32hex that sort by creation time."""

from __future__ import annotations

import base64
import collections
import re
import time

from hub import ids
from hub.ids import new_id


def test_an_id_is_its_prefix_and_120_bits_in_base32hex(monkeypatch):
    """48 bits of milliseconds, then 72 random ones: two from the first random byte and
    five from each of fourteen more."""
    taken = bytes(range(101, 116))
    monkeypatch.setattr(ids, "_random_bytes", lambda count: taken[:count])
    stamp = 1_790_000_000_123
    monkeypatch.setattr(time, "time_ns", lambda: stamp * 1_000_000 + 999)
    made = new_id("m")
    random = taken[0] & 3
    for byte in taken[1:]:
        random = random << 5 | byte & 31
    raw = (stamp << 72 | random).to_bytes(15, "big")
    assert made == "m_" + base64.b32hexencode(raw).decode().lower()
    decoded = base64.b32hexdecode(made[2:].upper())
    assert int.from_bytes(decoded[:6], "big") == stamp


def test_every_digit_is_as_likely_in_the_random_part():
    seen = collections.Counter("".join(new_id("x")[12:] for _ in range(4000)))
    assert set(seen) == set("0123456789abcdefghijklmnopqrstuv")
    expected = 4000 * 14 / 32
    assert all(0.8 * expected < count < 1.2 * expected for count in seen.values())


def test_ids_made_later_sort_later_and_do_not_repeat(monkeypatch):
    now = [1_790_000_000_000 * 1_000_000]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    made = []
    for _ in range(5):
        made += [new_id("c") for _ in range(200)]
        now[0] += 1_000_000  # the next millisecond: the time part grows
    assert all(re.fullmatch(r"c_[0-9a-v]{24}", i) for i in made)
    assert len(set(made)) == len(made)
    firsts = made[::200]
    assert firsts == sorted(firsts)
