import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import pii
from .fields import EncryptedTextField
from .scope import ScopedQuerySet


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("区县")
    STREET = "street", _("街道/乡镇")
    COMMUNITY = "community", _("社区/村")


# Code length per level: a region's code is a prefix of every code below it, so "everything in my
# jurisdiction" is `code__startswith`, and rows can carry the code without a join.
CODE_LENGTH = {"province": 2, "city": 4, "county": 6, "street": 9, "community": 12}


class Region(models.Model):
    """行政区划: a node of the administrative-division tree (national statistical division codes, 2023)."""

    code = models.CharField(_("区划代码"), max_length=12, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    pinyin = models.CharField(_("拼音"), max_length=128, db_index=True)
    initials = models.CharField(_("拼音首字母"), max_length=32, db_index=True)

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"])]

    def __str__(self):
        return self.name

    @property
    def statistical_code(self) -> str:
        """The 12-digit form used in statistics (e.g. 511903000000)."""
        return self.code.ljust(12, "0")

    def ancestors(self) -> list["Region"]:
        """From the province down to this node's parent, in one query (codes are prefixes)."""
        prefixes = [self.code[:n] for n in CODE_LENGTH.values() if n < len(self.code)]
        return list(Region.objects.filter(code__in=prefixes).order_by("code"))

    def path_name(self, separator: str = "/") -> str:
        return separator.join([r.name for r in self.ancestors()] + [self.name])

    def contains(self, code: str) -> bool:
        return bool(code) and code.startswith(self.code)


class Role(models.TextChoices):
    BUREAU = "bureau", _("民政局")
    STREET = "street", _("街道/乡镇")
    COMMUNITY = "community", _("社区/村")
    ASSESSOR = "assessor", _("评估员")
    PROVIDER = "provider", _("服务机构")
    CAREGIVER = "caregiver", _("护理员")
    FAMILY = "family", _("老年人家属")
    ELDER = "elder", _("老年人")
    VOLUNTEER = "volunteer", _("志愿者")
    VISITOR = "visitor", _("巡访员")
    OPERATOR = "operator", _("值班接警员")


# Which kind of scope each role carries (DESIGN.md §1).
REGION_ROLES = {Role.BUREAU, Role.STREET, Role.COMMUNITY}
ORGANISATION_ROLES = {Role.ASSESSOR, Role.PROVIDER, Role.CAREGIVER}
SELF_ROLES = {Role.FAMILY, Role.ELDER, Role.VOLUNTEER}
# 巡访员 (网格员, 村/社区干部, 护老员 … on a phone): an account placed in a community or street, which sees only
# the elders paired with it (visits' scope hook), never the whole area.
VISITOR_ROLES = {Role.VISITOR}
VISITOR_REGION_LEVELS = {RegionLevel.STREET, RegionLevel.COMMUNITY}
# 值班接警员: the county's call centre or a street's duty desk; sees the alarms (and devices) of that area, and
# of the elders only what an alarm shows, never the register.
OPERATOR_ROLES = {Role.OPERATOR}
OPERATOR_REGION_LEVELS = {RegionLevel.COUNTY, RegionLevel.STREET}
ROLE_REGION_LEVELS = {
    Role.BUREAU: {RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY},
    Role.STREET: {RegionLevel.STREET},
    Role.COMMUNITY: {RegionLevel.COMMUNITY},
}


class YiyangUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


class User(AbstractUser):
    """An account. Staff accounts carry a role and a scope: a region node or an organisation."""

    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("负责区域"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        "registry.Organisation",
        verbose_name=_("所属机构"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    # Real-name registration of staff (实名制): encrypted, with a keyed hash for lookups.
    id_number = EncryptedTextField(_("身份证号"), blank=True, default="")
    id_number_hash = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    # The code of the scope's region (the region's code, or the organisation's region), kept on the row so
    # scope filters are prefix matches without joins.
    scope_code = models.CharField(_("范围代码"), max_length=12, blank=True, default="", db_index=True)

    objects = YiyangUserManager()

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")

    def __str__(self):
        return self.display_name or self.username

    @property
    def masked_id_number(self) -> str:
        return pii.mask_id_number(self.id_number)

    def clean(self):
        super().clean()
        if self.role in REGION_ROLES:
            if not self.region_id:
                raise ValidationError({"region": _("该角色必须指定负责区域。")})
            if self.region.level not in ROLE_REGION_LEVELS[self.role]:
                raise ValidationError(
                    {"region": _("%(role)s 账号的负责区域层级不符。") % {"role": self.get_role_display()}}
                )
        if self.role in ORGANISATION_ROLES and not self.organisation_id:
            raise ValidationError({"organisation": _("该角色必须指定所属机构。")})
        if self.role in VISITOR_ROLES:
            if not self.region_id:
                raise ValidationError({"region": _("巡访员必须指定所在街道或社区。")})
            if self.region.level not in VISITOR_REGION_LEVELS:
                raise ValidationError({"region": _("巡访员的所在区域须为街道或社区。")})
        if self.role in OPERATOR_ROLES and (
            not self.region_id or self.region.level not in OPERATOR_REGION_LEVELS
        ):
            raise ValidationError({"region": _("值班接警员须指定所在区县（呼叫中心）或街道。")})

    def save(self, *args, **kwargs):
        if (self.role in REGION_ROLES or self.role in VISITOR_ROLES or self.role in OPERATOR_ROLES) and self.region_id:
            self.scope_code = self.region_id
        elif self.organisation_id:
            self.scope_code = self.organisation.region_id or ""
        self.id_number_hash = pii.id_number_hash(self.id_number) if self.id_number else ""
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        from .scope import region_q

        if user.role == Role.BUREAU:
            return region_q(user, "scope_code")
        # Everyone else sees only their own account.
        return models.Q(pk=user.pk)


class ApiToken(models.Model):
    """A bearer token for integrations. Only a hash of the token is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return "yy_" + secrets.token_urlsafe(32)


class LoginFailure(models.Model):
    """Failed sign-in attempts, for throttling by username and by address (works across processes)."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)


class AuditQuerySet(ScopedQuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only")

    def delete(self):
        raise PermissionError("The audit log is append-only")


class AuditAction(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOGOUT = "logout", _("退出")
    TOKEN = "token", _("签发令牌")
    VIEW_ID = "view_id", _("查看完整身份证号")
    VIEW_HEALTH = "view_health", _("查看健康档案")
    EXPORT = "export", _("导出")
    IMPORT = "import", _("导入")


class AuditEvent(models.Model):
    """One entry of the append-only audit log (who, what, which object, when, from where, before/after)."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    # No database constraint and no cascade: the log must outlive accounts and is never updated.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
        on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
    )
    actor_username = models.CharField(_("操作账号"), max_length=150, blank=True, db_index=True)
    action = models.CharField(_("操作"), max_length=20, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64, blank=True, db_index=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    # The region code of the object (or of the actor's scope), so a bureau sees its own jurisdiction's log.
    region_code = models.CharField(_("区域代码"), max_length=12, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    before = models.JSONField(_("修改前"), null=True, blank=True)
    after = models.JSONField(_("修改后"), null=True, blank=True)
    detail = models.CharField(_("说明"), max_length=500, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only")

    @classmethod
    def scope_filter(cls, user, action):
        from .scope import region_q

        if user.role == Role.BUREAU:
            return region_q(user, "region_code")
        return models.Q(actor_id=user.pk)


class PersonIdentity(models.Model):
    """Identity from a 身份证号, for any model about a person (elders, practitioners, residents, volunteers).

    The number is stored encrypted; `id_number_hash` (keyed HMAC) serves exact lookup and uniqueness;
    `id_number_masked` serves every list and export without decrypting anything. Birth date and sex are
    derived from the number and never typed in separately.
    """

    id_number = EncryptedTextField(_("身份证号"))
    # Indexed by each concrete model's own unique constraint (one index, not three per row on PostgreSQL).
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("身份证号（脱敏）"), max_length=18, editable=False)
    birth_date = models.DateField(_("出生日期"), editable=False, db_index=True)
    sex = models.CharField(_("性别"), max_length=1, choices=[("M", _("男")), ("F", _("女"))], editable=False)

    class Meta:
        abstract = True

    def set_identity(self, raw_number: str) -> pii.IdentityInfo:
        """Validate and set the ID number with everything derived from it (raises ValidationError)."""
        info = pii.parse_id_number(raw_number)
        self.id_number = info.number
        self.id_number_hash = pii.id_number_hash(info.number)
        self.id_number_masked = pii.mask_id_number(info.number)
        self.birth_date = info.birth_date
        self.sex = info.sex
        return info

    def age_on(self, day) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())
