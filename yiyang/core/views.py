from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .errors import LoginError
from .forms import AccountForm, AuditFilterForm, LoginForm, PasswordChangeForm
from .http import run_service
from .middleware import client_ip
from .models import ApiToken, Region, Role, User
from .navigation import home_panels, landing_page
from .permissions import role_required
from .scope import get_scoped_or_404

bureau_required = role_required(Role.BUREAU)


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return redirect("core:home")
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_in(
                username=form.cleaned_data["username"], password=form.cleaned_data["password"],
                ip=client_ip(request), request=request,
            )
        except LoginError as exc:
            error = exc.message
        else:
            login(request, user)
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
                target = ""
            return redirect(target or landing_page(user))
    return render(request, "core/login.html", {"form": form, "error": error}, status=401 if error else 200)


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        services.record_sign_out(user=request.user)
    logout(request)
    return redirect("core:login")


@login_required
def home(request):
    user = request.user
    context = {"user": user, "role": user.role}
    if user.region_id:
        region = user.region
        context["scope_path"] = region.path_name()
        context["child_regions"] = (
            Region.objects.filter(parent=region).annotate(n_children=Count("children")).order_by("code")
        )
        context["community_count"] = Region.objects.filter(
            code__startswith=region.code, level="community"
        ).count()
    elif user.organisation_id:
        context["scope_path"] = user.organisation.name
        context["organisation"] = user.organisation
    if user.role == Role.BUREAU or user.is_superuser:
        context["accounts_by_role"] = [
            {"role": Role(r["role"]).label if r["role"] else _("系统管理员"), "n": r["n"]}
            for r in selectors.accounts_for(user=user).values("role").annotate(n=Count("id")).order_by("role")
        ]
        context["recent_events"] = selectors.audit_events_for(user=user)[:8]
    context["panels"] = home_panels(request)
    context["my_sign_ins"] = selectors.audit_events_for(user=user, actor=user.username, action="login").filter(
        actor=user
    )[:5]
    return render(request, "core/home.html", context)


@bureau_required
def account_list(request):
    query = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    page = Paginator(selectors.accounts_for(user=request.user, query=query, role=role), 25).get_page(
        request.GET.get("page")
    )
    template = "core/_account_rows.html" if request.headers.get("HX-Request") else "core/account_list.html"
    return render(request, template, {"page": page, "q": query, "role": role, "roles": Role.choices})


@bureau_required
@require_http_methods(["GET", "POST"])
def account_create(request):
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = run_service(request, lambda: services.create_account(
            actor=request.user, username=data["username"], password=data["password"], role=data["role"],
            region=data["region"], organisation=data["organisation"], display_name=data["display_name"],
            phone=data["phone"], id_number=data["id_number"],
        ), success=lambda account: _("账号 %(name)s 已创建。") % {"name": account.username}, form=form)
        if outcome:
            return redirect("core:account_detail", outcome.value.pk)
    return render(request, "core/account_form.html", {"form": form}, status=422 if form.errors else 200)


@bureau_required
def account_detail(request, pk):
    account = get_scoped_or_404(User.objects.select_related("region", "organisation"), request.user, "view", pk=pk)
    events = selectors.audit_events_for(user=request.user, object_type="core.user", object_id=str(pk))[:20]
    return render(request, "core/account_detail.html", {"account": account, "events": events,
                                                        "scope_path": account.region.path_name()
                                                        if account.region_id else ""})


@bureau_required
@require_POST
def account_reveal_id(request, pk):
    account = get_scoped_or_404(User.objects, request.user, "view", pk=pk)
    if not account.id_number:
        raise Http404
    number = services.reveal_id_number(actor=request.user, subject=account)
    return render(request, "core/_revealed_id.html", {"number": number})


@bureau_required
@require_POST
def account_set_active(request, pk):
    account = get_scoped_or_404(User.objects, request.user, "change", pk=pk)
    run_service(request, lambda: services.set_account_active(actor=request.user, user=account,
                                                             active=request.POST.get("active") == "1"))
    return redirect("core:account_detail", pk)


@login_required
def my_account(request):
    tokens = list(selectors.api_tokens_of(user=request.user)[:100])
    return render(request, "core/my_account.html", {"tokens": tokens, "now": timezone.now(),
                                                    "live": [t for t in tokens if t.revoked_at is None]})


@login_required
@require_POST
def my_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)  # someone else's token is simply not found
    run_service(request, lambda: services.revoke_api_token(actor=request.user, token=token),
                success=_("令牌 %(prefix)s… 已撤销。") % {"prefix": token.prefix})
    return redirect("core:my_account")


@login_required
@require_POST
def my_tokens_revoke_all(request):
    run_service(request, lambda: services.revoke_all_api_tokens(actor=request.user, user=request.user),
                success=lambda n: _("已撤销 %(count)d 个令牌。") % {"count": n})
    return redirect("core:my_account")


@login_required
@require_http_methods(["GET", "POST"])
def my_password(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = run_service(request, lambda: services.change_own_password(
            user=request.user, current_password=data["current_password"], new_password=data["new_password"]),
            success=_("密码已修改，您的 API 令牌已全部撤销。"), form=form)
        if outcome:
            # The session's hash follows the new password, so this browser stays signed in (others are out).
            update_session_auth_hash(request, request.user)
            return redirect("core:my_account")
    return render(request, "core/my_password.html", {"form": form}, status=422 if form.errors else 200)


@bureau_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.audit_events_for(user=request.user, **{k: v for k, v in filters.items() if v})
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "core/_audit_rows.html" if request.headers.get("HX-Request") else "core/audit_list.html"
    return render(request, template, {"form": form, "page": page, "rows": page.object_list})


@login_required
def region_search(request):
    """htmx partial: search results for the region picker."""
    within = request.GET.get("within", "")
    if within and not request.user.is_superuser and request.user.scope_code and not within.startswith(
        request.user.scope_code
    ):
        raise PermissionDenied
    regions = selectors.search_regions(query=request.GET.get("q", ""), within=within, limit=15)
    paths = selectors.region_paths(regions)
    return render(request, "core/widgets/_region_results.html",
                  {"results": [(r, paths[r.code]) for r in regions], "q": request.GET.get("q", "")})


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    return render(request, "500.html", status=500)


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_400(request, exception=None):
    return render(request, "400.html", status=400)
