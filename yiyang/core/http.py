"""What every page does around a service call: run it, tell the user, answer htmx, send a file.

A view is thin: it parses the request, calls one service through `run_service`, and renders or redirects on
the outcome. The service decides; `run_service` only turns its refusal (a `ValidationError` or `DomainError`)
into messages a person reads, so no view writes its own `try/except` around a service:

    outcome = run_service(request, lambda: services.resolve_check(actor=request.user, check=check, ...),
                          success=_("已核实无误"))
    return redirect(...)                     # the messages are on the next page either way

    outcome = run_service(request, lambda: services.adopt_rule(...), flash_errors=False)
    if not outcome:                          # a page of its own shows the errors beside its fields
        return render(request, "form.html", {"errors": outcome.errors}, status=422)

    outcome = run_service(request, lambda: services.set_shift(...), form=form)
    if not outcome:                          # a Django form shows them as its own errors (not flashed)
        return render(request, "form.html", {"form": form}, status=422)

A view that must answer before the messages are shown (a 403 instead of a message) passes
`flash_errors=False`, decides, then calls `outcome.flash(request)`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from .errors import DomainError, messages_of

GENERAL = "general"  # errors not tied to one field of the form


@dataclass
class Outcome:
    """What a service call came to: its value, or the refusal and its messages by field."""

    value: Any = None
    error: Exception | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.error is None

    @property
    def messages(self) -> list[str]:
        return [m for msgs in self.errors.values() for m in msgs]

    def flash(self, request) -> None:
        """Show the refusal's messages on the next page (Django messages)."""
        for message in self.messages:
            messages.error(request, message)

    def add_to(self, form) -> None:
        """Put the refusal's messages on a Django form: a field's on that field when the form has it, the rest
        (and a DomainError's message) as the form's non-field errors."""
        for key, msgs in self.errors.items():
            target = key if key != GENERAL and key in form.fields else None
            for message in msgs:
                form.add_error(target, message)


def errors_by_field(exc: Exception) -> dict[str, list[str]]:
    """A refusal's messages keyed by field ("__all__" and a DomainError's message under GENERAL)."""
    if isinstance(exc, DomainError):
        out = {GENERAL: [str(exc.message)]}
        for key, msgs in (exc.fields or {}).items():
            out.setdefault(key, []).extend(str(m) for m in (msgs if isinstance(msgs, list | tuple) else [msgs]))
        return out
    if hasattr(exc, "error_dict"):
        out: dict[str, list[str]] = {}
        for key, msgs in exc.message_dict.items():
            out.setdefault(GENERAL if key == "__all__" else key, []).extend(msgs)
        return out
    return {GENERAL: list(messages_of(exc))}


def run_service(request, call: Callable[[], Any], *, success: str | Callable[[Any], str] | None = None,
                flash_errors: bool = True, form=None) -> Outcome:
    """Call `call()`; on a refusal return a failed Outcome, its messages added to `form` when one is given
    (Outcome.add_to), else flashed unless `flash_errors=False`; on success the value, flashing `success` (a
    text, or a function of the value giving one). Anything other than a refusal is a bug and propagates (a 500
    that is logged, never swallowed)."""
    try:
        value = call()
    except (ValidationError, DomainError) as exc:
        outcome = Outcome(error=exc, errors=errors_by_field(exc))
        if form is not None:
            outcome.add_to(form)
        elif flash_errors:
            outcome.flash(request)
        return outcome
    if success is not None:
        text = success(value) if callable(success) else success
        if text:
            messages.success(request, text)
    return Outcome(value=value)


def is_htmx(request) -> bool:
    """The request came from htmx (it swaps a fragment, so answer with the partial template)."""
    return request.headers.get("HX-Request") == "true"


def attachment(content, *, filename: str, content_type: str, inline: bool = False) -> HttpResponse:
    """A file answer with a Content-Disposition that survives any file name (Chinese names included, RFC 6266).
    Files here carry people's data: no cache keeps a copy."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
