"""The desk: the hub's own agents, working in the dashboard."""

from providers.desk.provider import DeskConfig, DeskProvider

__all__ = ["DeskConfig", "DeskProvider"]
