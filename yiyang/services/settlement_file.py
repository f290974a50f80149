"""The provider's monthly statement as an xlsx for payment (服务结算单).

Sheet 结算明细, one row per settled order, in this order:

    订单号 | 服务日期 | 老人姓名 | 身份证号（脱敏） | 服务项目 | 数量 | 金额 | 政府补贴 | 服务补贴抵扣 | 本人自付

Sheet 暂缓结算: the orders held back (flagged), with their reasons; they are not in the totals.
Sheet 汇总: provider, county, month, count and the four money totals, which reconcile to the fen with the
detail rows (the file is refused, not written, when they do not).

Amounts are numbers with two decimals; ID numbers are always masked (payment goes to the provider, not to
the person). Written with openpyxl's write-only workbook, streaming the rows.
"""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from yiyang.core.errors import DomainError

from .models import Settlement, SettlementItem

MONEY_PARTS = ("total", "subsidy", "allowance", "copay")
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def headers() -> list[str]:
    return [_("订单号"), _("服务日期"), _("老人姓名"), _("身份证号（脱敏）"), _("服务项目"), _("数量"), _("金额"),
            _("政府补贴"), _("服务补贴抵扣"), _("本人自付")]


def file_name(settlement: Settlement) -> str:
    return f"settlement-{settlement.provider_id}-{settlement.jurisdiction_id}-{settlement.month:%Y%m}.xlsx"


def _items(settlement: Settlement, *, held: bool):
    return (SettlementItem.objects.filter(settlement=settlement, held=held)
            .select_related("order__elder", "order__item")
            .only("order", "held", "hold_reason", *MONEY_PARTS, "order__check_out_at", "order__quantity",
                  "order__elder__name", "order__elder__id_number_masked", "order__item__name")
            .order_by("order__check_out_at", "order_id"))


def _cell(ws, value, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


def _yuan(ws, amount: Decimal) -> WriteOnlyCell:
    return _cell(ws, amount, "0.00")


def _row(ws, item: SettlementItem) -> list:
    order = item.order
    return [item.order_id, _cell(ws, timezone.localdate(order.check_out_at), "yyyy-mm-dd"), order.elder.name,
            order.elder.id_number_masked, order.item.name, _cell(ws, order.quantity, "0.##"),
            *(_yuan(ws, getattr(item, part)) for part in MONEY_PARTS)]


def write(settlement: Settlement) -> bytes:
    """The workbook's bytes. Raises DomainError (409) when the rows do not add up to the statement."""
    wb = Workbook(write_only=True)
    detail = wb.create_sheet(_("结算明细"))
    detail.append(headers())
    count, sums = 0, dict.fromkeys(MONEY_PARTS, Decimal("0.00"))
    for item in _items(settlement, held=False).iterator(chunk_size=2000):
        detail.append(_row(detail, item))
        count += 1
        for part in MONEY_PARTS:
            sums[part] += getattr(item, part)
    expected = {part: getattr(settlement, part) for part in MONEY_PARTS}
    if count != settlement.order_count or sums != expected:
        raise DomainError("settlement_mismatch", _("结算明细与结算单合计不符，未生成文件。"), status=409)

    held = wb.create_sheet(_("暂缓结算"))
    held.append([*headers(), _("暂缓原因")])
    for item in _items(settlement, held=True).iterator(chunk_size=2000):
        held.append([*_row(held, item), item.hold_reason])

    summary = wb.create_sheet(_("汇总"))
    summary.append([_("服务机构"), settlement.provider.name])
    summary.append([_("辖区"), settlement.jurisdiction.name])
    summary.append([_("结算月份"), settlement.month.strftime("%Y-%m")])
    summary.append([_("结算订单数"), count])
    summary.append([_("金额合计（元）"), _yuan(summary, sums["total"])])
    summary.append([_("政府补贴合计（元）"), _yuan(summary, sums["subsidy"])])
    summary.append([_("服务补贴抵扣合计（元）"), _yuan(summary, sums["allowance"])])
    summary.append([_("本人自付合计（元）"), _yuan(summary, sums["copay"])])
    summary.append([_("暂缓结算订单数"), settlement.held_count])
    summary.append([_("暂缓结算金额（元）"), _yuan(summary, settlement.held_total)])
    summary.append([_("审核时间"), timezone.localtime(settlement.approved_at).strftime("%Y-%m-%d %H:%M")
                    if settlement.approved_at else ""])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
