"""Every user-facing string exists in English, and the compiled catalogue matches the source catalogue."""

import re
from pathlib import Path

from django.utils import translation

PO = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES" / "django.po"


def entries():
    text = PO.read_text(encoding="utf-8")
    for block in text.split("\n\n")[1:]:
        if "msgid_plural" in block:
            continue
        msgid = "".join(re.findall(r'"(.*)"', re.search(r"^msgid ((?:\".*\"\n?)+)", block, re.M).group(1)))
        msgstr = "".join(re.findall(r'"(.*)"', re.search(r"^msgstr ((?:\".*\"\n?)+)", block, re.M).group(1)))
        context = re.search(r'^msgctxt "(.*)"', block, re.M)
        yield (msgid.replace('\\"', '"'), msgstr.replace('\\"', '"'), "#, fuzzy" in block,
               context.group(1) if context else None)


def test_every_string_has_an_english_translation():
    rows = list(entries())
    assert len(rows) > 150
    untranslated = [m for m, s, fuzzy, _ in rows if not s or fuzzy]
    assert untranslated == []


def test_compiled_catalogue_is_up_to_date():
    with translation.override("en"):
        stale = [m for m, s, _, ctx in entries() if "%(" not in m
                 and (translation.pgettext(ctx, m) if ctx else translation.gettext(m)) != s]
    assert stale == []


def test_chinese_is_the_default():
    from django.conf import settings

    assert settings.LANGUAGE_CODE == "zh-hans"
