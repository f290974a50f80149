"""A write the database refused (IntegrityError) never reaches a user of the pages as a 500.

The services check what they can before writing (a duplicate name answers on its field, the form keeps what was
typed). What only the database can see, two people saving at the same moment, arrives here: the transaction was
rolled back, and the user gets the form back (a POST is redirected to the page it came from) with the message
above it. The API has its own handler with the same message (yiyang/api/errors.py: 409 `conflict`).
"""

import logging

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import CONFLICT_MESSAGE

logger = logging.getLogger(__name__)


class IntegrityErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, IntegrityError):
            return None
        logger.warning("IntegrityError on %s %s: %s", request.method, request.path, exception)
        if request.headers.get("HX-Request"):
            # htmx: the whole page is reloaded where the user was, with the message.
            messages.error(request, CONFLICT_MESSAGE)
            response = HttpResponse(status=409)
            response["HX-Redirect"] = _same_site(request, request.headers.get("HX-Current-URL")) or "/"
            return response
        if request.method == "POST":
            messages.error(request, CONFLICT_MESSAGE)
            return redirect(request.get_full_path())
        back = _same_site(request, request.headers.get("Referer")) or "/"
        return render(request, "409.html", {"message": CONFLICT_MESSAGE, "back": back}, status=409)


def _same_site(request, url: str | None) -> str | None:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None
