from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from . import validators
from .models import Region, Role

ISO_DATE = "%Y-%m-%d"


class DateInput(forms.DateInput):
    """<input type="date">, whose value must be ISO (YYYY-MM-DD) in every language: with the locale's format
    (2026/12/02 in Chinese) the browser shows an empty field."""

    input_type = "date"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs, format=format or ISO_DATE)


class TimeInput(forms.TimeInput):
    """<input type="time">: HH:MM in every language."""

    input_type = "time"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs, format=format or "%H:%M")


class RuleTextField(forms.CharField):
    """A CharField whose text follows one of core.validators' rules, cleaned (normalised) the same way as the
    services clean it, with the rule's own message (which also covers NUL: Django's separate NUL check would
    say it twice)."""

    rule = staticmethod(validators.clean_text)

    def __init__(self, *, rule=None, **kwargs):
        super().__init__(**kwargs)
        if rule is not None:
            self.rule = rule
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        return self.rule(value)


class PersonNameField(RuleTextField):
    rule = staticmethod(validators.clean_person_name)


class OrganisationNameField(RuleTextField):
    rule = staticmethod(validators.clean_organisation_name)


class TextField(RuleTextField):
    """Free text; `multiline=True` allows newlines and renders a textarea."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        if multiline:
            kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        super().__init__(rule=validators.clean_multiline_text if multiline else validators.clean_text, **kwargs)


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("密码"), max_length=256,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(label=_("当前密码"), max_length=256, strip=False,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("新密码"), max_length=256, strip=False,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password_again = forms.CharField(label=_("再次输入新密码"), max_length=256, strip=False,
                                         widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("两次输入的新密码不一致。"))
        return data


class RegionPickerWidget(forms.Widget):
    """A cascading province → … → community picker with search by name, pinyin or initials.

    Submits the region code. `within` (a code) limits the picker to a subtree, e.g. the user's jurisdiction.
    """

    template_name = "core/widgets/region_picker.html"

    def __init__(self, attrs=None, within: str = "", min_level: str = ""):
        super().__init__(attrs)
        self.within = within
        self.min_level = min_level

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        region = Region.objects.filter(code=value).first() if value else None
        context["widget"].update({"within": self.within, "region": region,
                                  "path": region.path_name() if region else ""})
        if self.within:
            within_region = Region.objects.filter(code=self.within).first()
            context["widget"]["within_path"] = within_region.path_name() if within_region else ""
        return context

    class Media:
        js = ["core/region-picker.js"]


class RegionField(forms.CharField):
    def __init__(self, *, within: str = "", **kwargs):
        kwargs.setdefault("widget", RegionPickerWidget(within=within))
        super().__init__(max_length=12, **kwargs)
        self.within = within

    def clean(self, value):
        code = super().clean(value)
        if not code:
            return None
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise forms.ValidationError(_("区划代码 %(code)s 不存在。"), params={"code": code})
        if self.within and not region.code.startswith(self.within):
            raise forms.ValidationError(_("所选区域不在您的辖区内。"))
        return region


class AccountForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    display_name = PersonNameField(label=_("姓名"), max_length=64, required=False)
    role = forms.ChoiceField(label=_("角色"), choices=[("", "---------")] + list(Role.choices))
    region = RegionField(label=_("负责区域"), required=False,
                         help_text=_("民政局选区县（或市），街道账号选街道，社区账号选社区，巡访员选所在街道或社区。"))
    organisation = forms.ModelChoiceField(label=_("所属机构"), queryset=None, required=False,
                                          help_text=_("评估员、服务机构和护理员账号必须选择机构。"))
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    id_number = forms.CharField(label=_("身份证号"), max_length=24, required=False)
    password = forms.CharField(label=_("初始密码"), max_length=128, widget=forms.PasswordInput(render_value=False))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from yiyang.registry.models import Organisation

        within = "" if user.is_superuser else user.scope_code
        self.fields["region"] = RegionField(label=self.fields["region"].label, required=False, within=within,
                                            help_text=self.fields["region"].help_text)
        self.fields["organisation"].queryset = Organisation.objects.restrict(user, "view")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("操作账号"), required=False)
    action = forms.ChoiceField(label=_("操作"), required=False)
    object_type = forms.CharField(label=_("对象类型"), required=False)
    object_id = forms.CharField(label=_("对象编号"), required=False)
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=DateInput())

    def __init__(self, *args, **kwargs):
        from .models import AuditAction

        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("全部"))] + list(AuditAction.choices)
