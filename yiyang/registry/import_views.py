"""Pages of the Excel import: choose a kind, download its template, upload, preview, confirm, progress, result.

Who may import what is `importing.kinds_for`: the bureau every kind in its jurisdiction, street and community
workers elders of their area, a provider its own staff. Everyone else, and every job but one's own, is a 404.
"""

from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from yiyang.core.errors import DomainError
from yiyang.core.http import attachment
from yiyang.core.middleware import client_ip
from yiyang.core.models import Role
from yiyang.core.permissions import role_required
from yiyang.core.scope import get_scoped_or_404

from . import importing
from .import_xlsx import human_size
from .models import ImportJob, ImportKind, ImportStatus

IMPORT_ROLES = (Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PHASES = {
    "reading": gettext_lazy("正在读取文件"),
    "validating": gettext_lazy("正在逐行校验"),
    "comparing": gettext_lazy("正在与登记册比对"),
    "writing": gettext_lazy("正在写入（一个事务，全部成功或全部撤销）"),
}
LIST_URLS = {ImportKind.ELDERS: "registry:elder_list", ImportKind.ORGANISATIONS: "registry:organisation_list",
             ImportKind.FACILITIES: "registry:facility_list", ImportKind.STAFF: "registry:practitioner_list"}
ISSUES_SHOWN = 200


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("导入类型"))
    file = forms.FileField(label=gettext_lazy("Excel 文件（.xlsx）"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx," + XLSX}))

    def __init__(self, kinds, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.key, k.label) for k in kinds]
        self.fields["file"].help_text = _("不超过 %(size)s；较大的文件在后台处理，页面显示进度。") % {
            "size": human_size(importing.max_file_bytes())}


def _kinds(request):
    kinds = importing.kinds_for(request.user)
    if not kinds:
        raise Http404
    return kinds


def _xlsx_response(data: bytes, filename: str) -> HttpResponse:
    return attachment(data, filename=filename, content_type=XLSX)


def _home(request, form, status=200):
    kinds = _kinds(request)
    jobs = ImportJob.objects.restrict(request.user).order_by("-created_at")[:10]
    return render(request, "registry/import/home.html", {"form": form, "kinds": kinds, "jobs": jobs},
                  status=status)


@role_required(*IMPORT_ROLES)
@require_GET
def import_home(request):
    kinds = _kinds(request)
    wanted = request.GET.get("kind")
    initial = {"kind": wanted if wanted in {k.key for k in kinds} else kinds[0].key}
    return _home(request, UploadForm(kinds, initial=initial))


@role_required(*IMPORT_ROLES)
@require_GET
def import_template(request, kind):
    try:
        spec = importing.kind_for(request.user, kind)
    except PermissionDenied:
        raise Http404 from None
    data = importing.template_workbook(spec, request.user)
    return _xlsx_response(data, _("%(kind)s导入模板.xlsx") % {"kind": spec.sheet_name})


@role_required(*IMPORT_ROLES)
@require_POST
def import_upload(request):
    kinds = _kinds(request)
    form = UploadForm(kinds, request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > importing.max_file_bytes():
            # Said before reading the file into memory (the 50 MB case).
            form.add_error("file", _("文件大小为 %(size)s，超过上限 %(limit)s。请拆分成几个文件分别导入。") % {
                "size": human_size(upload.size), "limit": human_size(importing.max_file_bytes())})
        else:
            try:
                job = importing.start_import(
                    actor=request.user, kind_key=form.cleaned_data["kind"], filename=PurePath(upload.name).name,
                    data=upload.read(), ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except importing.ImportFileError as exc:
                form.add_error("file", exc.message)
            except PermissionDenied:
                raise Http404 from None
            else:
                return redirect("registry:import_job", job.pk)
    return _home(request, form, status=422)


def _job(request, pk) -> ImportJob:
    return get_scoped_or_404(ImportJob.objects.select_related("created_by"), request.user, "view", pk=pk)


@role_required(*IMPORT_ROLES)
@require_GET
def import_job(request, pk):
    job = _job(request, pk)
    preview = job.preview or {}
    issues = preview.get("issues", [])
    counts = job.counts or {}
    context = {
        "job": job, "preview": preview, "counts": counts, "issues": issues[:ISSUES_SHOWN],
        "issues_hidden": max(0, preview.get("issues_total", 0) - min(len(issues), ISSUES_SHOWN)),
        "to_write": counts.get("new", 0) + counts.get("changed", 0), "phase": PHASES.get(job.phase, ""),
        "has_report": bool(job.error_report), "list_url": reverse(LIST_URLS[job.kind]),
        "conflict_rows": counts.get("conflict_rows") or [],
    }
    return render(request, "registry/import/job.html", context)


@role_required(*IMPORT_ROLES)
@require_GET
def import_job_status(request, pk):
    """htmx polling: the progress fragment, and a full reload once the job leaves the running states."""
    job = _job(request, pk)
    response = render(request, "registry/import/_progress.html", {"job": job, "phase": PHASES.get(job.phase, "")})
    if not job.is_running:
        response["HX-Refresh"] = "true"
    return response


@role_required(*IMPORT_ROLES)
@require_POST
def import_confirm(request, pk):
    job = _job(request, pk)
    try:
        job = importing.confirm_import(actor=request.user, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    except PermissionDenied:
        raise Http404 from None
    else:
        if job.status == ImportStatus.DONE:
            messages.success(request, _("导入完成：新增 %(c)d 条，修改 %(u)d 条。") % {
                "c": job.counts.get("written_created", 0), "u": job.counts.get("written_updated", 0)})
        elif job.status == ImportStatus.FAILED:
            messages.error(request, job.message)
    return redirect("registry:import_job", job.pk)


@role_required(*IMPORT_ROLES)
@require_POST
def import_cancel(request, pk):
    job = _job(request, pk)
    try:
        importing.cancel_import(actor=request.user, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    except PermissionDenied:
        raise Http404 from None
    else:
        messages.success(request, _("已取消，没有写入任何数据。"))
    return redirect("registry:import_home")


@role_required(*IMPORT_ROLES)
@require_GET
def import_report(request, pk):
    job = _job(request, pk)
    data = importing.error_report_for(actor=request.user, job=job)
    if not data:
        raise Http404
    stem = PurePath(job.filename).stem or "import"
    return _xlsx_response(data, _("错误报告-%(name)s.xlsx") % {"name": stem})
