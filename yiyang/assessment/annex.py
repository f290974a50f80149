"""Annex A of GB/T 42195-2022 as the form records it: informant, diagnoses, medication, care-risk events in the
last 30 days, health problems and coma. Stored flat in `Assessment.info`; validated here for pages and API alike.

Labels are our own wording of the annex's headings; ICD-10 codes of the common diagnoses are listed so the
assessors tick boxes instead of typing codes. Only F00–F99 codes move the level (see scoring.py).
"""

from django.utils.translation import gettext_lazy as _

from . import scoring

INFORMANT_RELATIONSHIPS = [
    ("self", _("本人")),
    ("spouse", _("配偶")),
    ("child", _("子女")),
    ("relative", _("其他亲属")),
    ("caregiver", _("护理员/保姆")),
    ("official", _("村（居）委会工作人员")),
    ("other", _("其他")),
]

# Common diagnoses among older people, with the ICD-10 category the assessors would otherwise look up.
COMMON_DIAGNOSES = [
    ("I10", _("高血压")),
    ("E11", _("2型糖尿病")),
    ("I25", _("冠心病")),
    ("J44", _("慢性阻塞性肺疾病")),
    ("I69", _("脑卒中后遗症")),
    ("G20", _("帕金森病")),
    ("M81", _("骨质疏松")),
    ("M17", _("膝关节骨性关节炎")),
    ("H25", _("老年性白内障")),
    ("N18", _("慢性肾脏病")),
    ("C80", _("恶性肿瘤")),
    ("F00", _("阿尔茨海默病性痴呆")),
    ("F01", _("血管性痴呆")),
    ("F03", _("痴呆（未特指）")),
    ("F20", _("精神分裂症")),
    ("F32", _("抑郁发作")),
    ("F41", _("焦虑障碍")),
]

HEALTH_PROBLEMS = [
    ("pressure_injury", _("压力性损伤（压疮）")),
    ("joint_limitation", _("关节活动受限")),
    ("wound", _("伤口")),
    ("special_care", _("特殊护理（造口、导管、鼻饲等）")),
    ("pain", _("疼痛")),
    ("tooth_loss", _("牙齿缺失")),
    ("denture", _("佩戴义齿")),
    ("dysphagia", _("吞咽困难")),
    ("malnutrition", _("营养不良")),
    ("airway", _("清理呼吸道无效")),
]

INFO_KEYS = ("informant_name", "informant_relationship", "diagnoses", "diagnosis_note", "medication",
             "risk_events_30d", "health_problems", "health_note", "coma")
TEXT_LIMITS = {"informant_name": 64, "diagnosis_note": 300, "medication": 1000, "health_note": 300}


def empty_info(template: scoring.Template) -> dict:
    return {
        "informant_name": "", "informant_relationship": "", "diagnoses": [], "diagnosis_note": "",
        "medication": "", "risk_events_30d": {k.code: 0 for k in template.risk_event_kinds},
        "health_problems": [], "health_note": "", "coma": False,
    }


def clean_info(template: scoring.Template, data: dict) -> tuple[dict, dict[str, list[str]]]:
    """Validate a partial update of the Annex A fields: (clean values for the keys given, errors by field path)."""
    from django.utils.translation import gettext as _g

    clean: dict = {}
    errors: dict[str, list[str]] = {}

    def err(field, message):
        errors.setdefault(field, []).append(str(message))

    if not isinstance(data, dict):
        err("info", _g("基本信息应为对象。"))
        return clean, errors
    for key, value in data.items():
        path = f"info.{key}"
        if key not in INFO_KEYS:
            err(path, _g("不认识的字段。"))
        elif key in TEXT_LIMITS:
            text = "" if value is None else value
            if not isinstance(text, str):
                err(path, _g("应为文本。"))
            elif len(text.strip()) > TEXT_LIMITS[key]:
                err(path, _g("内容过长（最多 %(n)d 字）。") % {"n": TEXT_LIMITS[key]})
            else:
                clean[key] = text.strip()
        elif key == "informant_relationship":
            if value not in {"", None} | {c for c, _ in INFORMANT_RELATIONSHIPS}:
                err(path, _g("不是允许的取值。"))
            else:
                clean[key] = value or ""
        elif key == "diagnoses":
            if isinstance(value, str):
                value = [v for v in value.replace("，", ",").replace("、", ",").split(",") if v.strip()]
            if not isinstance(value, list):
                err(path, _g("疾病诊断应为ICD-10编码的列表。"))
                continue
            codes = []
            for i, raw in enumerate(value):
                code = scoring.normalize_icd10(raw)
                if code is None:
                    err(f"{path}.{i}", _g("“%(raw)s”不是有效的ICD-10编码（例如 F03、I10）。") % {"raw": raw})
                elif code not in codes:
                    codes.append(code)
            clean[key] = codes
        elif key == "risk_events_30d":
            if not isinstance(value, dict):
                err(path, _g("照护风险事件应为“事件类型: 次数”形式的对象。"))
                continue
            counts = {k.code: 0 for k in template.risk_event_kinds}
            top = max((o.count for o in template.risk_event_count_options), default=3)
            for kind, count in value.items():
                if template.risk_event_kind(kind) is None:
                    err(f"{path}.{kind}", _g("未知的照护风险事件类型。"))
                elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    err(f"{path}.{kind}", _g("次数应为不小于0的整数。"))
                else:
                    # Annex A records "3 times or more" as its top answer.
                    counts[kind] = min(count, top)
            clean[key] = counts
        elif key == "health_problems":
            allowed = {c for c, _ in HEALTH_PROBLEMS}
            if not isinstance(value, list) or any(v not in allowed for v in value):
                err(path, _g("健康问题取值无效。"))
            else:
                clean[key] = [c for c, _ in HEALTH_PROBLEMS if c in value]
        elif key == "coma":
            if not isinstance(value, bool):
                err(path, _g("应为 true 或 false。"))
            else:
                clean[key] = value
    return clean, errors


def diagnosis_label(code: str) -> str:
    for c, label in COMMON_DIAGNOSES:
        if code == c or code.startswith(c + "."):
            return f"{label}（{code}）"
    return code


def health_problem_labels(codes) -> list[str]:
    labels = dict(HEALTH_PROBLEMS)
    return [str(labels[c]) for c in codes or () if c in labels]
