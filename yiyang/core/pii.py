"""Personal identifiers: 身份证号 (GB 11643-1999) and phone numbers; encryption, keyed hashes, masking.

Every later model that holds an ID number uses these helpers (see `fields.EncryptedTextField` and
`models.IdentityMixin`), so validation messages, storage and masking are the same everywhere.
"""

import csv
import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# Full-width digits, letters and spaces are common in data typed on Chinese input methods.
_FULLWIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X", "ｘ": "X", "\u3000": " "})
DATA_DIR = Path(__file__).resolve().parent / "data"


@cache
def _region_codes() -> tuple[frozenset[str], frozenset[str]]:
    """Province codes and county codes of the 2023 division list (read once from the shipped data file)."""
    provinces, counties = set(), set()
    with open(DATA_DIR / "regions_2023.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["level"] == "province":
                provinces.add(row["code"])
            elif row["level"] == "county":
                counties.add(row["code"])
    return frozenset(provinces), frozenset(counties)


@dataclass(frozen=True)
class IdentityInfo:
    number: str
    birth_date: datetime.date
    sex: str  # "M" or "F"
    region_code: str  # the six-digit code of the issuing county
    region_current: bool  # False when the code is not in the 2023 list (e.g. an abolished county)


def normalize_id_number(value: str) -> str:
    return (value or "").translate(_FULLWIDTH).strip().replace(" ", "").upper()


def id_check_char(first17: str) -> str:
    return ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def parse_id_number(value: str, *, today: datetime.date | None = None) -> IdentityInfo:
    """Validate an 18-character ID number and derive birth date, sex and issuing region.

    Raises ValidationError with a stable code: id_length, id_characters, id_check_char, id_birth_date,
    id_birth_future, id_region.
    """
    number = normalize_id_number(value)
    if len(number) != 18:
        raise ValidationError(
            _("身份证号应为18位，当前为%(n)d位。"), code="id_length", params={"n": len(number)}
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationError(_("身份证号前17位须为数字，最后一位为数字或X。"), code="id_characters")
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("身份证号中的出生日期 %(d)s 不存在。"), code="id_birth_date", params={"d": number[6:14]}
        ) from None
    today = today or timezone.localdate()
    if birth > today or birth.year < 1880:
        raise ValidationError(
            _("身份证号中的出生日期 %(d)s 不合理。"), code="id_birth_future", params={"d": birth.isoformat()}
        )
    provinces, counties = _region_codes()
    region = number[:6]
    # Elders' numbers often carry the code of a county that has since been renamed or merged (IDs never
    # change), so a code absent from the 2023 list is accepted when its province and form are valid.
    if region[:2] not in provinces or region[2:4] == "00" or region[4:] == "00":
        raise ValidationError(
            _("身份证号中的地区码 %(code)s 不存在。"), code="id_region", params={"code": region}
        )
    expected = id_check_char(number[:17])
    if number[17] != expected:
        raise ValidationError(
            _("身份证号校验码错误：最后一位应为 %(expected)s，输入的是 %(got)s。"),
            code="id_check_char",
            params={"expected": expected, "got": number[17]},
        )
    return IdentityInfo(
        number=number,
        birth_date=birth,
        sex="M" if int(number[16]) % 2 else "F",
        region_code=region,
        region_current=region in counties,
    )


def mask_id_number(number: str) -> str:
    """5119**********123X: the province/city and the last four stay readable for the clerk."""
    if not number:
        return ""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")


def normalize_phone(value: str) -> str:
    phone = (value or "").translate(_FULLWIDTH).strip()
    phone = re.sub(r"[\s()（）]", "", phone).replace("－", "-").replace("—", "-")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    return phone.lstrip("-")


def validate_phone(value: str) -> str:
    """Return the normalised mainland mobile or landline number, or raise ValidationError(code=phone)."""
    phone = normalize_phone(value)
    if _MOBILE.match(phone):
        return phone
    if _LANDLINE.match(phone):
        return phone
    raise ValidationError(
        _("电话号码 %(value)s 无效：手机号为11位（1开头），固话为区号加7–8位号码。"),
        code="phone",
        params={"value": value},
    )


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if len(phone) == 11 and phone.isdigit():
        return phone[:3] + "****" + phone[-4:]
    return phone[:-4].rstrip("-")[:4] + "****" + phone[-4:]


def mask_account(number: str) -> str:
    """Bank account numbers: only the last four digits are shown."""
    if not number:
        return ""
    return "**** " + number[-4:]


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("Encrypted value cannot be decrypted with the configured YIYANG_FIELD_KEYS") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (after a new key has been prepended to YIYANG_FIELD_KEYS)."""
    return _fernet().rotate(token.encode()).decode()


def lookup_hash(value: str, *, kind: str = "id") -> str:
    """Keyed hash of a normalised identifier, for exact lookup and uniqueness without decrypting."""
    key = settings.FIELD_HASH_KEY.encode()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def id_number_hash(value: str) -> str:
    return lookup_hash(normalize_id_number(value), kind="id")


CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """GB 32100-2015: check character of a unified social credit code (统一社会信用代码), MOD 31."""
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    code = (value or "").translate(_FULLWIDTH).strip().replace(" ", "").upper()
    if len(code) != 18 or any(c not in CREDIT_CODE_CHARS for c in code):
        raise ValidationError(
            _("统一社会信用代码应为18位数字或大写字母（不含I、O、Z、S、V）。"), code="credit_code_format"
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("统一社会信用代码校验位错误：最后一位应为 %(expected)s。"), code="credit_code_check",
            params={"expected": expected},
        )
    return code
