"""What may be typed into names and free text, one rule per kind, shared by models, forms, services, the API
(through the services) and the Excel import (issue 13 §3).

- `clean_person_name`: a person's name (elders, contacts, staff, account holders): letters of any script
  (CJK included), combining marks, 〇, the middle dot of minority names (阿依古丽·买买提), spaces, hyphens and
  apostrophes; it starts with a letter. ASCII digits may follow (registers tell namesakes apart as 张秀英2, and
  test data is named 测试1号); no other digits, no emoji or symbols.
- `clean_organisation_name`: letters, digits, spaces and punctuation (brackets, quotes, dots, dashes, &, /, #);
  at least one letter; no emoji or pictographs.
- `clean_text`: addresses, notes and other free text: any printable character; newlines only where the field is
  multi-line.

None of them accepts control characters (NUL and the rest of C0/C1: they break exports and other programs),
bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and the like: they make text read differently from how it
is stored), other invisible format characters, unpaired surrogates, private-use or unassigned code points. Each
`clean_*` returns the normalised text (trimmed, copy-paste invisibles removed, odd spaces made plain) or raises
ValidationError with a stable code and a message that names the character and its position. The `*Validator`
classes wrap the same rules for model and form fields.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Invisible characters that copy-paste from web pages and Word brings along: dropped (the Excel import has always
# done so). Every other kind of space (no-break, ideographic, em...) becomes a plain one; tabs too (an address
# pasted from a spreadsheet).
_DROPPED = "\u200b\u200c\u200d\u2060\ufeff"
_SPACES = "\t\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_NORMALISE = dict.fromkeys(map(ord, _DROPPED)) | dict.fromkeys(map(ord, _SPACES), " ")

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NAME_DOTS = frozenset("·•‧・")  # 间隔号 and the look-alikes input methods produce
NAME_JOINERS = frozenset(" -‐'’") | NAME_DOTS
# Organisation names: the symbols (beyond punctuation) that real names carry, as in 互联网+养老.
ORGANISATION_SYMBOLS = frozenset("+＋~～")


_ODD = re.compile(f"[{_DROPPED}{_SPACES}\r]")


def normalise_text(value, *, multiline: bool = False) -> str:
    """Trim, drop copy-paste invisibles, make odd spaces plain, CRLF/CR → LF. Checks nothing."""
    text = "" if value is None else str(value)
    if _ODD.search(text):  # rare: one regex scan is cheaper than translating every value (the import's 100k rows)
        text = text.translate(_NORMALISE)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
    if multiline and "\n" in text:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text.strip()


def _shown(ch: str) -> str:
    """How a character is named in a message: invisible ones by code point and name, others as themselves."""
    code = f"U+{ord(ch):04X}"
    if unicodedata.category(ch)[0] in "CZ" and ch != " ":
        name = unicodedata.name(ch, "")
        return f"{code} {name}".strip()
    return str(_("“%(char)s”（%(code)s）")) % {"char": ch, "code": code}


def _refuse(message, code: str, ch: str, position: int):
    return ValidationError(message, code=code, params={"char": _shown(ch), "pos": position})


def _unprintable(text: str, *, multiline: bool) -> ValidationError | None:
    """The first character no text field may hold, as a ValidationError (or None)."""
    for position, ch in enumerate(text, start=1):
        if ch == "\n":
            if multiline:
                continue
            return ValidationError(_("不能换行，请写在一行内。"), code="newline")
        if ch.isascii() and ch.isprintable():
            continue
        category = unicodedata.category(ch)
        if category == "Cc" or category in ("Zl", "Zp"):
            return _refuse(_("不能包含控制字符 %(char)s（第 %(pos)d 个字符）。"), "control_character", ch, position)
        if ch in BIDI_CONTROLS:
            return _refuse(_("不能包含文字方向控制字符 %(char)s（第 %(pos)d 个字符）："
                             "它会让文字显示的顺序与实际不同。"), "bidi_control", ch, position)
        if category == "Cf":
            return _refuse(_("不能包含不可见的格式字符 %(char)s（第 %(pos)d 个字符）。"), "format_character", ch,
                           position)
        if category in ("Cs", "Co", "Cn"):
            return _refuse(_("含有无法显示的字符 %(char)s（第 %(pos)d 个字符）。"), "unprintable_character", ch,
                           position)
    return None


def clean_text(value, *, multiline: bool = False) -> str:
    """Free text (addresses, notes, opening hours, licence numbers...): any printable character."""
    text = normalise_text(value, multiline=multiline)
    # str.isprintable() is false exactly for the categories refused here (Cc Cf Cs Co Cn Zl Zp, and spaces other
    # than " ", which normalise_text has replaced): the common case costs one C call.
    if (text.replace("\n", "") if multiline else text).isprintable():
        return text
    problem = _unprintable(text, multiline=multiline)
    if problem is not None:
        raise problem
    return text


def clean_multiline_text(value) -> str:
    """Free text of a multi-line field (notes): newlines allowed."""
    return clean_text(value, multiline=True)


def _is_letter(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] == "L" or ch == "〇"


def clean_person_name(value) -> str:
    """A person's name as written on their ID card or bank book (see the module docstring)."""
    text = clean_text(value)
    if not text or text.isalpha():  # 王秀英, the common case
        return text
    for position, ch in enumerate(text, start=1):
        if _is_letter(ch) or ch in NAME_JOINERS or "0" <= ch <= "9":
            continue
        if unicodedata.category(ch)[0] == "M" and position > 1:
            continue  # combining accents and vowel signs follow a letter
        raise _refuse(_("姓名只能包含文字、间隔号“·”、空格、连字符、撇号和数字，"
                        "不能包含 %(char)s（第 %(pos)d 个字符）。"), "name_character", ch, position)
    if not _is_letter(text[0]) or text[-1] in NAME_JOINERS:
        raise ValidationError(_("姓名须以文字开头，不能以符号结尾。"), code="name_form")
    return text


def clean_organisation_name(value) -> str:
    """The name of an organisation or facility (see the module docstring)."""
    text = clean_text(value)
    if not text:
        return text
    for position, ch in enumerate(text, start=1):
        category = unicodedata.category(ch)
        if category[0] in "LMNP" or ch == " " or ch in ORGANISATION_SYMBOLS:
            continue
        raise _refuse(_("名称只能包含文字、数字、空格和标点，不能包含 %(char)s（第 %(pos)d 个字符）。"),
                      "name_character", ch, position)
    if not any(_is_letter(ch) for ch in text):
        raise ValidationError(_("名称须包含文字。"), code="name_form")
    first = unicodedata.category(text[0])
    if not (first[0] in "LN" or first in ("Ps", "Pi")):
        raise ValidationError(_("名称须以文字、数字或左括号开头。"), code="name_form")
    return text


# ------------------------------------------------------------------------------ model and form field validators

@deconstructible
class PersonNameValidator:
    def __call__(self, value):
        clean_person_name(value)

    def __eq__(self, other):
        return isinstance(other, PersonNameValidator)


@deconstructible
class OrganisationNameValidator:
    def __call__(self, value):
        clean_organisation_name(value)

    def __eq__(self, other):
        return isinstance(other, OrganisationNameValidator)


@deconstructible
class TextValidator:
    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value):
        clean_text(value, multiline=self.multiline)

    def __eq__(self, other):
        return isinstance(other, TextValidator) and other.multiline == self.multiline


person_name = PersonNameValidator()
organisation_name = OrganisationNameValidator()
single_line_text = TextValidator()
multiline_text = TextValidator(multiline=True)
