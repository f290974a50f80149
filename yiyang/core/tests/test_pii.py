import datetime
import hmac

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from yiyang.core import pii


def with_check(first17: str) -> str:
    return first17 + pii.id_check_char(first17)


def test_check_character_hand_computed():
    # 11010519491231002X is the standard's worked example: weighted sum 167, 167 % 11 = 2 → "X".
    digits = "11010519491231002"
    total = sum(int(d) * w for d, w in zip(digits, pii.ID_WEIGHTS, strict=True))
    assert total == 167
    assert pii.id_check_char(digits) == "X"
    info = pii.parse_id_number("11010519491231002X")
    assert info.birth_date == datetime.date(1949, 12, 31)
    assert info.sex == "F"  # 17th digit 2 is even
    assert info.region_code == "110105"
    assert info.region_current is True


def test_sex_from_17th_digit_and_birth_date():
    number = with_check("51190319460215003")  # 17th digit 3: male
    info = pii.parse_id_number(number)
    assert info.sex == "M"
    assert info.birth_date == datetime.date(1946, 2, 15)


@pytest.mark.parametrize(
    "raw",
    [" 11010519491231002x ", "１１０１０５１９４９１２３１００２Ｘ", "110105 19491231 002X"],
)
def test_normalisation_of_case_width_and_spaces(raw):
    assert pii.parse_id_number(raw).number == "11010519491231002X"


@pytest.mark.parametrize(
    "number, code",
    [
        ("11010519491231002", "id_length"),
        ("1101051949123100212", "id_length"),
        ("11010519491231002Y", "id_characters"),
        ("1101051949123100A2", "id_characters"),
        ("110105194912310021", "id_check_char"),  # should end in X
        (with_check("11010519490230002"), "id_birth_date"),  # 30 February
        (with_check("11010519491301002"), "id_birth_date"),  # month 13
        (with_check("11010520990101002"), "id_birth_future"),
        (with_check("99010519491231002"), "id_region"),  # no province 99
        (with_check("51000019491231002"), "id_region"),  # province code, not a county
    ],
)
def test_invalid_numbers_are_rejected_with_a_code(number, code):
    with pytest.raises(ValidationError) as exc:
        pii.parse_id_number(number, today=datetime.date(2026, 11, 25))
    assert exc.value.code == code
    assert exc.value.messages[0]


def test_check_character_error_says_what_was_expected():
    with pytest.raises(ValidationError) as exc:
        pii.parse_id_number("110105194912310021")
    assert "X" in exc.value.messages[0] and "1" in exc.value.messages[0]


def test_leap_day_birth_is_valid_only_in_leap_years():
    assert pii.parse_id_number(with_check("51190319440229001")).birth_date == datetime.date(1944, 2, 29)
    with pytest.raises(ValidationError):
        pii.parse_id_number(with_check("51190319450229001"))


def test_abolished_county_code_is_accepted_but_marked():
    # 513701 was 巴中市 (county-level) under 巴中地区 before 2000; elders still carry it.
    info = pii.parse_id_number(with_check("51370119400101001"))
    assert info.region_current is False


def test_mask_id_number():
    assert pii.mask_id_number("51190319460215003X") == "5119**********003X"
    assert pii.mask_id_number("") == ""


@pytest.mark.parametrize(
    "raw, expected",
    [("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("１３８１２３４５６７８", "13812345678"),
     ("0827-3361201", "0827-3361201"), ("08273361201", "08273361201"), ("(0827)3361201", "08273361201")],
)
def test_valid_phones(raw, expected):
    assert pii.validate_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "abc", "", "138123456789"])
def test_invalid_phones(raw):
    with pytest.raises(ValidationError) as exc:
        pii.validate_phone(raw)
    assert exc.value.code == "phone"


def test_mask_phone():
    assert pii.mask_phone("13812345678") == "138****5678"


def test_encrypt_roundtrip_and_randomised():
    a, b = pii.encrypt("51190319460215003X"), pii.encrypt("51190319460215003X")
    assert a != b  # randomised: the ciphertext reveals nothing, equal numbers don't look equal
    assert pii.decrypt(a) == "51190319460215003X"


def test_encrypt_many_makes_the_same_fernet_tokens():
    import base64
    import hashlib
    import hmac

    from cryptography.fernet import Fernet
    from django.conf import settings

    values = ["", None, "a", "x" * 15, "y" * 16, "z" * 17, "51190319460215003X", "6228480012345678901", "张秀英" * 9,
              "51190319460215003X"]
    tokens = pii.encrypt_many(values)
    fernet = Fernet(settings.FIELD_ENCRYPTION_KEYS[0])
    for value, token in zip(values, tokens, strict=True):
        if not value:
            assert token == value
            continue
        assert pii.decrypt(token) == value
        raw = base64.urlsafe_b64decode(token)
        # Byte for byte what Fernet makes with this token's time and IV, and a valid HMAC of the primary key.
        assert fernet._encrypt_from_parts(value.encode(), int.from_bytes(raw[1:9], "big"), raw[9:25]) == token.encode()
        signing = base64.urlsafe_b64decode(settings.FIELD_ENCRYPTION_KEYS[0])[:16]
        assert hmac.new(signing, raw[:-32], hashlib.sha256).digest() == raw[-32:]
    assert tokens[6] != tokens[9]  # randomised, like encrypt


def test_lookup_hash_is_keyed_and_normalised():
    assert pii.id_number_hash("11010519491231002x") == pii.id_number_hash("11010519491231002X")
    assert pii.id_number_hash("11010519491231002X") != pii.id_number_hash("51190319460215003X")
    assert len(pii.id_number_hash("11010519491231002X")) == 64
    assert pii.lookup_hash("x", kind="cc") == hmac.new(settings.FIELD_HASH_KEY.encode(), b"cc:x", "sha256").hexdigest()
