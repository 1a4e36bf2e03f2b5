"""Naming rules: breaches are named; real names built the official way always pass."""

from __future__ import annotations

import pytest

from custmdm.demo.generator import DemoGenerator
from custmdm.domain.naming import NamingRule, breaches, check_name
from custmdm.errors import InvalidComponent

#: What a steward would typically set for enterprises' legal names.
ENTERPRISE = NamingRule(
    "enterprise-legal", kind="enterprise", required_parts=("legal_form", "trade_name"),
    forbidden_words=("中央", "国务院"), min_length=4, max_length=60,
    allowed_characters=("han", "latin", "digit", "space", "brackets", "punctuation"))

REAL_NAMES = [
    "深圳市腾讯计算机系统有限公司", "腾讯科技（深圳）有限公司", "华为技术有限公司",
    "中国平安财产保险股份有限公司深圳分公司", "上海浦东发展银行股份有限公司",
    "北京红杉坤德投资管理中心（有限合伙）", "北京市金杜律师事务所（特殊普通合伙）",
    "广东省深圳市南山区华盛电子科技有限公司", "比亚迪股份有限公司", "TCL科技集团股份有限公司",
    "Huawei Technologies Co., Ltd.", "Siemens AG", "Apple Inc.", "SAP SE & Co. KG Ltd",
    "DBS Bank Ltd.", "Müller Maschinenbau GmbH", "L'Oréal S.A.",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_built_the_official_way_pass(name: str) -> None:
    assert breaches(ENTERPRISE, name) == []


def test_generated_enterprise_names_all_pass() -> None:
    names = [d.legal_name for d in DemoGenerator(seed=5).customers(2000)
             if d.kind == "enterprise"]
    assert len(names) > 1000
    assert [n for n in names if breaches(ENTERPRISE, n)] == []


@pytest.mark.parametrize(("name", "fragment"), [
    ("深圳市华盛电子科技", "needs a legal form"),
    ("中央华盛电子有限公司", "forbidden word '中央'"),
    ("华有限公司", "needs a trade name"),
    ("深圳市华盛电子科技有限公司★", "contains '★', which is not allowed"),
    ("华盛" * 40 + "有限公司", "at most 60 are allowed"),
])
def test_breaches_name_the_rule_and_the_part(name: str, fragment: str) -> None:
    found = breaches(ENTERPRISE, name)
    assert any(fragment in f and "enterprise-legal" in f for f in found), found


def test_rules_apply_by_customer_kind_and_name_kind() -> None:
    check_name([ENTERPRISE], "individual", "legal", "张伟")  # not an enterprise
    check_name([ENTERPRISE], "enterprise", "short", "华盛")  # not a legal name
    with pytest.raises(InvalidComponent, match="needs a legal form"):
        check_name([ENTERPRISE], "enterprise", "legal", "华盛电子")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"required_parts": ("stock_code",)}, "unknown part 'stock_code'"),
    ({"allowed_characters": ("emoji",)}, "unknown character class 'emoji'"),
    ({"name_kinds": ("nickname",)}, "unknown name kind 'nickname'"),
    ({"min_length": 10, "max_length": 5}, "minimum length 10 is above the maximum 5"),
])
def test_bad_rules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidComponent, match=message):
        NamingRule("bad", **kwargs)  # type: ignore[arg-type]
