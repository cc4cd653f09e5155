"""Identifiers: a prefix, then 24 characters of base32hex that sort by creation time."""

from __future__ import annotations

import base64
import re
import time

from hub import ids
from hub.ids import new_id


def test_an_id_is_its_prefix_and_120_bits_in_base32hex(monkeypatch):
    monkeypatch.setattr(ids, "_random_bytes", lambda count: bytes(range(1, count + 1)))
    stamp = 1_790_000_000_123
    monkeypatch.setattr(time, "time_ns", lambda: stamp * 1_000_000 + 999)
    made = new_id("m")
    raw = stamp.to_bytes(6, "big") + bytes(range(1, 10))
    assert made == "m_" + base64.b32hexencode(raw).decode().lower()


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
