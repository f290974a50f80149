import contextvars
from dataclasses import dataclass

_request_context: contextvars.ContextVar["RequestContext | None"] = contextvars.ContextVar(
    "yiyang_request_context", default=None
)


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    user_agent: str


def _valid_ip(value: str) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The caller's address, the one used by the login throttle and the audit log alike.

    With settings.TRUSTED_PROXIES = n, the n-th X-Forwarded-For entry from the right (what our outermost
    proxy saw); entries left of it are the client's own claim. A request that passed through fewer proxies
    than configured (it skipped the outer ones) has its leftmost entry used, which an inner proxy wrote.
    """
    from django.conf import settings

    remote = _valid_ip(request.META.get("REMOTE_ADDR") or "")
    hops = settings.TRUSTED_PROXIES
    if hops <= 0:
        return remote
    entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if not entries:
        return remote
    return _valid_ip(entries[-min(hops, len(entries))]) or remote


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


class PreferredLanguageMiddleware:
    """Pages are in Simplified Chinese unless the person switched language (the language cookie).

    Browsers in government offices often send an English Accept-Language; that must not turn the UI
    English by surprise. The API still honours Accept-Language, which is how integrations ask for English.
    Placed after SessionMiddleware and instead of Django's LocaleMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        supported = {code for code, _ in settings.LANGUAGES}
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen not in supported:
            chosen = None
        if chosen is None and request.path.startswith("/api/"):
            chosen = translation.get_language_from_request(request)
        language = chosen or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch = response.headers.get("Vary", "")
        if "Cookie" not in patch:
            response.headers["Vary"] = f"{patch}, Cookie" if patch else "Cookie"
        return response


class ContentSecurityPolicyMiddleware:
    """Sets settings.CONTENT_SECURITY_POLICY on every response that has none of its own.

    Scripts and styles come only from our static files: templates hold no inline <script>, <style>, style=""
    or on*="" attributes (data-style.js applies the few data-driven styles through the DOM).
    """

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
