"""Types shared by the app routers."""

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")


def money(value) -> str:
    """Yuan as a string with two decimals ("50.00"): never a float in JSON."""
    return str(Decimal(str(value if value is not None else 0)).quantize(CENT))


# A Decimal read from the model, written to JSON as money() does, and documented as such in OpenAPI.
Money = Annotated[Decimal, PlainSerializer(money, return_type=str),
                  WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "100.00"})]
