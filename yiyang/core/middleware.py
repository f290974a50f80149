import contextvars
from dataclasses import dataclass

_request_context: contextvars.ContextVar["RequestContext | None"] = contextvars.ContextVar(
    "yiyang_request_context", default=None
)


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    user_agent: str


def client_ip(request) -> str | None:
    from django.conf import settings

    if settings.USE_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def current_request_context() -> RequestContext | None:
    return _request_context.get()


class RequestContextMiddleware:
    """Makes the caller's address available to services (for the audit log) without passing requests around."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_context.set(
            RequestContext(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:200])
        )
        try:
            return self.get_response(request)
        finally:
            _request_context.reset(token)
