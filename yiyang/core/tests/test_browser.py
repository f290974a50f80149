import pytest

from yiyang.browser_testing import nav_to, new_context, sign_in, wait_for_object_page
from yiyang.core.models import AuditEvent, User
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import PASSWORD, demo_roles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def roles():
    load_regions(prefix="5119")  # transactional tests start from an emptied database
    return demo_roles()


def test_bureau_signs_in_switches_language_and_finds_entries_in_grouped_navigation(page, roles):
    sign_in(page, "bureau", PASSWORD)
    nav = page.locator("nav.mainnav")
    groups = [t.strip() for t in nav.locator("summary").all_inner_texts()]
    assert groups == ["名册", "服务", "关爱", "应急", "系统"]  # in domain order, one row
    # A group holding one entry for this user is that entry's link.
    assert nav.get_by_role("link", name="能力评估").is_visible()
    assert nav.get_by_role("link", name="补贴发放").is_visible()
    box = nav.bounding_box()
    assert box["height"] < 60, "the menu wraps"
    # Group labels are drawn in the bar's ink like the links (a generic `details summary` colour once made
    # them blue on red, barely readable).
    colour = "el => getComputedStyle(el).color"
    assert {s.evaluate(colour) for s in nav.locator("summary").all()} == {
        nav.get_by_role("link", name="能力评估").evaluate(colour)} == {"rgb(255, 255, 255)"}
    account = nav.get_by_role("link", name="账号管理")
    assert not account.is_visible()  # inside the closed 系统 group
    nav.locator("summary", has_text="系统").click()
    assert account.is_visible() and nav.get_by_role("link", name="审计日志").is_visible()
    nav.locator("summary", has_text="服务").click()  # one group open at a time
    assert not account.is_visible() and nav.get_by_role("link", name="服务结算").is_visible()
    page.keyboard.press("Escape")
    assert not nav.get_by_role("link", name="服务结算").is_visible()
    assert "恩阳区" in page.locator("[data-testid=scope]").inner_text()
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    nav_to(page, "Accounts")
    page.wait_for_url("**/accounts/")
    assert "System" in nav.locator("summary").all_inner_texts()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    assert nav.locator("summary.current").inner_text().strip() == "系统"  # the group of the current page


def test_on_a_phone_the_menu_opens_with_every_group_expanded(browser, live_server, roles):
    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.base_url = live_server.url
        sign_in(phone, "bureau", PASSWORD)
        nav = phone.locator("nav.mainnav")
        assert not nav.is_visible()
        phone.get_by_text("菜单").click()
        assert nav.get_by_role("link", name="老年人").is_visible()
        assert nav.get_by_role("link", name="审计日志").is_visible()
    finally:
        context.close()


def test_bureau_creates_a_street_account_with_the_region_picker(page, roles):
    sign_in(page, "bureau", PASSWORD)
    nav_to(page, "账号管理")
    page.get_by_role("link", name="新建账号").click()
    page.fill("#id_username", "dengke2")
    page.fill("#id_display_name", "登科街道 周敏")
    page.select_option("#id_role", "street")
    # Search by pinyin initials: dkjd → 登科街道.
    page.fill("#id_region_search", "dkjd")
    choice = page.locator(".rp-choice", has_text="登科街道").first
    choice.wait_for()
    choice.click()
    assert page.locator("[data-region-picker] [data-value]").input_value() == "511903001"
    assert "恩阳区/登科街道" in page.locator("[data-region-picker] [data-path]").inner_text()
    page.fill("#id_password", "Gd7#kLmn2pq")
    page.get_by_role("button", name="创建").click()
    wait_for_object_page(page, "/accounts/")
    assert page.get_by_text("账号 dengke2 已创建。").is_visible()
    assert User.objects.get(username="dengke2").region_id == "511903001"
    assert AuditEvent.objects.filter(action="create", object_repr__contains="登科街道 周敏").exists()
    # The audit page shows the creation.
    nav_to(page, "审计日志")
    assert page.locator("#audit-rows").get_by_text("登科街道 周敏").first.is_visible()


def test_cascading_picker_walks_down_the_tree(page, roles):
    sign_in(page, "bureau", PASSWORD)
    page.goto(page.base_url + "/accounts/new/")
    cascade = page.locator("[data-cascade] select")
    cascade.first.wait_for()
    cascade.nth(0).select_option("511903001")  # the bureau's picker starts inside 恩阳区
    cascade.nth(1).wait_for()
    cascade.nth(1).select_option("511903001002")
    assert page.locator("[data-region-picker] [data-value]").input_value() == "511903001002"
    assert page.locator("[data-region-picker] [data-path]").inner_text().endswith("登科街道/登科寺社区居民委员会")


def test_phone_sized_screen_has_a_menu(page, roles):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "street", PASSWORD)
    assert not page.get_by_role("link", name="首页").is_visible()
    page.get_by_text("菜单").click()
    assert page.get_by_role("link", name="首页").is_visible()
    assert "登科街道" in page.locator("[data-testid=jurisdiction]").inner_text()


def test_api_docs_render_their_operations(page, roles):
    sign_in(page, "bureau", PASSWORD)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(page.base_url + "/api/docs")
    try:
        page.locator(".opblock").first.wait_for()
    except Exception as exc:
        raise AssertionError(f"/api/docs drew no operation; the page said {errors}") from exc
    assert page.locator(".opblock").count() > 50
    assert page.get_by_text("/api/v1/auth/token", exact=True).count() >= 1
    assert not page.get_by_text("duplicated mapping key").count()
    assert errors == []
