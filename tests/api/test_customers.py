"""The REST API through its HTTP interface (FastAPI's TestClient), on both databases:
status codes, problem details, ETags and If-Match, tokens, scopes and masking."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from custmdm.api import create_app
from custmdm.register import Register
from tests.api.support import HUASHENG, PERSON, problem


@pytest.fixture(autouse=True)
def coding_rule(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")


def test_register_read_and_list(client: TestClient) -> None:
    made = client.post("/customers", json=HUASHENG)
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert made.headers["Location"] == f"/customers/{code}" and made.headers["ETag"] == '"v1"'
    got = client.get(f"/customers/{code}")
    assert got.status_code == 200 and got.json()["legal_name"] == HUASHENG["legal_name"]
    assert got.json()["requested_code_status"] == "active" and got.headers["ETag"] == '"v1"'
    listed = client.get("/customers", params={"region": "44", "limit": 10}).json()
    assert listed["count"] == 1 and listed["data"][0]["code"] == code
    hits = client.get("/search", params={"q": "华盛电子"}).json()
    assert [h["code"] for h in hits["data"]] == [code]


def test_errors_are_problem_details(client: TestClient) -> None:
    body = problem(client.post("/customers", json={**HUASHENG, "identifiers": [
        {"scheme": "cn.uscc", "value": "914403001922038217"}]}), 422, "validation")
    assert "check" in body["detail"]  # the core's message: what is wrong, how to fix it
    assert body["errors"] == [{"field": "identifiers.0", "rule": "checksum",
                               "message": body["detail"]}]
    body = problem(client.post("/customers", json={**HUASHENG, "region": "440399"}), 422,
                   "validation")
    assert body["errors"][0]["field"] == "region"
    assert body["errors"][0]["rule"] == "reference"
    body = problem(client.post("/customers", json={**HUASHENG, "phones": ["13800138000",
                                                                          "12"]}),
                   422, "validation")
    assert body["errors"][0]["field"] == "phones.1"
    body = problem(client.post("/customers", json={"kind": "enterprise"}), 422, "validation")
    assert body["errors"][0]["field"] == "legal_name"
    problem(client.post("/customers", json={**HUASHENG, "colour": "red"}), 422, "validation")
    problem(client.get("/customers/C9999999"), 404, "not-found")
    client.post("/customers", json=HUASHENG)
    dup = problem(client.post("/customers", json={**HUASHENG, "identifiers": []}), 409,
                  "duplicate")
    assert dup["action"] in ("block", "warn") and dup["candidates"][0]["score"] > 0.5
    problem(client.get("/customers", params={"limit": 100_000}), 422, "validation")


def test_a_token_is_needed_and_checked(client: TestClient) -> None:
    anonymous = client.get("/customers", headers={"Authorization": ""})
    problem(anonymous, 401, "unauthorized")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    unknown = problem(client.get("/customers",
                                 headers={"Authorization": "Bearer cmdm_nope"}), 401,
                      "unauthorized")
    assert unknown.get("detail") and "invalid_token" in client.get(
        "/customers", headers={"Authorization": "Bearer cmdm_nope"}).headers["WWW-Authenticate"]


def test_if_match_refuses_a_stale_change(client: TestClient) -> None:
    code = client.post("/customers", json=HUASHENG).json()["code"]
    problem(client.patch(f"/customers/{code}", json={"size": "large"}), 428,
            "precondition-required")
    changed = client.patch(f"/customers/{code}", json={"size": "large", "grade": "vip"},
                           headers={"If-Match": '"v1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["size"] == "large" and changed.headers["ETag"] == '"v2"'
    stale = problem(client.patch(f"/customers/{code}", json={"size": "small"},
                                 headers={"If-Match": '"v1"'}), 412, "stale-version")
    assert "version 2, not 1" in stale["detail"]
    assert client.get(f"/customers/{code}").json()["size"] == "large"  # not overwritten
    for grade in ("important", "potential"):  # every grade fits, the longest too
        assert client.post("/customers", json={**PERSON, "grade": grade, "identifiers": [],
                                               "legal_name": f"李{grade}", "phones": []}
                           ).status_code == 201
    huge = problem(client.patch(f"/customers/{code}", json={"size": "huge"},
                                headers={"If-Match": '"v2"'}), 422, "validation")
    assert huge["errors"][0]["field"] == "size" and huge["errors"][0]["rule"] == "choice"
    for odd in ('W/"v2"', '"v²"', '"v2", "v3"', "v2"):  # weak, not ASCII, a list, bare
        problem(client.patch(f"/customers/{code}", json={"size": "small"},
                             headers={"If-Match": odd.encode("latin-1")}), 412,
                "precondition-failed")
    retired = client.post(f"/customers/{code}/retire", json={"reason": "closed"},
                          headers={"If-Match": '"v2"'})
    assert retired.status_code == 200 and retired.json()["status"] == "retired"


def test_the_api_shows_what_the_actor_may_see(reg: Register, client: TestClient) -> None:
    person = client.post("/customers", json=PERSON).json()
    assert person["identifiers"][0]["value"] == "110***********002X"
    assert person["contacts"] == [{"kind": "phone", "value": "138****8000"}]
    south = client.post("/customers", json=HUASHENG).json()["code"]
    reg.add_user("ann")
    reg.grant("ann", "sales", "region:44")
    ann = {"Authorization": f"Bearer {reg.create_token('ann', 'ann').token}"}
    listed = client.get("/customers", headers=ann).json()
    assert [c["code"] for c in listed["data"]] == [south]  # region 44 only
    problem(client.get(f"/customers/{person['code']}", headers=ann), 403, "forbidden")
    problem(client.post(f"/customers/{south}/retire", json={"reason": "x"},
                        headers={**ann, "If-Match": "*"}), 403, "forbidden")
    # Registering a customer already known in Beijing: refused as a duplicate, but
    # the candidate outside ann's region shows its code and owner, not its name.
    north = client.post("/customers", json={**HUASHENG, "legal_name": "北京星河五金贸易有限公司",
                                            "region": "110105", "identifiers": []}).json()
    dup = problem(client.post("/customers", headers=ann, json={
        **HUASHENG, "legal_name": "北京星河五金贸易有限公司", "region": "440305",
        "identifiers": []}), 409, "duplicate")
    [candidate] = [c for c in dup["candidates"] if c["code"] == north["code"]]
    assert candidate["legal_name"] is None and candidate["owner"] == "tester"
    assert "星河" not in dup["detail"] and "not in your scope" in dup["detail"]
    checked = client.post("/duplicates/check", headers=ann, json={
        **HUASHENG, "identifiers": []}).json()["candidates"]
    assert [c["legal_name"] for c in checked] == [HUASHENG["legal_name"]]  # in scope


def test_a_change_that_needs_approval_is_accepted_as_a_request(
        reg: Register, client: TestClient) -> None:
    code = client.post("/customers", json=HUASHENG).json()["code"]
    reg.set_approval_rule("customer.retire")
    held = client.post(f"/customers/{code}/retire", json={"reason": "closed down"},
                       headers={"If-Match": '"v1"'})
    assert held.status_code == 202 and held.json()["request_id"] > 0
    assert client.get(f"/customers/{code}").json()["status"] == "active"


def test_the_openapi_document_describes_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/customers", "/customers/{code}", "/customers/{code}/retire", "/search",
            "/duplicates/check"} <= set(spec["paths"])
    assert "CustomerCreate" in spec["components"]["schemas"]


def test_a_retried_create_registers_once(client: TestClient) -> None:
    key = {"Idempotency-Key": "3f9c2a7e-order-17"}
    first = client.post("/customers", json=HUASHENG, headers=key)
    again = client.post("/customers", json=HUASHENG, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["code"] == first.json()["code"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert client.get("/customers").json()["count"] == 1
    problem(client.post("/customers", json=PERSON, headers=key), 422, "validation")


def test_parallel_changes_with_one_etag_one_wins(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    code = client.post("/customers", json=HUASHENG).json()["code"]
    sizes = ["large", "medium", "small", "micro"] * 2

    def change(size: str) -> Any:
        return client.patch(f"/customers/{code}", json={"size": size},
                            headers={"If-Match": '"v1"'})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(change, sizes))
    won = [r for r in results if r.status_code == 200]
    assert len(won) == 1, [r.status_code for r in results]
    assert all(r.status_code == 412 for r in results if r not in won)
    final = client.get(f"/customers/{code}").json()
    assert final["version"] == 2 and final["size"] == won[0].json()["size"]


def test_names_codes_identifiers_and_key_mappings(client: TestClient) -> None:
    code = client.post("/customers", json=HUASHENG).json()["code"]
    renamed = client.post(f"/customers/{code}/rename", headers={"If-Match": '"v1"'},
                          json={"legal_name": "深圳市华盛智能科技有限公司", "reason": "registry"})
    assert renamed.status_code == 200 and renamed.headers["ETag"] == '"v2"', renamed.text
    problem(client.post(f"/customers/{code}/rename", headers={"If-Match": '"v1"'},
                        json={"legal_name": "深圳市华盛电子科技有限公司", "reason": "x"}),
            412, "stale-version")
    names = client.get(f"/customers/{code}/names").json()
    assert {n["kind"] for n in names["data"]} == {"legal", "former"}
    added = client.post(f"/customers/{code}/names", json={"kind": "short", "text": "华盛智能"})
    assert added.status_code == 201 and added.json()["kind"] == "short"
    moved = client.post(f"/customers/{code}/change-code", headers={"If-Match": '"v3"'},
                        json={"reason": "new scheme", "rule": "std"})
    assert moved.status_code == 200, moved.text
    new_code = moved.json()["code"]
    old = client.get(f"/codes/{code}").json()
    assert old["requested_code_status"] == "superseded" and old["current_code"] == new_code
    assert client.post("/systems", json={"name": "erp"}).status_code == 201
    mapped = client.post(f"/customers/{new_code}/key-mappings",
                         json={"system": "erp", "external_id": "C-1001",
                               "external_name": "华盛智能"})
    assert mapped.status_code == 201 and mapped.json()["count"] == 1
    lookup = client.get("/systems/erp/customers/C-1001")
    found = lookup.json()
    assert found["customer"]["code"] == new_code and found["external_id"] == "C-1001"
    assert lookup.headers["ETag"] == f'"v{found["customer"]["version"]}"'
    problem(client.get("/systems/erp/customers/C-9"), 404, "not-found")
    person = client.post("/customers", json={**PERSON, "identifiers": []}).json()["code"]
    with_id = client.post(f"/customers/{person}/identifiers",
                          json={"scheme": "cn.ric", "value": "11010519491231002X"})
    assert with_id.json()["identifiers"] == [{"scheme": "cn.ric",
                                              "value": "110***********002X"}]
    problem(client.delete(f"/customers/{person}/identifiers/cn.ric",
                          params={"reason": "given in error"}), 428, "precondition-required")
    removed = client.delete(f"/customers/{person}/identifiers/cn.ric",
                            params={"reason": "given in error"}, headers={"If-Match": '"v2"'})
    assert removed.status_code == 200 and removed.json()["identifiers"] == []


def test_requests_and_the_audit_trail(reg: Register, client: TestClient) -> None:
    code = client.post("/customers", json=HUASHENG).json()["code"]
    reg.set_approval_rule("customer.retire")
    reg.add_user("mia")
    reg.grant("mia", "data_steward")
    mia = {"Authorization": f"Bearer {reg.create_token('mia', 'mia').token}"}
    held = client.post(f"/customers/{code}/retire", json={"reason": "closed"},
                       headers={**mia, "If-Match": "*"})
    assert held.status_code == 202
    request_id = held.json()["request_id"]
    mine = client.get("/requests", params={"mine": True}, headers=mia).json()
    assert [r["id"] for r in mine["data"]] == [request_id]
    own = problem(client.post(f"/requests/{request_id}/approve", json={}, headers=mia), 409,
                  "conflict")
    assert "another user must approve it" in own["detail"]
    approved = client.post(f"/requests/{request_id}/approve", json={"reason": "checked"})
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    assert client.get(f"/customers/{code}").json()["status"] == "retired"
    log = client.get("/audit", params={"code": code}).json()
    assert "customer.retire" in [e["action"] for e in log["data"]]
    verified = client.get("/audit/verify").json()
    assert verified["intact"] is True and verified["entries"] >= 3
    reg.add_user("sam")
    reg.grant("sam", "sales")
    sam = {"Authorization": f"Bearer {reg.create_token('sam', 'sam').token}"}
    problem(client.get("/audit", headers=sam), 403, "forbidden")  # sales: no read_audit


def test_oversized_requests_and_nul_characters_are_refused(client: TestClient) -> None:
    big = {**HUASHENG, "address": "深" * 400_000}
    problem(client.post("/customers", json=big), 413, "too-large")
    problem(client.post("/customers", json={**HUASHENG, "owner": "a\u0000b"}), 422,
            "validation")
    problem(client.get("/search", params={"q": "华盛\u0000"}), 422, "validation")
    assert client.get("/search", params={"q": "'"}).json() == {"data": [], "count": 0}
    unicode = client.post("/customers", json={**HUASHENG, "legal_name": "𠀀𪚥公司 ‮x",
                                              "identifiers": []})
    assert unicode.status_code in (201, 409, 422), unicode.text  # never a 500


def test_a_register_is_lent_to_one_call_at_a_time(reg: Register) -> None:
    """A register's caches serve one call at a time: calls at once get registers of
    their own, and a call after them reuses one, whatever thread it runs in."""
    from concurrent.futures import ThreadPoolExecutor

    from custmdm.api.deps import Registers

    registers = Registers(reg.store)
    with registers.acting_as("tester") as first, registers.acting_as("tester") as second:
        assert first is not second and first.ctx.actor.name == "tester"
    with ThreadPoolExecutor(1) as pool:
        again = pool.submit(lambda: registers.acting_as("tester").__enter__()).result()
    assert again in (first, second)


def test_stopping_the_server_voids_the_codes_it_reserved(
        reg: Register, db_url: str) -> None:
    """On PostgreSQL, gap-allowed codes are reserved ahead in growing blocks; when the
    server stops, those it did not use are voided, so no code is left reserved."""
    from sqlalchemy import func, select

    from custmdm.store.tables import customer_code

    token = reg.create_token("tester", "tests").token
    with TestClient(create_app(db_url), raise_server_exceptions=False) as http:
        for name in ("北京星河五金贸易有限公司", "上海恒通物流股份有限公司",
                     "广州市南方乳业集团", "成都天府软件园开发有限公司"):
            made = http.post("/customers", headers={"Authorization": f"Bearer {token}"},
                             json={**HUASHENG, "legal_name": name, "identifiers": []})
            assert made.status_code == 201, made.text
    with reg.store.read() as conn:
        statuses = dict(conn.execute(select(customer_code.c.status, func.count())
                                     .group_by(customer_code.c.status)).all())
    assert "reserved" not in statuses and statuses["active"] == 4
    if db_url.startswith("postgresql"):  # blocks of 1, 2, 4: three codes left over
        assert statuses["void"] == 3
