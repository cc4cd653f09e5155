"""Errors the hub answers with. Each carries its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any

from providers.errors import error_body


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, **self.details)


class BadRequest(HubError):
    status = 400
    code = "bad_request"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class TooLarge(HubError):
    status = 413
    code = "too_large"


class UnsupportedMedia(HubError):
    status = 415
    code = "unsupported_media_type"


class Invalid(HubError):
    status = 422
    code = "validation_error"


class Unavailable(HubError):
    status = 503
    code = "unavailable"
