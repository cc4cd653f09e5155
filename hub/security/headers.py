"""The Content-Security-Policy of the pages the hub serves (the dashboard, the demo)."""

from __future__ import annotations


def content_security_policy(host: str) -> str:
    """Scripts, styles and everything else from this hub only; images also from the web
    (agents' and bots' icons); the live WebSocket to this hub; no plugins, no framing."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https: http:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
