"""The menu every role sees, entry by entry and in order: each app registers its own entries (core.registry's
nav_items), and moving them there must not change a single one."""

import pytest

from yiyang.core.navigation import flatten, items_for
from yiyang.core.tests.factories import demo_roles

pytestmark = pytest.mark.django_db

MENUS = {
    "bureau": ["首页", "老年人", "机构名录", "设施", "从业人员", "数据导入", "能力评估", "补贴发放", "服务订单",
               "服务目录", "服务结算", "服务回访", "巡访覆盖率", "巡访任务", "包联管理", "巡访员", "巡访规则",
               "巡访后续事项", "接警台", "报警记录", "报警统计", "居家安全设备", "设备运维", "未登记设备", "值班表",
               "时限与接入", "报警消息", "账号管理", "审计日志", "接口文档"],
    "street": ["首页", "老年人", "机构名录", "设施", "数据导入", "能力评估", "补贴发放", "服务订单", "服务目录",
               "服务回访", "巡访覆盖率", "巡访任务", "包联管理", "巡访员", "巡访规则", "巡访后续事项", "接警台",
               "报警记录", "报警统计", "居家安全设备", "设备运维", "值班表", "时限与接入", "报警消息", "接口文档"],
    "assessor": ["首页", "评估任务", "服务目录", "接口文档"],
    "provider": ["首页", "从业人员", "数据导入", "服务订单", "服务工作台", "排线调度", "服务目录", "服务结算",
                 "报警记录", "居家安全设备", "设备运维", "接口文档"],
    "caregiver": ["首页", "护理员手机端", "服务目录", "报警消息"],
    "family": ["首页", "补贴明细", "服务订单", "预约服务", "服务目录"],
}


@pytest.mark.parametrize("role", MENUS)
def test_each_role_sees_its_menu_in_order(role):
    user = demo_roles()[role]
    assert [str(i["label"]) for i in flatten(items_for(user, "/"))] == MENUS[role]


def test_groups_in_order_and_a_lone_entry_is_its_own_link():
    roles = demo_roles()
    top = [str(i["label"]) for i in items_for(roles["bureau"], "/")]
    assert top == ["首页", "名册", "能力评估", "补贴发放", "服务", "关爱", "应急", "系统"]
    top = [str(i["label"]) for i in items_for(roles["provider"], "/")]
    assert top == ["首页", "名册", "服务", "应急", "接口文档"]


def test_the_operator_sees_the_duty_desk_only():
    from yiyang.core.models import Role
    from yiyang.core.tests.factories import make_user

    operator = make_user("operator", Role.OPERATOR, region="511903")
    assert [str(i["label"]) for i in flatten(items_for(operator, "/"))] == [
        "首页", "服务目录", "接警台", "报警记录", "报警统计", "居家安全设备", "未登记设备", "值班表", "时限与接入",
        "报警消息"]


def test_an_entry_with_after_follows_the_entry_it_names(monkeypatch):
    from yiyang.core import registry
    from yiyang.core.navigation import NavItem, nav

    none = frozenset()
    a, b, c = (NavItem(x, f"app:{x}", none, "services") for x in "abc")
    after_a = NavItem("a2", "other:a2", none, "services", after="app:a")
    after_a2 = NavItem("a3", "other:a3", none, "services", after="other:a2")
    second_after_a = NavItem("a4", "other:a4", none, "services", after="app:a")
    lost = NavItem("x", "other:x", none, "services", after="gone:entry")  # names nothing: keeps its place
    monkeypatch.setitem(registry._stores, "nav_items", [after_a2, a, lost, b, after_a, c, second_after_a])
    assert [i.label for i in nav()] == ["a", "a2", "a3", "a4", "x", "b", "c"]
