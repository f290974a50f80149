import datetime

import pytest
from django.utils import timezone

from yiyang.browser_testing import nav_to, sign_in, wait_for_object_page
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import PASSWORD, demo_roles
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def roles():
    load_regions(prefix="5119")
    return demo_roles()


def test_community_worker_finds_an_elder_by_pinyin_initials_and_registers_a_death(page, roles):
    make_elder(roles["community"], name="何淑珍", seq=1, birth=datetime.date(1936, 4, 2))
    make_elder(roles["community"], name="蒲国华", seq=2, male=True)
    make_elder(roles["bureau"], name="文治街道的人", seq=3, residence="511903002001")
    sign_in(page, "community", PASSWORD)
    nav_to(page, "老年人")
    # Typing before htmx has bound its listeners would send no search: wait for the page to have loaded.
    page.wait_for_url("**/registry/elders/**")
    page.wait_for_load_state("load")
    page.fill("#id_q", "hsz")
    page.wait_for_function("() => document.querySelectorAll('#elder-results tbody tr').length === 1")
    results = page.locator("#elder-results tbody tr")
    assert "何淑珍" in results.first.inner_text()
    assert "文治街道的人" not in page.content()
    results.first.get_by_role("link", name="何淑珍").click()
    wait_for_object_page(page, "/registry/elders/")
    page.select_option("#status-action select[name=kind]", "death")
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page.fill("#status-action input[name=effective_date]", yesterday.isoformat())
    page.get_by_test_id("record-status").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"已登记：死亡（{yesterday}）。").is_visible()
    assert Elder.objects.get(name="何淑珍").status == "deceased"
    # The timeline shows the event; the person leaves the default (active) list.
    assert "死亡" in page.locator(".timeline").inner_text()
    page.goto(page.base_url + "/registry/elders/")
    assert "何淑珍" not in page.locator("#elder-results").inner_text()


def test_registering_with_a_wrong_id_shows_the_reason_inline(page, roles):
    sign_in(page, "community", PASSWORD)
    page.goto(page.base_url + "/registry/elders/new/")
    page.fill("#id_name", "杨德明")
    page.fill("#id_id_number", "511903194003080020")
    page.locator("#id_id_number").dispatch_event("change")
    page.locator("#id-check .error").wait_for()
    assert "校验码错误" in page.locator("#id-check").inner_text()


def test_english_elder_page_shows_every_value_in_full_at_1280_px(browser, live_server, roles):
    """In English the labels are longer; the ID number, birth date and addresses must still show in full."""
    from yiyang.browser_testing import new_context

    elder = make_elder(roles["community"], name="王秀英", seq=4, birth=datetime.date(1938, 12, 2),
                       phone="0827-5551234", address="登科街道文化路 128 号 3 栋 2 单元 501 室（东门进）",
                       hukou="511903002001", bank_name="中国农业银行巴中恩阳支行", bank_account="6228480012345678901")
    context = new_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    try:
        sign_in(page, "community", PASSWORD)
        page.goto(f"{live_server.url}/registry/elders/{elder.pk}/")
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        facts = page.locator("dl.facts").first
        for text in (elder.id_number_masked, "1938-12-02", "登科街道文化路 128 号 3 栋 2 单元 501 室（东门进）",
                     "四川省/巴中市/恩阳区/登科街道/登科寺社区"):
            dd = facts.locator("dd", has_text=text).first
            assert dd.is_visible(), text
            # Nothing is clipped or pushed out of its card: the value fits inside the box it is drawn in.
            fits = dd.evaluate("""el => {
                const card = el.closest('.card').getBoundingClientRect();
                const r = el.getBoundingClientRect();
                const inner = [...el.querySelectorAll('*')].every(
                    c => c.scrollWidth <= c.clientWidth + 1 || c.clientWidth === 0);
                return el.scrollWidth <= el.clientWidth + 1 && inner && r.left >= card.left
                    && r.right <= card.right + 0.5;
            }""")
            assert fits, text
    finally:
        context.close()
