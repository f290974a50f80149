"""Alarms: the write operations (keyword-only, one transaction each, audited; the convention:
docs/architecture.md).

Ingest stores a vendor's events once each (vendor, event id), then processes them per device, each device in
its own transaction holding the device's row: heartbeats update the device, alarm events raise an alarm or fold
into the open one of that device and kind. Raising notifies whoever is on duty and sets the acknowledgement
deadline; `escalate_due` (the task worker, at each deadline) walks the jurisdiction's chain while nobody has
acknowledged. The life-cycle steps check `policy.py`; each is timed in `AlarmStep`.

The package by topic (docs/architecture.md): `setup` (service level, vendors, devices, rota), `ingest`,
`receive` (a signed message from the webhook or MQTT), `lifecycle`, `escalation`, `silence`, `outbox`;
`_common` the defaults and helpers they share.
"""

from ._common import (  # noqa: F401
    CHAIN_LABELS,
    CHAIN_TARGETS,
    DEFAULT_ACK_SECONDS,
    DEFAULT_ARRIVE_MINUTES,
    DEFAULT_CHAIN,
    DEFAULT_SILENCE_HOURS,
    MAX_EVENT_AGE,
    MAX_EVENT_AHEAD,
    NOTIFY_RETRIES,
    Level,
    parse_chain,
    service_level_for,
)
from .escalation import (  # noqa: F401
    escalate_due,
    on_duty_users,
)
from .ingest import (  # noqa: F401
    IngestResult,
    _open_alarm,
    ingest,
    process_events,
    process_pending,
    raise_manual_alarm,
)
from .lifecycle import (  # noqa: F401
    acknowledge,
    add_note,
    close,
    dispatch,
    mark_on_site,
    resolve,
)
from .outbox import (  # noqa: F401
    CHANNEL_ADAPTERS,
    ChannelUnavailable,
    _notify,
    mark_notification_read,
    send_due_notifications,
)
from .receive import (  # noqa: F401
    Refused,
    authenticate,
    receive_signed,
)
from .setup import (  # noqa: F401
    add_shift,
    create_vendor,
    finish_maintenance,
    register_device,
    remove_shift,
    retire_device,
    rotate_secret,
    set_service_level,
)
from .silence import (  # noqa: F401
    check_silent_devices,
    on_elder_status_changed,
)
