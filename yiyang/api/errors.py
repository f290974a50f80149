"""One error format for the whole API.

    {"status": 422, "code": "validation_error", "message": "…", "errors": [{"field": "…", "code": "…", "message": "…"}]}

`code` values are stable; `message` is in the caller's language (Accept-Language, or the session's choice).
"""

import logging
import re
from functools import partial

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from yiyang.core.errors import CONFLICT_MESSAGE, DomainError, ErrorCode

logger = logging.getLogger(__name__)

# Pydantic error types → our codes and messages (pydantic's own messages are English only).
PYDANTIC_MESSAGES = {
    "missing": ("required", lambda: _("此项为必填项。")),
    "string_type": ("invalid_type", lambda: _("应为文本。")),
    "int_type": ("invalid_type", lambda: _("应为整数。")),
    "int_parsing": ("invalid_type", lambda: _("应为整数。")),
    "int_from_float": ("invalid_type", lambda: _("应为整数。")),
    "float_parsing": ("invalid_type", lambda: _("应为数字。")),
    "decimal_parsing": ("invalid_type", lambda: _("应为数字。")),
    "bool_parsing": ("invalid_type", lambda: _("应为 true 或 false。")),
    "bool_type": ("invalid_type", lambda: _("应为 true 或 false。")),
    "date_parsing": ("invalid_date", lambda: _("日期格式应为 YYYY-MM-DD。")),
    "date_from_datetime_parsing": ("invalid_date", lambda: _("日期格式应为 YYYY-MM-DD。")),
    "string_too_long": ("too_long", lambda: _("内容过长。")),
    "string_too_short": ("too_short", lambda: _("内容过短。")),
    "dict_type": ("invalid_type", lambda: _("应为对象。")),
    "model_attributes_type": ("invalid_type", lambda: _("应为对象。")),
    "list_type": ("invalid_type", lambda: _("应为列表。")),
    "extra_forbidden": ("unknown_field", lambda: _("不认识的字段。")),
    "greater_than_equal": ("out_of_range", lambda: _("数值过小。")),
    "less_than_equal": ("out_of_range", lambda: _("数值过大。")),
    "greater_than": ("out_of_range", lambda: _("数值过小。")),
    "less_than": ("out_of_range", lambda: _("数值过大。")),
    "too_long": ("too_long", lambda: _("项目过多。")),
    "literal_error": ("invalid_choice", lambda: _("不是允许的取值。")),
    "enum": ("invalid_choice", lambda: _("不是允许的取值。")),
    "json_invalid": ("malformed_request", lambda: _("请求内容不是有效的 JSON。")),
}


def csrf_message():
    return _("CSRF 校验失败：请求缺少有效的 CSRF 令牌。请刷新页面后重试；接口调用请使用访问令牌（Bearer）。")


def error_body(status: int, code: str, message: str, errors: list | None = None) -> dict:
    return {"status": status, "code": code, "message": str(message), "errors": errors or []}


def _field_path(loc) -> str:
    # Drop the parameter source ("body", "query", the payload argument's name) to leave the field path.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header", "cookie"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in {"payload", "data", "filters"}:
        parts = parts[1:]
    # Pydantic names the branch of a union or validator it tried ("str-enum[OrderStatus]",
    # "function-after[...]"); a client only wants the field.
    return ".".join(p for p in parts if not _VALIDATOR_TAG.fullmatch(p))


_VALIDATOR_TAG = re.compile(r"[a-z][a-z0-9_-]*\[.*\]|nullable|lax-or-strict")


# The bound itself in the message, so that a client learns the limit from the error.
BOUNDED_MESSAGES = {
    "string_too_long": ("max_length", lambda n: _("内容过长（最多 %(n)d 字）。") % {"n": n}),
    "too_long": ("max_length", lambda n: _("最多 %(n)d 项。") % {"n": n}),
    "less_than_equal": ("le", lambda n: _("不能大于 %(n)s。") % {"n": n}),
    "greater_than_equal": ("ge", lambda n: _("不能小于 %(n)s。") % {"n": n}),
}


def _message(err: dict) -> tuple[str, str]:
    code, message = PYDANTIC_MESSAGES.get(err.get("type"), ("invalid", lambda: _("取值无效。")))
    bound = BOUNDED_MESSAGES.get(err.get("type"))
    ctx = err.get("ctx") or {}
    if bound and isinstance(ctx.get(bound[0]), int):
        return code, str(bound[1](ctx[bound[0]]))
    return code, str(message())


def ninja_validation(request, exc: NinjaValidationError, api):
    errors = []
    for err in exc.errors:
        code, message = _message(err)
        errors.append({"field": _field_path(err.get("loc", ())), "code": code, "message": message})
    return api.create_response(
        request, error_body(422, "validation_error", _("提交的数据有误，请检查标出的字段。"), errors), status=422
    )


def django_validation(request, exc: DjangoValidationError, api):
    errors = []
    if hasattr(exc, "error_dict"):
        for field, field_errors in exc.error_dict.items():
            for e in field_errors:
                msg = e.message % e.params if e.params else e.message
                errors.append({"field": "" if field == "__all__" else field, "code": e.code or "invalid",
                               "message": str(msg)})
    else:
        for e in exc.error_list:
            msg = e.message % e.params if e.params else e.message
            errors.append({"field": "", "code": e.code or "invalid", "message": str(msg)})
    return api.create_response(
        request, error_body(422, "validation_error", _("提交的数据有误，请检查标出的字段。"), errors), status=422
    )


def domain_error(request, exc: DomainError, api):
    errors = [{"field": f, "code": exc.code, "message": str(m)} for f, m in exc.fields.items()]
    return api.create_response(request, error_body(exc.status, exc.code, exc.message, errors), status=exc.status)


def not_found(request, exc, api):
    return api.create_response(request, error_body(404, "not_found", _("找不到该对象，或您无权查看。")), status=404)


def authentication(request, exc, api):
    return api.create_response(
        request, error_body(401, "unauthenticated", _("请先登录，或提供有效的访问令牌。")), status=401
    )


def http_error(request, exc: HttpError, api):
    status = exc.status_code
    if status == 400:
        body = error_body(400, "malformed_request", _("请求内容无法解析，请检查 JSON 格式。"))
    elif status == 403 and "csrf" in str(exc).lower():
        # django-ninja's session auth refuses a missing or stale CSRF token with a bare 403.
        body = error_body(403, ErrorCode.CSRF_FAILED, csrf_message())
    elif status == 403:
        body = error_body(403, "forbidden", _("您的角色无权执行此操作。"))
    elif status == 405:
        body = error_body(405, "method_not_allowed", _("不支持该请求方法。"))
    elif status == 429:
        body = error_body(429, "throttled", _("请求过于频繁，请稍后再试。"))
    else:
        body = error_body(status, "http_error", str(exc))
    return api.create_response(request, body, status=status)


def too_big(request, exc, api):
    return api.create_response(request, error_body(413, "request_too_large", _("请求内容过大。")), status=413)


def integrity_error(request, exc: IntegrityError, api):
    # A constraint the checks before the write did not catch (two requests at once, or a rule only the database
    # states): the write was rolled back; the cause goes to the log, not to the client.
    logger.warning("IntegrityError on %s %s: %s", request.method, request.path, exc)
    return api.create_response(request, error_body(409, ErrorCode.CONFLICT, CONFLICT_MESSAGE), status=409)


def install(api) -> None:
    handlers = [
        (NinjaValidationError, ninja_validation),
        (DjangoValidationError, django_validation),
        (DomainError, domain_error),
        (Http404, not_found),
        (AuthenticationError, authentication),
        (HttpError, http_error),
        (RequestDataTooBig, too_big),
        (IntegrityError, integrity_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, partial(handler, api=api))
