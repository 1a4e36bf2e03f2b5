"""Merging duplicates and undoing it, on SQLite and PostgreSQL: nothing is lost, old
codes keep resolving, undo restores the exact state, and concurrent or later changes
are conflicts, never silently overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from custmdm.core.customers import CustomerDraft
from custmdm.demo.generator import make_uscc
from custmdm.errors import Conflict, ValidationError
from custmdm.register import Register
from custmdm.store.tables import (
    audit_entry,
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_key,
    xref,
)

TABLES = (customer, customer_code, customer_name, identifier, contact, xref, match_key)


def snapshot(reg: Register) -> dict[str, Any]:
    """Every row of every table a merge touches, in a comparable form."""
    with reg.store.read() as conn:
        return {t.name: sorted(tuple(str(v) for v in row) for row in conn.execute(select(t)))
                for t in TABLES}


@pytest.fixture
def trio(unchecked: Register) -> tuple[Register, str, str, str]:
    """Three records of one company, registered before anyone checked."""
    reg = unchecked
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_system("ERP")
    a = reg.register(CustomerDraft(
        "enterprise", "深圳市华盛电子科技有限公司", region="440305", owner="sales07",
        identifiers=[("cn.uscc", make_uscc("9", "1", "440305", 1))], phones=["13800138000"],
        names=[("short", "华盛电子")]))
    b = reg.register(CustomerDraft("enterprise", "华盛电子科技有限责任公司", industry="C39",
                                   size="medium", owner="sales09", emails=["hs@example.cn"]))
    c = reg.register(CustomerDraft("enterprise", "華盛電子科技有限公司", region="440300",
                                   grade="vip"))
    reg.add_xref(b.code, "ERP", "K-1", "华盛")
    c_code = reg.change_code(c.code, reason="re-coded before the merge", rule="std").customer.code
    return reg, a.code, b.code, c_code


def test_a_merge_keeps_every_code_name_identifier_contact_and_mapping(trio: Any) -> None:
    reg, a, b, c = trio
    old_c = reg.find(c).customer.codes[0].value  # its code before the re-coding
    result = reg.merge(a, [b, c], reason="same company")
    survivor = result.survivor
    assert survivor.code == a and result.merged == (b, c)
    # fields: the survivor's where it has them, else the most complete / most recent
    assert (survivor.legal_name, survivor.owner, survivor.region) == (
        "深圳市华盛电子科技有限公司", "sales07", "440305")
    assert (survivor.industry, survivor.size, survivor.grade) == ("39", "medium", "vip")
    # every old code resolves to the survivor, as superseded
    for code in (b, c, old_c):
        found = reg.find(code)
        assert found.customer.code == a and found.requested_status == "superseded"
    names = {(n.kind, n.text) for n in reg.names(a)}
    assert {("legal", "深圳市华盛电子科技有限公司"), ("short", "华盛电子"),
            ("alias", "华盛电子科技有限责任公司"), ("alias", "華盛電子科技有限公司")} <= names
    assert reg.find_xref("ERP", "K-1").customer.code == a
    with reg.store.read() as conn:
        owners = set(conn.scalars(select(contact.c.customer_id)))
        statuses = dict(conn.execute(select(customer.c.id, customer.c.lifecycle)).all())
    assert owners == {survivor.id}
    assert sorted(statuses.values()) == ["active", "merged", "merged"]
    # the losers' names now find the survivor, and only it
    check = reg.check_duplicates(CustomerDraft("enterprise", "华盛电子科技有限责任公司"))
    assert [cand.code for cand in check.candidates] == [a]
    assert reg.check_codes().ok


def test_undo_restores_the_exact_state_before_the_merge(trio: Any) -> None:
    reg, a, b, c = trio
    before = snapshot(reg)
    result = reg.merge(a, [b, c], picks={"legal_name": b, "owner": b})
    assert result.survivor.legal_name == "华盛电子科技有限责任公司"
    assert result.survivor.owner == "sales09"
    assert snapshot(reg) != before
    reg.undo_merge(result.merge_id)
    assert snapshot(reg) == before
    with pytest.raises(Conflict, match="was undone"):
        reg.undo_merge(result.merge_id)


def test_undo_after_a_later_change_is_refused_listing_it(trio: Any) -> None:
    reg, a, b, _c = trio
    result = reg.merge(a, [b])
    reg.add_name(a, "alias", "华盛集团", override_reason="ours")
    with pytest.raises(Conflict, match=f"customer {a} is at version"):
        reg.undo_merge(result.merge_id)


def test_a_concurrent_change_is_a_conflict_not_a_lost_update(
    trio: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, a, b, _c = trio
    from custmdm.core import merge as merging

    real = merging._choose_fields

    def change_b_meanwhile(*args: Any) -> Any:
        # Another clerk's change commits after the merge read the customers and before
        # its write transaction.
        reg.add_name(b, "alias", "华盛老店", override_reason="a clerk, meanwhile")
        return real(*args)

    monkeypatch.setattr(merging, "_choose_fields", change_b_meanwhile)
    before = snapshot(reg)
    with pytest.raises(Conflict, match=f"{b} was changed meanwhile"):
        reg.merge(a, [b])
    after = snapshot(reg)
    assert after["customer_code"] == before["customer_code"]
    assert "华盛老店" in {n.text for n in reg.names(b)}  # the clerk's change stands


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda r, a, b, c: r.merge(a, []), ValidationError, "at least one"),
    (lambda r, a, b, c: r.merge(a, [a]), ValidationError, "named twice"),
    (lambda r, a, b, c: r.merge(a, [b], picks={"colour": b}), ValidationError, "no such field"),
    (lambda r, a, b, c: r.merge(a, [b], picks={"owner": "CE999999"}), ValidationError,
     "not one of the customers"),
])
def test_bad_merges_are_refused_and_change_nothing(
    trio: Any, call: Any, error: type[Exception], message: str
) -> None:
    reg, a, b, c = trio
    before = snapshot(reg)
    with pytest.raises(error, match=message):
        call(reg, a, b, c)
    assert snapshot(reg) == before


def test_a_merged_customer_cannot_be_merged_again(trio: Any) -> None:
    reg, a, b, c = trio
    reg.merge(a, [b])
    # b's code now leads to a: it is refused rather than followed
    with pytest.raises(ValidationError, match=f"{b} is a superseded code.*current code is {a}"):
        reg.merge(c, [b])
    person = reg.register(CustomerDraft("individual", "张伟", region="110105"))
    with pytest.raises(ValidationError, match="only customers of one kind"):
        reg.merge(a, [person.code])


def test_undo_after_a_moved_mapping_is_refused_naming_it(trio: Any) -> None:
    reg, a, b, c = trio
    result = reg.merge(a, [b])
    reg.move_xref("ERP", "K-1", c, reason="belongs to c")
    with pytest.raises(Conflict, match=r"xref row .* changed \(mapping K-1\)"):
        reg.undo_merge(result.merge_id)


def test_the_survivor_is_filed_anew_under_the_region_it_takes(trio: Any) -> None:
    reg, a, b, _c = trio
    result = reg.merge(b, [a])  # b has no region; a's 440305 is the most complete
    assert result.survivor.region == "440305"
    with reg.store.read() as conn:
        keys = set(conn.scalars(select(match_key.c.key)
                                .where(match_key.c.customer_id == result.survivor.id)))
    assert "d:4403:盛电子科技" in keys and not any(k.startswith("d::") for k in keys)


def test_merged_customers_are_listed_only_when_asked(trio: Any) -> None:
    from custmdm.core.registry import CustomerFilter

    reg, a, b, _c = trio
    reg.merge(a, [b])
    assert b not in {r.code for r in reg.customers()}
    assert len(reg.customers(CustomerFilter(status="merged"))) == 1


def test_a_retired_customer_cannot_survive(trio: Any) -> None:
    reg, a, b, _c = trio
    reg.retire(a, reason="closed")
    with pytest.raises(Conflict, match="retired customer cannot survive"):
        reg.merge(a, [b])


def test_trusted_source_order_decides_fields_not_picked(trio: Any) -> None:
    reg, a, b, _c = trio  # b is mapped in the ERP (K-1); a is not
    result = reg.merge(a, [b], trusted=["ERP"])
    assert result.survivor.owner == "sales09"  # b's, as the ERP's customer
    assert result.survivor.industry == "39" and result.fields["owner"] == b
    assert result.survivor.region == "440305"  # b has none: the field's own rule
    with pytest.raises(ValidationError, match="--trust CRM: no such system"):
        reg.merge(a, [_c], trusted=["CRM"])


def test_a_stewards_survivorship_rules_decide_the_merge(trio: Any) -> None:
    reg, a, b, _c = trio  # b is mapped in the ERP, has an owner and an industry
    assert [r.rule.value for r in reg.survivorship_rules()] == [
        "survivor", "survivor", "most_complete", "most_complete", "most_recent",
        "most_recent"]
    reg.set_survivorship_rule("owner", "trusted", ["ERP"])
    reg.set_survivorship_rule("size", "survivor")
    rules = {r.field: r for r in reg.survivorship_rules()}
    assert rules["owner"].systems == ("ERP",) and not rules["owner"].default
    result = reg.merge(a, [b])
    assert result.survivor.owner == "sales09" and result.by["owner"] == "trusted:ERP"
    with reg.store.read() as conn:
        merged = conn.execute(select(audit_entry.c.detail).where(
            audit_entry.c.action == "customer.merge")).scalars().first()
    assert merged["by"]["owner"] == "trusted:ERP" and merged["trusted"] == []
    assert result.survivor.size is None and result.by["size"] == "survivor"  # a had none
    reg.set_survivorship_rule("owner", None)
    assert {r.field: r for r in reg.survivorship_rules()}["owner"].default
    with reg.store.read() as conn:
        changes = [row.detail for row in conn.execute(
            select(audit_entry).where(audit_entry.c.action == "survivorship_rule.set")
            .order_by(audit_entry.c.id))]
    assert [c["to"]["rule"] for c in changes] == ["trusted", "survivor", "survivor"]
    assert changes[0]["from"]["rule"] == "survivor" and changes[0]["from"]["default"]


def test_a_rule_trusting_an_unknown_system_is_refused(trio: Any) -> None:
    reg = trio[0]
    with pytest.raises(ValidationError, match=r"--trust SAP: no such system .*system add"):
        reg.set_survivorship_rule("region", "trusted", ["SAP"])
    assert all(r.default for r in reg.survivorship_rules())


def test_a_retired_survivor_keeps_its_own_code(trio: Any) -> None:
    reg, a, b, _c = trio
    reg.merge(a, [b])
    retired = reg.retire(a, reason="closed")
    assert retired.code == a  # not b's, which it took over in the merge
    found = reg.check_duplicates(CustomerDraft("enterprise", "深圳市华盛电子科技有限公司",
                                               region="440305"))
    assert found.candidates[0].code == a


@pytest.mark.parametrize("which", ["survivorship", "match"])
def test_a_rule_changed_by_two_stewards_at_once_is_a_conflict(reg: Register, which: str
                                                               ) -> None:
    """PostgreSQL: the second insert waits for the first steward's and then fails on
    the key; it is reported as a Conflict, not a database error. (SQLite serialises
    writers, so there is no such race.)"""
    import threading
    import time
    from datetime import UTC, datetime

    from sqlalchemy import text

    from custmdm.store.tables import match_rule, survivorship_rule

    if reg.store.is_sqlite:
        pytest.skip("SQLite serialises writers")
    errors: list[BaseException] = []
    now = datetime.now(UTC)
    if which == "survivorship":
        first_row = survivorship_rule.insert().values(
            field="size", rule="survivor", systems=[], updated_at=now, updated_by="first")

        def change() -> None:
            reg.set_survivorship_rule("size", "most_complete")
    else:
        first_row = match_rule.insert().values(kind="enterprise", action="link",
                                               threshold=0.999, updated_at=now,
                                               updated_by="first")

        def change() -> None:
            reg.set_match_rule("enterprise", "link", 0.998)

    def second_steward() -> None:
        try:
            change()
        except BaseException as error:  # handed to the test
            errors.append(error)

    with reg.store.engine.connect() as first:
        first.execute(first_row)
        worker = threading.Thread(target=second_steward)
        worker.start()
        for _ in range(200):  # until the second steward waits on the first one's row
            # pg_locks, not pg_stat_activity: that one is a snapshot within a transaction
            if first.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                             ).scalar():
                break
            time.sleep(0.05)
        first.commit()
    worker.join(10)
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    assert "changed by someone else at the same moment" in str(errors[0])
