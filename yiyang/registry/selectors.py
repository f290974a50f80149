"""Reads of the register. Every list starts from `restrict(user, action)`; filters and sorting are set-based."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from yiyang.core import pii
from yiyang.core import registry as extensions
from yiyang.core.models import Role

from .models import (
    CategoryKind,
    Elder,
    ElderCategory,
    Facility,
    Organisation,
    Practitioner,
)

AGE_BANDS = {
    "60-69": (60, 69),
    "70-79": (70, 79),
    "80-89": (80, 89),
    "90-99": (90, 99),
    "100+": (100, None),
    "80+": (80, None),
}

ELDER_SORTS = {
    "name": ("name_pinyin", "id"),
    "-name": ("-name_pinyin", "-id"),
    "age": ("-birth_date", "id"),  # youngest first
    "-age": ("birth_date", "id"),  # oldest first
    "region": ("residence_region_id", "name_pinyin", "id"),
    "-region": ("-residence_region_id", "name_pinyin", "id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


def birth_date_range(min_age: int | None, max_age: int | None, today: datetime.date) -> Q:
    """Ages (in whole years, on `today`) → a birth-date range, so the database can use its index."""
    q = Q()
    if min_age is not None:
        q &= Q(birth_date__lte=_years_before(today, min_age))
    if max_age is not None:
        # Age ≤ max ⇔ born after the day (max + 1) years before today.
        q &= Q(birth_date__gt=_years_before(today, max_age + 1))
    return q


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February → 28 February in a common year
        return day.replace(year=day.year - years, day=28)


@dataclass
class ElderFilters:
    q: str = ""
    region: str = ""
    age_band: str = ""
    sex: str = ""
    category: str = ""
    living_situation: str = ""
    status: str = "active"
    sort: str = "region"
    extra: dict[str, str] = field(default_factory=dict)  # values of the filters higher apps add (by name)


@dataclass(frozen=True)
class ElderListFilter:
    """A filter (and optionally a column) of the elder list that a higher app owns, registered in
    core.registry's "elder_list_filters" (the register knows nothing of ability levels or benefits)."""

    name: str  # the query parameter and form field name
    form_field: Callable[[], object]  # () -> a django.forms.Field, built per form (labels in the active language)
    apply: Callable[[QuerySet, str, datetime.date], QuerySet]  # (elders, value, today) -> elders
    after: str = ""  # the form field it follows ("" = at the end)
    column: str = ""  # header of its column in the list, "" = no column
    cells: Callable[[list[int]], dict[int, str]] | None = None  # elder ids of a page -> html of each cell


def extra_filters() -> tuple[ElderListFilter, ...]:
    return tuple(extensions.items("elder_list_filters"))


def split_filters(values: dict) -> ElderFilters:
    """ElderFilters from a flat mapping (a form's or the API's): unknown names go to `extra` when a higher app
    registered a filter of that name, and are dropped otherwise."""
    own = set(ElderFilters.__dataclass_fields__) - {"extra"}
    names = {f.name for f in extra_filters()}
    return ElderFilters(**{k: v for k, v in values.items() if k in own},
                        extra={k: v for k, v in values.items() if k in names and v})


def elders_for(*, user, filters: ElderFilters | None = None, action: str = "view",
               today: datetime.date | None = None) -> QuerySet:
    f = filters or ElderFilters()
    today = today or timezone.localdate()
    qs = Elder.objects.restrict(user, action).select_related("residence_region")
    if f.region:
        qs = qs.filter(residence_region__code__startswith=f.region)
    if f.age_band in AGE_BANDS:
        qs = qs.filter(birth_date_range(*AGE_BANDS[f.age_band], today))
    if f.sex in {"M", "F"}:
        qs = qs.filter(sex=f.sex)
    if f.category in CategoryKind.values:
        active = ElderCategory.objects.filter(elder=OuterRef("pk"), kind=f.category, start_date__lte=today).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today))
        qs = qs.filter(Exists(active))
    if f.living_situation:
        qs = qs.filter(living_situation=f.living_situation)
    if f.status and f.status != "all":
        qs = qs.filter(status=f.status)
    if f.q:
        qs = qs.filter(search_q(f.q))
    for extra in extra_filters():
        if f.extra.get(extra.name):
            qs = extra.apply(qs, f.extra[extra.name], today)
    order = ELDER_SORTS.get(f.sort, ELDER_SORTS["region"])
    if f.sort in ("region", "-region") and residents_first(user):
        # A bureau also sees those registered (户籍) here who live elsewhere; by region code alone another
        # county's codes (511902… before 511903…) put them on the first page. Its own residents come first.
        qs = qs.alias(lives_elsewhere=Case(When(residence_region__code__startswith=user.scope_code, then=Value(0)),
                                           default=Value(1), output_field=IntegerField()))
        order = ("lives_elsewhere", *order)
    return qs.order_by(*order)


def residents_first(user) -> bool:
    """Whether the user's elder list holds people living outside their jurisdiction (a bureau's 户籍 elders),
    listed after the residents."""
    return user.role == Role.BUREAU and bool(user.scope_code)


def lives_elsewhere(user, elder: Elder) -> bool:
    return residents_first(user) and not elder.residence_region_id.startswith(user.scope_code)


def search_q(text: str) -> Q:
    """Name (Chinese), pinyin initials or full pinyin, phone, or an exact ID number (through its keyed hash)."""
    text = text.strip()
    normalised = pii.normalize_id_number(text)
    if len(normalised) == 18 and pii.is_ascii_digits(normalised[:17]):
        return Q(id_number_hash=pii.id_number_hash(normalised))
    digits = pii.normalize_phone(text)
    if pii.is_ascii_digits(digits.replace("-", "")) and len(digits) >= 4:
        return Q(phone__contains=digits)
    lower = text.lower()
    if lower.isascii() and lower.isalpha():
        return Q(name_initials__startswith=lower) | Q(name_pinyin__startswith=lower)
    return Q(name__contains=text)


def elder_detail(*, user, pk: int) -> Elder:
    from yiyang.core.scope import get_scoped_or_404

    return get_scoped_or_404(
        Elder.objects.select_related("residence_region", "hukou_region"), user, "view", pk=pk)


def elder_timeline(elder: Elder) -> list[dict]:
    """Status events and category periods in date order: what happened to this person, and when."""
    rows = []
    for e in elder.status_events.select_related("to_region", "from_region", "recorded_by"):
        rows.append({"date": e.effective_date, "kind": "status", "label": e.get_kind_display(), "event": e})
    for c in elder.categories.all():
        rows.append({"date": c.start_date, "kind": "category_start", "label": c.get_kind_display(), "category": c})
        if c.end_date:
            rows.append({"date": c.end_date, "kind": "category_end", "label": c.get_kind_display(), "category": c})
    rows.sort(key=lambda r: r["date"], reverse=True)
    return rows


def active_categories(elder: Elder, today: datetime.date | None = None) -> list[ElderCategory]:
    today = today or timezone.localdate()
    return [c for c in elder.categories.all() if c.active_on(today)]


def category_labels(elder_ids: list[int], today: datetime.date | None = None) -> dict[int, list[str]]:
    """Active category labels for a page of elders, in one query (no N+1)."""
    today = today or timezone.localdate()
    out: dict[int, list[str]] = {}
    rows = ElderCategory.objects.filter(elder_id__in=elder_ids, start_date__lte=today).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)).order_by("kind")
    for c in rows:
        out.setdefault(c.elder_id, []).append(c.get_kind_display())
    return out


def organisations_for(*, user, q: str = "", kind: str = "") -> QuerySet:
    qs = Organisation.objects.restrict(user).select_related("region").annotate(
        n_facilities=Count("facilities", distinct=True), n_staff=Count("practitioners", distinct=True))
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(credit_code__icontains=q))
    return qs.order_by("name")


def facilities_for(*, user, q: str = "", kind: str = "", region: str = "") -> QuerySet:
    qs = Facility.objects.restrict(user).select_related("region", "operator")
    if kind:
        qs = qs.filter(kind=kind)
    if region:
        qs = qs.filter(region__code__startswith=region)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(address__contains=q))
    return qs.order_by("region_id", "name")


def practitioners_for(*, user, q: str = "", role: str = "", organisation: int | None = None) -> QuerySet:
    qs = Practitioner.objects.restrict(user).select_related("organisation")
    if role:
        qs = qs.filter(role=role)
    if organisation:
        qs = qs.filter(organisation_id=organisation)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(phone__contains=q))
    return qs.order_by("organisation__name", "name")


def register_summary(*, user, today: datetime.date | None = None) -> dict:
    """Counts for the home page of region staff: the register at a glance, in one query."""
    today = today or timezone.localdate()
    qs = Elder.objects.restrict(user).filter(status="active")
    eighty = _years_before(today, 80)
    destitute = ElderCategory.objects.filter(elder=OuterRef("pk"), kind=CategoryKind.DESTITUTE,
                                             start_date__lte=today).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today))
    return qs.aggregate(
        total=Count("id"),
        over_80=Count("id", filter=Q(birth_date__lte=eighty)),
        alone=Count("id", filter=Q(living_situation="alone")),
        destitute=Count("id", filter=Q(Exists(destitute))),
    )


def register_home_panel(request):
    from yiyang.core.permissions import REGION_STAFF, has_role

    if not has_role(request.user, *REGION_STAFF):
        return None
    return {"template": "registry/_home_panel.html", "summary": register_summary(user=request.user)}
