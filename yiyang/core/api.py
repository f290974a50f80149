import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status

from yiyang.api.errors import error_body
from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column

from . import selectors, services
from .middleware import client_ip
from .models import ApiToken, AuditEvent, Region, Role, User
from .policy import require_roles
from .scope import get_scoped_or_404

router = Router()


class TokenIn(Schema):
    username: str = Field(..., max_length=column(User, "username"))
    password: str = Field(..., max_length=256)


class TokenOut(Schema):
    token: str
    expires_at: datetime.datetime


class ErrorItem(Schema):
    field: str
    code: str
    message: str


class ErrorOut(Schema):
    status: int
    code: str
    message: str
    errors: list[ErrorItem]


# What any operation may answer besides its success (400 for a body that is not JSON, 413 for one too large).
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 422: ErrorOut}


@router.post("auth/token", auth=None, response={200: TokenOut, **ERRORS, 429: ErrorOut},
             tags=["auth"], summary="Issue an API token")
def issue_token(request, payload: TokenIn):
    """Exchange a username and password for a bearer token (throttled like the login page)."""
    user = services.sign_in(username=payload.username, password=payload.password, ip=client_ip(request))
    key, token = services.issue_api_token(user=user)
    return {"token": key, "expires_at": token.expires_at}


class ScopeOut(Schema):
    kind: str
    code: str = ""
    name: str = ""


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    scope: ScopeOut


def _scope_of(user) -> dict:
    if user.region_id:
        return {"kind": "region", "code": user.region_id, "name": user.region.path_name()}
    if user.organisation_id:
        return {"kind": "organisation", "code": str(user.organisation_id), "name": user.organisation.name}
    return {"kind": "self", "code": "", "name": ""}


@router.get("me", response={200: MeOut, **ERRORS}, tags=["auth"], summary="The signed-in account")
def me(request):
    user = request.user
    return {
        "id": user.pk, "username": user.username, "display_name": user.display_name, "role": user.role,
        "role_label": str(user.get_role_display()), "scope": _scope_of(user),
    }


class ApiTokenOut(Schema):
    id: int
    prefix: str = Field(..., description="The token's first characters after `yy_`, to tell tokens apart.")
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    expires_at: datetime.datetime
    revoked_at: datetime.datetime | None


class RevokedOut(Schema):
    revoked: int


def _token(t) -> dict:
    return {"id": t.pk, "prefix": t.prefix, "created_at": t.created_at, "last_used_at": t.last_used_at,
            "expires_at": t.expires_at, "revoked_at": t.revoked_at}


@router.get("me/tokens", response={200: list[ApiTokenOut], **ERRORS}, tags=["auth"], summary="My API tokens")
def my_tokens(request):
    """The caller's own tokens, newest first (at most 100), revoked and expired ones included."""
    return [_token(t) for t in selectors.api_tokens_of(user=request.user)[:100]]


@router.post("me/tokens/{int:token_id}/revoke", response={200: ApiTokenOut, **ERRORS}, tags=["auth"],
             summary="Revoke one of my tokens")
def revoke_my_token(request, token_id: Id):
    """Idempotent. Another person's token answers 404."""
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    return _token(services.revoke_api_token(actor=request.user, token=token))


@router.post("me/tokens/revoke-all", response={200: RevokedOut, **ERRORS}, tags=["auth"],
             summary="Revoke all my tokens")
def revoke_my_tokens(request):
    """Every live token of the caller, the one making this call included."""
    return {"revoked": services.revoke_all_api_tokens(actor=request.user, user=request.user)}


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent: str | None = None
    path: str = ""
    has_children: bool = True


def _region(r: Region, path: str = "") -> dict:
    return {"code": r.code, "name": r.name, "level": r.level, "parent": r.parent_id, "path": path,
            "has_children": r.level != "community"}


@router.get("regions", response={200: list[RegionOut], **ERRORS}, tags=["regions"],
            summary="Browse or search regions")
def list_regions(request, parent: str = Query("", max_length=column(Region, "code")),
                 q: str = Query("", max_length=40),
                 limit: int = Query(20, ge=1, le=100)):
    """Children of `parent` (provinces when empty), or a search by name, pinyin or initials when `q` is given.

    A lookup for region pickers rather than a paged list: at most `limit` matches, or one region's children."""
    if q:
        regions = selectors.search_regions(query=q, within=parent, limit=limit)
        paths = selectors.region_paths(regions)
        return [_region(r, paths[r.code]) for r in regions]
    return [_region(r) for r in selectors.region_children(parent_code=parent or None)]


@router.get("regions/{code}", response={200: RegionOut, **ERRORS}, tags=["regions"])
def get_region(request, code: str = Path(..., max_length=column(Region, "code"))):
    region = get_object_or_404(Region, code=code)
    return _region(region, region.path_name())


class AccountOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    is_active: bool
    region: str | None = None
    organisation: int | None = None
    phone_masked: str = ""
    id_number_masked: str = ""


def _account(u) -> dict:
    from .pii import mask_id_number, mask_phone

    return {"id": u.pk, "username": u.username, "display_name": u.display_name, "role": u.role,
            "is_active": u.is_active, "region": u.region_id, "organisation": u.organisation_id,
            "phone_masked": mask_phone(u.phone), "id_number_masked": mask_id_number(u.id_number)}


class AccountIn(Schema):
    username: str = Field(..., max_length=column(User, "username"))
    password: str = Field(..., max_length=128)
    role: Role
    region: str | None = Field(None, max_length=column(User, "region"))
    organisation: Id | None = None
    display_name: str = Field("", max_length=column(User, "display_name"))
    phone: str = Field("", max_length=column(User, "phone"))
    id_number: str = Field("", max_length=24)  # stored encrypted: the length of an ID number


@router.get("accounts", response={200: list[AccountOut], **ERRORS}, tags=["accounts"],
            summary="Accounts in my scope")
@paginated
def list_accounts(request, q: str = Query("", max_length=40),
                  role: str = Query("", max_length=column(User, "role"))):
    return Rows(selectors.accounts_for(user=request.user, query=q, role=role),
                lambda page: [_account(u) for u in page])


@router.get("accounts/{account_id}", response={200: AccountOut, **ERRORS}, tags=["accounts"])
def get_account(request, account_id: Id):
    return _account(get_scoped_or_404(User.objects, request.user, "view", pk=account_id))


@router.post("accounts", response={201: AccountOut, **ERRORS}, tags=["accounts"],
             summary="Create a staff account (bureau)")
def create_account(request, payload: AccountIn):
    from yiyang.registry.models import Organisation

    require_roles(request.user, Role.BUREAU)
    region = Region.objects.filter(code=payload.region).first() if payload.region else None
    if payload.region and region is None:
        raise ValidationError({"region": _("区划代码 %(code)s 不存在。") % {"code": payload.region}})
    organisation = None
    if payload.organisation:
        organisation = Organisation.objects.restrict(request.user, "view").filter(pk=payload.organisation).first()
        if organisation is None:
            raise ValidationError({"organisation": _("机构不存在或不在您的辖区内。")})
    user = services.create_account(
        actor=request.user, username=payload.username, password=payload.password, role=payload.role,
        region=region, organisation=organisation, display_name=payload.display_name, phone=payload.phone,
        id_number=payload.id_number,
    )
    return Status(201, _account(user))


class AuditOut(Schema):
    id: int
    at: datetime.datetime
    actor: str = Field(..., alias="actor_username")
    action: str
    object_type: str
    object_id: str
    object_repr: str
    ip: str | None = None
    before: dict | None = None
    after: dict | None = None
    detail: str


@router.get("audit", response={200: list[AuditOut], **ERRORS}, tags=["audit"], summary="Search the audit log")
@paginated
def list_audit(request, actor: str = Query("", max_length=column(AuditEvent, "actor_username")),
               action: str = Query("", max_length=column(AuditEvent, "action")),
               object_type: str = Query("", max_length=column(AuditEvent, "object_type")),
               object_id: str = Query("", max_length=column(AuditEvent, "object_id")),
               date_from: datetime.date | None = None, date_to: datetime.date | None = None):
    return selectors.audit_events_for(
        user=request.user, actor=actor, action=action, object_type=object_type, object_id=object_id,
        date_from=date_from, date_to=date_to,
    )


__all__ = ["router", "error_body"]
