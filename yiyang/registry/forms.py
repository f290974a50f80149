from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from yiyang.core.forms import DateInput, OrganisationNameField, PersonNameField, RegionField, TextField

from .models import (
    CategoryKind,
    CertificateLevel,
    ElderStatus,
    FacilityKind,
    LicenceKind,
    LivingSituation,
    OrganisationKind,
    PractitionerRole,
    Relationship,
    StatusEventKind,
)
from .selectors import AGE_BANDS, ELDER_SORTS, extra_filters

DATE = DateInput()


ALL = _("全部")


def _blank(choices, label=ALL):
    return [("", label)] + list(choices)


class ElderFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("姓名、拼音首字母、电话或完整身份证号")}))
    region = forms.ChoiceField(label=_("区域"), required=False)
    age_band = forms.ChoiceField(label=_("年龄段"), required=False,
                                 choices=_blank([(k, k) for k in AGE_BANDS]))
    sex = forms.ChoiceField(label=_("性别"), required=False, choices=_blank([("M", _("男")), ("F", _("女"))]))
    category = forms.ChoiceField(label=_("人员类别"), required=False, choices=_blank(CategoryKind.choices))
    living_situation = forms.ChoiceField(label=_("居住状况"), required=False, choices=_blank(LivingSituation.choices))
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("active", _("在册")), ("all", _("全部"))]
                               + [c for c in ElderStatus.choices if c[0] != "active"])
    sort = forms.ChoiceField(label=_("排序"), required=False, choices=[
        ("region", _("按区域")), ("name", _("按姓名拼音")), ("-age", _("年龄从大到小")), ("age", _("年龄从小到大")),
        ("-created", _("最近登记")),
    ])

    per_page = forms.TypedChoiceField(label=_("每页"), required=False, coerce=int, empty_value=25,
                                      choices=[(25, "25"), (50, "50"), (100, "100")])

    def __init__(self, *args, region_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = _blank(region_choices)
        # Filters of higher apps (the ability level…) sit where they registered, before 状态 by default.
        for extra in extra_filters():
            names = list(self.fields)
            at = names.index(extra.after) + 1 if extra.after in names else names.index("status")
            fields = list(self.fields.items())
            fields.insert(at, (extra.name, extra.form_field()))
            self.fields = dict(fields)

    def clean_sort(self):
        value = self.cleaned_data.get("sort") or "region"
        return value if value in ELDER_SORTS else "region"


class ElderForm(forms.Form):
    name = PersonNameField(label=_("姓名"), max_length=64)
    id_number = forms.CharField(label=_("身份证号"), max_length=24,
                                help_text=_("出生日期和性别由身份证号自动得出。"))
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    residence_region = RegionField(label=_("居住地（社区/村）"))
    hukou_region = RegionField(label=_("户籍地"), help_text=_("与居住地相同时可不改。"), required=False)
    address = TextField(label=_("居住地址"), max_length=200, required=False)
    living_situation = forms.ChoiceField(label=_("居住状况"), required=False,
                                         choices=_blank(LivingSituation.choices, "---------"))
    latitude = forms.DecimalField(label=_("纬度"), required=False, max_digits=9, decimal_places=6)
    longitude = forms.DecimalField(label=_("经度"), required=False, max_digits=9, decimal_places=6)
    bank_name = OrganisationNameField(label=_("开户银行"), max_length=64, required=False)
    bank_account = forms.CharField(label=_("银行账号"), max_length=40, required=False)
    bank_account_holder = PersonNameField(label=_("账户名"), max_length=64, required=False)
    notes = TextField(label=_("备注"), required=False, multiline=True)

    def __init__(self, *args, user, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        within = "" if user.is_superuser else user.scope_code
        self.fields["residence_region"] = RegionField(label=self.fields["residence_region"].label, within=within)
        self.fields["hukou_region"] = RegionField(label=self.fields["hukou_region"].label, required=False,
                                                  help_text=self.fields["hukou_region"].help_text)
        self.fields["id_number"].widget.attrs.update({
            "hx-post": reverse("registry:elder_check_id"), "hx-trigger": "change, keyup changed delay:500ms",
            "hx-target": "#id-check", "autocomplete": "off", "inputmode": "text",
        })
        if editing:
            del self.fields["id_number"]


class StatusEventForm(forms.Form):
    # Nothing is chosen until the person chooses: a default (it was 死亡) is one click from a wrong death record.
    kind = forms.ChoiceField(label=_("事件"), choices=_blank(StatusEventKind.choices, "---------"),
                             error_messages={"required": _("请选择要登记的事件。")})
    effective_date = forms.DateField(label=_("生效日期"), widget=DATE)
    to_region = RegionField(label=_("新居住地"), required=False, help_text=_("迁居、迁入时填写。"))
    note = TextField(label=_("说明"), max_length=300, required=False)


class CategoryForm(forms.Form):
    kind = forms.ChoiceField(label=_("类别"), choices=CategoryKind.choices)
    grade = TextField(label=_("等级"), max_length=16, required=False)
    start_date = forms.DateField(label=_("起始日期"), widget=DATE)
    end_date = forms.DateField(label=_("终止日期"), widget=DATE, required=False)


class ContactForm(forms.Form):
    name = PersonNameField(label=_("姓名"), max_length=64)
    relationship = forms.ChoiceField(label=_("关系"), choices=Relationship.choices)
    phone = forms.CharField(label=_("电话"), max_length=20)
    is_guardian = forms.BooleanField(label=_("监护人"), required=False)


class ExportForm(forms.Form):
    purpose = TextField(label=_("导出用途"), max_length=200,
                              help_text=_("必填，将记入审计日志，如“2026年11月高龄津贴核对”。"))


class OrganisationForm(forms.Form):
    name = OrganisationNameField(label=_("名称"), max_length=128)
    kind = forms.ChoiceField(label=_("类型"), choices=OrganisationKind.choices)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=24, required=False)
    region = RegionField(label=_("所在区域"))
    address = TextField(label=_("地址"), max_length=200, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    legal_representative = PersonNameField(label=_("法定代表人"), max_length=64, required=False)
    contact_person = PersonNameField(label=_("联系人"), max_length=64, required=False)
    licence_kind = forms.ChoiceField(label=_("证照类型"), required=False,
                                     choices=_blank(LicenceKind.choices, "---------"))
    licence_number = TextField(label=_("证照编号"), max_length=64, required=False)
    licence_expires_on = forms.DateField(label=_("证照有效期至"), widget=DATE, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        within = "" if user.is_superuser else user.scope_code
        self.fields["region"] = RegionField(label=self.fields["region"].label, within=within)


class FacilityForm(forms.Form):
    name = OrganisationNameField(label=_("名称"), max_length=128)
    kind = forms.ChoiceField(label=_("设施类型"), choices=FacilityKind.choices)
    operator = forms.ModelChoiceField(label=_("运营机构"), queryset=None, required=False)
    region = RegionField(label=_("所在区域"))
    address = TextField(label=_("地址"), max_length=200, required=False)
    latitude = forms.DecimalField(label=_("纬度"), required=False, max_digits=9, decimal_places=6)
    longitude = forms.DecimalField(label=_("经度"), required=False, max_digits=9, decimal_places=6)
    floor_area = forms.DecimalField(label=_("建筑面积（㎡）"), required=False, max_digits=10, decimal_places=2)
    beds_total = forms.IntegerField(label=_("床位数"), min_value=0, initial=0)
    beds_nursing = forms.IntegerField(label=_("护理型床位数"), min_value=0, initial=0)
    opening_hours = TextField(label=_("开放时间"), max_length=100, required=False)
    is_inclusive = forms.BooleanField(label=_("普惠"), required=False)

    def __init__(self, *args, user, **kwargs):
        from .models import Organisation

        super().__init__(*args, **kwargs)
        within = "" if user.is_superuser else user.scope_code
        self.fields["region"] = RegionField(label=self.fields["region"].label, within=within)
        self.fields["operator"].queryset = Organisation.objects.restrict(user)


class PractitionerForm(forms.Form):
    name = PersonNameField(label=_("姓名"), max_length=64)
    id_number = forms.CharField(label=_("身份证号"), max_length=24)
    phone = forms.CharField(label=_("手机号"), max_length=20)
    organisation = forms.ModelChoiceField(label=_("所属机构"), queryset=None)
    role = forms.ChoiceField(label=_("岗位"), choices=PractitionerRole.choices)
    certificate_level = forms.ChoiceField(label=_("职业技能等级"), choices=CertificateLevel.choices, required=False)
    certificate_number = TextField(label=_("证书编号"), max_length=64, required=False)
    skills = TextField(label=_("技能"), max_length=200, required=False,
                             help_text=_("逗号分隔，如 助浴,康复,鼻饲"))
    start_date = forms.DateField(label=_("入职日期"), widget=DATE)
    end_date = forms.DateField(label=_("离职日期"), widget=DATE, required=False)
    home_latitude = forms.DecimalField(label=_("住址纬度"), required=False, max_digits=9, decimal_places=6,
                                       help_text=_("排线时护理员一天的出发和返回地点；不填则从当天服务对象的中心出发"))
    home_longitude = forms.DecimalField(label=_("住址经度"), required=False, max_digits=9, decimal_places=6)

    def __init__(self, *args, user, editing: bool = False, **kwargs):
        from .models import Organisation

        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.restrict(user, "change")
        if editing:
            # The identity stays as registered; a new number is only given to correct a mistake.
            self.fields["id_number"].required = False
            self.fields["id_number"].help_text = _("不修改请留空")
        else:
            del self.fields["end_date"]
