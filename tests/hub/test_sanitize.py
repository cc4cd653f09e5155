"""The sanitiser's shortcut: text nh3 would not change is not given to nh3 at all."""

from __future__ import annotations

import random

import nh3

from hub.security import sanitize
from hub.security.sanitize import clean_html

ALPHABET = [chr(code) for code in range(0x3000)] + ["🙂", "\ufeff", "\u2028", "\ufffd"]


def test_the_shortcut_gives_what_nh3_gives():
    draw = random.Random(20261127)
    for _ in range(20_000):
        text = "".join(draw.choice(ALPHABET) for _ in range(draw.randint(0, 16)))
        assert clean_html(text) == sanitize._CLEANER.clean(text), repr(text)


def test_every_character_first_between_and_last():
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        text = f"{chr(code)}a{chr(code)}b{chr(code)}"
        assert clean_html(text) == sanitize._CLEANER.clean(text), hex(code)


def test_markup_is_still_cleaned():
    assert clean_html("<b>hi</b><script>alert(1)</script>") == "<b>hi</b>"
    assert (
        clean_html('<a href="javascript:x()">x</a>')
        == '<a rel="noopener noreferrer nofollow">x</a>'
    )
    assert clean_html("fish & chips") == nh3.clean("fish & chips")
    assert clean_html("a\rb\xa0c") == "a\nb&nbsp;c"
