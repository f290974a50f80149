"""Types shared by the app routers."""

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")


def money(value) -> str:
    """Yuan as a string with two decimals ("50.00"): never a float in JSON."""
    return str(Decimal(str(value if value is not None else 0)).quantize(CENT))


# A Decimal read from the model, written to JSON as money() does, and documented as such in OpenAPI.
Money = Annotated[Decimal, PlainSerializer(money, return_type=str),
                  WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "100.00"})]


# ------------------------------------------------------------------------------------------- input bounds
# Every value a client sends is bounded before it reaches the database: a string by its column's length (a
# 20,000-character bank name was stored on SQLite and gave a 500 on PostgreSQL), an integer by the range of the
# database's integers (SQLite raises OverflowError past 2^63). yiyang/api/tests/test_input_bounds.py walks every
# input schema of the API and fails on a string or integer without its bound.

BIGINT_MAX = 2**63 - 1
SMALL_MAX = 2**31 - 1  # PostgreSQL `integer`, for counts, sizes and settings


class ColumnLength(int):
    """A max_length read from a model field, remembering which one (so the bound cannot drift from the column)."""

    model: type
    field: str

    def __new__(cls, model, field: str):
        f = model._meta.get_field(field)
        target = f.target_field if f.is_relation else f  # a foreign key holds the code or id of its target
        if target.max_length is None:
            raise TypeError(f"{model.__name__}.{field} has no max_length to bound the API's input with")
        value = super().__new__(cls, target.max_length)
        value.model, value.field = model, field
        return value

    def __reduce__(self):  # copies (pydantic copies field metadata) keep the column
        return (ColumnLength, (self.model, self.field))


def column(model, field: str) -> ColumnLength:
    """The max_length of `model.field` (of its target for a foreign key): `Field("", max_length=column(Elder,
    "bank_name"))`."""
    return ColumnLength(model, field)


# An object's id (BigAutoField).
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
# A count, size, score or setting: whatever fits a 32-bit column; the services check the real rule.
SmallInt = Annotated[int, Field(ge=-SMALL_MAX, le=SMALL_MAX)]
