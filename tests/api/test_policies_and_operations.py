"""The routes for naming, match, survivorship and approval rules; unmasking and
erasure; legal names on a day; moving a key mapping; passwords; counts, the code check
and the batch duplicate run."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from custmdm.core.audit import AuditFilter
from custmdm.demo.generator import DemoGenerator
from custmdm.errors import PermissionDenied
from custmdm.register import Register
from tests.api.support import PERSON

HUASHENG = {"kind": "enterprise", "legal_name": "深圳市华盛电子科技有限公司",
            "region": "440305"}


@pytest.fixture(autouse=True)
def coding_rule(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")


def as_user(reg: Register, client: TestClient, name: str, role: str) -> dict[str, str]:
    reg.add_user(name)
    reg.grant(name, role)
    return {"Authorization": f"Bearer {reg.create_token(name, 't').token}"}


def created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def test_naming_rules(client: TestClient) -> None:
    rule = {"required_parts": ["legal_form"], "forbidden_words": ["国家"],
            "description": "企业名称须有组织形式"}
    made = client.post("/naming-rules/legal-form", json={**rule, "kind": "enterprise"})
    assert made.status_code == 201 and made.json()["required_parts"] == ["legal_form"]
    assert client.post("/naming-rules/legal-form", json=rule).status_code == 409
    assert [r["name"] for r in client.get("/naming-rules").json()["data"]] == ["legal-form"]
    refused = client.post("/customers", json={**HUASHENG, "legal_name": "深圳华盛电子"})
    assert refused.status_code == 422 and "legal form" in refused.json()["detail"]
    unknown = client.post("/naming-rules/x", json={"required_parts": ["colour"]})
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]
    assert client.delete("/naming-rules/legal-form").status_code == 204
    assert client.delete("/naming-rules/legal-form").status_code == 404
    created(client.post("/customers", json={**HUASHENG, "legal_name": "深圳华盛电子"}))


def test_match_rules(client: TestClient) -> None:
    rules = client.get("/match-rules").json()["data"]
    assert {"kind": "enterprise", "action": "block", "threshold": 0.99} in rules
    client.put("/match-rules/enterprise/warn", json={"threshold": None})
    client.put("/match-rules/enterprise/block", json={"threshold": None})
    now = client.put("/match-rules/enterprise/link", json={"threshold": 0.97}).json()
    assert {"kind": "enterprise", "action": "link", "threshold": 0.97} in now["data"]
    assert not any(r["kind"] == "enterprise" and r["action"] != "link" for r in now["data"])
    first = created(client.post("/customers", json=HUASHENG))
    linked = client.post("/customers", json=HUASHENG)  # the same: linked, not registered
    assert linked.status_code == 200 and linked.json()["code"] == first["code"]
    for bad in ({"threshold": 1.5}, {"threshold": 0}, {}):
        assert client.put("/match-rules/enterprise/link", json=bad).status_code == 422
    assert client.put("/match-rules/martian/link", json={"threshold": 0.9}
                      ).status_code == 422


def test_survivorship_rules(client: TestClient) -> None:
    rules = {r["field"]: r for r in client.get("/survivorship-rules").json()["data"]}
    assert set(rules) == {"legal_name", "owner", "region", "industry", "size", "grade"}
    assert all(r["default"] for r in rules.values())
    set_ = client.put("/survivorship-rules/industry", json={"rule": "most_recent"}).json()
    assert set_ == {"field": "industry", "rule": "most_recent", "systems": [],
                    "default": False}
    no_systems = client.put("/survivorship-rules/owner", json={"rule": "trusted"})
    assert no_systems.status_code == 422 and "system" in no_systems.json()["detail"]
    assert client.put("/survivorship-rules/colour", json={"rule": "survivor"}
                      ).status_code == 422
    back = client.put("/survivorship-rules/industry", json={"rule": None}).json()
    assert back["default"] is True


def test_approval_rules_hold_a_change_for_a_second_user(
        reg: Register, client: TestClient) -> None:
    rules = client.get("/approval-rules").json()["data"]
    assert len(rules) == 6 and not any(r["required"] for r in rules)
    now = client.put("/approval-rules/customer.retire", json={"required": True}).json()
    assert [r["action"] for r in now["data"] if r["required"]] == ["customer.retire"]
    code = created(client.post("/customers", json=HUASHENG))["code"]
    held = client.post(f"/customers/{code}/retire", json={"reason": "closed"},
                       headers={"If-Match": '"v1"'})
    assert held.status_code == 202 and held.json()["request_id"] > 0
    assert client.put("/approval-rules/customer.explode", json={"required": True}
                      ).status_code == 422
    assert reg.find(code).customer.status == "active"


def test_unmask_needs_the_permission_and_is_audited(reg: Register,
                                                     client: TestClient) -> None:
    code = created(client.post("/customers", json=PERSON))["code"]
    masked = client.get(f"/customers/{code}").json()
    assert "138 0013 8000" not in str(masked) and "11010519491231002X" not in str(masked)
    assert "138****8000" in str(masked)
    auditor = as_user(reg, client, "olga", "auditor")
    refused = client.post(f"/customers/{code}/unmask", json={"reason": "look"},
                          headers=auditor)
    assert refused.status_code == 403
    assert client.post(f"/customers/{code}/unmask", json={}).status_code == 422
    clear = client.post(f"/customers/{code}/unmask", json={"reason": "客户来电核实"})
    assert clear.status_code == 200 and clear.headers["ETag"] == '"v1"'
    shown = str(clear.json())
    assert "138 0013 8000" in shown and "11010519491231002X" in shown
    [entry] = reg.audit_log(AuditFilter(action="customer.unmask"))
    assert entry.actor == "tester" and "客户来电核实" in str(entry.detail)


def test_erase_a_person(reg: Register, client: TestClient) -> None:
    code = created(client.post("/customers", json=PERSON))["code"]
    company = created(client.post("/customers", json=HUASHENG))["code"]
    assert client.post(f"/customers/{company}/erase", json={"reason": "x"}
                       ).status_code == 422  # only individuals can be erased
    steward = as_user(reg, client, "sam", "sales")
    assert client.post(f"/customers/{code}/erase", json={"reason": "PIPL"},
                       headers=steward).status_code == 403
    erased = client.post(f"/customers/{code}/erase", json={"reason": "本人要求删除"})
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["codes"] == [code] and body["removed"]["contacts"] == 1
    assert body["customer"]["legal_name"] != "张伟"
    again = client.get(f"/customers/{code}").json()
    assert "张伟" not in str(again) and again["identifiers"] == []


def test_legal_name_on_a_day_and_moving_a_key_mapping(client: TestClient) -> None:
    code = created(client.post("/customers", json=HUASHENG))["code"]
    other = created(client.post("/customers", json={
        "kind": "enterprise", "legal_name": "上海恒通物流股份有限公司",
        "region": "310115"}))["code"]
    client.post(f"/customers/{code}/rename", headers={"If-Match": '"v1"'}, json={
        "legal_name": "深圳市华盛智能科技有限公司", "reason": "更名", "on": "2025-06-01"})
    then = client.get(f"/customers/{code}/legal-name", params={"on": "2025-05-31"}).json()
    assert then == {"code": code, "on": "2025-05-31", "legal_name": HUASHENG["legal_name"]}
    later = client.get(f"/customers/{code}/legal-name", params={"on": "2025-06-01"})
    assert later.json()["legal_name"] == "深圳市华盛智能科技有限公司"
    assert client.get(f"/customers/{code}/legal-name").status_code == 422

    client.post("/systems", json={"name": "erp"})
    client.post(f"/customers/{code}/key-mappings", json={"system": "erp",
                                                        "external_id": "K-1"})
    moved = client.post("/systems/erp/customers/K-1/move",
                        json={"to": other, "reason": "录错了客户"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["code"] == other
    assert client.get("/systems/erp/customers/K-1").json()["code"] == other
    assert client.post("/systems/erp/customers/K-9/move",
                       json={"to": other, "reason": "x"}).status_code == 404


def test_a_user_sets_their_own_password_only(reg: Register, client: TestClient) -> None:
    ann = as_user(reg, client, "ann", "read_only")
    reg.set_password("ann", "the first passphrase")
    session = reg.open_session("ann", "the first passphrase").token
    change = {"password": "a long passphrase 1"}
    missing = client.put("/users/ann/password", json=change, headers=ann)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "current_password"
    assert client.put("/users/ann/password", json={**change, "current_password": "guess"},
                      headers=ann).status_code == 403
    assert client.put("/users/ann/password", headers=ann, json={
        **change, "current_password": "the first passphrase"}).status_code == 204
    assert reg.check_password("ann", "a long passphrase 1") == "ann"
    with pytest.raises(PermissionDenied):  # her sessions ended with the old password
        reg.authenticate_token(session)
    assert client.put("/users/tester/password", json={"password": "a long passphrase 2"},
                      headers=ann).status_code == 403
    short = client.put("/users/ann/password", json={"password": "short"})  # by the admin
    assert short.status_code == 422 and "10" in short.json()["detail"]


def test_overview_code_check_and_a_dedup_run(unchecked: Register,
                                             client: TestClient) -> None:
    unchecked.register_many(DemoGenerator(seed=3).customers(300))
    for name in ("杭州市云帆网络科技有限公司", "雲帆網絡科技有限公司"):
        created(client.post("/customers", json={"kind": "enterprise", "legal_name": name,
                                                "region": "330106",
                                                "phones": ["136 0013 6000"]}))
    counts = client.get("/overview").json()
    assert counts["customers"] == 302 and sum(counts["by_kind"].values()) == 302
    check = client.get("/checks/codes").json()
    assert check["ok"] is True and check["problems"] == []
    run = client.post("/dedup-runs", json={"threshold": 0.8})
    assert run.status_code == 200, run.text
    assert run.json()["customers"] == 302 and run.json()["clusters"] >= 1
    queue = client.get("/review-queue").json()["data"]
    assert any("杭州市云帆网络科技有限公司" in c["legal_names"] for c in queue)
    assert client.post("/dedup-runs", json={"threshold": 1.5}).status_code == 422


def test_short_lists_are_paged_too(client: TestClient) -> None:
    for name in ("erp", "crm", "billing"):
        client.post("/systems", json={"name": name})
    first = client.get("/systems", params={"limit": 2}).json()
    rest = client.get("/systems", params={"limit": 2, "offset": 2}).json()
    assert first["count"] == 2 and rest["count"] == 1
    assert {s["name"] for s in first["data"] + rest["data"]} == {"erp", "crm", "billing"}
    assert client.get("/tokens", params={"limit": 501}).status_code == 422
    assert client.get("/users", params={"offset": -1}).status_code == 422
