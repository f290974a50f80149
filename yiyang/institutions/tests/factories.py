"""Institutions test helpers: real objects through the real services."""

import datetime

from yiyang.assessment.tests.factories import published
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry.models import OrganisationKind
from yiyang.registry.tests.factories import make_elder

from .. import services


def make_home(bureau, *, name="恩阳区福寿养老院", kind="care_home", ownership="private", region="511903001",
              manager="carehome"):
    """A home run by its own organisation, with a manager account (provider role of that organisation)."""
    org = make_org(f"{name}运营方", kind=OrganisationKind.CARE_HOME, region=region)
    user = make_user(manager, Role.PROVIDER, organisation=org, display_name=f"{name}院长")
    home = services.register_institution(actor=bureau, name=name, kind=kind, ownership=ownership, organisation=org,
                                         region=region)
    return home, user


def make_room(actor, home, *, room="101", labels=("1", "2"), nursing=False, open_to_others=False, day=None,
              building="1号楼", floor=1):
    return services.add_beds(actor=actor, institution=home, building=building, floor=floor, room=room,
                             labels=list(labels), nursing=nursing, open_to_others=open_to_others,
                             effective_date=day)


def assessed_elder(roles, seq, *, living_situation="alone", **kwargs):
    """An elder of 登科寺社区 with a published assessment (轻度失能, level 1)."""
    kwargs.setdefault("birth", datetime.date(1938, 6, 1))
    elder = make_elder(roles["community"], seq=seq, name=kwargs.pop("name", f"老人{seq}"),
                       living_situation=living_situation, **kwargs)
    published(roles, elder)
    return elder
