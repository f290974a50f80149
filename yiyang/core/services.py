"""Write operations of the core domain: sign-in, tokens, accounts, regions. One transaction each, audited."""

import csv
import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, pii, policy
from .errors import INVALID_CREDENTIALS, THROTTLED, DomainError, ErrorCode, LoginError
from .models import (
    OPERATOR_ROLES,
    ORGANISATION_ROLES,
    REGION_ROLES,
    VISITOR_ROLES,
    ApiToken,
    AuditAction,
    LoginFailure,
    Region,
    Role,
    User,
)


def _pair(username: str, ip: str | None) -> dict:
    return {"username": username.lower(), **({"ip": ip} if ip else {"ip__isnull": True})}


def _throttled(username: str, ip: str | None) -> bool:
    """Locked: this username from this address, or this username everywhere, or this address for everyone.

    The pair lock is the tight one: wrong passwords typed by someone elsewhere must not lock the real person
    out. The username-wide limit is six times higher so a guess spread over a few addresses still stops
    well short of a useful number of tries (30 per 15 minutes) while one stranger alone cannot reach it.
    """
    since = timezone.now() - datetime.timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    limit = settings.LOGIN_FAILURE_LIMIT
    if recent.filter(**_pair(username, ip)).count() >= limit:
        return True
    if recent.filter(username=username.lower()).count() >= settings.LOGIN_FAILURE_USERNAME_LIMIT:
        return True
    # An address gets more room than a username: several clerks may share one office gateway.
    return bool(ip) and recent.filter(ip=ip).count() >= limit * 4


def sign_in(*, username: str, password: str, ip: str | None, request=None, staff_only: bool = False) -> User:
    """Check credentials with throttling; log success and failure. Raises LoginError.

    `staff_only` is the Django admin's sign-in: an account without is_staff is refused like a wrong password
    (and audited as such), as the admin's own form does.
    """
    username = (username or "").strip()
    if _throttled(username, ip):
        audit.record(actor=None, action=AuditAction.LOGIN_FAILED, object_type="core.user",
                     object_repr=username[:150], detail="throttled", ip=ip)
        raise LoginError(
            "throttled",
            THROTTLED % {"minutes": settings.LOGIN_FAILURE_WINDOW_SECONDS // 60},
            status=429,
        )
    user = authenticate(request, username=username, password=password)
    if user is not None and staff_only and not user.is_staff:
        audit.record(actor=None, action=AuditAction.LOGIN_FAILED, object_type="core.user",
                     object_repr=username[:150], detail="admin: not staff", ip=ip)
        raise LoginError("invalid_credentials", INVALID_CREDENTIALS)
    if user is None:
        with transaction.atomic():
            LoginFailure.objects.create(username=username.lower(), ip=ip)
            audit.record(actor=None, action=AuditAction.LOGIN_FAILED, object_type="core.user",
                         object_repr=username[:150], detail="admin" if staff_only else "", ip=ip)
        raise LoginError("invalid_credentials", INVALID_CREDENTIALS)
    with transaction.atomic():
        # Only this address's failures: others' guesses keep counting towards the username-wide limit.
        LoginFailure.objects.filter(**_pair(username, ip)).delete()
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
        audit.record(actor=user, action=AuditAction.LOGIN, instance=user, detail="admin" if staff_only else "",
                     ip=ip)
    return user


def record_sign_out(*, user: User) -> None:
    audit.record(actor=user, action=AuditAction.LOGOUT, instance=user)


@transaction.atomic
def issue_api_token(*, user: User) -> tuple[str, ApiToken]:
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        key_hash=ApiToken.hash_key(key),
        prefix=key[3:11],
        expires_at=timezone.now() + datetime.timedelta(days=settings.API_TOKEN_LIFETIME_DAYS),
    )
    audit.record(actor=user, action=AuditAction.TOKEN, instance=user, detail=f"token {token.prefix}…")
    return key, token


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke one token (idempotent: a revoked one keeps its first revocation time)."""
    policy.may_revoke_api_token(actor, token).require()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=token.user,
                     detail=f"token {token.prefix}… revoked", region_code=token.user.scope_code)
    return token


def _revoke_all(*, actor: User | None, user: User, why: str) -> int:
    count = ApiToken.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
    if count:
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=user,
                     detail=f"{count} token(s) revoked: {why}", region_code=user.scope_code)
    return count


@transaction.atomic
def revoke_all_api_tokens(*, actor: User, user: User) -> int:
    """Revoke every live token of `user`; returns how many were live."""
    policy.may_revoke_api_tokens_of(actor, user).require()
    return _revoke_all(actor=actor, user=user, why="all")


def _check_scope_assignment(*, actor: User, role: str, region: Region | None, organisation) -> None:
    """The actor may only create or move accounts inside their own jurisdiction."""
    if actor.is_superuser:
        return
    if actor.role != Role.BUREAU:
        raise DomainError(ErrorCode.FORBIDDEN, _("只有民政局账号可以管理账号。"), status=403)
    target_code = region.code if region else (organisation.region_id if organisation else "")
    if not target_code.startswith(actor.scope_code):
        raise ValidationError({"region": _("只能在本辖区内设置账号的范围。")})


def _validate_scope_fields(*, role: str, region: Region | None, organisation) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("未知角色。")})
    probe = User(role=role, region=region, organisation=organisation)
    probe.clean()
    if (role not in REGION_ROLES and role not in ORGANISATION_ROLES and role not in VISITOR_ROLES
            and role not in OPERATOR_ROLES and (region or organisation)):
        raise ValidationError({"role": _("老年人、家属和志愿者账号不设区域或机构范围。")})


@transaction.atomic
def create_account(
    *,
    actor: User,
    username: str,
    password: str,
    role: str,
    region: Region | None = None,
    organisation=None,
    display_name: str = "",
    phone: str = "",
    id_number: str = "",
) -> User:
    username = username.strip()
    errors = {}
    if not username:
        errors["username"] = [_("请填写用户名。")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("用户名 %(name)s 已被使用。") % {"name": username}]
    if phone:
        try:
            phone = pii.validate_phone(phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if id_number:
        try:
            id_number = pii.parse_id_number(id_number).number
        except ValidationError as exc:
            errors["id_number"] = exc.messages
    candidate = User(username=username, display_name=display_name, role=role)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = exc.messages
    try:
        _validate_scope_fields(role=role, region=region, organisation=organisation)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    _check_scope_assignment(actor=actor, role=role, region=region, organisation=organisation)
    user = User(
        username=username, role=role, region=region, organisation=organisation,
        display_name=display_name, phone=phone, id_number=id_number,
    )
    user.set_password(password)
    user.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=user, after=audit.snapshot(user),
                 region_code=user.scope_code)
    return user


@transaction.atomic
def set_account_active(*, actor: User, user: User, active: bool) -> User:
    if user.pk == actor.pk and not active:
        raise DomainError("cannot_deactivate_self", _("不能停用自己的账号。"))
    before = audit.snapshot(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=user, before=before,
                 after=audit.snapshot(user), region_code=user.scope_code)
    if not active:
        # A token must not outlive the account's deactivation (nor come back alive if it is re-enabled).
        _revoke_all(actor=actor, user=user, why="account deactivated")
    return user


@transaction.atomic
def change_password(*, actor: User, user: User, new_password: str) -> None:
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=user, detail="password changed",
                 region_code=user.scope_code)
    # Whoever held the old password may have made tokens with it.
    _revoke_all(actor=actor, user=user, why="password changed")


def change_own_password(*, user: User, current_password: str, new_password: str) -> None:
    """A person changes their own password: the current one is required; their API tokens are revoked."""
    if not user.check_password(current_password or ""):
        raise ValidationError({"current_password": [_("当前密码不正确。")]})
    change_password(actor=user, user=user, new_password=new_password)


def reveal_id_number(*, actor: User, subject, region_code: str = "") -> str:
    """Return a full ID number for display, logging the read (PIPL: every full view is traceable)."""
    audit.record(actor=actor, action=AuditAction.VIEW_ID, instance=subject,
                 region_code=region_code or getattr(subject, "scope_code", ""))
    return subject.id_number


REGIONS_FILE = Path(__file__).resolve().parent / "data" / "regions_2023.csv"


@transaction.atomic
def load_regions(*, path: Path = REGIONS_FILE, prefix: str = "") -> int:
    """Load (or refresh) the division tree from the shipped CSV in bulk. Idempotent; returns rows loaded.

    Rows come in code order, parents before children, so inserting in file order satisfies the
    self-referencing foreign key on every database.
    """
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["code"].startswith(prefix) or prefix.startswith(r["code"])]
    rows.sort(key=lambda r: (len(r["code"]), r["code"]))
    existing = set(Region.objects.values_list("code", flat=True))
    new = [
        Region(code=r["code"], name=r["name"], level=r["level"], parent_id=r["parent"] or None,
               pinyin=r["pinyin"], initials=r["initials"])
        for r in rows if r["code"] not in existing
    ]
    Region.objects.bulk_create(new, batch_size=5000)
    return len(new)
