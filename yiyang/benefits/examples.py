"""The demo jurisdiction's rule set, as documented example data (docs/benefits.md).

The figures are examples within the ranges the seed policies name; the `source` of each rule quotes the
sentence it rests on. A real bureau enters its own figures on the rule page (every version is kept).
"""

from .models import ProgrammeKind

# 80–89: 50, 90–99: 100, 100+: 500 yuan a month (within the 25–500 yuan range of the Chongqing seed).
LONGEVITY = {"min_age": 80, "basis": "residence", "amount_kind": "age_bands",
             "bands": [{"min_age": 80, "max_age": 89, "amount": "50"}, {"min_age": 90, "max_age": 99, "amount": "100"},
                       {"min_age": 100, "max_age": None, "amount": "500"}]}
# 低保 100/200/300, 低保边缘 80/150/250, 经济困难 50/100/200 yuan for 中度/重度/完全失能 (within 50–300).
CARE = {"min_age": 60, "categories": ["subsistence", "near_subsistence", "low_income"], "levels": [2, 3, 4],
        "basis": "residence", "amount_kind": "level_table",
        "table": [{"level": lv, "category": cat, "amount": amt}
                  for cat, amounts in (("subsistence", ("100", "200", "300")),
                                       ("near_subsistence", ("80", "150", "250")),
                                       ("low_income", ("50", "100", "200")))
                  for lv, amt in zip((2, 3, 4), amounts, strict=True)]}
# 特困: 250/300/350 yuan for 中度/重度/完全失能.
DESTITUTE = {"min_age": 60, "categories": ["destitute"], "levels": [2, 3, 4], "basis": "residence",
             "amount_kind": "level_table",
             "table": [{"level": 2, "category": "", "amount": "250"}, {"level": 3, "category": "", "amount": "300"},
                       {"level": 4, "category": "", "amount": "350"}]}

# code, kind, name, pays to the bank, description
PROGRAMMES = [
    ("longevity", ProgrammeKind.LONGEVITY, "高龄津贴", True,
     "80 周岁及以上老年人按年龄分档按月发放，次月起享受，死亡次月停发。"),
    ("care", ProgrammeKind.CARE, "经济困难老年人护理补贴", True,
     "低保、低保边缘和经济困难家庭中经能力评估为中度及以上失能的老年人，按类别和能力等级按月发放。"),
    ("destitute_care", ProgrammeKind.DESTITUTE_CARE, "特困人员照护补贴", True,
     "特困供养人员按能力评估等级发放照料护理补贴。"),
    ("service", ProgrammeKind.SERVICE, "服务补贴（政府购买服务）", False,
     "以服务券形式计入老年人服务余额，用于购买助餐、助浴、助洁等居家上门服务；标准待定。"),
]

# code → (params, note, source): the example figures and the seed sentences they rest on (short quotes).
RULES = {
    "longevity": (LONGEVITY, "恩阳区示例标准：80–89 岁 50 元、90–99 岁 100 元、100 岁及以上 500 元",
                  "示例数据。重庆市民政局答复（seeds/001）：“80岁以上老年人给予每人每月25—500元的高龄津贴”；"
                  "恩民政函〔2021〕3号（seeds/000）：全区80岁以上高龄老人11604人、百岁老人48人。"),
    "care": (CARE, "恩阳区示例标准：低保、低保边缘、经济困难 × 中度/重度/完全失能，50–300 元",
             "示例数据。重庆市民政局答复（seeds/001）：“分档次对特困人员低保对象给予50—300/月的护理补贴”；"
             "能力等级按 GB/T 42195-2022。"),
    "destitute_care": (DESTITUTE, "恩阳区示例标准：特困人员中度 250 元、重度 300 元、完全失能 350 元",
                       "示例数据。利通区养老服务实施方案（seeds/004）：“建立健全……特困人员照料护理补贴、高龄津贴"
                       "正常发放机制”；恩民政函〔2021〕3号：特困供养人员2303人。"),
}

# 服务补贴 (a voucher, not cash): 80+ in economic difficulty (特困、低保、低保边缘) get 100 yuan a month,
# credited to their service allowance balance when the month's roll is approved, spent on home services.
SERVICE_ALLOWANCE = {"min_age": 80, "categories": ["destitute", "subsistence", "near_subsistence"], "levels": [],
                     "basis": "residence", "amount_kind": "fixed", "fixed_amount": "100"}

# Programmes credited to the service allowance instead of paid to a bank (kept apart from RULES: their rolls
# are approved but never exported to a bank).
ALLOWANCE_RULES = {
    "service": (SERVICE_ALLOWANCE,
                "恩阳区示例标准：80 周岁及以上特困、低保、低保边缘老年人每月 100 元服务补贴（服务券）",
                "示例数据，金额为假设。重庆市民政局答复（seeds/001）：“健全经济困难高龄失能养老服务补贴”、"
                "“为居家老年人购买12项基本养老服务”；按月计入服务补贴余额，仅用于居家上门服务，当月有效，不发现金。"),
}
