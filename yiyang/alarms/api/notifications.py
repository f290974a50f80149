"""The caller's notifications (站内消息) from the alarms outbox."""

import datetime

from ninja import Field, Query, Router, Schema

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id
from yiyang.core.api import ERRORS
from yiyang.core.scope import get_scoped_or_404

from .. import selectors, services
from ..models import Notification

router = Router()


class NotificationOut(Schema):
    id: int
    channel: str = Field(..., description="`in_app`, `sms` or `voice`.")
    subject: str
    body: str
    alarm_id: int | None
    status: str = Field(..., description="`pending`, `sent` or `failed`.")
    attempts: int
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    read_at: datetime.datetime | None


def notification_out(n: Notification) -> dict:
    return {"id": n.pk, "channel": n.channel, "subject": n.subject, "body": n.body, "alarm_id": n.alarm_id,
            "status": n.status, "attempts": n.attempts, "created_at": n.created_at, "sent_at": n.sent_at,
            "read_at": n.read_at}


class NotificationFilters(Schema):
    unread: bool = Field(False, description="Only those not read yet.")


@router.get("notifications", response={200: list[NotificationOut], **ERRORS}, summary="My notifications")
@paginated
def list_notifications(request, filters: Query[NotificationFilters]):
    """Newest first; the caller's own, whatever their role."""
    return Rows(selectors.notifications_for(request.user, unread_only=filters.unread),
                lambda page: [notification_out(n) for n in page])


@router.get("notifications/{int:notification_id}", response={200: NotificationOut, **ERRORS},
            summary="One notification")
def get_notification(request, notification_id: Id):
    """The caller's own, like the list (the bureau's scope of its area's outbox is for its pages)."""
    return notification_out(_mine(request, notification_id, "view"))


def _mine(request, notification_id: int, action: str) -> Notification:
    return get_scoped_or_404(Notification.objects.filter(recipient=request.user), request.user, action,
                             pk=notification_id)


@router.post("notifications/{int:notification_id}/read", response={200: NotificationOut, **ERRORS},
             summary="Mark a notification read")
def mark_read(request, notification_id: Id):
    """Idempotent; only the recipient."""
    notification = _mine(request, notification_id, "change")
    return notification_out(services.mark_notification_read(actor=request.user, notification=notification))
