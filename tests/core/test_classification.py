"""Changing a customer's classification and owner: checked, versioned, audited."""

from __future__ import annotations

import pytest

from custmdm.core.audit import AuditFilter
from custmdm.core.customers import CustomerDraft
from custmdm.errors import PermissionDenied, StaleVersion, ValidationError
from custmdm.register import Register


@pytest.fixture
def code(reg: Register) -> str:
    reg.add_rule("std", "C{kind}{seq:6}")
    return reg.register(CustomerDraft("enterprise", "深圳市华盛电子科技有限公司",
                                      region="440305", industry="C39")).code


def test_fields_change_and_are_audited(reg: Register, code: str) -> None:
    changed = reg.update(code, size="large", grade="vip", industry="I65", owner="ann")
    assert (changed.size, changed.grade, changed.industry, changed.owner, changed.version) == (
        "large", "vip", "65", "ann", 2)
    cleared = reg.update(code, grade=None, expected_version=2)
    assert cleared.grade is None and cleared.size == "large" and cleared.version == 3
    entry = reg.audit_log(AuditFilter(action="customer.update"))[0]
    assert entry.detail == {"code": code, "from": {"grade": "vip"}, "to": {"grade": None}}
    assert reg.update(code, size="large").version == 3  # nothing changes: no new version


def test_a_stale_version_or_bad_value_is_refused(reg: Register, code: str) -> None:
    reg.update(code, size="small")
    with pytest.raises(StaleVersion, match="at version 2, not 1"):
        reg.update(code, size="large", expected_version=1)
    with pytest.raises(ValidationError, match="unknown size"):
        reg.update(code, size="huge")
    with pytest.raises(ValidationError, match="cannot update legal_name"):
        reg.update(code, legal_name="x")
    with pytest.raises(ValidationError, match="nothing to update"):
        reg.update(code)
    with pytest.raises(StaleVersion):
        reg.retire(code, "closed", expected_version=1)
    assert reg.find(code).customer.size == "small"


def test_nobody_moves_a_customer_out_of_their_own_reach(reg: Register, code: str) -> None:
    reg.add_user("ann")
    reg.grant("ann", "sales", "industry:C")
    ann = Register(reg.store, type(reg.ctx.actor)("ann"))
    assert ann.update(code, size="medium").size == "medium"
    with pytest.raises(PermissionDenied):
        ann.update(code, industry="I65")  # out of ann's industry scope afterwards
