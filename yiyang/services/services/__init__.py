"""The services app's write operations, one module per topic (as Zulip's zerver/actions/), re-exported here so
callers keep writing `services.place_order(...)`.

Every function takes keyword arguments, checks the actor's authority, runs in one transaction (the order row
locked with SELECT … FOR UPDATE) and writes an audit event; an error leaves nothing behind. Refusals are
`ValidationError({field: [message]})` for bad input and `DomainError(code, message, status=)` for a business
rule (403 not yours, 409 not now).
"""

from ._common import (  # noqa: F401
    BOOKING_HORIZON_DAYS,
    CENT,
    COUNTY_LEN,
    _month,
    month_bounds,
)
from .allowance import (  # noqa: F401
    credit_allowance_from_roll,
)
from .catalogue import (  # noqa: F401
    adopt_subsidy_rule,
    declare_offer,
    set_price,
)
from .follow_up import (  # noqa: F401
    COMPLETED,
    LOW_SATISFACTION,
    record_follow_up,
    sample_follow_ups,
)
from .orders import (  # noqa: F401
    CLOCK_SKEW,
    DURATION_BOUNDS,
    EARLY_CHECK_IN,
    EARLY_CHECK_IN_FLAG,
    FAR_METRES,
    OPEN_ORDER_STATUSES,
    PHOTO_MAX_BYTES,
    PHOTO_STATUSES,
    PHOTO_TYPES,
    STEP_NAMES,
    STOP_EVENTS,
    STREET_LEN,
    UNSERVED,
    accept_order,
    assign_order,
    attach_photo,
    cancel_order,
    check_in,
    check_out,
    confirm_order,
    decline_order,
    expected_minutes,
    haversine_metres,
    mark_no_show,
    on_elder_status_changed,
    place_order,
    preview_quote,
    rate_order,
)
from .recurring import (  # noqa: F401
    RECURRING_AHEAD_DAYS,
    create_recurring,
    generate_recurring_orders,
    occurrences,
    stop_recurring,
)
from .settlement import (  # noqa: F401
    MONEY_PARTS,
    SETTLE_BATCH,
    SETTLE_INLINE_MAX,
    SETTLEABLE,
    approve_settlement,
    export_settlement,
    mark_orders_settled,
    prepare_settlement,
    settlement_orders,
)
from .shifts import (  # noqa: F401
    remove_shift,
    set_shift,
)
