"""The register (登记): older people, organisations, facilities and practitioners (DESIGN.md §2, §4)."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core import pii, registry
from yiyang.core.fields import EncryptedTextField
from yiyang.core.models import ORGANISATION_ROLES, VISITOR_ROLES, PersonIdentity, Region, Role
from yiyang.core.scope import ScopedQuerySet, region_q
from yiyang.core.validators import multiline_text, organisation_name, person_name, single_line_text


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class OrganisationKind(models.TextChoices):
    PROVIDER = "provider", _("居家养老服务企业")
    SOCIAL = "social", _("社会组织")
    PUBLIC = "public", _("公办机构")
    ASSESSMENT = "assessment", _("评估机构")
    KITCHEN = "kitchen", _("中央厨房/助餐机构")
    CARE_HOME = "care_home", _("养老机构")


class Organisation(models.Model):
    """An organisation: provider company, social organisation, public institution, assessment agency, kitchen."""

    name = models.CharField(_("名称"), max_length=128, validators=[organisation_name])
    kind = models.CharField(_("类型"), max_length=16, choices=OrganisationKind.choices)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True, validators=[single_line_text])
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    legal_representative = models.CharField(_("法定代表人"), max_length=64, blank=True, validators=[person_name])
    contact_person = models.CharField(_("联系人"), max_length=64, blank=True, validators=[person_name])
    is_active = models.BooleanField(_("在营"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code=""), name="organisation_credit_code_unique"
            )
        ]

    def __str__(self):
        return self.name

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY}:
            # Organisations serve a whole county: street and community workers see (not change) those of theirs.
            if action == "view" and user.role != Role.BUREAU:
                return Q(region__code__startswith=user.scope_code[:6])
            return region_q(user, "region__code")
        if user.organisation_id:
            return Q(pk=user.organisation_id)
        return None


class LicenceKind(models.TextChoices):
    BUSINESS = "business", _("营业执照")
    SOCIAL = "social", _("民办非企业单位登记证书")
    INSTITUTION = "institution", _("事业单位法人证书")
    CARE_FILING = "care_filing", _("养老机构备案")
    FOOD = "food", _("食品经营许可证")
    MEDICAL = "medical", _("医疗机构执业许可证")
    FIRE = "fire", _("消防验收/备案")
    OTHER = "other", _("其他")


class OrganisationLicence(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(_("证照类型"), max_length=16, choices=LicenceKind.choices)
    number = models.CharField(_("证照编号"), max_length=64, validators=[single_line_text])
    issued_on = models.DateField(_("发证日期"), null=True, blank=True)
    expires_on = models.DateField(_("有效期至"), null=True, blank=True)

    class Meta:
        verbose_name = _("证照")
        verbose_name_plural = _("证照")
        ordering = ["expires_on"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    def expires_within(self, days: int, today: datetime.date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.expires_on is not None and self.expires_on <= today + datetime.timedelta(days=days)


class FacilityKind(models.TextChoices):
    STREET_CENTRE = "street_centre", _("街道养老服务中心")
    DAY_CARE = "day_care", _("社区日间照料中心/社区养老服务站")
    CARE_HOME = "care_home", _("养老机构")
    DESTITUTE_HOME = "destitute_home", _("特困供养服务设施")
    RURAL_MUTUAL = "rural_mutual", _("农村互助养老点")
    MEAL_POINT = "meal_point", _("助餐点")
    CENTRAL_KITCHEN = "central_kitchen", _("中央厨房")


class Facility(models.Model):
    name = models.CharField(_("名称"), max_length=128, validators=[organisation_name])
    kind = models.CharField(_("设施类型"), max_length=20, choices=FacilityKind.choices)
    operator = models.ForeignKey(Organisation, verbose_name=_("运营机构"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="facilities")
    region = models.ForeignKey(Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=200, blank=True, validators=[single_line_text])
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    floor_area = models.DecimalField(_("建筑面积（㎡）"), max_digits=10, decimal_places=2, null=True, blank=True)
    beds_total = models.PositiveIntegerField(_("床位数"), default=0)
    beds_nursing = models.PositiveIntegerField(_("护理型床位数"), default=0)
    opening_hours = models.CharField(_("开放时间"), max_length=100, blank=True, validators=[single_line_text])
    is_inclusive = models.BooleanField(_("普惠"), default=False)
    is_active = models.BooleanField(_("在营"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("设施")
        verbose_name_plural = _("设施")
        ordering = ["region_id", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(beds_nursing__lte=models.F("beds_total")),
                                   name="facility_nursing_beds_within_total"),
            models.UniqueConstraint(fields=["name", "region"], name="facility_name_region_unique"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY}:
            return region_q(user, "region__code")
        if user.organisation_id:
            return Q(operator_id=user.organisation_id)
        return None


class LivingSituation(models.TextChoices):
    ALONE = "alone", _("独居")
    EMPTY_NEST = "empty_nest", _("空巢")
    WITH_CHILDREN = "with_children", _("与子女同住")
    LEFT_BEHIND = "left_behind", _("留守")
    INSTITUTION = "institution", _("入住机构")


class ElderStatus(models.TextChoices):
    ACTIVE = "active", _("在册")
    SUSPENDED = "suspended", _("暂停")
    MOVED_OUT = "moved_out", _("已迁出")
    DECEASED = "deceased", _("已故")


class Elder(PersonIdentity):
    """老年人: one person, one record; the ID number is the identity (unique by its keyed hash)."""

    name = models.CharField(_("姓名"), max_length=64, validators=[person_name])
    name_pinyin = models.CharField(_("姓名拼音"), max_length=128, db_index=True, editable=False)
    name_initials = models.CharField(_("拼音首字母"), max_length=32, db_index=True, editable=False)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True, db_index=True)
    hukou_region = models.ForeignKey(Region, verbose_name=_("户籍地"), on_delete=models.PROTECT, related_name="+")
    residence_region = models.ForeignKey(Region, verbose_name=_("居住地"), on_delete=models.PROTECT,
                                         related_name="+")
    # County of residence, on every person-level row (DESIGN.md §5: distribution by county code).
    # Indexed through the (county_code, status, birth_date) index below.
    county_code = models.CharField(_("区县代码"), max_length=6, editable=False)
    address = models.CharField(_("居住地址"), max_length=200, blank=True, validators=[single_line_text])
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    living_situation = models.CharField(_("居住状况"), max_length=16, choices=LivingSituation.choices, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=ElderStatus.choices, default=ElderStatus.ACTIVE)
    status_date = models.DateField(_("状态日期"), null=True, blank=True)
    bank_name = models.CharField(_("开户银行"), max_length=64, blank=True, validators=[organisation_name])
    bank_account = EncryptedTextField(_("银行账号"), blank=True, default="")
    bank_account_holder = models.CharField(_("账户名"), max_length=64, blank=True, validators=[person_name])
    notes = models.TextField(_("备注"), max_length=2000, blank=True, validators=[multiline_text])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("老年人")
        verbose_name_plural = _("老年人")
        ordering = ["residence_region_id", "name"]
        indexes = [
            models.Index(fields=["county_code", "status", "birth_date"]),
            models.Index(fields=["residence_region", "name"]),
            # The register's list in region order (pages and API): the columns of the order and of the staff
            # scope, so that a deep page and the count read this index only (bench/api_list.py).
            models.Index(fields=["residence_region", "name_pinyin", "id", "status", "hukou_region"],
                         name="elder_list_region_order"),
        ]
        constraints = [models.UniqueConstraint(fields=["id_number_hash"], name="elder_one_person_one_record")]

    def __str__(self):
        return self.name

    @property
    def masked_bank_account(self) -> str:
        return pii.mask_account(self.bank_account)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY}:
            code = user.scope_code
            if not code:
                return None
            # Residence decides who serves a person; a bureau also answers for those registered (户籍) in
            # its jurisdiction who live elsewhere, because it pays their benefits.
            q = Q(residence_region__code__startswith=code)
            if user.role == Role.BUREAU:
                q |= Q(hukou_region__code__startswith=code)
            return q
        if user.role in ORGANISATION_ROLES or user.role in VISITOR_ROLES:
            # Providers, assessors and visitors see the elders their orders, assignments or pairings name:
            # higher apps grant that through the `scope_hooks` extension point; nothing by default.
            q = None
            for hook in registry.items("scope_hooks"):
                hq = hook(cls, user, action)
                if hq is not None:
                    q = hq if q is None else q | hq
            return q
        if user.role in {Role.FAMILY, Role.ELDER}:
            return Q(family_links__user=user) if action == "view" else None
        return None


class CategoryKind(models.TextChoices):
    DESTITUTE = "destitute", _("特困")
    SUBSISTENCE = "subsistence", _("低保")
    NEAR_SUBSISTENCE = "near_subsistence", _("低保边缘")
    SEVERE_DISABILITY = "severe_disability", _("重残")
    BEREAVED_FAMILY = "bereaved_family", _("失独/计生特殊家庭")
    ENTITLED = "entitled", _("优抚对象")
    LOW_INCOME = "low_income", _("经济困难")


class ElderCategory(models.Model):
    """A category an elder belongs to for a period (several at once are normal)."""

    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="categories")
    kind = models.CharField(_("类别"), max_length=20, choices=CategoryKind.choices)
    grade = models.CharField(_("等级"), max_length=16, blank=True, help_text=_("重残等级，如 一级、二级"),
                             validators=[single_line_text])
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("终止日期"), null=True, blank=True)
    county_code = models.CharField(max_length=6, db_index=True, editable=False)
    note = models.CharField(_("说明"), max_length=200, blank=True, validators=[single_line_text])
    # Benefits look for categories changed after a month's roll to find back pay and recoveries.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("人员类别")
        verbose_name_plural = _("人员类别")
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                                   name="category_end_after_start"),
            models.UniqueConstraint(fields=["elder", "kind", "start_date"], name="category_unique_start"),
        ]
        indexes = [models.Index(fields=["kind", "start_date", "end_date"])]

    def __str__(self):
        return self.get_kind_display()

    def active_on(self, day: datetime.date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)


class Relationship(models.TextChoices):
    SPOUSE = "spouse", _("配偶")
    SON = "son", _("儿子")
    DAUGHTER = "daughter", _("女儿")
    SON_IN_LAW = "son_in_law", _("女婿")
    DAUGHTER_IN_LAW = "daughter_in_law", _("儿媳")
    GRANDCHILD = "grandchild", _("孙子女/外孙子女")
    SIBLING = "sibling", _("兄弟姐妹")
    RELATIVE = "relative", _("其他亲属")
    NEIGHBOUR = "neighbour", _("邻居")
    OFFICIAL = "official", _("村（居）委会")
    OTHER = "other", _("其他")


class Contact(models.Model):
    """A contact or guardian (监护人) of an elder."""

    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("姓名"), max_length=64, validators=[person_name])
    relationship = models.CharField(_("关系"), max_length=16, choices=Relationship.choices)
    phone = models.CharField(_("电话"), max_length=20)
    is_guardian = models.BooleanField(_("监护人"), default=False)
    address = models.CharField(_("地址"), max_length=200, blank=True, validators=[single_line_text])

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["-is_guardian", "id"]

    def __str__(self):
        return f"{self.name}（{self.get_relationship_display()}）"


class FamilyLink(models.Model):
    """Which family or elder accounts may act for which elder (the portal's scope)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="elder_links")
    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="family_links")
    relationship = models.CharField(_("关系"), max_length=16, choices=Relationship.choices, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "elder"], name="family_link_unique")]


class StatusEventKind(models.TextChoices):
    DEATH = "death", _("死亡")
    RELOCATE = "relocate", _("迁居（平台内）")
    MOVE_OUT = "move_out", _("迁出（离开本平台）")
    MOVE_IN = "move_in", _("迁入")
    SUSPEND = "suspend", _("暂停")
    RESUME = "resume", _("恢复")


# The status each event leaves the person in.
STATUS_AFTER_EVENT = {
    StatusEventKind.DEATH: ElderStatus.DECEASED,
    StatusEventKind.RELOCATE: ElderStatus.ACTIVE,
    StatusEventKind.MOVE_OUT: ElderStatus.MOVED_OUT,
    StatusEventKind.MOVE_IN: ElderStatus.ACTIVE,
    StatusEventKind.SUSPEND: ElderStatus.SUSPENDED,
    StatusEventKind.RESUME: ElderStatus.ACTIVE,
}


class ElderStatusEvent(models.Model):
    """A dated change of an elder's status: the timeline. Effective date may precede the recording date."""

    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="status_events")
    kind = models.CharField(_("事件"), max_length=12, choices=StatusEventKind.choices)
    effective_date = models.DateField(_("生效日期"))
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    from_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("原居住地"))
    to_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("新居住地"))
    county_code = models.CharField(max_length=6, db_index=True, editable=False)
    note = models.CharField(_("说明"), max_length=300, blank=True, validators=[single_line_text])

    class Meta:
        verbose_name = _("状态变更")
        verbose_name_plural = _("状态变更")
        ordering = ["effective_date", "recorded_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.effective_date}"


class PractitionerRole(models.TextChoices):
    CAREGIVER = "caregiver", _("养老护理员")
    SOCIAL_WORKER = "social_worker", _("社会工作者")
    NURSE = "nurse", _("护士")
    DOCTOR = "doctor", _("医生")
    ASSESSOR = "assessor", _("评估员")
    COOK = "cook", _("厨师/配餐员")
    MANAGER = "manager", _("管理人员")
    OTHER = "other", _("其他")


class CertificateLevel(models.TextChoices):
    # 养老护理员国家职业技能标准 (2019): five levels.
    NONE = "", _("无")
    LEVEL5 = "5", _("五级/初级工")
    LEVEL4 = "4", _("四级/中级工")
    LEVEL3 = "3", _("三级/高级工")
    LEVEL2 = "2", _("二级/技师")
    LEVEL1 = "1", _("一级/高级技师")


class Practitioner(PersonIdentity):
    """从业人员: staff of an organisation, with their role and certificate; caregivers may have an account."""

    organisation = models.ForeignKey(Organisation, verbose_name=_("所属机构"), on_delete=models.PROTECT,
                                     related_name="practitioners")
    name = models.CharField(_("姓名"), max_length=64, validators=[person_name])
    phone = models.CharField(_("手机号"), max_length=20)
    role = models.CharField(_("岗位"), max_length=16, choices=PractitionerRole.choices)
    certificate_level = models.CharField(_("职业技能等级"), max_length=2, choices=CertificateLevel.choices,
                                         blank=True)
    certificate_number = models.CharField(_("证书编号"), max_length=64, blank=True, validators=[single_line_text])
    skills = models.CharField(_("技能"), max_length=200, blank=True,
                              help_text=_("逗号分隔，如 助浴,康复,鼻饲"), validators=[single_line_text])
    home_latitude = models.DecimalField(_("住址纬度"), max_digits=9, decimal_places=6, null=True, blank=True,
                                        help_text=_("排线时护理员一天路线的起点和终点"))
    home_longitude = models.DecimalField(_("住址经度"), max_digits=9, decimal_places=6, null=True, blank=True,
                                         help_text=_("排线时护理员一天路线的起点和终点"))
    start_date = models.DateField(_("入职日期"))
    end_date = models.DateField(_("离职日期"), null=True, blank=True)
    account = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("登录账号"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="practitioner")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("从业人员")
        verbose_name_plural = _("从业人员")
        ordering = ["organisation_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "id_number_hash"],
                                    name="practitioner_unique_per_organisation"),
        ]

    def __str__(self):
        return self.name

    @property
    def skill_list(self) -> list[str]:
        return [s.strip() for s in self.skills.replace("，", ",").split(",") if s.strip()]

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU:
            return region_q(user, "organisation__region__code")
        if user.role in {Role.STREET, Role.COMMUNITY}:
            return Q(organisation__region__code__startswith=user.scope_code) if action == "view" else None
        if user.role in {Role.PROVIDER, Role.ASSESSOR} and user.organisation_id:
            return Q(organisation_id=user.organisation_id)
        if user.role == Role.CAREGIVER:
            return Q(account=user)
        return None


class ImportKind(models.TextChoices):
    ELDERS = "elders", _("老年人")
    ORGANISATIONS = "organisations", _("机构")
    FACILITIES = "facilities", _("设施")
    STAFF = "staff", _("从业人员")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    VALIDATING = "validating", _("校验中")
    PREVIEW = "preview", _("待确认")
    WRITING = "writing", _("写入中")
    DONE = "done", _("已导入")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class ImportJob(models.Model):
    """One Excel import: the uploaded file, its validation (preview and plan), progress, and the outcome.

    The uploaded file, the plan (validated rows, including ID numbers) and the error report are stored sealed
    (compressed, then encrypted with the PII keys) and dropped once they are no longer needed.
    """

    kind = models.CharField(_("导入类型"), max_length=16, choices=ImportKind.choices)
    status = models.CharField(_("状态"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.QUEUED,
                              db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("导入人"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    scope_code = models.CharField(_("范围代码"), max_length=12, blank=True, db_index=True)
    organisation = models.ForeignKey(Organisation, verbose_name=_("机构"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(_("文件名"), max_length=255)
    file_size = models.PositiveIntegerField(_("文件大小"), default=0)
    source = models.BinaryField(editable=False, default=b"")
    plan = models.BinaryField(editable=False, default=b"")
    error_report = models.BinaryField(editable=False, default=b"")
    phase = models.CharField(_("阶段"), max_length=20, blank=True)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    counts = models.JSONField(_("统计"), default=dict, blank=True)
    preview = models.JSONField(_("预览"), default=dict, blank=True)
    message = models.TextField(_("说明"), blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now, db_index=True)
    validated_at = models.DateTimeField(_("校验完成时间"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.filename}"

    @property
    def is_running(self) -> bool:
        return self.status in {ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.WRITING}

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    @classmethod
    def scope_filter(cls, user, action):
        # An import holds the uploaded file's personal data: only the person who uploaded it sees it.
        return Q(created_by=user)
