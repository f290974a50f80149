"""Exports of the register to xlsx. Every export is logged with its purpose (PIPL: export with purpose).

Every text cell goes through `cell_value`, so no stored value can break a file or run in the reader's Excel: what
XML cannot hold (control characters, unpaired surrogates; data registered before they were refused) becomes
U+FFFD, and text that a spreadsheet would take for a formula (= + - @, tab, CR first) is written as text.
"""

import io
import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from yiyang.core import audit
from yiyang.core.models import AuditAction

from . import selectors
from .models import Elder

# Characters an xlsx (XML 1.0) part cannot hold, and unpaired surrogates (which cannot be encoded at all).
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_value(ws, value):
    """A value as it may be appended to a write-only sheet: strings made writable and never a formula."""
    if type(value) is not str or not value:
        return value
    if not value.isprintable():
        value = _UNWRITABLE.sub("\ufffd", value)
    if value.startswith(FORMULA_STARTS):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # openpyxl would store "=..." as a formula
        cell.quotePrefix = True  # and Excel keeps it text when the cell is edited (shown as '=...)
        return cell
    return value


def elder_export_headers(full_ids: bool) -> list[str]:
    return [_("姓名"), _("身份证号") if full_ids else _("身份证号（脱敏）"), _("性别"), _("出生日期"), _("年龄"),
            _("联系电话"), _("户籍地代码"), _("居住地代码"), _("居住地"), _("居住地址"), _("居住状况"),
            _("人员类别"), _("状态")]


@transaction.atomic
def export_elders(*, actor, queryset, purpose: str, full_ids: bool, filters: str = "") -> tuple[bytes, int]:
    """Write the (already scoped and filtered) elders to xlsx; masked IDs unless `full_ids`. Returns bytes, count."""
    today = timezone.localdate()
    qs = queryset.select_related("residence_region")
    if not full_ids:
        qs = qs.defer("id_number", "bank_account")  # nothing encrypted is even decrypted
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("老年人"))
    ws.append(elder_export_headers(full_ids))
    count = 0
    batch: list[Elder] = []

    def flush():
        labels = selectors.category_labels([e.pk for e in batch], today)
        for e in batch:
            ws.append([cell_value(ws, v) for v in (
                e.name, e.id_number if full_ids else e.id_number_masked, e.get_sex_display(), e.birth_date,
                e.age_on(today), e.phone, e.hukou_region_id, e.residence_region_id, e.residence_region.name,
                e.address, e.get_living_situation_display(), "、".join(labels.get(e.pk, [])), e.get_status_display(),
            )])
        batch.clear()

    for elder in qs.iterator(chunk_size=2000):
        batch.append(elder)
        count += 1
        if len(batch) >= 2000:
            flush()
    flush()
    info = wb.create_sheet(_("说明"))
    info.append([_("导出时间"), timezone.localtime().strftime("%Y-%m-%d %H:%M")])
    info.append([_("导出人"), cell_value(info, str(actor))])
    info.append([_("用途"), cell_value(info, purpose)])
    info.append([_("条件"), cell_value(info, filters or _("全部"))])
    info.append([_("条数"), count])
    buffer = io.BytesIO()
    wb.save(buffer)
    audit.record(actor=actor, action=AuditAction.EXPORT, object_type="registry.elder",
                 object_repr=_("老年人名单 %(n)d 条") % {"n": count},
                 detail=f"{purpose} | {'full IDs' if full_ids else 'masked'} | {filters}"[:500])
    return buffer.getvalue(), count


