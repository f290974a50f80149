import datetime
import os

import pytest
import time_machine

# Every test runs on one frozen clock, so no test can depend on the day it happens to run. The clock starts at
# TEST_NOW and ticks (durations, timeouts and the browser's timers still work). YIYANG_TEST_NOW moves it, to
# prove that tests derive their dates from the clock: e.g. YIYANG_TEST_NOW=2027-12-31T23:30:00+08:00 make test.
TEST_NOW = datetime.datetime.fromisoformat(os.environ.get("YIYANG_TEST_NOW", "2026-11-18T10:00:00+08:00"))
if TEST_NOW.tzinfo is None:
    raise SystemExit("YIYANG_TEST_NOW needs a UTC offset, e.g. 2026-11-18T10:00:00+08:00")


def pytest_configure(config):
    # Session-wide, for what happens outside a test (the test database, session fixtures).
    config._yiyang_clock = time_machine.travel(TEST_NOW, tick=True)
    config._yiyang_clock.start()


def pytest_unconfigure(config):
    clock = getattr(config, "_yiyang_clock", None)
    if clock is not None:
        clock.stop()


@pytest.fixture(autouse=True)
def frozen_clock():
    """Each test starts at TEST_NOW. Tests that need another day travel inside it (`frozen_clock.move_to`)."""
    with time_machine.travel(TEST_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every worker's test database gets the real division tree once (a few seconds, bulk insert)."""
    from yiyang.core.services import load_regions

    with django_db_blocker.unblock():
        load_regions()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests create many accounts. Production keeps Argon2 (settings.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


pytest_plugins = ["yiyang.browser_testing", "yiyang.core.tests.scope_matrix"]
