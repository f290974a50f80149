"""Resolvers from what a workbook says to the register: regions by name or path, organisations, pinyin."""


from __future__ import annotations

import logging
import re
from collections import defaultdict

from django.utils.translation import gettext as _
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin

from yiyang.core import pii
from yiyang.core.models import Region
from yiyang.core.selectors import region_paths

from ..models import (
    Organisation,
)
from .cells import choice_key, narrow

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- regions

_SUFFIX_ALIASES = (
    ("社区居民委员会", ("社区", "社区居委会")),
    ("居民委员会", ("社区", "居委会")),
    ("村民委员会", ("村", "村委会")),
    ("街道办事处", ("街道",)),
    ("街道", ("街道办事处", "街道办")),
)


def name_aliases(name: str) -> set[str]:
    """A region's official name and the short forms people write (登科寺社区居民委员会 → 登科寺社区)."""
    out = {name}
    for suffix, replacements in _SUFFIX_ALIASES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            out.update(base + r for r in replacements)
            break
    return out


_PATH_SPLIT = re.compile(r"\s*[/\\>|]\s*|\s+")


class RegionResolver:
    """Region by code or by name path, for many rows: the jurisdiction's regions are loaded once into
    dictionaries, other values (户籍 elsewhere in China) are looked up once per distinct value.

    A path is a list of names from any level down to the region, levels may be skipped (恩阳区/登科街道/登科寺社区,
    登科寺社区, 四川省/巴中市/恩阳区); names may be written short (…社区 for …社区居民委员会, …村 for …村民委员会).
    A path that fits more than one region is reported as ambiguous, never guessed.
    """

    def __init__(self, root_code: str):
        root_code = root_code or ""
        rows = list(Region.objects.filter(code__startswith=root_code).values_list("code", "name", "level"))
        ancestors = [root_code[:n] for n in (2, 4, 6, 9) if n < len(root_code)]
        rows += list(Region.objects.filter(code__in=ancestors).values_list("code", "name", "level"))
        self.root = root_code
        self.regions = {code: (name, level) for code, name, level in rows}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for code, (name, _level) in self.regions.items():
            for alias in name_aliases(name):
                self.by_name[alias].append(code)
        self.cache: dict[str, tuple[Region | None, str]] = {}

    @staticmethod
    def _chain(code: str) -> list[str]:
        return [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]

    def resolve(self, raw: str) -> tuple[Region | None, str]:
        """(region, "") or (None, message)."""
        hit = self.cache.get(raw)
        if hit is None:
            hit = self.cache[raw] = self._resolve(raw)
        return hit

    def _region(self, code: str, name: str, level: str) -> Region:
        return Region(code=code, name=name, level=level, parent_id=None)

    def _resolve(self, raw: str) -> tuple[Region | None, str]:
        text = narrow(raw).strip().strip("/\\")
        compact = re.sub(r"\s+", "", text)
        if pii.is_ascii_digits(compact):
            return self._by_code(compact)
        parts = [p for p in _PATH_SPLIT.split(text) if p]
        if not parts:
            return None, _("此项为必填项。")
        matches = self._match(parts, self.by_name.get(parts[-1], []), self.regions)
        if not matches:
            matches = self._match_elsewhere(parts)
        if len(matches) == 1:
            code, name, level = matches[0]
            return self._region(code, name, level), ""
        if len(matches) > 1:
            paths = region_paths([self._region(c, n, lv) for c, n, lv in matches[:3]])
            return None, _("“%(value)s”对应多个区划（%(paths)s），请写出上级名称，如 街道/社区，或填写区划代码。") % {
                "value": raw, "paths": "；".join(paths.values())}
        return None, _("找不到区划“%(value)s”。请填写区划代码，或 区县/街道/社区 这样的名称路径。") % {"value": raw}

    def _by_code(self, code: str) -> tuple[Region | None, str]:
        candidates = [code]
        if len(code) == 12:  # the statistical 12-digit form of a county or street code
            if code.endswith("000000"):
                candidates.append(code[:6])
            elif code.endswith("000"):
                candidates.append(code[:9])
        for c in candidates:
            if c in self.regions:
                name, level = self.regions[c]
                return self._region(c, name, level), ""
        found = Region.objects.filter(code__in=candidates).order_by("-code").first()
        if found is not None:
            return found, ""
        return None, _("区划代码 %(code)s 不存在。") % {"code": code}

    def _match(self, parts: list[str], codes: list[str], names: dict) -> list[tuple[str, str, str]]:
        out = []
        for code in codes:
            chain = [names[c][0] for c in self._chain(code)[:-1] if c in names]
            it = iter(chain)
            if all(any(p in name_aliases(n) for n in it) for p in parts[:-1]):
                name, level = names[code]
                out.append((code, name, level))
        return out

    def _match_elsewhere(self, parts: list[str]) -> list[tuple[str, str, str]]:
        last = parts[-1]
        wanted = {last}
        for suffix, replacements in _SUFFIX_ALIASES:  # 登科寺社区 → 登科寺社区居民委员会
            for r in replacements:
                if last.endswith(r) and len(last) > len(r):
                    wanted.add(last[: -len(r)] + suffix)
        candidates = list(Region.objects.filter(name__in=wanted).values_list("code", "name", "level")[:200])
        if not candidates:
            return []
        prefixes = {p for code, _n, _l in candidates for p in self._chain(code)}
        names = {c: (n, lv) for c, n, lv in Region.objects.filter(code__in=prefixes).values_list("code", "name",
                                                                                                 "level")}
        return self._match(parts, [c for c, _n, _l in candidates], names)


class OrganisationResolver:
    """An organisation by credit code or exact name, among those the actor may change."""

    def __init__(self, actor):
        self.by_code = {}
        self.by_name = defaultdict(list)
        for pk, name, code in Organisation.objects.restrict(actor, "change").values_list("pk", "name",
                                                                                          "credit_code"):
            if code:
                self.by_code[code] = pk
            self.by_name[choice_key(name)].append(pk)

    def resolve(self, raw: str) -> tuple[int | None, str]:
        text = narrow(raw).strip()
        code = text.replace(" ", "").upper()
        if code in self.by_code:
            return self.by_code[code], ""
        pks = self.by_name.get(choice_key(text), [])
        if len(pks) == 1:
            return pks[0], ""
        if len(pks) > 1:
            return None, _("有多个名为“%(name)s”的机构，请填写统一社会信用代码。") % {"name": text}
        return None, _("找不到机构“%(name)s”（须是您辖区内已登记的机构）。") % {"name": text}


# ------------------------------------------------------------------------------------------- pinyin

class _MemoConverter(DefaultConverter):
    """pypinyin's own converter with the tone-mark → plain conversion memoised (the costly part): the same
    result as `services.name_pinyin`, at half the cost."""

    _memo: dict = {}

    def convert_style(self, han, orig_pinyin, style, strict, **kwargs):
        key = (orig_pinyin, style, strict)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = super().convert_style(han, orig_pinyin, style, strict, **kwargs)
        return value


_PINYIN = Pinyin(_MemoConverter())
_PINYIN_CACHE: dict[str, tuple[str, str]] = {}


_CHAR_READING: dict[str, str | None] = {}


def _char_reading(ch: str) -> str | None:
    """The plain reading pypinyin gives a character outside any phrase (its first reading), or None when the
    character has none, is not a Han character, or is itself an entry of the phrase list."""
    reading = _CHAR_READING.get(ch, "")
    if reading == "":
        ok = ord(ch) in PINYIN_DICT and ch not in PHRASES_DICT and RE_HANS.match(ch)
        reading = (_PINYIN.lazy_pinyin(ch, errors="ignore") or [None])[0] if ok else None
        _CHAR_READING[ch] = reading
    return reading


def _has_phrase(name: str) -> bool:
    """Whether a part of two or more characters of `name` is in pypinyin's phrase list."""
    n = len(name)
    return any(name[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1))


def fast_name_pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials) exactly like services.name_pinyin (FIRST_LETTER is the first letter of NORMAL).

    pypinyin segments the text, reads a segment found in its phrase list as that phrase and every other
    character by its first reading. A name in which no part of two or more characters is a phrase is therefore
    read character by character, each reading memoised: no segmentation (most names; the others, and names
    with other characters, go through pypinyin itself)."""
    hit = _PINYIN_CACHE.get(name)
    if hit is None:
        syllables = [_char_reading(ch) for ch in name]
        if not syllables or None in syllables or _has_phrase(name):
            syllables = _PINYIN.lazy_pinyin(name, errors="ignore")
        hit = ("".join(syllables).lower()[:128], "".join(s[0] for s in syllables if s).lower()[:32])
        if len(_PINYIN_CACHE) < 200_000:
            _PINYIN_CACHE[name] = hit
    return hit
