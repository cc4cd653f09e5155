"""Log lines: JSON (one object per line) or text, with the ids of what they are about.

``log_format = "json"`` writes one JSON object per line to standard error::

    {"time": "2026-11-23T10:00:00.123Z", "level": "warning",
     "logger": "hub.conversation.service", "message": "provider partner could not open ...",
     "request_id": "6f1c...", "bot_id": "b_...", "conversation_id": "c_...",
     "provider": "partner", "error": "ProviderTransientError: the platform answered 503"}

``log_format = "text"`` (the default, for a terminal) writes the same facts on one line,
the ids in brackets at the end. The ids come from :mod:`hub.telemetry.context`; a provider
adapter's own logger (``offload_hub.providers.<instance>``) names its instance. Fields
passed with ``extra={...}`` are written too.

Tracebacks: a failure the hub expects and handles (a provider's typed error, a
:class:`~hub.errors.HubError`, a timeout, a refused connection, the database being
unreachable) is written as one line, ``error: "Type: message"``, even when logged with
``exc_info``; anything else keeps its traceback (``traceback`` in JSON), because that is
a bug to look at.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import aiohttp

from hub.db import database_unavailable
from hub.errors import HubError
from hub.telemetry.context import PROVIDER, current_ids
from providers import ProviderError

LogFormat = Literal["text", "json"]

# Failures that are part of running a hub, not bugs: one line, no traceback (and the
# database's: unavailable, or a connection found lost).
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ProviderError,
    HubError,
    TimeoutError,
    ConnectionError,
    aiohttp.ClientError,
)

PROVIDER_LOGGERS = "offload_hub.providers."
# Loggers that would write a line per request or per second at INFO.
QUIET_LOGGERS = ("aiohttp.access", "apscheduler")

_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "log_ids",
    "taskName",
}


class ContextFilter(logging.Filter):
    """Attaches the ids known where the line is logged (``record.log_ids``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = dict(current_ids())
        if record.name.startswith(PROVIDER_LOGGERS):
            ids.setdefault(PROVIDER, record.name.removeprefix(PROVIDER_LOGGERS))
        record.log_ids = ids
        return True


def _error(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """(one-line error, traceback or None) of the record's exception, if any."""
    if not record.exc_info or record.exc_info[0] is None:
        return None, None
    kind, error, _ = record.exc_info
    text = str(error)
    if isinstance(error, EXPECTED_ERRORS) or database_unavailable(error):
        # (a database error's text goes on with the statement and a link: its first line)
        first = text.splitlines()[0] if text else ""
        return (f"{kind.__name__}: {first}" if first else kind.__name__), None
    line = f"{kind.__name__}: {text}" if text else kind.__name__
    return line, "".join(traceback.format_exception(*record.exc_info)).rstrip()


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_FIELDS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "log_ids", None) or {})
        line.update(_extras(record))
        error, trace = _error(record)
        if error is not None:
            line["error"] = error
        if trace is not None:
            line["traceback"] = trace
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        error, trace = _error(record)
        record.exc_info, record.exc_text = None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text = saved
        if error is not None and trace is None:
            text += f" ({error})"
        fields = {**(getattr(record, "log_ids", None) or {}), **_extras(record)}
        if fields:
            text += " [" + " ".join(f"{key}={value}" for key, value in fields.items()) + "]"
        if trace is not None:
            text += "\n" + trace
        return text


def log_handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``log_format`` lines (with the ids) to ``stream`` (standard error)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """The process's logging: every line through one handler in ``log_format``."""
    logging.basicConfig(level=level.upper(), handlers=[log_handler(log_format)], force=True)
    logging.captureWarnings(True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
