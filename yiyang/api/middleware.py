"""No NUL character (U+0000) reaches the database from the API.

PostgreSQL text cannot hold it (a DataError, so a 500) and SQLite stores it where nothing downstream expects it.
The check sits in front of every API operation, over everything a client sends as text: the path, the query
string, a JSON body (keys and values, at any depth) and form fields. Uploaded files are content, not text.
Which characters a name or an address may contain beyond that is the business of their validators.
"""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext as _

from yiyang.core.errors import ErrorCode

from .errors import error_body

NUL = "\x00"


def _nul_paths(value, path: str):
    """The paths (a.b.0) of the strings and keys holding a NUL inside a decoded JSON value."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield child.replace(NUL, "")
            else:
                yield from _nul_paths(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nul_paths(item, f"{path}.{i}" if path else str(i))


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            fields = self._fields_with_nul(request)
            if fields:
                # The same refusal as the text validators give (core/validators.py), so a client sees one code.
                message = _("不能包含控制字符 %(char)s。") % {"char": "U+0000 NULL"}
                errors = [{"field": f, "code": "control_character", "message": message} for f in fields]
                body = error_body(422, "validation_error", _("提交的数据有误，请检查标出的字段。"), errors)
                return JsonResponse(body, status=422)
        return self.get_response(request)

    @staticmethod
    def _fields_with_nul(request) -> list[str]:
        fields = []
        if NUL in request.path_info:
            fields.append("path")
        for key, values in request.GET.lists():
            if NUL in key or any(NUL in v for v in values):
                fields.append(key.replace(NUL, ""))
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return fields
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            for key, values in request.POST.lists():
                if NUL in key or any(NUL in v for v in values):
                    fields.append(key.replace(NUL, ""))
            return fields
        try:
            # A body operation reads JSON whatever the Content-Type says, so every body is looked at as JSON.
            data = json.loads(request.body) if request.body else None
        except RequestDataTooBig:
            return fields  # the operation answers 413
        except (ValueError, UnicodeDecodeError, RecursionError):
            return fields  # not JSON (or nested deeper than the decoder goes): the operation answers it
        return fields + list(_nul_paths(data, ""))


class ApiErrorFormatMiddleware:
    """Answers under /api/ that Django or django-ninja make outside our handlers (an unknown path's 404, a
    wrong method's 405, an unexpected exception's 500 from handler500) get the single error format too.

    Sits after the language middleware so the message is in the caller's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path_info.startswith("/api/") or response.status_code not in (404, 405, 500):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response  # already ours
        if response.status_code == 404:
            body = error_body(404, ErrorCode.NOT_FOUND, _("没有这个接口，请核对请求地址（接口文档：/api/docs）。"))
        elif response.status_code == 405:
            body = error_body(405, ErrorCode.METHOD_NOT_ALLOWED, _("不支持该请求方法。"))
        else:
            body = error_body(500, ErrorCode.SERVER_ERROR,
                              _("服务器出现问题，您的数据未被修改。请稍后重试；如持续出现，请联系系统管理员。"))
        answer = JsonResponse(body, status=response.status_code)
        if response.has_header("Allow"):
            answer["Allow"] = response["Allow"]
        return answer
