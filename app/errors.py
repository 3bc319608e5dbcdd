"""The one error hierarchy: each error knows its HTTP status and machine code.

Rendered by one handler (`app.main`) as ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any


class JolError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(JolError):
    status_code = 404
    code = "not_found"


class UnknownLanguage(NotFound):
    code = "unknown_language"


class Unauthorized(JolError):
    status_code = 401
    code = "unauthorized"


class Forbidden(JolError):
    status_code = 403
    code = "forbidden"


class Conflict(JolError):
    status_code = 409
    code = "conflict"


class ContentUnavailable(JolError):
    status_code = 503
    code = "content_unavailable"


class ContentInvalid(JolError):
    status_code = 422
    code = "content_invalid"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}
