"""Forms of the order pages. They only parse what the person typed; every business rule (area, prices,
ceilings, the elder's status, the life cycle) is checked by services.py and shown next to the field."""

from django import forms
from django.utils.translation import gettext_lazy as _

from yiyang.core.forms import DateInput
from yiyang.core.models import Role

from .models import OrderChannel, OrderStatus

FAMILY_ROLES = (Role.FAMILY, Role.ELDER)


def channels_for(user) -> list[tuple[str, str]]:
    """The elder or family order for themselves (portal); staff take orders by phone or at the counter/on a
    visit (工作人员代下单)."""
    if user.role in FAMILY_ROLES:
        return [(OrderChannel.PORTAL.value, OrderChannel.PORTAL.label)]
    return [(OrderChannel.PHONE.value, OrderChannel.PHONE.label), (OrderChannel.STAFF.value, OrderChannel.STAFF.label)]


class OrderForm(forms.Form):
    elder = forms.IntegerField(label=_("老年人"), error_messages={"required": _("请选择老年人。"),
                                                                 "invalid": _("请选择老年人。")})
    item = forms.CharField(label=_("服务项目"), max_length=32, error_messages={"required": _("请选择服务项目。")})
    provider = forms.IntegerField(label=_("服务机构"), error_messages={"required": _("请选择服务机构。"),
                                                                     "invalid": _("请选择服务机构。")})
    date = forms.DateField(label=_("服务日期"), error_messages={"required": _("请选择服务日期。"),
                                                              "invalid": _("日期格式应为 YYYY-MM-DD。")})
    time = forms.TimeField(label=_("上门时间"), error_messages={"required": _("请选择上门时间。"),
                                                              "invalid": _("时间格式应为 HH:MM。")})
    # Parsed by the service (positive, at most two decimals, at most 100), which words the error.
    quantity = forms.CharField(label=_("数量"), max_length=12, required=False)
    channel = forms.ChoiceField(label=_("下单方式"), choices=OrderChannel.choices, required=False)
    note = forms.CharField(label=_("需求说明"), max_length=300, required=False)
    client_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    # 每周重复: the weekdays (ISO 1–7) are read as given and checked by services.create_recurring.
    repeat = forms.BooleanField(label=_("每周重复"), required=False)
    ends_on = forms.DateField(label=_("结束日期"), required=False,
                              error_messages={"invalid": _("日期格式应为 YYYY-MM-DD。")})

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channels_for(user)

    def clean_channel(self):
        allowed = [value for value, _label in self.fields["channel"].choices]
        return self.cleaned_data.get("channel") or allowed[0]


class FollowUpForm(forms.Form):
    """One call back as recorded by the caller; the rules (satisfaction needed when reached) are the service's."""

    outcome = forms.CharField(label=_("回访结果"), max_length=12, required=False)
    satisfaction = forms.CharField(label=_("满意度"), max_length=3, required=False)
    issues = forms.CharField(label=_("反映问题"), max_length=2000, required=False)
    note = forms.CharField(label=_("备注"), max_length=300, required=False)


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部")), *OrderStatus.choices])
    date_from = forms.DateField(label=_("预约日期从"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("至"), required=False, widget=DateInput())
    item = forms.ChoiceField(label=_("服务项目"), required=False)
    provider = forms.ChoiceField(label=_("服务机构"), required=False)
    flagged = forms.BooleanField(label=_("仅看有异常的订单"), required=False)

    def __init__(self, *args, items=(), providers=None, flags=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [("", _("全部")), *((i.code, i.name) for i in items)]
        # Only region staff choose a provider; only staff and providers see flags.
        if providers is None:
            del self.fields["provider"]
        else:
            self.fields["provider"].choices = [("", _("全部")), *((str(p.pk), p.name) for p in providers)]
        if not flags:
            del self.fields["flagged"]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("结束日期不能早于开始日期。"))
        return data
