"""Identifiers after registration, on SQLite and PostgreSQL: added with the duplicate
check and the blocking index in step, removed with a reason, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custmdm.core.customers import CustomerDraft
from custmdm.core.dedup import DuplicateSuspected
from custmdm.demo.generator import make_uscc
from custmdm.errors import Conflict, InvalidChecksum, NotFound, ValidationError
from custmdm.register import Register
from custmdm.store.tables import audit_entry, match_key

USCC = make_uscc("9", "1", "440305", 1)


@pytest.fixture
def coded(reg: Register) -> Register:
    reg.add_rule("std", "C{kind}{seq:6}")
    return reg


def ent(name: str, *ids: str, region: str = "440305") -> CustomerDraft:
    return CustomerDraft("enterprise", name, region=region,
                         identifiers=[("cn.uscc", i) for i in ids])


def audit(reg: Register, action: str) -> list[dict]:  # type: ignore[type-arg]
    with reg.store.read() as conn:
        return [r.detail for r in conn.execute(select(audit_entry).where(
            audit_entry.c.action == action).order_by(audit_entry.c.id))]


def test_a_prospect_gets_its_uscc_later_and_is_found_by_it(coded: Register) -> None:
    prospect = coded.register(ent("深圳市华盛电子科技有限公司"))
    added = coded.add_identifier(prospect.code, " CN.USCC ", USCC.lower())
    assert [(i.scheme, i.value) for i in added.identifiers] == [("cn.uscc", USCC)]
    assert added.version == prospect.version + 1
    with coded.store.read() as conn:
        assert conn.execute(select(match_key.c.customer_id).where(
            match_key.c.key == f"i:cn.uscc:{USCC}")).scalar_one() == prospect.id
    again = coded.check_duplicates(ent("华盛集团", USCC))  # another name, same USCC
    assert again.candidates[0].code == prospect.code
    assert "same USCC" in again.candidates[0].explanation
    assert audit(coded, "customer.identifier.add") == [
        {"code": prospect.code, "scheme": "cn.uscc", "value": USCC}]


def test_an_identifier_another_customer_holds_is_refused_naming_it(coded: Register) -> None:
    holder = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    other = coded.register(ent("北京远航物流有限公司", region="110105"))
    with pytest.raises(Conflict, match=f"already belongs to customer {holder.code}"):
        coded.add_identifier(other.code, "cn.uscc", USCC)
    assert coded.find(other.code).customer.version == other.version  # nothing written
    with pytest.raises(Conflict, match="one identifier per scheme"):
        coded.add_identifier(holder.code, "cn.uscc", make_uscc("9", "1", "440305", 2))


def test_a_retired_holder_warns_and_an_override_is_audited(coded: Register) -> None:
    old = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    coded.retire(old.code, reason="closed")
    new = coded.register(ent("深圳市华盛电子科技有限公司"), override_reason="reopened")
    with pytest.raises(DuplicateSuspected, match=old.code):
        coded.add_identifier(new.code, "cn.uscc", USCC)
    coded.add_identifier(new.code, "cn.uscc", USCC, override_reason="the same firm, reopened")
    assert audit(coded, "customer.identifier.add")[0]["duplicate_override"] == {
        "reason": "the same firm, reopened", "candidates": [old.code]}


def test_a_wrong_identifier_is_removed_and_is_no_evidence_any_more(coded: Register) -> None:
    wrong = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    removed = coded.remove_identifier(wrong.code, "cn.uscc", reason="typed from another firm")
    assert removed.identifiers == ()
    # The firm the number belongs to registers without a word about the first one.
    owner = coded.register(ent("北京远航物流有限公司", USCC, region="110105"))
    assert owner.identifiers[0].value == USCC
    assert audit(coded, "customer.identifier.remove") == [
        {"code": wrong.code, "scheme": "cn.uscc", "value": USCC,
         "reason": "typed from another firm"}]


def test_bad_changes_say_what_is_wrong(coded: Register) -> None:
    firm = coded.register(ent("深圳市华盛电子科技有限公司"))
    with pytest.raises(InvalidChecksum):
        coded.add_identifier(firm.code, "cn.uscc", USCC[:-1] + ("0" if USCC[-1] != "0" else "1"))
    with pytest.raises(ValidationError, match="scheme"):
        coded.add_identifier(firm.code, "cn.nope", "123")
    with pytest.raises(NotFound, match=r"has no cn\.uscc identifier"):
        coded.remove_identifier(firm.code, "cn.uscc", reason="x")
    with pytest.raises(ValidationError, match="reason"):
        coded.remove_identifier(firm.code, "cn.uscc", reason=" ")
    coded.retire(firm.code, reason="closed")
    with pytest.raises(Conflict, match="retired"):
        coded.add_identifier(firm.code, "cn.uscc", USCC)


def test_a_look_alike_overridden_at_registration_is_not_asked_about_again(
    coded: Register,
) -> None:
    coded.register(ent("深圳市华盛电子科技有限公司"))  # no number to tell them apart
    twin = coded.register(ent("深圳市华胜电子科技有限公司"), override_reason="another firm")
    added = coded.add_identifier(twin.code, "cn.uscc", USCC)  # unrelated: no override
    assert added.identifiers[0].value == USCC
    assert "duplicate_override" not in audit(coded, "customer.identifier.add")[0]


def test_after_a_merge_two_of_a_scheme_are_removed_one_by_one(coded: Register) -> None:
    other = make_uscc("9", "1", "440305", 2)
    a = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    b = coded.register(ent("深圳市华盛电子有限公司", other), override_reason="same firm")
    coded.merge(a.code, [b.code])
    with pytest.raises(ValidationError, match=r"2 cn\.uscc identifiers .*cn\.uscc=VALUE"):
        coded.remove_identifier(a.code, "cn.uscc", reason="wrong")
    with pytest.raises(NotFound, match=r"has no cn\.uscc 9144"):
        coded.remove_identifier(a.code, "cn.uscc", reason="wrong",
                                value=make_uscc("9", "1", "440305", 3))
    left = coded.remove_identifier(a.code, "cn.uscc", reason="typed wrong", value=other)
    assert [i.value for i in left.identifiers] == [USCC]
    assert [e["value"] for e in audit(coded, "customer.identifier.remove")] == [other]
