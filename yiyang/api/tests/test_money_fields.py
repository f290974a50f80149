"""Every amount of money the API returns is the shared `Money` type: a string with exactly two decimals,
documented with its pattern in OpenAPI (never a float, never a hand-formatted string of its own)."""

import re

from yiyang.api.main import api

MONEY_NAMES = re.compile(r"^(amount|total|price|subsidy|copay|allowance|balance|credited|debited|refunded)$|"
                         r"_(amount|price|total)$|^(total|previous)_")
MONEY_PATTERN = r"^-?\d+\.\d{2}$"


def _variants(prop: dict) -> list[dict]:
    return prop.get("anyOf", [prop])


def test_every_money_field_of_a_response_is_the_money_type():
    schemas = api.get_openapi_schema()["components"]["schemas"]
    wrong = []
    for name, schema in schemas.items():
        if name.endswith("In") or name.endswith("Filters"):
            continue  # inputs are parsed as Decimal by the services
        for field, prop in schema.get("properties", {}).items():
            if not MONEY_NAMES.search(field):
                continue
            strings = [v for v in _variants(prop) if v.get("type") == "string"]
            if strings and not all(v.get("pattern") == MONEY_PATTERN for v in strings):
                wrong.append(f"{name}.{field}")
            if any(v.get("type") == "number" for v in _variants(prop)):
                wrong.append(f"{name}.{field} is a number")
    assert not wrong, f"money fields not typed Money (yiyang/api/types.py): {wrong}"
