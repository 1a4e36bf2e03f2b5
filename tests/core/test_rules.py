"""Coding rules in a real register: saving, versions, counters, preview (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custmdm import CustomerDraft, open_register
from custmdm.core.audit import AuditFilter
from custmdm.errors import (
    Conflict,
    CounterExhausted,
    InvalidFormat,
    NotFound,
    PatternSyntaxError,
    RuleViolation,
    UnknownReference,
    ValidationError,
)
from custmdm.register import Register
from custmdm.store.tables import audit_entry, code_counter, customer

# These tests register look-alike customers on purpose.
pytestmark = pytest.mark.usefixtures("unchecked")


def enterprise(name: str = "深圳市华盛电子科技有限公司", region: str = "440305") -> CustomerDraft:
    return CustomerDraft(kind="enterprise", legal_name=name, region=region)


def test_a_rule_codes_customers_with_its_pattern(reg: Register, clock: object) -> None:
    reg.add_rule("std", "C{kind}{region:4}{seq:6}{check:mod37-2}")
    first = reg.register(enterprise())
    second = reg.register(enterprise("深圳市恒泰贸易有限公司", "440304"))
    assert first.code[:12] == "CE4403000001"
    assert second.code[:12] == "CE4403000002"
    assert len(first.code) == 13


def test_each_prefix_has_its_own_counter_unless_the_rule_says_otherwise(reg: Register) -> None:
    reg.add_rule("by-province", "C{region:2}{seq:4}", region_prefix="CN")
    reg.add_rule("abroad", "F{country}{seq:4}", counter_scope="rule", priority=200)
    assert reg.register(enterprise(region="440305")).code == "C440001"
    assert reg.register(enterprise(region="110101")).code == "C110001"
    assert reg.register(enterprise(region="440304")).code == "C440002"
    assert reg.register(CustomerDraft("enterprise", "Acme Inc.", region="US")).code == "FUS0001"
    assert reg.register(CustomerDraft("enterprise", "Bosch GmbH", region="DE")).code == "FDE0002"


def test_first_matching_rule_by_priority_applies(reg: Register) -> None:
    reg.add_rule("general", "C{seq:6}", priority=100)
    reg.add_rule("gov", "G{region:4}{seq:4}", kind="government", priority=10)
    gov = reg.register(CustomerDraft("government", "深圳市南山区教育局", region="440305"))
    assert gov.code == "G44030001"
    assert reg.register(enterprise()).code == "C000001"


def test_no_rule_is_a_clear_error_and_registers_nothing(reg: Register) -> None:
    reg.add_rule("gov", "G{seq:4}", kind="government")
    with pytest.raises(RuleViolation, match="no coding rule applies"):
        reg.register(enterprise())
    with reg.store.read() as conn:
        assert conn.execute(select(customer)).first() is None


def test_overlapping_rules_are_refused(reg: Register) -> None:
    reg.add_rule("a", "C{seq:6}")
    with pytest.raises(Conflict, match="could render the same codes as rule 'a'"):
        reg.add_rule("b", "C{region:2}{seq:4}")
    with pytest.raises(Conflict, match="exists"):
        reg.add_rule("a", "D{seq:6}")
    with pytest.raises(PatternSyntaxError):
        reg.add_rule("c", "D{seq:6}{check:luhn}")
    reg.add_rule("d", "D{seq:6}")  # a different prefix is fine


def test_conditions_must_name_real_reference_data(reg: Register) -> None:
    with pytest.raises(UnknownReference, match="unknown region"):
        reg.add_rule("x", "X{seq:4}", region_prefix="99")
    with pytest.raises(UnknownReference, match="unknown industry"):
        reg.add_rule("x", "X{seq:4}", industry="Z")


def test_a_new_version_may_not_collide_with_issued_codes(reg: Register) -> None:
    reg.add_rule("std", "C{seq:4}")
    issued = reg.register(enterprise()).code
    assert issued == "C0001"
    # Only the conditions change: the counter continues, so this is allowed.
    v2 = reg.update_rule("std", "C{seq:4}", priority=5)
    assert v2.version == 2
    assert reg.register(enterprise("广州市天成物流有限公司")).code == "C0002"
    # One counter for the whole rule instead of per prefix: could render C0001 again.
    with pytest.raises(Conflict, match="could render C0001"):
        reg.update_rule("std", "C{seq:4}", counter_scope="rule")
    # A new layout that cannot produce old codes is fine.
    reg.update_rule("std", "K{seq:6}")
    assert reg.register(enterprise("佛山市顺发家具有限公司")).code == "K000001"
    assert [s.rule.version for s in reg.rules()] == [3]
    found = reg.find("C0001")
    assert found.customer.codes[0].rule == "std@1"


def test_preview_consumes_nothing(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{region:4}{seq:4}")
    assert reg.preview("std", region="440305", count=3) == ["CE44030001", "CE44030002",
                                                            "CE44030003"]
    assert reg.preview("std", region="440305", count=3)[0] == "CE44030001"
    reg.register(enterprise())
    assert reg.preview("std", kind="individual", region="110101", count=1) == ["CP11010001"]
    assert reg.preview("std", region="440305", count=1) == ["CE44030002"]
    with pytest.raises(NotFound, match="no coding rule named 'nope'"):
        reg.preview("nope")


def test_a_full_counter_is_an_error_naming_the_rule_and_never_wraps(reg: Register) -> None:
    reg.add_rule("tiny", "T{seq:1}")
    for n in range(1, 10):
        assert reg.register(enterprise(f"企业{n}有限公司")).code == f"T{n}"
    with pytest.raises(CounterExhausted, match="coding rule 'tiny'"):
        reg.register(enterprise("企业十有限公司"))
    with reg.store.read() as conn:
        assert conn.execute(select(code_counter.c.next_value)).scalar_one() == 10
        assert len(conn.execute(select(customer)).all()) == 9


def test_rule_changes_are_audited(reg: Register) -> None:
    reg.add_rule("std", "C{seq:4}")
    reg.update_rule("std", "C{seq:4}", priority=1)
    with reg.store.read() as conn:
        actions = [r.action for r in conn.execute(select(audit_entry).order_by(audit_entry.c.id))
                   if r.action.startswith("rule.")]
    assert actions == ["rule.add", "rule.update"]


def test_update_keeps_the_options_it_is_not_given(reg: Register) -> None:
    reg.add_rule("gov", "G{region:2}{seq:4}", kind="government", gapless=True, priority=5)
    updated = reg.update_rule("gov", "G{region:4}{seq:4}")
    assert updated.version == 2 and updated.gapless and updated.priority == 5
    assert updated.conditions.kind == "government"
    assert reg.update_rule("gov", "G{region:4}{seq:4}", gapless=False).gapless is False


def test_codes_longer_than_the_register_stores_are_refused(reg: Register) -> None:
    with pytest.raises(InvalidFormat, match="at most 64"):
        reg.add_rule("long", "X" * 60 + "{seq:6}")


def test_preview_checks_its_customer_against_the_rule(reg: Register) -> None:
    reg.add_rule("gov", "G{region:2}{seq:4}", kind="government")
    assert reg.preview("gov", region="440305", count=1) == ["G440001"]
    assert reg.preview("gov", kind="Government", region="440305", count=1) == ["G440001"]
    with pytest.raises(RuleViolation, match="applies to kind=government"):
        reg.preview("gov", kind="enterprise", region="440305")
    with pytest.raises(ValidationError, match="1 to 1000"):
        reg.preview("gov", region="440305", count=0)


def test_rules_changed_by_another_process_apply(db_url: str) -> None:
    first = open_register(db_url, actor="tester")  # the user `unchecked` made
    first.init()
    first.add_rule("std", "C{seq:4}", kind="enterprise")
    assert first.register(enterprise()).code == "C0001"  # the rules are now cached
    first.add_user("b")
    first.grant("b", "administrator")
    other = open_register(db_url, actor="b")
    # A new version applies at once: the cached one is refused when the code is written.
    other.update_rule("std", "K{seq:6}")
    assert first.register(enterprise("广州市天成物流有限公司")).code == "K000001"
    # A new rule for customers no cached rule covers applies at once too.
    other.add_rule("ind", "P{seq:4}", kind="individual")
    assert first.register(CustomerDraft("individual", "张伟", region="110105")).code == "P0001"
    # A new rule that outranks a cached one applies once the cache expires (2 s).
    other.add_rule("big", "B{seq:4}", kind="enterprise", grade="vip", priority=1)
    first.ctx.rules_loaded_at -= 60
    vip = first.register(CustomerDraft("enterprise", "深圳市大客户有限公司", region="440305",
                                       grade="vip"))
    assert vip.code == "B0001"
    assert first.check_codes().ok
    first.close()
    other.close()


def test_a_retired_rule_gives_no_more_codes_and_keeps_its_name(reg: Register) -> None:
    reg.add_rule("south", "S{seq:4}", region_prefix="44", priority=10)
    reg.add_rule("all", "A{seq:4}", priority=20)
    first = reg.register(enterprise()).code
    assert first == "S0001"
    retired = reg.retire_rule("south", "南区编码并入全国编码")
    assert retired.name == "south"
    assert [s.rule.name for s in reg.rules()] == ["all"]
    assert reg.register(enterprise("深圳市恒泰贸易有限公司")).code == "A0001"
    assert reg.find(first).customer.code == first  # its codes stay
    with pytest.raises(Conflict, match="was retired"):
        reg.add_rule("south", "Z{seq:4}", region_prefix="44")
    with pytest.raises(NotFound):
        reg.retire_rule("south", "again")
    with pytest.raises(ValidationError, match="reason"):
        reg.retire_rule("all", " ")
    assert reg.check_codes().ok
    [entry] = reg.audit_log(AuditFilter(action="rule.retire"))
    assert entry.entity_id == "south" and "南区" in str(entry.detail)
