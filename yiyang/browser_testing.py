"""Shared fixtures for browser tests: Debian's chromium driven by Playwright (never a downloaded browser)."""

import os
import re

import pytest

CHROMIUM = os.environ.get("YIYANG_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: keep chromium from phoning home at start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_context(browser, **options):
    """A browser context on the server's clock (tests freeze it, conftest.py), in Chinese unless told otherwise."""
    from django.utils import timezone

    context = browser.new_context(**{"locale": "zh-CN", **options})
    # What a page stamps (a caregiver's tap time) then agrees with the server's idea of now.
    context.clock.install(time=timezone.now())
    return context


@pytest.fixture
def page(browser, live_server):
    context = new_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    page.goto(page.base_url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    # Each role lands on its own start page (a caregiver on today's visits); wait until the login page is left.
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login/"))


def nav_to(page, label: str) -> None:
    """Follow a main-menu entry, opening its group's drop-down first when it sits in one."""
    nav = page.locator("nav.mainnav")
    link = nav.get_by_role("link", name=label, exact=True)
    if not link.is_visible():
        # A closed group's links are hidden from roles: find the group by the link's text.
        group = nav.locator("details").filter(has=page.locator(f"a:text-is('{label}')"))
        group.locator("summary").click()
    follow(link)


def follow(link) -> None:
    """Click a link that loads a new page, and wait for that page's load event.

    The pages' scripts (htmx among them) are deferred: a click on an htmx button before they ran submits the form
    the old way, and the fragment the test waits for never comes. Waiting for the load event closes that race."""
    with link.page.expect_navigation():
        link.click()


def write_beside_server(write, *, seconds: float = 10.0):
    """Run a test's own database write while the live server may be answering the browser.

    On SQLite the test database is one in-memory database shared by the test and the server thread, and
    SQLite locks a whole table while another connection reads it ("database table is locked"): the write is
    tried again until the server's read is over. On PostgreSQL it runs at once.
    """
    import time

    from django.db import OperationalError

    deadline = time.monotonic() + seconds
    while True:
        try:
            return write()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_for_object_page(page, prefix: str) -> None:
    """Wait until the browser is on one object's page under `prefix` ("/services/orders/" → /services/orders/42/).

    A glob such as "**/services/orders/*/" also matches the form at /services/orders/new/, so waiting for it on
    that form returns at once, before the submission has landed; the id must be digits."""
    page.wait_for_url(re.compile(rf"{re.escape(prefix)}\d+/(?:[?#].*)?$"))
