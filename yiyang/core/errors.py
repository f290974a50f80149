from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    """The stable `code` of every refusal, for machines (the API's error format; docs/architecture.md).

    Codes name the kind of refusal, not the place it came from. A new kind of refusal gets a member here;
    a domain-specific code (`roll_locked`, `open_checks`) is kept only when a client must tell it apart.
    """

    VALIDATION = "validation_error"      # 422: a field is wrong; `errors` says which
    FORBIDDEN = "forbidden"              # 403: the role or scope does not allow the step
    CSRF_FAILED = "csrf_failed"          # 403: a session call without a valid CSRF token (not a role matter)
    NOT_FOUND = "not_found"              # 404: missing, or outside the caller's scope
    INVALID_STATE = "invalid_state"      # 409: the object is not in a state that allows the step
    CONFLICT = "conflict"                # 409: it collides with something that exists (a duplicate)
    CLIENT_KEY_CONFLICT = "client_key_conflict"  # 409: a submission key reused for something else
    CIRCUIT_BREAKER = "circuit_breaker"  # 409: an escrow withdrawal tripped the breaker; the account is now frozen
    UNAUTHENTICATED = "unauthenticated"  # 401
    THROTTLED = "throttled"              # 429
    MALFORMED_REQUEST = "malformed_request"  # 400
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    REQUEST_TOO_LARGE = "request_too_large"    # 413
    SERVER_ERROR = "server_error"        # 500: never expected; the message says nothing of the cause


class DomainError(Exception):
    """A business rule said no. `code` is stable for machines, `message` is for people (translated)."""

    status = 400

    def __init__(self, code: str, message, *, status: int | None = None, fields: dict | None = None):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.fields = fields or {}
        if status is not None:
            self.status = status


class LoginError(DomainError):
    status = 401


INVALID_CREDENTIALS = _("用户名或密码错误。")
# What a user is told when the database refuses a write the checks let through (yiyang/api/errors.py for the
# API, yiyang/core/conflicts.py for the pages).
CONFLICT_MESSAGE = _("提交的内容与已有记录冲突（可能刚被他人修改），未作任何更改。请刷新后重试。")
THROTTLED = _("登录失败次数过多，请 %(minutes)d 分钟后再试。")


def messages_of(exc) -> list[str]:
    """Every message of a ValidationError (field errors flattened) or the message of a DomainError."""
    if isinstance(exc, DomainError):
        return [str(exc.message)]
    if hasattr(exc, "error_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


def flash(request, exc) -> None:
    """Show a refused action's reasons on the next page (Django messages)."""
    from django.contrib import messages

    for message in messages_of(exc):
        messages.error(request, message)
