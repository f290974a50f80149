"""The printable report (老年人能力评估报告): HTML from a template, typeset by WeasyPrint into an A4 PDF.

Chinese text needs a CJK font: WeasyPrint finds fonts through fontconfig, and the report asks for Noto Sans/Serif
CJK SC (Debian's fonts-noto-cjk), falling back to other common CJK fonts. Nothing is fetched over the network.
"""

import logging

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from yiyang.core.http import attachment

from . import selectors, services
from .models import Assessment

# WeasyPrint reports each layout step at INFO; one report is not worth seven log lines.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def render_report(assessment: Assessment, record: selectors.Record) -> bytes:
    """The PDF of what `record` (services.open_record) discloses, nothing more."""
    from weasyprint import HTML

    a = assessment
    elder = a.elder
    context = {
        "a": a, "elder": elder, "age": elder.age_on(a.assessed_on or timezone.localdate()),
        "residence_path": elder.residence_region.path_name(""),
        "result": selectors.result_view(a, record),
        "printed_at": timezone.localtime(), "draft": not a.is_result,
    }
    html = render_to_string("assessment/report.html", context)
    return HTML(string=html, base_url=None).write_pdf()


def report_response(request, assessment: Assessment) -> HttpResponse:
    """The PDF as a download (policy.may_view_report_assessment is the caller's); what it shows is the
    caller's record, and reading one that carries the health record is logged."""
    record = services.open_record(actor=request.user, assessment=assessment, channel="PDF报告")
    content = render_report(assessment, record)
    return attachment(content, filename=f"assessment-{assessment.number}.pdf", content_type="application/pdf",
                      inline=True)
