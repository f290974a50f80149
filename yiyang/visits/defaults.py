"""A model tier rule set (恩阳区's, in the demo): the shape most jurisdictions start from, after 民发〔2022〕73号
(特殊困难老年人: 独居、空巢、留守、失能、重残、计划生育特殊家庭) and the seeds' 六助一巡访 (Litong) and 包联 (Neijiang).

People living in a care home are looked after there and are left out of home visits.
"""

NOT_IN_HOME = ["institution"]

MODEL_TIERS = {
    "covered": [
        {"categories": ["destitute", "severe_disability", "bereaved_family"], "exclude_living": NOT_IN_HOME},
        {"living": ["alone", "empty_nest", "left_behind"]},
        {"min_age": 80, "exclude_living": NOT_IN_HOME},
    ],
    "tiers": [
        {"code": "high", "name": "高风险", "rank": 1, "period": "week", "methods": ["home", "phone"],
         "remote_counts": False,
         "when": [{"living": ["alone"], "min_level": 2},
                  {"categories": ["destitute"], "exclude_living": NOT_IN_HOME}]},
        {"code": "key", "name": "重点", "rank": 2, "period": "month", "methods": ["home", "phone", "video"],
         "remote_counts": False,
         "when": [{"living": ["empty_nest", "left_behind"]},
                  {"categories": ["severe_disability", "bereaved_family"], "exclude_living": NOT_IN_HOME},
                  {"living": ["alone"], "min_age": 80}]},
        {"code": "general", "name": "一般", "rank": 3, "period": "quarter", "methods": ["home", "phone", "video"],
         "remote_counts": True,
         "when": [{"living": ["alone"]},
                  {"min_age": 80, "exclude_living": NOT_IN_HOME},
                  {"categories": ["subsistence"], "exclude_living": NOT_IN_HOME}]},
    ],
    "remind_before_hours": 24,
    "escalate_after_hours": 72,
}
