"""Forms of the benefits pages. The rule editor is not a Django form: its bands and table rows are lists of
inputs read by `RuleEditor` (views.py), and `rules.parse` is the one place where a rule is validated."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CheckKind, LineKind, LineStatus, Programme, RollStatus


class MonthInput(forms.TextInput):
    input_type = "month"


def _programme_choices():
    return [("", _("全部项目"))] + [(p.code, p.name) for p in Programme.objects.all()]


class RollFilterForm(forms.Form):
    programme = forms.ChoiceField(label=_("补贴项目"), required=False)
    month = forms.CharField(label=_("发放月份"), required=False, widget=MonthInput)
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部状态")), *RollStatus.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = _programme_choices()


class GenerateForm(forms.Form):
    programme = forms.ModelChoiceField(label=_("补贴项目"), queryset=Programme.objects.all(), to_field_name="code",
                                       empty_label=None)
    month = forms.CharField(label=_("发放月份"), widget=MonthInput, help_text=_("可生成本月或下月的名册"))


class LineFilterForm(forms.Form):
    region = forms.ChoiceField(label=_("街道/社区"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部类型")), *LineKind.choices])
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部状态")), *LineStatus.choices])
    q = forms.CharField(label=_("姓名或身份证号片段"), required=False, max_length=40)
    with_checks = forms.BooleanField(label=_("只看有疑点的"), required=False)

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", _("全部"))] + [(r.code, r.name) for r in regions]


class ConfirmKindForm(forms.Form):
    kind = forms.ChoiceField(choices=CheckKind.choices)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("回盘文件（xlsx 或 CSV）"))


class TotalsForm(forms.Form):
    month = forms.CharField(label=_("发放月份"), required=False, widget=MonthInput)
    level = forms.ChoiceField(label=_("汇总到"), required=False,
                              choices=[("9", _("街道/乡镇")), ("12", _("社区/村"))])


class SettingsForm(forms.Form):
    """发放设置 of a jurisdiction; the service checks the ranges (one place for the rules)."""

    pay_month_of_death = forms.BooleanField(label=_("死亡当月照发（次月停发）"), required=False)
    lookback_months = forms.IntegerField(label=_("补发/追回追溯月数"))
    absence_days = forms.IntegerField(label=_("长期失联提示天数"))
    street_review = forms.BooleanField(label=_("须经街道审核"), required=False)
    background_threshold = forms.IntegerField(label=_("超过多少名老年人时转后台生成"))
