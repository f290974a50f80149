"""Reads of the core domain. Person-level reads always go through `restrict(user, action)`."""

import datetime

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from .models import ApiToken, AuditEvent, Region, User
from .pii import is_ascii_digits


def region_children(*, parent_code: str | None) -> list[Region]:
    qs = Region.objects.filter(parent_id=parent_code) if parent_code else Region.objects.filter(parent=None)
    return list(qs.order_by("code"))


def search_regions(*, query: str, within: str = "", limit: int = 20) -> list[Region]:
    """Find regions by Chinese name, pinyin or pinyin initials (`ey` finds 恩阳区), best matches first.

    `within` limits results to a subtree (e.g. the user's jurisdiction). Names that start with the query
    rank above names that merely contain it, and higher levels above lower ones.
    """
    q = (query or "").strip()
    if not q:
        return []
    qs = Region.objects.all()
    if within:
        qs = qs.filter(code__startswith=within)
    lower = q.lower()
    if lower.isascii():
        if is_ascii_digits(lower):
            match = Q(code__startswith=lower)
            rank = Value(0, output_field=IntegerField())
        else:
            match = Q(initials__startswith=lower) | Q(pinyin__startswith=lower)
            rank = Case(When(initials=lower, then=0), When(pinyin=lower, then=0), default=1,
                        output_field=IntegerField())
    else:
        match = Q(name__contains=q)
        rank = Case(When(name=q, then=0), When(name__startswith=q, then=1), default=2,
                    output_field=IntegerField())
    level_rank = Case(
        When(level="province", then=0), When(level="city", then=1), When(level="county", then=2),
        When(level="street", then=3), default=4, output_field=IntegerField(),
    )
    return list(qs.filter(match).annotate(r=rank, lr=level_rank).order_by("r", "lr", "code")[:limit])


def region_paths(regions: list[Region]) -> dict[str, str]:
    """Full name paths (四川省/巴中市/恩阳区) for many regions with one query."""
    prefixes = set()
    for r in regions:
        prefixes.update(r.code[:n] for n in (2, 4, 6, 9) if n < len(r.code))
    names = dict(Region.objects.filter(code__in=prefixes).values_list("code", "name"))
    out = {}
    for r in regions:
        parts = [names[r.code[:n]] for n in (2, 4, 6, 9) if n < len(r.code) and r.code[:n] in names]
        out[r.code] = "/".join(parts + [r.name])
    return out


def find_region_by_path(*, path: str, within: str = "") -> Region | None:
    """Resolve '恩阳区/登科街道' or a code to one region (used by forms and imports)."""
    path = (path or "").strip().strip("/")
    if not path:
        return None
    if is_ascii_digits(path):
        return Region.objects.filter(code=path).first()
    names = [p.strip() for p in path.replace("\\", "/").split("/") if p.strip()]
    candidates = Region.objects.filter(name=names[-1])
    if within:
        candidates = candidates.filter(code__startswith=within)
    for region in candidates:
        chain = [r.name for r in region.ancestors()] + [region.name]
        # The given names must appear in order along the region's ancestry (levels may be skipped).
        it = iter(chain)
        if all(name in it for name in names):
            return region
    return None


def accounts_for(*, user: User, query: str = "", role: str = ""):
    qs = User.objects.restrict(user, "view").select_related("region", "organisation").order_by("username")
    if role:
        qs = qs.filter(role=role)
    if query:
        qs = qs.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    return qs


def audit_events_for(
    *,
    user: User,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
):
    qs = AuditEvent.objects.restrict(user, "view").select_related("actor")
    if actor:
        qs = qs.filter(actor_username__icontains=actor)
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(at__gte=datetime.datetime.combine(date_from, datetime.time.min, tz))
    if date_to:
        qs = qs.filter(at__lt=datetime.datetime.combine(date_to + datetime.timedelta(days=1),
                                                        datetime.time.min, tz))
    return qs


def api_tokens_of(*, user: User):
    """A person's own tokens, newest first (the hash never leaves the database)."""
    return ApiToken.objects.filter(user=user).defer("key_hash").order_by("-created_at", "-pk")


def user_for_token(key: str) -> User | None:
    if not key or not key.startswith("yy_"):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=ApiToken.hash_key(key), revoked_at=None, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # Touch last use at most once a minute to keep API calls write-light.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
