"""The demo's times derive from the hour it is built at (no database: pure functions of the clock)."""

import datetime

import pytest
from django.utils import timezone


@pytest.mark.parametrize(("local_now", "expected"), [
    ("2026-12-03 05:00", ["2026-12-03 09:00", "2026-12-03 10:00", "2026-12-03 11:00"]),
    ("2026-12-03 10:20", ["2026-12-03 13:00", "2026-12-03 14:00", "2026-12-03 15:00"]),
    ("2026-12-03 12:59", ["2026-12-03 15:00", "2026-12-03 16:00", "2026-12-03 17:00"]),
    ("2026-12-03 13:00", ["2026-12-04 09:00", "2026-12-04 11:00", "2026-12-04 13:00"]),
    # Built in the evening (local 18:28 is 10:28 UTC): once booked for 17:00 today, already past.
    ("2026-12-03 18:28", ["2026-12-04 09:00", "2026-12-04 11:00", "2026-12-04 13:00"]),
    ("2026-12-03 23:30", ["2026-12-04 09:00", "2026-12-04 11:00", "2026-12-04 13:00"]),
])
def test_the_new_orders_of_the_demo_are_booked_ahead_whatever_the_hour_it_is_built(local_now, expected):
    from yiyang.services.demo import new_order_starts

    now = timezone.make_aware(datetime.datetime.fromisoformat(local_now))
    starts = new_order_starts(now)
    assert [timezone.localtime(s).strftime("%Y-%m-%d %H:%M") for s in starts] == expected
    assert all(s > now for s in starts)
