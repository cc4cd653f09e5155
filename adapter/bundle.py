"""Build ``hub/static/offload-hub-adapter.js`` from the modules in ``adapter/src``.

The browser adapter is one dependency-free file that every hub serves. It is written as
small modules (``adapter/src/*.js``, in the order of ``MODULES``), each a part of one
function scope; this script puts them, indented, inside that scope, with the header. No
tool beyond Python is needed, so the bundle builds on any machine, offline.

    python adapter/bundle.py          # write the bundle
    python adapter/bundle.py --check  # exit 1 if the bundle is not what the modules make

``make test`` runs the check (``tests/e2e/test_adapter_bundle.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "adapter" / "src"
BUNDLE = ROOT / "hub" / "static" / "offload-hub-adapter.js"
MODULES = (
    "basics.js",
    "sdk.js",
    "connector.js",
    "subscriptions.js",
    "escalation.js",
    "user-side.js",
    "stream.js",
    "ending.js",
    "survey.js",
    "restore.js",
    "exports.js",
)
HEADER = "header.js"
OPEN = "(function (root) {\n  'use strict';\n"
CLOSE = "})(window);\n"


def _indent(text: str) -> str:
    return "".join(
        ("  " + line) if line.strip() else "\n" for line in text.splitlines(keepends=True)
    )


def build() -> str:
    """The bundle's text."""
    parts = [(SOURCES / HEADER).read_text(encoding="utf-8"), OPEN]
    for name in MODULES:
        source = (SOURCES / name).read_text(encoding="utf-8").strip("\n")
        parts.append(f"\n  // ---- adapter/src/{name} ----\n\n")
        parts.append(_indent(source + "\n"))
    parts.append(CLOSE)
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        if BUNDLE.read_text(encoding="utf-8") != text:
            print(f"{BUNDLE.relative_to(ROOT)} is out of date: run python adapter/bundle.py")
            return 1
        return 0
    BUNDLE.write_text(text, encoding="utf-8")
    print(f"wrote {BUNDLE.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
