
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from yiyang.core import pii
from yiyang.core import registry as extensions
from yiyang.core.http import attachment, is_htmx, run_service
from yiyang.core.models import Region, Role
from yiyang.core.permissions import may_view_full_id, role_required
from yiyang.core.scope import get_scoped_or_404

from . import exporting, selectors, services
from .forms import (
    CategoryForm,
    ContactForm,
    ElderFilterForm,
    ElderForm,
    ExportForm,
    FacilityForm,
    OrganisationForm,
    PractitionerForm,
    StatusEventForm,
)
from .models import Elder, Facility, FacilityKind, Organisation, OrganisationKind, Practitioner, PractitionerRole

STAFF_VIEWERS = (Role.BUREAU, Role.STREET, Role.COMMUNITY)
PAGE_SIZES = (25, 50, 100)


def _copy_errors(form, errors: dict[str, list[str]]) -> None:
    """A refused service call's messages beside the form's fields (the rest above the form)."""
    for key, texts in errors.items():
        for e in texts:
            form.add_error(key if key in form.fields else None, e)


def region_choices(user) -> list:
    """Streets and their communities inside the user's scope, as grouped <select> choices."""
    code = user.scope_code if not user.is_superuser else ""
    if not code:
        return []
    scope = Region.objects.filter(code=code).first()
    if scope is None:
        return []
    if scope.level == "community":
        return [(scope.code, scope.name)]
    if scope.level == "street":
        streets = [scope]
    else:
        streets = list(Region.objects.filter(code__startswith=code, level="street").order_by("code"))
    communities = Region.objects.filter(parent__in=streets).order_by("code").values_list("code", "name", "parent_id")
    by_street: dict[str, list] = {}
    for c, n, p in communities:
        by_street.setdefault(p, []).append((c, n))
    out = []
    for s in streets:
        out.append((s.name, [(s.code, _("%(name)s（全部）") % {"name": s.name})] + by_street.get(s.code, [])))
    return out


def _without(querydict, *keys) -> str:
    q = querydict.copy()
    for k in keys:
        q.pop(k, None)
    return q.urlencode()


def _elder_filters(request):
    form = ElderFilterForm(request.GET or None, region_choices=region_choices(request.user))
    data = dict(form.cleaned_data) if form.is_valid() else {}
    data.pop("per_page", None)
    filters = selectors.split_filters({k: v for k, v in data.items() if v})
    if not request.GET:
        filters.status = "active"
    return form, filters


@role_required(*STAFF_VIEWERS)
def elder_list(request):
    form, filters = _elder_filters(request)
    qs = selectors.elders_for(user=request.user, filters=filters)
    try:
        per_page = int(request.GET.get("per_page", 25))
    except ValueError:
        per_page = 25
    per_page = per_page if per_page in PAGE_SIZES else 25
    page = Paginator(qs, per_page).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    labels = selectors.category_labels([e.pk for e in rows])
    # Columns of higher apps (the ability level): each fills its cells for the page in one read.
    columns = [f for f in selectors.extra_filters() if f.column and f.cells]
    cells = [f.cells([e.pk for e in rows]) for f in columns]
    today = timezone.localdate()
    context = {
        "form": form, "page": page, "per_page": per_page, "page_sizes": PAGE_SIZES,
        "extra_columns": [f.column for f in columns], "colspan": 9 + len(columns),
        "rows": [{"elder": e, "age": e.age_on(today), "categories": labels.get(e.pk, []),
                  "extra": [c.get(e.pk, "") for c in cells],
                  "elsewhere": selectors.lives_elsewhere(request.user, e)} for e in rows],
        "residents_first": filters.sort in ("region", "-region") and selectors.residents_first(request.user),
        "export_form": ExportForm(), "query": request.GET.urlencode(), "sort": filters.sort,
        "base_query": _without(request.GET, "sort", "page"),
    }
    template = "registry/_elder_rows.html" if is_htmx(request) else "registry/elder_list.html"
    return render(request, template, context)


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_export(request):
    _form, filters = _elder_filters(request)
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("导出须填写用途。"))
        return redirect(f"{request.path.replace('export/', '')}?{request.GET.urlencode()}")
    qs = selectors.elders_for(user=request.user, filters=filters)
    content, count = exporting.export_elders(actor=request.user, queryset=qs, purpose=form.cleaned_data["purpose"],
                                             full_ids=may_view_full_id(request.user),
                                             filters=request.GET.urlencode())
    return attachment(content, filename=f"elders-{timezone.localdate():%Y%m%d}-{count}.xlsx",
                      content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_check_id(request):
    """htmx: validate an ID number as it is typed; show the derived birth date and sex, or the reason."""
    raw = request.POST.get("id_number", "")
    context = {"raw": raw}
    if raw.strip():
        try:
            info = pii.parse_id_number(raw)
        except ValidationError as exc:
            context["error"] = exc.messages[0]
        else:
            context["info"] = info
            context["age"] = timezone.localdate().year - info.birth_date.year
            existing = Elder.objects.filter(id_number_hash=pii.id_number_hash(info.number)).first()
            if existing is not None:
                visible = Elder.objects.restrict(request.user).filter(pk=existing.pk).exists()
                context["duplicate"] = existing if visible else True
    return render(request, "registry/_id_check.html", context)


@role_required(*STAFF_VIEWERS)
@require_http_methods(["GET", "POST"])
def elder_create(request):
    form = ElderForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "phone", "address", "living_situation", "latitude", "longitude",
                                       "bank_name", "bank_account", "bank_account_holder", "notes")}
        fields["residence_region"] = data["residence_region"]
        fields["hukou_region"] = data["hukou_region"] or data["residence_region"]
        outcome = run_service(request, lambda: services.register_elder(actor=request.user,
                                                                       id_number=data["id_number"], **fields),
                              flash_errors=False)
        if outcome:
            elder = outcome.value
            messages.success(request, _("已登记 %(name)s。") % {"name": elder.name})
            return redirect("registry:elder_detail", elder.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/elder_form.html", {"form": form, "creating": True},
                  status=422 if form.errors else 200)


@role_required(*STAFF_VIEWERS)
@require_http_methods(["GET", "POST"])
def elder_edit(request, pk):
    elder = get_scoped_or_404(Elder.objects, request.user, "change", pk=pk)
    initial = {k: getattr(elder, k) for k in ("name", "phone", "address", "living_situation", "latitude",
                                              "longitude", "bank_name", "bank_account_holder", "notes")}
    initial.update(residence_region=elder.residence_region_id, hukou_region=elder.hukou_region_id)
    form = ElderForm(request.POST or None, user=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "phone", "address", "living_situation", "latitude", "longitude",
                                       "bank_name", "bank_account_holder", "notes")}
        if data["bank_account"]:
            fields["bank_account"] = data["bank_account"]
        fields["residence_region"] = data["residence_region"]
        fields["hukou_region"] = data["hukou_region"] or elder.hukou_region
        outcome = run_service(request, lambda: services.update_elder(actor=request.user, elder=elder, **fields),
                              flash_errors=False)
        if outcome:
            messages.success(request, _("已保存。"))
            return redirect("registry:elder_detail", elder.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/elder_form.html", {"form": form, "elder": elder},
                  status=422 if form.errors else 200)


def elder_panels(request, elder) -> list[str]:
    """The sections higher apps add to the elder page (levels, benefits…), rendered, in app order."""
    out = []
    for panel in extensions.items("elder_panels"):
        result = panel(request, elder)
        if result:
            out.append(render_to_string(result["template"], result, request=request))
    return out


def _detail_context(request, elder, *, can_change: bool, **forms) -> dict:
    today = timezone.localdate()
    context = {
        "elder": elder, "age": elder.age_on(today), "can_change": can_change,
        "timeline": selectors.elder_timeline(elder),
        "categories": elder.categories.all(), "active_categories": selectors.active_categories(elder, today),
        "contacts": elder.contacts.all(),
        "status_form": StatusEventForm(initial={"effective_date": today}),
        "category_form": CategoryForm(initial={"start_date": today}), "contact_form": ContactForm(),
        "may_view_full_id": may_view_full_id(request.user),
        "residence_path": elder.residence_region.path_name(), "hukou_path": elder.hukou_region.path_name(),
        "panels": elder_panels(request, elder),
    }
    context.update(forms)
    return context


@role_required(*STAFF_VIEWERS, Role.FAMILY, Role.ELDER, Role.ASSESSOR)
def elder_detail(request, pk):
    elder = selectors.elder_detail(user=request.user, pk=pk)
    can_change = Elder.objects.restrict(request.user, "change").filter(pk=pk).exists()
    return render(request, "registry/elder_detail.html", _detail_context(request, elder, can_change=can_change))


def _detail_with_errors(request, elder, **forms):
    messages.error(request, _("未保存：请检查下面标出的内容。"))
    return render(request, "registry/elder_detail.html", _detail_context(request, elder, can_change=True, **forms),
                  status=422)


def _elder_action(request, pk, *, form_class, form_key: str, perform, success):
    """One POST action on an elder's page: validate the form, call the service, redirect with a message, or
    re-render the page with the form's errors (and nothing changed)."""
    elder = get_scoped_or_404(Elder.objects, request.user, "change", pk=pk)
    form = form_class(request.POST)
    if form.is_valid():
        outcome = run_service(request, lambda: perform(elder, form.cleaned_data),
                              flash_errors=False)
        if outcome:
            result = outcome.value
            messages.success(request, success(result))
            return redirect("registry:elder_detail", pk)
        _copy_errors(form, outcome.errors)
    elder.refresh_from_db()
    return _detail_with_errors(request, elder, **{form_key: form})


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_status_event(request, pk):
    return _elder_action(
        request, pk, form_class=StatusEventForm, form_key="status_form",
        perform=lambda elder, d: services.record_status_event(actor=request.user, elder=elder, **d),
        success=lambda event: _("已登记：%(event)s（%(date)s）。") % {"event": event.get_kind_display(),
                                                                "date": event.effective_date},
    )


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_add_category(request, pk):
    return _elder_action(
        request, pk, form_class=CategoryForm, form_key="category_form",
        perform=lambda elder, d: services.add_category(actor=request.user, elder=elder, **d),
        success=lambda _category: _("已添加人员类别。"),
    )


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_add_contact(request, pk):
    return _elder_action(
        request, pk, form_class=ContactForm, form_key="contact_form",
        perform=lambda elder, d: services.add_contact(actor=request.user, elder=elder, **d),
        success=lambda _contact: _("已添加联系人。"),
    )


@role_required(*STAFF_VIEWERS)
@require_POST
def elder_reveal_id(request, pk):
    if not may_view_full_id(request.user):
        raise Http404
    elder = get_scoped_or_404(Elder.objects, request.user, "view", pk=pk)
    number = services.reveal_elder_id_number(actor=request.user, elder=elder)
    return render(request, "core/_revealed_id.html", {"number": number})


# ----------------------------------------------------------------------- organisations, facilities, staff

def _simple_list(request, qs, template, extra):
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    context = {"page": page, "q": request.GET.get("q", ""), "kind": request.GET.get("kind", ""), **extra}
    return render(request, template, context)


@role_required(*STAFF_VIEWERS)
def organisation_list(request):
    qs = selectors.organisations_for(user=request.user, q=request.GET.get("q", "").strip(),
                                     kind=request.GET.get("kind", ""))
    return _simple_list(request, qs, "registry/organisation_list.html", {"kinds": OrganisationKind.choices})


@role_required(Role.BUREAU)
@require_http_methods(["GET", "POST"])
def organisation_create(request):
    form = OrganisationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        licences = []
        if d["licence_kind"] and d["licence_number"]:
            licences.append({"kind": d["licence_kind"], "number": d["licence_number"],
                             "expires_on": d["licence_expires_on"]})
        outcome = run_service(request, lambda: services.save_organisation(
                actor=request.user, licences=licences,
                **{k: d[k] for k in ("name", "kind", "credit_code", "region", "address", "phone",
                                     "legal_representative", "contact_person")}),
                              flash_errors=False)
        if outcome:
            org = outcome.value
            messages.success(request, _("已登记机构 %(name)s。") % {"name": org.name})
            return redirect("registry:organisation_detail", org.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/simple_form.html",
                  {"form": form, "title": _("登记机构"), "back": "registry:organisation_list"},
                  status=422 if form.errors else 200)


@role_required(*STAFF_VIEWERS, Role.PROVIDER, Role.ASSESSOR)
def organisation_detail(request, pk):
    org = get_scoped_or_404(Organisation.objects.select_related("region"), request.user, "view", pk=pk)
    today = timezone.localdate()
    licences = [{"licence": lic, "expiring": lic.expires_within(60, today),
                 "expired": lic.expires_on is not None and lic.expires_on < today} for lic in org.licences.all()]
    return render(request, "registry/organisation_detail.html", {
        "org": org, "licences": licences, "region_path": org.region.path_name(),
        "facilities": Facility.objects.restrict(request.user).filter(operator=org).select_related("region"),
        "staff": Practitioner.objects.restrict(request.user).filter(organisation=org)[:100],
    })


@role_required(*STAFF_VIEWERS)
def facility_list(request):
    qs = selectors.facilities_for(user=request.user, q=request.GET.get("q", "").strip(),
                                  kind=request.GET.get("kind", ""))
    return _simple_list(request, qs, "registry/facility_list.html", {"kinds": FacilityKind.choices})


@role_required(Role.BUREAU)
@require_http_methods(["GET", "POST"])
def facility_create(request):
    form = FacilityForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        outcome = run_service(request, lambda: services.save_facility(actor=request.user, **form.cleaned_data),
                              flash_errors=False)
        if outcome:
            facility = outcome.value
            messages.success(request, _("已登记设施 %(name)s。") % {"name": facility.name})
            return redirect("registry:facility_detail", facility.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/simple_form.html",
                  {"form": form, "title": _("登记设施"), "back": "registry:facility_list"},
                  status=422 if form.errors else 200)


@role_required(*STAFF_VIEWERS, Role.PROVIDER)
def facility_detail(request, pk):
    facility = get_scoped_or_404(Facility.objects.select_related("region", "operator"), request.user, "view", pk=pk)
    return render(request, "registry/facility_detail.html",
                  {"facility": facility, "region_path": facility.region.path_name()})


@role_required(*STAFF_VIEWERS, Role.PROVIDER)
def practitioner_list(request):
    qs = selectors.practitioners_for(user=request.user, q=request.GET.get("q", "").strip(),
                                     role=request.GET.get("kind", ""))
    return _simple_list(request, qs, "registry/practitioner_list.html", {"kinds": PractitionerRole.choices})


@role_required(Role.BUREAU, Role.PROVIDER)
@require_http_methods(["GET", "POST"])
def practitioner_create(request):
    form = PractitionerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = dict(form.cleaned_data)
        outcome = run_service(request, lambda: services.save_practitioner(actor=request.user, **d),
                              flash_errors=False)
        if outcome:
            person = outcome.value
            messages.success(request, _("已登记从业人员 %(name)s。") % {"name": person.name})
            return redirect("registry:practitioner_detail", person.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/simple_form.html",
                  {"form": form, "title": _("登记从业人员"), "back": "registry:practitioner_list"},
                  status=422 if form.errors else 200)


@role_required(Role.BUREAU, Role.PROVIDER)
@require_http_methods(["GET", "POST"])
def practitioner_edit(request, pk):
    person = get_scoped_or_404(Practitioner.objects.select_related("organisation"), request.user, "change", pk=pk)
    initial = {f: getattr(person, f) for f in ("name", "phone", "role", "certificate_level", "certificate_number",
                                               "skills", "start_date", "end_date", "home_latitude",
                                               "home_longitude")}
    initial["organisation"] = person.organisation
    form = PractitionerForm(request.POST or None, user=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = dict(form.cleaned_data)
        outcome = run_service(request, lambda: services.save_practitioner(actor=request.user, practitioner=person,
                                                                          **d),
                              flash_errors=False)
        if outcome:
            messages.success(request, _("已保存 %(name)s 的档案。") % {"name": person.name})
            return redirect("registry:practitioner_detail", person.pk)
        _copy_errors(form, outcome.errors)
    return render(request, "registry/simple_form.html",
                  {"form": form, "title": _("修改从业人员档案：%(name)s") % {"name": person.name},
                   "back": "registry:practitioner_list"},
                  status=422 if form.errors else 200)


@role_required(*STAFF_VIEWERS, Role.PROVIDER, Role.CAREGIVER)
def practitioner_detail(request, pk):
    person = get_scoped_or_404(Practitioner.objects.select_related("organisation"), request.user, "view", pk=pk)
    return render(request, "registry/practitioner_detail.html",
                  {"person": person, "age": person.age_on(timezone.localdate()),
                   "may_edit": Practitioner.objects.restrict(request.user, "change").filter(pk=person.pk).exists(),
                   "years": (timezone.localdate() - person.start_date).days // 365 if person.start_date else None})


