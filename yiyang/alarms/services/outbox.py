"""The notification outbox and its channel adapters."""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core.errors import DomainError, ErrorCode

from ..models import (
    Alarm,
    Notification,
    NotificationAttempt,
    NotificationChannel,
    NotificationStatus,
)
from ._common import NOTIFY_RETRIES, _skip_locked, _text

log = logging.getLogger("yiyang.alarms")


# ------------------------------------------------------------------------------------------ notifications


def _notify(users, alarm: Alarm | None, subject: str, body: str,
            channel: str = NotificationChannel.IN_APP) -> list[Notification]:
    """Into the outbox, in the caller's transaction; sent after commit by the task worker."""
    rows = [Notification(channel=channel, recipient=u, alarm=alarm, region_code=alarm.region_code if alarm else "",
                         subject=_text(subject, 120), body=_text(body, 1000)) for u in users]
    if rows:
        Notification.objects.bulk_create(rows)
        from ..tasks import send_notifications_task

        transaction.on_commit(lambda: _enqueue_quietly(send_notifications_task))
    return rows


def _enqueue_quietly(task) -> None:
    try:
        task.enqueue()
    except Exception:
        log.exception("could not queue %s", task)


class ChannelUnavailable(Exception):
    """No gateway is configured for the channel (SMS and voice adapters are added per deployment)."""


def _send_in_app(notification: Notification) -> None:
    """In-app messages are read from the outbox itself: sending is making them visible."""


CHANNEL_ADAPTERS = {NotificationChannel.IN_APP: _send_in_app}


def send_due_notifications(*, now=None, limit: int = 500) -> int:
    """Send what is due, each attempt recorded; a failure retries after 1, 2, 4, 8 minutes, then fails."""
    now = now or timezone.now()
    sent = 0
    due = list(Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        with transaction.atomic():
            n = Notification.objects.select_for_update(**_skip_locked()).filter(
                pk=pk, status=NotificationStatus.PENDING).first()
            if n is None:
                continue
            n.attempts += 1
            try:
                adapter = CHANNEL_ADAPTERS.get(n.channel)
                if adapter is None:
                    raise ChannelUnavailable(f"no gateway for {n.channel}")
                adapter(n)
            except Exception as exc:  # an adapter's failure of any kind is recorded and retried, never lost
                NotificationAttempt.objects.create(notification=n, at=now, ok=False, error=str(exc)[:300])
                if n.attempts >= NOTIFY_RETRIES:
                    n.status = NotificationStatus.FAILED
                else:
                    n.next_attempt_at = now + datetime.timedelta(minutes=2 ** (n.attempts - 1))
            else:
                NotificationAttempt.objects.create(notification=n, at=now, ok=True)
                n.status, n.sent_at = NotificationStatus.SENT, now
                sent += 1
            n.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
    return sent


@transaction.atomic
def mark_notification_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id != getattr(actor, "pk", None):
        raise DomainError(ErrorCode.FORBIDDEN, _("这不是您的通知。"), status=403)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
