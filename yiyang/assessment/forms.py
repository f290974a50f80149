from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import User

from . import selectors
from .models import Reason, Status

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AssessorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name or obj.username


class RequestForm(forms.Form):
    reason = forms.ChoiceField(label=_("评估原因"), widget=forms.RadioSelect,
                               choices=[c for c in Reason.choices if c[0] != Reason.REVIEW])
    agency = forms.ModelChoiceField(label=_("评估机构"), queryset=None, empty_label=None,
                                    help_text=_("默认为承担本区县评估工作的机构。"))
    note = forms.CharField(label=_("申请说明"), required=False, max_length=300,
                           widget=forms.Textarea(attrs={"rows": 3, "placeholder": _(
                               "如：近期跌倒后行动不便、出院回家、申请护理补贴等")}))

    def __init__(self, *args, elder, has_result: bool, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("reason", Reason.ROUTINE if has_result else Reason.FIRST)
        super().__init__(*args, **kwargs)
        agencies = selectors.assessment_agencies(elder.county_code)
        if not agencies.exists():
            agencies = selectors.assessment_agencies()
        self.fields["agency"].queryset = agencies
        if agencies.count() == 1:
            self.fields["agency"].initial = agencies.first().pk


class AssignForm(forms.Form):
    assessor_1 = AssessorChoiceField(label=_("评估员（主评）"), queryset=User.objects.none())
    assessor_2 = AssessorChoiceField(label=_("评估员（协评）"), queryset=User.objects.none())
    scheduled_for = forms.DateField(label=_("预约评估日期"), widget=DATE)
    location = forms.CharField(label=_("评估地点"), required=False, max_length=200,
                               help_text=_("默认为老年人居住地址。"))

    def __init__(self, *args, agency, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("scheduled_for", timezone.localdate())
        super().__init__(*args, **kwargs)
        people = selectors.agency_assessors(agency)
        self.fields["assessor_1"].queryset = people
        self.fields["assessor_2"].queryset = people


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class ReviewForm(forms.Form):
    note = forms.CharField(label=_("审核意见"), required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 2}))


class SubmitForm(forms.Form):
    assessed_on = forms.DateField(label=_("评估日期"), widget=DATE)


class AgencyForm(forms.Form):
    agency = forms.ModelChoiceField(label=_("评估机构"), queryset=None, empty_label=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = selectors.assessment_agencies()


class PolicyForm(forms.Form):
    stack_adjustments = forms.BooleanField(
        label=_("确诊痴呆/精神障碍与照护风险事件两条规则叠加（各提高一级）"), required=False)
    validity_months = forms.IntegerField(label=_("结果有效期（月）"), min_value=1, max_value=36)


class FilterForm(forms.Form):
    q = forms.CharField(label=_("姓名"), required=False, max_length=40,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("姓名或拼音首字母")}))
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部")), ("open", _("进行中"))] + list(Status.choices))
    reason = forms.ChoiceField(label=_("评估原因"), required=False, choices=[("", _("全部"))] + list(Reason.choices))
