"""Errors a client of the proxy sees: an HTTP status and OpenAI's error JSON, so the official
`openai` client raises its usual exception types (`BadRequestError`, `RateLimitError`, ...) with
our message in them."""

from __future__ import annotations


class ProxyError(Exception):
    """A request the proxy refuses or cannot complete: `status` and a one-line message for the
    client. `kind` is OpenAI's error `type`, `code` a short machine-readable reason."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = " ".join(str(message).split())
        self.kind = kind
        self.code = code
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict:
        """OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}


def bad_request(message: str, code: str = "invalid_request") -> ProxyError:
    return ProxyError(400, message, code=code)


def forbidden(message: str, code: str = "media_forbidden") -> ProxyError:
    return ProxyError(403, message, kind="permission_error", code=code)


def too_large(message: str, code: str = "too_large") -> ProxyError:
    return ProxyError(413, message, code=code)


__all__ = ["ProxyError", "bad_request", "forbidden", "too_large"]
