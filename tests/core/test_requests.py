"""Change requests (maker–checker): held, approved by another user, applied atomically
as asked, a conflict if the target changed (both databases)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from custmdm import CustomerDraft, open_register
from custmdm.core import requests
from custmdm.core.audit import AuditFilter
from custmdm.errors import (
    ApprovalRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from custmdm.register import Register
from custmdm.store.database import Store


def _ent(name: str, region: str = "440305") -> CustomerDraft:
    return CustomerDraft(kind="enterprise", legal_name=name, region=region)


class Office:
    """An administrator, a maker (mia) and a checker (abe), both data stewards."""

    def __init__(self, admin: Register) -> None:
        self.admin = admin
        admin.add_rule("std", "C{seq:6}{check:mod37-2}")
        admin.add_rule("alt", "A{seq:6}{check:mod37-2}", priority=200)
        for name in ("mia", "abe"):
            admin.add_user(name)
            admin.grant(name, "data_steward")
        self.mia = open_register(admin.store.url, actor="mia")
        self.abe = open_register(admin.store.url, actor="abe")

    def close(self) -> None:
        self.mia.close()
        self.abe.close()


@pytest.fixture
def office(unchecked: Register) -> Iterator[Office]:
    made = Office(unchecked)
    try:
        yield made
    finally:
        made.close()


def _held(attempt: Callable[[], Any]) -> int:
    with pytest.raises(ApprovalRequired, match="change request") as held:
        attempt()
    assert held.value.request_id is not None
    return held.value.request_id


def test_a_retirement_waits_for_another_user_and_applies_as_asked(office: Office) -> None:
    code = office.admin.register(_ent("深圳市待停用科技有限公司")).code
    office.admin.set_approval_rule("customer.retire")
    assert office.admin.approval_rules() == ["customer.retire"]
    request_id = _held(lambda: office.mia.retire(code, "closed down"))
    assert office.admin.find(code).customer.status == "active"  # nothing changed yet
    mine = office.mia.requests(mine=True)
    assert [(r.id, r.status, r.target, r.reason) for r in mine] == [
        (request_id, "pending", code, "closed down")]
    assert [r.id for r in office.abe.requests()] == [request_id]
    with pytest.raises(Conflict, match="another user must approve"):
        office.mia.approve(request_id)
    applied = office.abe.approve(request_id, "checked the registry")
    assert (applied.status, applied.decided_by, applied.decision_reason) == (
        "applied", "abe", "checked the registry")
    assert office.admin.find(code).customer.status == "retired"
    entry = office.admin.audit_log(AuditFilter(action="customer.retire"))[0]
    assert entry.actor == "mia"  # the change is the requester's, approved by abe
    assert entry.detail["change_request"] == request_id and entry.detail["approved_by"] == "abe"
    with pytest.raises(Conflict, match="applied already"):
        office.abe.approve(request_id)
    assert office.admin.verify_audit().intact


def _rule(o: Office) -> tuple[Callable[[Register], Any], Callable[[], bool]]:
    return (lambda r: r.update_rule("alt", "B{seq:6}{check:mod37-2}"),
            lambda: any(s.rule.pattern.text == "B{seq:6}{check:mod37-2}" for s in o.admin.rules()))


def _cases(o: Office) -> dict[str, tuple[Callable[[Register], Any], Callable[[], bool]]]:
    """Per governed action: what the maker asks, and how to see it was applied."""
    a = o.admin.register(_ent("深圳市甲乙科技有限公司")).code
    b = o.admin.register(_ent("深圳市甲乙科技股份有限公司")).code
    o.admin.add_system("ERP")
    o.admin.add_xref(a, "ERP", "E-1")
    return {
        "customer.change_code": (lambda r: r.change_code(a, "re-coded", rule="alt"),
                                 lambda: o.admin.find(a).customer.code.startswith("A")),
        "customer.merge": (lambda r: r.merge(a, [b], reason="same company"),
                           lambda: o.admin.find(b).customer.code == a),
        "customer.rename": (lambda r: r.rename(a, "深圳市丙丁科技有限公司", "更名"),
                            lambda: o.admin.find(a).customer.legal_name.startswith("深圳市丙丁")),
        "customer.retire": (lambda r: r.retire(b, "gone"),
                            lambda: o.admin.find(b).customer.status == "retired"),
        "xref.move": (lambda r: r.move_xref("ERP", "E-1", b, "wrong customer"),
                      lambda: o.admin.find_xref("ERP", "E-1").customer.code == b),
        "rule.change": _rule(o),
    }


@pytest.mark.parametrize("action", list(requests.APPROVABLE))
def test_every_governed_action_can_need_approval(office: Office, action: str) -> None:
    ask, applied = _cases(office)[action]
    office.admin.set_approval_rule(action)
    request_id = _held(lambda: ask(office.mia))
    assert not applied()
    assert office.abe.approve(request_id).status == "applied"
    assert applied()
    office.admin.set_approval_rule(action, required=False)
    assert office.admin.approval_rules() == []


def test_a_target_changed_since_the_request_is_a_conflict(office: Office) -> None:
    code = office.admin.register(_ent("深圳市原名科技有限公司")).code
    office.admin.set_approval_rule("customer.rename")
    request_id = _held(lambda: office.mia.rename(code, "深圳市新名科技有限公司", "更名"))
    office.admin.add_name(code, "short", "原名科技")  # a change: version 2
    with pytest.raises(Conflict, match="version 2, not 1"):
        office.abe.approve(request_id)
    assert office.admin.request(request_id).status == "conflict"
    assert office.admin.find(code).customer.legal_name == "深圳市原名科技有限公司"


def test_a_change_slipping_in_while_applying_is_caught_in_its_transaction(
        office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    code = office.admin.register(_ent("深圳市竞态科技有限公司")).code
    office.admin.set_approval_rule("customer.retire")
    request_id = _held(lambda: office.mia.retire(code, "gone"))
    # The approver's check sees nothing; a change lands before the use case loads.
    monkeypatch.setattr(requests, "_changed_since", lambda *_: None)
    office.admin.add_name(code, "short", "竞态科技")
    with pytest.raises(Conflict, match="changed while it was being applied"):
        office.abe.approve(request_id)
    assert office.admin.find(code).customer.status == "active"
    assert office.admin.request(request_id).status == "pending"


def test_applying_is_one_transaction_with_the_change(office: Office,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    code = office.admin.register(_ent("深圳市原子科技有限公司")).code
    office.admin.set_approval_rule("customer.retire")
    request_id = _held(lambda: office.mia.retire(code, "gone"))

    def crash(*_: object) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patched:
        patched.setattr(Store, "queue_audit", crash)  # after the request is marked applied
        with pytest.raises(RuntimeError):
            office.abe.approve(request_id)
    assert office.admin.request(request_id).status == "pending"
    assert office.admin.find(code).customer.status == "active"
    assert office.abe.approve(request_id).status == "applied"


def test_the_requesters_permission_is_checked_again_when_applied(office: Office) -> None:
    code = office.admin.register(_ent("深圳市权限科技有限公司")).code
    office.admin.set_approval_rule("customer.retire")
    request_id = _held(lambda: office.mia.retire(code, "gone"))
    office.admin.revoke("mia", "data_steward")
    office.admin.grant("mia", "read_only")
    office.abe.ctx.forget_authorization()
    with pytest.raises(PermissionDenied, match="mia may not"):
        office.abe.approve(request_id)
    assert office.admin.request(request_id).status == "pending"


def test_reject_withdraw_and_who_may_decide(office: Office) -> None:
    here = office.admin.register(_ent("深圳市本地科技有限公司")).code
    there = office.admin.register(_ent("北京市外地科技有限公司", "110105")).code
    office.admin.set_approval_rule("customer.retire")
    near = _held(lambda: office.mia.retire(here, "gone"))
    far = _held(lambda: office.mia.retire(there, "gone"))
    office.admin.add_user("lou")
    office.admin.grant("lou", "data_steward", "region:44")
    with open_register(office.admin.store.url, actor="lou") as lou:
        assert [r.id for r in lou.requests()] == [near]  # only what lou may approve
        with pytest.raises(PermissionDenied, match="'approve'"):
            lou.approve(far)
        with pytest.raises(ValidationError, match="reason"):
            lou.reject(near, " ")
        rejected = lou.reject(near, "still trading")
        assert (rejected.status, rejected.decision_reason) == ("rejected", "still trading")
    with pytest.raises(PermissionDenied, match="only the user who asked"):
        office.abe.withdraw(far)
    assert office.mia.withdraw(far).status == "withdrawn"
    assert {r.status for r in office.mia.requests(None, mine=True)} == {"rejected",
                                                                         "withdrawn"}
    with pytest.raises(NotFound):
        office.abe.approve(999)
    with pytest.raises(ValidationError, match="cannot need approval"):
        office.admin.set_approval_rule("customer.register")


def test_the_notification_seam_hears_every_step(office: Office,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[tuple[str, int]] = []
    monkeypatch.setattr(requests, "NOTIFY", [lambda event, r: heard.append((event, r.id))])
    code = office.admin.register(_ent("深圳市通知科技有限公司")).code
    office.admin.set_approval_rule("customer.retire")
    request_id = _held(lambda: office.mia.retire(code, "gone"))
    office.abe.approve(request_id)
    assert heard == [("change_request.created", request_id),
                     ("change_request.applied", request_id)]


def test_a_review_queue_accept_that_needs_approval_decides_the_cluster(office: Office) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from custmdm.store.tables import review_cluster

    a = office.admin.register(_ent("深圳市聚类科技有限公司"))
    b = office.admin.register(_ent("深圳市聚类科技股份有限公司"))
    with office.admin.store.write() as conn:  # as a batch run leaves it
        cluster_id = conn.execute(insert(review_cluster).values(
            run_at=datetime.now(UTC), status="open", customer_ids=[a.id, b.id])
            .returning(review_cluster.c.id)).scalar_one()
    office.admin.set_approval_rule("customer.merge")
    request_id = _held(lambda: office.mia.decide(cluster_id, "accept", survivor=a.code))
    assert office.admin.review_queue()[0].id == cluster_id  # still open
    office.abe.approve(request_id)
    assert office.admin.find(b.code).customer.code == a.code
    assert office.admin.review_queue() == []
    decided = office.admin.review_queue("accepted")[0]
    assert decided.id == cluster_id


def test_retiring_a_rule_can_need_approval(office: Office) -> None:
    office.admin.add_rule("old", "O{seq:5}", kind="government")
    office.admin.set_approval_rule("rule.change")
    request_id = _held(lambda: office.mia.retire_rule("old", "no longer used"))
    assert office.abe.request(request_id).target == "retire rule old"
    assert "old" in [s.rule.name for s in office.admin.rules()]
    assert office.abe.approve(request_id).status == "applied"
    assert "old" not in [s.rule.name for s in office.admin.rules()]
