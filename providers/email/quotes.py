"""Cutting the quoted history off a plain-text reply, so only what the agent wrote is left.

Mail clients quote in a few ways: ``>`` lines, an attribution line ("On ... wrote:",
in a few languages, sometimes wrapped over two lines), an Outlook header block after a
rule or "Original Message" line. The emails this adapter sends also carry a marker line
at the top; whatever follows it in a reply is old. A signature (after "-- ") goes too.
"""

from __future__ import annotations

import re

REPLY_MARKER = "##- Please type your reply above this line -##"

_ATTRIBUTIONS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^on\b.{1,400}\bwrote:$",  # Gmail, Apple Mail, Thunderbird
        r"^le\b.{1,400}\ba écrit\s?:$",
        r"^am\b.{1,400}\bschrieb\b.{0,400}:$",
        r"^el\b.{1,400}\bescribió:$",
        r"^op\b.{1,400}\bschreef\b.{0,400}:$",
        r"^il giorno\b.{1,400}\bha scritto:$",
        r"^-{2,}\s*original message\s*-{2,}$",
        r"^-{2,}\s*forwarded message\s*-{2,}$",
        r"^_{10,}$",  # Outlook's rule above its header block
    )
]
_OUTLOOK_HEADER = re.compile(r"^(from|von|de):\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^(sent|date|gesendet|envoyé|to|subject):\s", re.IGNORECASE)
_DEVICE_SIGNATURE = re.compile(r"^sent from my \w+", re.IGNORECASE)


def _is_history(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if REPLY_MARKER in line:
        return True
    for pattern in _ATTRIBUTIONS:
        if pattern.match(line) or (following and pattern.match(f"{line} {following}")):
            return True
    return bool(_OUTLOOK_HEADER.match(line) and _OUTLOOK_NEXT.match(following))


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the first sign of history, without ``>`` lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or _is_history(lines, index):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and (not kept[-1].strip() or _DEVICE_SIGNATURE.match(kept[-1].strip())):
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)
