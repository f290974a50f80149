"""The character rules for names and free text (core/validators.py), case by case."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from yiyang.core import validators as v


@pytest.mark.parametrize("name", [
    "王秀英", "欧阳 修", "阿依古丽·买买提", "阿依古丽•买买提", "李〇", "Mary-Jane O'Brien", "José García",
    "Nguyễn Văn An", "トゥルスン・ニヤズ", "ئابدۇرېھىم", "张秀英2", "测试12号",
])
def test_real_names_are_accepted(name):
    assert v.clean_person_name(name) == name


@pytest.mark.parametrize(("raw", "expected"), [
    ("  王秀英\u3000", "王秀英"), ("王\u200b秀英", "王秀英"), ("\ufeff王秀英", "王秀英"), ("欧阳\xa0修", "欧阳 修"),
    ("欧阳\t修", "欧阳 修"),
])
def test_names_are_normalised_like_the_import_does(raw, expected):
    assert v.clean_person_name(raw) == expected


@pytest.mark.parametrize(("name", "code"), [
    ("王\x00秀英", "control_character"), ("王秀英\x07", "control_character"), ("王\x85英", "control_character"),
    ("王\u202e英秀", "bidi_control"), ("\u2066王秀英\u2069", "bidi_control"), ("王\u200f英", "bidi_control"),
    ("王\u00ad英", "format_character"), ("王\ud800英", "unprintable_character"),
    ("王\ue000英", "unprintable_character"),
    ("王\u0378英", "unprintable_character"), ("王\u2028英", "control_character"), ("王\n英", "newline"),
    ("😀😀", "name_character"), ("王秀英😀", "name_character"), ("王秀英٢", "name_character"), ("2王", "name_form"),
    ("=1+1", "name_character"), ("@王", "name_character"), ("··", "name_form"), ("-王", "name_form"),
    ("王-", "name_form"), ("<script>", "name_character"),
])
def test_what_no_name_may_hold(name, code):
    with pytest.raises(ValidationError) as exc:
        v.clean_person_name(name)
    assert exc.value.code == code


def test_messages_name_the_character_and_its_position_in_both_languages():
    with pytest.raises(ValidationError) as exc:
        v.clean_person_name("王秀\u202e英")
    with translation.override("zh-hans"):
        assert exc.value.messages == ["不能包含文字方向控制字符 U+202E RIGHT-TO-LEFT OVERRIDE（第 3 个字符）："
                                      "它会让文字显示的顺序与实际不同。"]
    with translation.override("en"):
        message = exc.value.messages[0]
    assert "U+202E" in message and "3" in message and "direction" in message.lower()
    with pytest.raises(ValidationError) as exc:
        v.clean_person_name("王秀英😀")
    with translation.override("zh-hans"):
        assert "“😀”（U+1F600）" in exc.value.messages[0] and "第 4 个字符" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        v.clean_text("某某路\x005号")
    with translation.override("zh-hans"):
        assert exc.value.messages == ["不能包含控制字符 U+0000（第 4 个字符）。"]


@pytest.mark.parametrize("name", ["巴中市恩阳区颐康居家养老服务有限公司", "（巴中）颐养之家", "互联网+养老服务中心",
                                  "A&B Care 第2分店", "“夕阳红”老年食堂", "3A养老服务站", "No.1 Care Home"])
def test_organisation_names_are_accepted(name):
    assert v.clean_organisation_name(name) == name


@pytest.mark.parametrize(("name", "code"), [
    ("颐康\x00", "control_character"), ("颐康\u202e", "bidi_control"), ("颐康😀", "name_character"),
    ("★颐康", "name_character"), ("12345", "name_form"), ("=HYPERLINK(1)", "name_character"), ("-颐康", "name_form"),
])
def test_what_no_organisation_name_may_hold(name, code):
    with pytest.raises(ValidationError) as exc:
        v.clean_organisation_name(name)
    assert exc.value.code == code


def test_free_text_allows_printable_text_and_newlines_only_where_multiline():
    assert v.clean_text("登科街道某某路 5 号（东门）😀 =1+1") == "登科街道某某路 5 号（东门）😀 =1+1"
    assert v.clean_text("第一行  \r\n第二行\r第三行", multiline=True) == "第一行\n第二行\n第三行"
    with pytest.raises(ValidationError) as exc:
        v.clean_text("第一行\n第二行")
    assert exc.value.code == "newline"
    for bad, code in (("a\x1fb", "control_character"), ("a\u202db", "bidi_control"), ("a\u2061b", "format_character"),
                      ("a\x7fb", "control_character")):
        for multiline in (False, True):
            with pytest.raises(ValidationError) as exc:
                v.clean_text(bad, multiline=multiline)
            assert exc.value.code == code


def test_field_validators_apply_the_same_rules():
    with pytest.raises(ValidationError):
        v.person_name("王\x00")
    with pytest.raises(ValidationError):
        v.organisation_name("😀")
    with pytest.raises(ValidationError):
        v.single_line_text("a\nb")
    v.multiline_text("a\nb")
    assert v.TextValidator(multiline=True) == v.multiline_text and v.TextValidator() != v.multiline_text
