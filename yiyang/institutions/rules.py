"""The institutions' rules as pure functions: no database, no clock, tested on hand-computed figures.

Money is `Decimal` to the fen (two places) everywhere; a float never reaches these functions (`parse_money`
refuses one). The figures come from:

- the deposit cap: Chongqing's rule, a deposit (押金) of at most 6× the resident's monthly fee (DESIGN §3.5:
  default 6×, configurable);
- prepaid service fees: 《养老机构预收费管理办法》, a service fee (服务费) is prepaid for at most 12 months;
- membership fees (会员费): the same 办法 does not allow them for public homes (公办、公建民营 counted as public);
- the circuit breaker (熔断): "机构一次性支取超过30%的资金，监管系统将自动熔断": a single withdrawal of more than
  30% of the balance before it trips; exactly 30% passes.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
# DecimalField(max_digits=12, decimal_places=2): at most ten digits before the point.
MAX_MONEY = Decimal("9999999999.99")

DEPOSIT_MULTIPLE = Decimal("6")
SERVICE_FEE_PREPAY_MONTHS = 12
BREAKER_SHARE = Decimal("0.30")


class MoneyError(ValueError):
    """A figure that is not an amount of money to the fen."""


def parse_money(value, *, allow_zero: bool = False) -> Decimal:
    """An amount from a form, JSON or code: a positive number with at most two decimal places, never a float."""
    if isinstance(value, bool | float):
        raise MoneyError("float or bool is not money")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise MoneyError("not a number") from None
    if not amount.is_finite():
        raise MoneyError("not a finite number")
    if amount != amount.quantize(FEN):
        raise MoneyError("more than two decimal places")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("not positive")
    if amount > MAX_MONEY:
        raise MoneyError("too large")
    return amount.quantize(FEN)


def fen(value: Decimal) -> Decimal:
    """Round half up to the fen (the only rounding of this app)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


# --- prepayments (预收费) -------------------------------------------------------------------------------------

def deposit_cap(monthly_fee: Decimal, multiple: Decimal = DEPOSIT_MULTIPLE) -> Decimal:
    """The most a home may hold as deposit for one resident: `multiple` × the monthly fee."""
    return fen(Decimal(monthly_fee) * Decimal(multiple))


def deposit_room(monthly_fee: Decimal, held: Decimal, multiple: Decimal = DEPOSIT_MULTIPLE) -> Decimal:
    """How much more deposit may be taken when `held` is held already (never below zero)."""
    return max(deposit_cap(monthly_fee, multiple) - Decimal(held), Decimal("0.00"))


def deposit_allowed(monthly_fee: Decimal, held: Decimal, amount: Decimal,
                    multiple: Decimal = DEPOSIT_MULTIPLE) -> bool:
    """Taking `amount` keeps the resident's deposit within the cap (reaching it exactly is allowed)."""
    return Decimal(held) + Decimal(amount) <= deposit_cap(monthly_fee, multiple)


def service_fee_prepay_cap(monthly_fee: Decimal, months: int = SERVICE_FEE_PREPAY_MONTHS) -> Decimal:
    return fen(Decimal(monthly_fee) * months)


def membership_fee_allowed(is_public: bool) -> bool:
    """会员费: never for a public home."""
    return not is_public


# --- the escrow circuit breaker (熔断) -------------------------------------------------------------------------

def breaker_trips(balance_before: Decimal, amount: Decimal, share: Decimal = BREAKER_SHARE) -> bool:
    """A single withdrawal of more than `share` of the balance before it trips the breaker.

    Compared exactly (no rounding): on 1,000.00 a withdrawal of 300.00 passes and 300.01 trips. On an empty
    account any withdrawal trips (it would also be refused as larger than the balance)."""
    balance_before, amount = Decimal(balance_before), Decimal(amount)
    if balance_before <= 0:
        return amount > 0
    return amount > balance_before * Decimal(share)


def share_of_balance(balance_before: Decimal, amount: Decimal) -> Decimal:
    """The withdrawal as a percentage of the balance before it, to two places (for the alert's text)."""
    balance_before = Decimal(balance_before)
    if balance_before <= 0:
        return Decimal("100.00")
    return fen(Decimal(amount) * 100 / balance_before)


# --- beds ------------------------------------------------------------------------------------------------------

FREE, RESERVED, OCCUPIED, OUT_OF_SERVICE = "free", "reserved", "occupied", "out_of_service"

# The bed's state machine. An occupied bed stays occupied through leave (hospital, home visit) and through an
# ordered discharge; it becomes free only when the discharge is final or its resident moves to another bed.
# Reserved or occupied beds cannot be taken out of service (release the reservation, move the resident first).
BED_TRANSITIONS: dict[str, frozenset[str]] = {
    FREE: frozenset({RESERVED, OCCUPIED, OUT_OF_SERVICE}),
    RESERVED: frozenset({FREE, OCCUPIED}),
    OCCUPIED: frozenset({FREE}),
    OUT_OF_SERVICE: frozenset({FREE}),
}


def bed_transition_allowed(current: str, target: str) -> bool:
    return target in BED_TRANSITIONS.get(current, frozenset())


# --- indicators ------------------------------------------------------------------------------------------------

def ratio_percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` as a percentage to two places (occupancy, nursing-bed share); None for no beds."""
    if whole <= 0:
        return None
    return fen(Decimal(part) * 100 / Decimal(whole))
