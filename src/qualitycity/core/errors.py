"""One application-error family; the API turns every one into the same envelope.

Envelope: ``{"code": "...", "message": "...", "details": ...}``. Codes are stable: clients
branch on them, so never rename one.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def envelope(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(ApplicationError):
    status = 400
    code = "validation_failed"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class PermissionDenied(ApplicationError):
    status = 403
    code = "forbidden"


class Unauthenticated(ApplicationError):
    status = 401
    code = "unauthenticated"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
