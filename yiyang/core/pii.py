"""Personal identifiers: 身份证号 (GB 11643-1999), phone and bank account numbers; encryption, keyed hashes, masking.

Every later model that holds an ID number uses these helpers (see `fields.EncryptedTextField` and
`models.IdentityMixin`), so validation messages, storage and masking are the same everywhere. One normalising
and validating function per kind of number (`parse_id_number`, `validate_phone`, `validate_bank_account`):
full-width digits become ASCII, and ASCII digits are the only digits accepted. `str.isdigit` is not a test
for that: it is also true of ١٢٣ (Arabic-Indic), १२३ (Devanagari) and ²³ (superscripts), which hash differently
(the same person registered twice) or crash `int()`; use `is_ascii_digits`.
"""

import base64
import csv
import datetime
import hashlib
import hmac
import operator
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# Full-width forms of ASCII (digits, letters, ＋－（）) and the ideographic space are common in data typed on
# Chinese input methods: they become ASCII. No other script's digits are translated: they are refused.
_FULLWIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "})
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


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of 0–9 only (str.isdigit alone accepts the digits of every script)."""
    return bool(text) and text.isascii() and text.isdigit()  # ascii-digits-only: the one allowed use


def to_halfwidth(value: str) -> str:
    """Full-width ASCII forms (１２３, Ｘ, －, （）) and the ideographic space → ASCII; nothing else changes."""
    return (value or "").translate(_FULLWIDTH)


def _foreign_digit(text: str) -> ValidationError | None:
    """The reason a number holds a digit that is not 0–9 (١, ४, ², ①...), naming it and its position."""
    for position, ch in enumerate(text, start=1):
        # ascii-digits-only: looking for the digits of other scripts, on purpose.
        if not ch.isascii() and (unicodedata.numeric(ch, None) is not None or unicodedata.category(ch) == "Nd"):
            return ValidationError(
                _("“%(char)s”（第 %(pos)d 位）不是标准数字：号码只能使用半角数字 0–9。"),
                code="non_ascii_digit", params={"char": ch, "pos": position},
            )
    return None


def normalize_id_number(value: str) -> str:
    return to_halfwidth(value).strip().replace(" ", "").upper()


def id_check_char(first17: str) -> str:
    if len(first17) != 17:
        raise ValueError("id_check_char() needs the first 17 characters")
    return ID_CHECK_CHARS[sum(map(operator.mul, map(int, first17), ID_WEIGHTS)) % 11]


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
    if not is_ascii_digits(number[:17]) or not (is_ascii_digits(number[17]) or number[17] == "X"):
        foreign = _foreign_digit(number)
        if foreign is not None:
            raise ValidationError(
                _("身份证号中的“%(char)s”（第 %(pos)d 位）不是标准数字：只能使用半角数字 0–9 和 X。"),
                code="id_characters", params=foreign.params,
            )
        raise ValidationError(_("身份证号前17位须为数字（0–9），最后一位为数字或X。"), code="id_characters")
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


# [0-9], not \d: in Python \d matches the digits of every script.
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$")


def normalize_phone(value: str) -> str:
    phone = to_halfwidth(value).strip()
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
    foreign = _foreign_digit(phone)
    if foreign is not None:
        raise ValidationError(
            _("电话号码中的“%(char)s”（第 %(pos)d 位）不是标准数字：只能使用半角数字 0–9。"),
            code="phone", params=foreign.params,
        )
    raise ValidationError(
        _("电话号码 %(value)s 无效：手机号为11位（1开头），固话为区号加7–8位号码。"),
        code="phone",
        params={"value": value},
    )


def mask_phone(phone: str) -> str:
    if not phone:
        return ""
    if len(phone) == 11 and is_ascii_digits(phone):
        return phone[:3] + "****" + phone[-4:]
    return phone[:-4].rstrip("-")[:4] + "****" + phone[-4:]


def normalize_bank_account(value) -> str:
    """Full-width digits → ASCII; spaces (as printed on cards, 6228 4800 ...) dropped."""
    return "".join(to_halfwidth(str(value or "")).split())


def validate_bank_account(value) -> str:
    """Return the normalised account number (12–30 ASCII digits), or raise ValidationError(code=bank_account)."""
    account = normalize_bank_account(value)
    if is_ascii_digits(account) and 12 <= len(account) <= 30:
        return account
    foreign = _foreign_digit(account)
    if foreign is not None:
        raise ValidationError(
            _("银行账号中的“%(char)s”（第 %(pos)d 位）不是标准数字：只能使用半角数字 0–9。"),
            code="bank_account", params=foreign.params,
        )
    raise ValidationError(_("银行账号应为12–30位数字。"), code="bank_account")


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


_PADDING = [bytes((n,)) * n for n in range(17)]


def encrypt_many(values: list) -> list:
    """`encrypt` for many values at once (empty ones pass unchanged): the same Fernet tokens, made with the
    primary key at a fraction of the cost (an import encrypts 100,000 ID numbers and as many accounts).

    Fernet is AES-128-CBC with PKCS7 padding, then HMAC-SHA256 over version, time, IV and ciphertext. Here the
    values of one padded length go through CBC together, block position by block position (one AES-ECB call
    per position over IV or previous block XOR plaintext, with numpy), with one urandom call for all IVs and
    the HMAC's keyed state made once; a cipher context, a padder and an HMAC object per value cost more
    than the encryption itself. `decrypt` reads these tokens like any other."""
    import numpy as np

    out = list(values)
    groups: dict[int, list] = {}  # padded length → [(position, padded plaintext)]
    for i, value in enumerate(values):
        if value:
            data = value.encode()
            pad = 16 - len(data) % 16
            groups.setdefault(len(data) + pad, []).append((i, data + _PADDING[pad]))
    if not groups:
        return out
    key = base64.urlsafe_b64decode(settings.FIELD_ENCRYPTION_KEYS[0])
    encryptor = Cipher(algorithms.AES(key[16:]), modes.ECB()).encryptor()
    # The signing key's HMAC state is made once and copied per token (the standard library's HMAC, not ours).
    signer = hmac.new(key[:16], digestmod=hashlib.sha256)
    head = b"\x80" + int(time.time()).to_bytes(8, "big")
    for length, items in groups.items():
        n, blocks = len(items), length // 16
        plain = np.frombuffer(b"".join(p for _i, p in items), np.uint8).reshape(n, blocks, 16)
        body = np.empty((n, 16 + length), np.uint8)  # IV, then the ciphertext
        previous = body[:, :16] = np.frombuffer(os.urandom(16 * n), np.uint8).reshape(n, 16)
        for b in range(blocks):
            previous = np.frombuffer(encryptor.update((plain[:, b] ^ previous).tobytes()), np.uint8).reshape(n, 16)
            body[:, 16 + 16 * b:32 + 16 * b] = previous
        raw, step = body.tobytes(), 16 + length
        for k, (i, _p) in enumerate(items):
            parts = head + raw[k * step:(k + 1) * step]
            mac = signer.copy()
            mac.update(parts)
            out[i] = base64.urlsafe_b64encode(parts + mac.digest()).decode()
    return out


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
    return hmac.digest(key, f"{kind}:{value}".encode(), "sha256").hex()  # one-shot: hmac.new's object costs 4x


def id_number_hash(value: str) -> str:
    return lookup_hash(normalize_id_number(value), kind="id")


CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """GB 32100-2015: check character of a unified social credit code (统一社会信用代码), MOD 31."""
    total = sum(CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    code = to_halfwidth(value).strip().replace(" ", "").upper()
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
