"""One error tree; every error becomes a problem JSON in one exception handler."""

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def problem(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "detail": self.detail}


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class SessionEnded(Conflict):
    code = "session_ended"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class QuotaExceeded(AppError):
    status = 429
    code = "quota_exceeded"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"


class ProviderError(AppError):
    """A failure at an external provider, keeping the provider's status and body."""

    code = "provider_error"

    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        status: int | None = None,
        body: Any = None,
        retryable: bool = False,
    ) -> None:
        self.provider = provider
        self.provider_status = status
        self.body = body
        self.retryable = retryable
        if status == 429:
            self.status, self.code = 429, "provider_busy"
        elif status is None or status >= 500:
            self.status, self.code = 503 if status is None else 502, "provider_unavailable"
        else:
            self.status, self.code = 502, "provider_error"
        super().__init__(f"{provider}: {detail}")

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "provider": self.provider}
