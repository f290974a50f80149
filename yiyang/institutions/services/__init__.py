"""Writes of the institutions app, by topic (beds, stays, escrow); keyword-only, one transaction each, audited."""

from .beds import add_beds, change_bed_status, register_institution, set_bed_open_to_others, set_bed_status
from .escrow import (
    BreakerTripped,
    deposit_held,
    open_escrow_account,
    refund_deposit,
    request_withdrawal,
    review_breaker,
    take_prepayment,
)
from .stays import (
    admit,
    cancel_discharge,
    end_leave,
    finalise_discharge,
    move_bed,
    on_elder_status_changed,
    order_discharge,
    start_leave,
)

__all__ = [
    "BreakerTripped", "add_beds", "admit", "cancel_discharge", "change_bed_status", "deposit_held", "end_leave",
    "finalise_discharge", "move_bed", "on_elder_status_changed", "open_escrow_account", "order_discharge",
    "refund_deposit", "register_institution", "request_withdrawal", "review_breaker", "set_bed_open_to_others",
    "set_bed_status", "start_leave", "take_prepayment",
]
