"""Naming rules are checked on every path that gives a name (both databases)."""

from __future__ import annotations

import pytest

from custmdm import CustomerDraft
from custmdm.demo.generator import DemoGenerator
from custmdm.domain.naming import NamingRule
from custmdm.errors import Conflict, InvalidComponent, NotFound
from custmdm.register import Register

RULE = NamingRule("legal-form", kind="enterprise", required_parts=("legal_form",),
                  forbidden_words=("中央",))
SHORT = NamingRule("short-length", name_kinds=("short",), max_length=6)


@pytest.fixture
def ruled(reg: Register) -> Register:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_naming_rule(RULE)
    reg.add_naming_rule(SHORT)
    return reg


def test_registration_follows_the_rules(ruled: Register) -> None:
    with pytest.raises(InvalidComponent, match="naming rule 'legal-form': the name needs a "
                                               "legal form"):
        ruled.register(CustomerDraft("enterprise", "深圳市华盛电子科技", region="440305"))
    ruled.register(CustomerDraft("individual", "张伟", region="110105"))  # other kinds free
    assert ruled.register(CustomerDraft("enterprise", "深圳市华盛电子科技有限公司",
                                        region="440305")).code == "CE000001"


def test_bulk_names_the_customer_that_breaks_a_rule(ruled: Register) -> None:
    drafts = list(DemoGenerator(seed=3).customers(30))
    position = next(i for i, d in enumerate(drafts) if d.kind == "enterprise" and i >= 12)
    drafts[position] = CustomerDraft("enterprise", "中央华盛电子有限公司", region="440305")
    with pytest.raises(InvalidComponent, match=f"customer {position + 1}: naming rule "
                                               "'legal-form': .*forbidden word '中央'"):
        ruled.register_many(drafts, batch_size=10)


def test_names_and_renames_follow_the_rules(ruled: Register) -> None:
    code = ruled.register(CustomerDraft("enterprise", "深圳市华盛电子科技有限公司",
                                        region="440305")).code
    with pytest.raises(InvalidComponent, match="'short-length': the name has 7 characters"):
        ruled.add_name(code, "short", "深圳华盛电子科")
    ruled.add_name(code, "alias", "深圳华盛电子科技")  # the length rule is for short names
    with pytest.raises(InvalidComponent, match="legal form"):
        ruled.rename(code, "深圳市华盛智能", "更名")
    assert [r.name for r in ruled.naming_rules()] == ["legal-form", "short-length"]


def test_naming_rules_are_managed_by_name(ruled: Register) -> None:
    with pytest.raises(Conflict, match="exists"):
        ruled.add_naming_rule(RULE)
    ruled.remove_naming_rule("legal-form")
    with pytest.raises(NotFound):
        ruled.remove_naming_rule("legal-form")
    ruled.register(CustomerDraft("enterprise", "深圳市华盛电子科技", region="440305"))
