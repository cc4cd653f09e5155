"""An example offload-hub provider plugin: the Tinychat adapter."""

from offload_hub_example.provider import TinychatConfig, TinychatProvider

__all__ = ["TinychatConfig", "TinychatProvider"]
