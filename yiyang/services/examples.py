"""The demo jurisdiction's service catalogue and prices, as documented example data.

The seeds name the services (恩阳区's 五助: 助餐 助浴 助洁 助医 助急; 利通区's 六助一巡访) and say that the 普惠
price is about half the average market price (重庆市民政局, seeds/001: "较平均市场价格低50%左右"); they give no
item prices, so the figures here are examples at that ratio. A bureau sets its own on the price page.
"""

from .models import ServiceCategory, ServiceUnit

# code, name, category, unit, standard minutes, required skill, market price, 普惠 price
CATALOGUE = [
    ("meal-delivery", "助餐（送餐上门）", ServiceCategory.MEAL, ServiceUnit.MEAL, 20, "", "24.00", "12.00"),
    ("meal-canteen", "助餐（老年食堂堂食）", ServiceCategory.MEAL, ServiceUnit.MEAL, 30, "", "18.00", "9.00"),
    ("bath-home", "上门助浴", ServiceCategory.BATH, ServiceUnit.VISIT, 60, "助浴", "120.00", "60.00"),
    ("cleaning-hour", "居家保洁", ServiceCategory.CLEANING, ServiceUnit.HOUR, 60, "", "50.00", "25.00"),
    ("medical-escort", "陪同就医", ServiceCategory.MEDICAL, ServiceUnit.HOUR, 120, "", "60.00", "30.00"),
    ("medication", "用药提醒与健康监测", ServiceCategory.MEDICAL, ServiceUnit.VISIT, 30, "健康监测", "40.00", "20.00"),
    ("emergency-visit", "紧急上门救助", ServiceCategory.EMERGENCY, ServiceUnit.VISIT, 45, "急救", "80.00", "40.00"),
    ("walk-assist", "助行（陪同外出）", ServiceCategory.MOBILITY, ServiceUnit.HOUR, 60, "", "40.00", "20.00"),
    ("shopping", "代购代办", ServiceCategory.SHOPPING, ServiceUnit.VISIT, 45, "", "30.00", "15.00"),
    ("companion", "精神慰藉（陪伴聊天）", ServiceCategory.COMPANION, ServiceUnit.HOUR, 60, "", "40.00", "20.00"),
    ("nursing-basic", "上门生活照料（护理）", ServiceCategory.NURSING, ServiceUnit.HOUR, 60, "生活照料",
     "70.00", "35.00"),
]

# Who pays what in the demo district (the example): 特困 fully paid, 低保 90 %, 低保边缘 70 %,
# 80 and over the 普惠 price (paid from the monthly service allowance first); anyone else the market price.
SUBSIDY_RULE = {
    "rows": [{"category": "destitute", "share": "100"}, {"category": "subsistence", "share": "90"},
             {"category": "near_subsistence", "share": "70"}, {"min_age": 80, "share": "0"}],
    "others": "market",
}
# What a family reads as the rule's basis: the jurisdiction's own document (恩阳区民政局, seeds/000), which
# provides the 五助 home services to 特困 and 高龄 elders.
SUBSIDY_SOURCE = "恩民政函〔2021〕3号"
# For staff only (the revision note): where the figures come from. The shares are examples, and the 普惠 price
# at about half the market price is 重庆市民政局's answer (渝民函〔2022〕222号, seeds/001).
SUBSIDY_NOTE = ("特困全额、低保 90%、低保边缘 70%，80 周岁及以上按普惠价。比例为示例数据；普惠价约为市场价一半"
                "（渝民函〔2022〕222号，seeds/001），五助入户对象见恩民政函〔2021〕3号（seeds/000）。")
