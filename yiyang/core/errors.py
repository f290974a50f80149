from django.utils.translation import gettext_lazy as _


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
