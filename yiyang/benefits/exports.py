"""The review list (核对名单) of a roll: every line the user may see, with its explanation and checks, for the
street and community workers (and the bureau) to check offline. Masked: it can never be used to pay."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from yiyang.core.models import Region

from . import selectors
from .models import Roll


def review_list(roll: Roll, *, actor) -> tuple[str, bytes, str]:
    """An xlsx of the lines of `roll` that `actor` may see (through the scoped selector), masked."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("核对名单"))
    ws.append([_("流水号"), _("姓名"), _("身份证号"), _("社区/村"), _("社区代码"), _("所属月份"), _("类型"),
               _("金额"), _("状态"), _("计算依据"), _("疑点"), _("银行账户")])
    lines = selectors.lines(actor, roll).prefetch_related("checks")
    names = dict(Region.objects.filter(code__in=lines.order_by().values("region_code").distinct())
                 .values_list("code", "name"))
    for line in lines.iterator(chunk_size=2000):
        e = line.elder
        amount = WriteOnlyCell(ws, value=line.amount)
        amount.number_format = "0.00"
        checks = "；".join(f"{c.get_kind_display()}：{c.explain()}" + (f"（{c.get_resolution_display()}）"
                                                                      if c.resolution else "")
                          for c in line.checks.all())
        account = f"{e.bank_name} {e.masked_bank_account}".strip() if roll.programme.pays_to_bank else _("服务余额")
        ws.append([line.pk, e.name, e.id_number_masked, names.get(line.region_code, ""), line.region_code,
                   line.for_month.strftime("%Y-%m"), str(line.get_kind_display()), amount,
                   str(line.get_status_display()), str(line.explain()), checks, account])
    buffer = io.BytesIO()
    wb.save(buffer)
    name = f"{roll.programme.code}-{roll.jurisdiction_id}-{roll.month:%Y%m}-review.xlsx"
    return name, buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
