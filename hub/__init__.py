"""offload-hub: the core (app factory, settings, CLI, v1 API, event log, routing)."""

__version__ = "0.1.0"
