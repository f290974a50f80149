"""core.bulk (set-based inserts) and audit.bulk_records (the audit of many rows) against what the ordinary paths
write: the same stored values as the ORM, the same audit content as audit.record."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, Value

from yiyang.core import audit, bulk, pii
from yiyang.core.models import AuditAction, AuditEvent
from yiyang.core.tests.factories import demo_roles
from yiyang.registry.models import Contact, Elder
from yiyang.registry.tests.factories import id_number, make_elder

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def test_insert_rows_stores_what_the_orm_would_store(roles):
    elder = make_elder(roles["bureau"], bank_account="6228480012345678901", latitude="31.8", longitude="106.6")
    copy = {f.attname: getattr(elder, f.attname) for f in Elder._meta.concrete_fields if not f.primary_key}
    number = id_number(datetime.date(1941, 5, 6), 7)
    copy.update(id_number=number, id_number_hash=pii.id_number_hash(number), name="李四", created_at=None,
                updated_at=None)
    with transaction.atomic():
        ids = bulk.insert_rows(Elder, [copy])
    assert len(ids) == 1 and ids[0] > elder.pk
    stored = Elder.objects.get(pk=ids[0])
    assert stored.id_number == number and stored.bank_account == "6228480012345678901"  # encrypted, readable
    assert stored.latitude == Decimal("31.800000") and stored.birth_date == elder.birth_date
    assert stored.created_at is not None and stored.updated_at == stored.created_at  # auto_now set
    assert bulk.insert_rows(Elder, []) == []
    with pytest.raises(IntegrityError), transaction.atomic():  # the same person again: the unique hash holds
        bulk.insert_rows(Elder, [copy])


def test_insert_rows_from_a_generator_with_its_count(roles):
    elder = make_elder(roles["bureau"])
    made = []

    def rows(n):
        for i in range(n):
            made.append(i)
            yield {"elder_id": elder.pk, "name": f"联系人{i}", "relationship": "son", "phone": "13912345678"}

    with transaction.atomic():
        ids = bulk.insert_rows(Contact, rows(3), count=3)
    assert len(ids) == 3 and made == [0, 1, 2]
    assert list(Contact.objects.filter(pk__in=ids).order_by("pk").values_list("name", flat=True)) == [
        "联系人0", "联系人1", "联系人2"]
    assert bulk.insert_rows(Contact, rows(0), count=0) == []
    with pytest.raises(ValueError), transaction.atomic():  # fewer rows than said: nothing is kept
        bulk.insert_rows(Contact, rows(2), count=3)
    assert Contact.objects.count() == 3


def test_insert_many_sets_primary_keys(roles):
    elder = make_elder(roles["bureau"])
    contacts = [Contact(elder=elder, name=f"联系人{i}", relationship="son", phone="13912345678") for i in range(3)]
    with transaction.atomic():
        bulk.insert_many(Contact, contacts)
    assert [c.pk for c in contacts] == sorted(Contact.objects.values_list("pk", flat=True))
    assert all(not c._state.adding for c in contacts)
    assert Contact.objects.get(pk=contacts[1].pk).name == "联系人1"


def test_insert_select_and_key_sets(roles):
    elder = make_elder(roles["bureau"])
    with transaction.atomic():
        n = bulk.insert_select(Contact, Elder.objects.filter(pk=elder.pk), {
            "elder": F("pk"), "name": F("name"), "relationship": Value("other"), "phone": F("phone"),
            "is_guardian": Value(False), "address": Value("")})
    assert n == 1 and Contact.objects.get().name == elder.name
    # Whatever form the operands take (chunks of keys, or one subquery over a temporary table on PostgreSQL),
    # together they select exactly the rows with those keys.
    keys = [elder.pk, *range(elder.pk + 1000, elder.pk + 1006)]
    with transaction.atomic():
        found = [pk for operand in bulk.key_sets(keys, integer=True, chunk=3)
                 for pk in Elder.objects.filter(pk__in=operand).values_list("pk", flat=True)]
    assert found == [elder.pk]
    assert list(bulk.key_sets([])) == []


def test_bulk_records_logs_what_record_logs_for_the_same_instance(roles):
    actor = roles["bureau"]
    elder = make_elder(actor, bank_account="6228480012345678901")
    raw = {f.attname: getattr(elder, f.attname) for f in Elder._meta.concrete_fields}
    with transaction.atomic():
        one = audit.record(actor=actor, action=AuditAction.CREATE, instance=elder, after=audit.snapshot(elder),
                           region_code=elder.residence_region_id, detail="d")
        ids = audit.bulk_records(actor=actor, action=AuditAction.CREATE, model=Elder, snapshot_after=True,
                                 entries=[audit.Entry(instance=elder, region_code=elder.residence_region_id,
                                                      detail="d"),
                                          audit.Entry(values=raw, object_repr=str(elder),
                                                      region_code=elder.residence_region_id, detail="d")])
    fields = ("actor_id", "actor_username", "action", "object_type", "object_id", "object_repr", "region_code",
              "before", "after", "detail")
    expected = AuditEvent.objects.filter(pk=one.pk).values(*fields).get()
    for pk in ids:
        assert AuditEvent.objects.filter(pk=pk).values(*fields).get() == expected
    assert "updated_at" not in expected["after"] and "id_number_hash" not in expected["after"]
    assert expected["after"]["bank_account"] == "**** 8901"

    # An update: raw values before and after, masked and reduced to the change, like record(snapshot, snapshot).
    before = audit.snapshot(elder)
    old_raw = dict(raw)
    elder.phone, elder.bank_account = "13900001111", "6228480012345670000"
    elder.save()
    new_raw = {f.attname: getattr(elder, f.attname) for f in Elder._meta.concrete_fields}
    with transaction.atomic():
        one = audit.record(actor=actor, action=AuditAction.UPDATE, instance=elder, before=before,
                           after=audit.snapshot(elder))
        (pk,) = audit.bulk_records(actor=actor, action=AuditAction.UPDATE, model=Elder, entries=[
            audit.Entry(instance=elder, before=old_raw, after=new_raw, extra={"note": 1})])
    a, b = AuditEvent.objects.get(pk=one.pk), AuditEvent.objects.get(pk=pk)
    assert set(a.after) == {"phone", "bank_account"} and a.before == b.before
    assert b.after == a.after | {"note": 1} and a.region_code == b.region_code == actor.scope_code


def test_bulk_records_under_a_system_source(roles):
    actor = roles["bureau"]
    elder = make_elder(actor)
    with audit.recorded_as("demo_city"), transaction.atomic():
        one = audit.record(actor=actor, action=AuditAction.CREATE, instance=elder, detail="d")
        (pk,) = audit.bulk_records(actor=actor, action=AuditAction.CREATE, model=Elder,
                                   entries=[audit.Entry(instance=elder, detail="d")])
    a, b = AuditEvent.objects.get(pk=one.pk), AuditEvent.objects.get(pk=pk)
    assert (a.actor_id, a.actor_username, a.detail) == (b.actor_id, b.actor_username, b.detail)
    assert b.actor_id is None and b.detail.startswith("[demo_city · bureau]")
