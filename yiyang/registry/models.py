from django.db import models
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet, region_q


class OrganisationKind(models.TextChoices):
    PROVIDER = "provider", _("居家养老服务企业")
    SOCIAL = "social", _("社会组织")
    PUBLIC = "public", _("公办机构")
    ASSESSMENT = "assessment", _("评估机构")
    KITCHEN = "kitchen", _("中央厨房/助餐机构")
    CARE_HOME = "care_home", _("养老机构")


class Organisation(models.Model):
    """An organisation staff accounts can be scoped to. The registry issue extends it (licences, facilities)."""

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=16, choices=OrganisationKind.choices)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~models.Q(credit_code=""), name="organisation_credit_code_unique"
            )
        ]

    def __str__(self):
        return self.name

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY}:
            # Organisations serve across a county: street and community workers see those of their county.
            if action == "view" and user.role != Role.BUREAU:
                return models.Q(region__code__startswith=user.scope_code[:6])
            return region_q(user, "region__code")
        if user.organisation_id:
            return models.Q(pk=user.organisation_id)
        return None
