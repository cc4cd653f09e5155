"""offload-hub: the core (settings, v1 API, event log, routing, scheduler jobs, persistence).

The app factory and the command that wire it with the dashboard live above it, in
:mod:`offload_hub`; nothing here imports them, nor :mod:`dashboard`."""

__version__ = "0.1.0"
