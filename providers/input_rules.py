"""The rules every inbound string and JSON document follows, wherever it comes in.

The hub and the adapters' inbound routes read requests through these, so a bad input is
refused at the edge with a 4xx that names the field, and never reaches the database:

- every string (keys included) is Unicode text a database can store: no lone surrogate
  (``"\\ud800"``) and no NUL character;
- JSON is at most :data:`MAX_DEPTH` levels deep, has no key twice in one object, and no
  number that is not finite (``NaN``, ``Infinity``, ``1e999``);
- a URL that a page will show (an icon, an avatar, a link) is ``http(s)``.

:func:`loads` reads a JSON body under these rules; :data:`Text` and :data:`PageUrl` are the
pydantic types for values that come from elsewhere (forms, query strings).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

MAX_DEPTH = 32
MAX_URL_CHARS = 2000
_SURROGATE = re.compile("[\ud800-\udfff]")
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class InputError(ValueError):
    """An input breaks one of the rules. ``code`` says which (``invalid_text``,
    ``invalid_json``, ``too_deep``, ``duplicate_key``, ``invalid_number``); ``field`` is the
    dotted path of the value (``transcript.0.message``), empty for the whole body."""

    def __init__(self, code: str, field: str, problem: str) -> None:
        self.code = code
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


def text_problem(value: str) -> str | None:
    """What makes ``value`` unfit to store, or None when it is fine."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii() and _SURROGATE.search(value):
        return "contains a lone surrogate (it is not valid Unicode)"
    return None


def check_text(value: str, field: str) -> str:
    """``value`` itself, or :class:`InputError` naming ``field``."""
    problem = text_problem(value)
    if problem is not None:
        raise InputError("invalid_text", field, problem)
    return value


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


def check_value(value: Any, *, field: str = "", max_depth: int = MAX_DEPTH) -> None:
    """Every string, key and number in a decoded JSON value follows the rules; the first
    that does not raises :class:`InputError` with its path."""
    stack: list[tuple[Any, str, int]] = [(value, field, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, dict):
            if depth > max_depth:
                raise InputError("too_deep", path, f"is nested deeper than {max_depth} levels")
            for key in item:
                problem = text_problem(key)
                if problem is not None:
                    raise InputError("invalid_text", path, f"a key {problem}")
            stack.extend((item[key], _join(path, key), depth + 1) for key in reversed(item))
        elif isinstance(item, list):
            if depth > max_depth:
                raise InputError("too_deep", path, f"is nested deeper than {max_depth} levels")
            stack.extend(
                (child, _join(path, index), depth + 1)
                for index, child in reversed(list(enumerate(item)))
            )
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputError("invalid_number", path, "must be a finite number")


def check_strings(values: Iterable[tuple[str, str]]) -> None:
    """Each (field, text) pair follows the text rules (query strings, forms, headers)."""
    for field, value in values:
        check_text(value, field)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InputError(
                    "duplicate_key", "", f"the key {key!r} appears twice in one object"
                )
            seen.add(key)
    return found


def _constant(name: str) -> Any:
    raise InputError("invalid_number", "", f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InputError("invalid_number", "", f"{text} is too large a number")
    return number


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a JSON document under the rules; :class:`InputError` names what is wrong."""
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("invalid_json", "", "the body is not UTF-8 text") from None
    else:
        text = raw
    raw_surrogates = False
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a str (not bytes) that holds a lone surrogate
            raw_surrogates = True
    try:
        value = _DECODER.decode(text)
    except InputError:
        raise
    except RecursionError:
        raise InputError("too_deep", "", f"is nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise InputError("invalid_json", "", f"the body is not valid JSON: {exc}") from None
    # A NUL or a lone surrogate can only come in as a \u0000 or \uD800-\uDFFF escape (raw
    # control characters are not JSON, and UTF-8 cannot encode a surrogate), or in a str
    # that already held one; depth past the limit needs that many brackets. Most bodies
    # need neither walk (non-ASCII text escaped as \u00e9 needs none).
    if raw_surrogates or _SUSPECT_ESCAPE.search(text):
        check_value(value, max_depth=max_depth)
    elif text.count("{") + text.count("[") > max_depth and _deeper_than(value, max_depth):
        check_value(value, max_depth=max_depth)  # to name where
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (scalars are not looked at)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def page_url(value: str) -> str:
    """``value`` when it is an absolute http(s) URL a page may show; ValueError otherwise."""
    if _URL_FORBIDDEN.search(value):
        raise ValueError("must be an http(s) URL without spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("must be an http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


#: A string that follows the text rules (for values that do not come through :func:`loads`).
Text = Annotated[str, AfterValidator(_text)]
#: An absolute http(s) URL, for icons, avatars and links a page will show.
PageUrl = Annotated[
    str, Field(max_length=MAX_URL_CHARS), AfterValidator(_text), AfterValidator(page_url)
]
