"""What the alarms API's topics share: who may use which list, references, lookups that answer 404 or 422."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Schema

from yiyang.api.parsing import moment, region_of  # noqa: F401 - the API's shared parsing
from yiyang.core.models import Role, User
from yiyang.core.permissions import REGION_STAFF
from yiyang.registry.models import Elder, Organisation

# The duty desk and the area's staff: alarms, devices, maintenance, the rota, the service levels, statistics.
DESK = (Role.OPERATOR, *REGION_STAFF)
# Also whoever an alarm was dispatched to, the maintainer of its device and the elder's family (each scoped by
# Alarm.scope_filter to what concerns them).
ALARM_VIEWERS = (*DESK, Role.CAREGIVER, Role.VISITOR, Role.PROVIDER, Role.FAMILY, Role.ELDER)
DEVICE_VIEWERS = (*DESK, Role.PROVIDER, Role.FAMILY, Role.ELDER)
MAINTENANCE_VIEWERS = (*DESK, Role.PROVIDER)
VENDOR_VIEWERS = (Role.BUREAU, Role.STREET, Role.OPERATOR)


class Ref(Schema):
    id: int
    name: str


class AreaRef(Schema):
    code: str
    name: str


def ref(obj) -> dict | None:
    return None if obj is None else {"id": obj.pk, "name": str(getattr(obj, "name", "") or obj)}


def area(region) -> dict:
    return {"code": region.code, "name": region.name}


def person(user) -> str | None:
    return str(user) if user is not None else None


def label(obj, field: str) -> str:
    return str(getattr(obj, f"get_{field}_display")()) if getattr(obj, field) else ""


def elder_in_body(pk: int, decide, field: str = "elder") -> Elder:
    """An elder named in a body, for a step the alarms policy decides by the elder's area (an operator has no
    access to the register, so the register's scope cannot find them): missing, or outside the area the step
    allows, is the same 422 on the field (the body's object is not the route's, so it does not answer 404)."""
    elder = Elder.objects.select_related("residence_region").filter(pk=pk).first()
    if elder is None or not decide(elder):
        raise ValidationError({field: [_("找不到该老人。")]})
    return elder


def user_in_body(request, pk: int | None, field: str) -> User | None:
    """An account named in a body (a responder, a person on the rota): an active one of the caller's county
    (organisation accounts are placed by their organisation's region), else a 422 on the field whether it
    exists elsewhere or not at all."""
    if pk is None:
        return None
    county = (request.user.scope_code or "")[:6]
    user = User.objects.filter(pk=pk, is_active=True, scope_code__startswith=county).first() if county else None
    if user is None:
        raise ValidationError({field: [_("找不到该账号。")]})
    return user


def organisation_in_body(pk: int | None, field: str) -> Organisation | None:
    if pk is None:
        return None
    org = Organisation.objects.filter(pk=pk).first()
    if org is None:
        raise ValidationError({field: [_("找不到该机构。")]})
    return org
