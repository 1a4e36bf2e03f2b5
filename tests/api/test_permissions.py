"""Per-route permissions, scopes and masking of the REST API, on both databases: a user
without grants gets 403 wherever a permission is needed; read_only in region:44 reads
only customers there; register-wide work needs scope ``all``; contacts and a person's
number are masked for everyone (unmasking is a separate, audited route); every route
that takes a body answers a bad one with 422 naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custmdm.api.schemas import CustomerCreate
from custmdm.errors import ApprovalRequired
from custmdm.register import Register
from tests.api.support import problem

Body = dict[str, Any]
SOUTH: Body = {"kind": "enterprise", "legal_name": "深圳市华盛电子科技有限公司", "region": "440305",
         "identifiers": [{"scheme": "cn.uscc", "value": "914403001922038216"}],
         "phones": ["0755-86013388"], "emails": ["info@huasheng.cn"]}
SOUTH_PERSON: Body = {"kind": "individual", "legal_name": "李娜", "region": "440305",
                "identifiers": [{"scheme": "cn.ric", "value": "440305198506121237"}],
                "phones": ["139 2345 6789"], "emails": ["lina.li@example.com"]}
NORTH: Body = {"kind": "enterprise", "legal_name": "北京星河软件有限公司", "region": "110105"}
NORTH_PERSON: Body = {"kind": "individual", "legal_name": "张伟", "region": "110105",
                "identifiers": [{"scheme": "cn.ric", "value": "11010519491231002X"}]}
NEW = {"kind": "enterprise", "legal_name": "广州市明远贸易有限公司", "region": "440104"}
#: SOUTH_PERSON as shown (security.crypto.mask), and what must never be shown of it.
SHOWN = {"identifiers": [{"scheme": "cn.ric", "value": "440***********1237"}],
         "contacts": [{"kind": "phone", "value": "139****6789"},
                      {"kind": "email", "value": "l***@example.com"}]}
SECRETS = ("440305198506121237", "13923456789", "lina.li@example.com")


def bearer(reg: Register, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {reg.create_token(user, 'tests').token}"}


@dataclass
class World:
    """Customers in regions 44 and 11, a merge, a pending request, users and tokens."""

    ids: dict[str, str]  # south, south_person, north, merge, request, spare, admin_token
    nobody: dict[str, str]  # headers of a user with no grant at all
    viewer: dict[str, str]  # read_only in region:44
    seller: dict[str, str]  # sales (with see_sensitive) in all
    steward: dict[str, str]  # data_steward in region:44

    def fill(self, value: Any) -> Any:
        """``value`` (a path, a body) with each ``<name>`` replaced by ``ids[name]``."""
        if isinstance(value, str):
            for name, found in self.ids.items():
                value = value.replace(f"<{name}>", found)
            return value
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return [self.fill(v) for v in value] if isinstance(value, list) else value


@pytest.fixture
def world(reg: Register, client: TestClient) -> World:
    reg.add_rule("std", "C{kind}{seq:6}")

    def made(body: dict[str, Any]) -> str:
        return reg.register(CustomerCreate.model_validate(body).draft()).code

    ids = {name: made(body) for name, body in (
        ("south", SOUTH), ("south_person", SOUTH_PERSON), ("north", NORTH),
        ("north_person", NORTH_PERSON))}
    one, two = (made({"kind": "enterprise", "legal_name": name, "region": "310101"})
                for name in ("上海甲乙贸易有限公司", "上海丙丁物流有限公司"))
    ids["merge"] = str(reg.merge(one, [two], reason="one company").merge_id)
    reg.add_system("erp")
    reg.add_xref(ids["south"], "erp", "S-1", "华盛")
    reg.add_xref(ids["north"], "erp", "N-1", "星河")
    reg.add_name(ids["south"], "short", "华盛电子")
    reg.set_approval_rule("customer.retire")
    with pytest.raises(ApprovalRequired) as held:
        reg.retire(ids["north"], "closed down")
    ids["request"] = str(held.value.request_id)
    for user, role, scope in (("viewer", "read_only", "region:44"), ("seller", "sales", "all"),
                              ("steward", "data_steward", "region:44"), ("nobody", "", "")):
        reg.add_user(user)
        if role:
            reg.grant(user, role, scope)
    nobody = bearer(reg, "nobody")
    ids["spare"] = str(reg.create_token("nobody", "spare").record.id)
    ids["admin_token"] = str(reg.tokens("tester")[-1].id)  # the client's
    return World(ids, nobody, bearer(reg, "viewer"), bearer(reg, "seller"),
                 bearer(reg, "steward"))


def label(rows: list[Any]) -> list[str]:
    return [f"{row[0]} {row[1]}" for row in rows]


# -- no grant at all ------------------------------------------------------------------

#: (method, path, request keywords): every route that needs some grant. Everything
#: named exists, so a 404 cannot stand in for the 403.
NEEDS_A_GRANT: list[tuple[str, str, Body]] = [
    ("POST", "/customers", {"json": NEW}),
    ("GET", "/customers", {}),
    ("GET", "/customers/<south>", {}),
    ("HEAD", "/customers/<south>", {}),
    ("PATCH", "/customers/<south>", {"json": {"size": "large"}}),
    ("POST", "/customers/<south>/retire", {"json": {"reason": "closed"}}),
    ("POST", "/customers/<south>/rename", {"json": {"legal_name": "深圳市华盛智能科技有限公司",
                                                    "reason": "registry"}}),
    ("POST", "/customers/<south>/change-code", {"json": {"reason": "x", "rule": "std"}}),
    ("GET", "/customers/<south>/names", {}),
    ("POST", "/customers/<south>/names", {"json": {"kind": "alias", "text": "华盛"}}),
    ("POST", "/customers/<south>/identifiers", {"json": {"scheme": "vat.cn",
                                                          "value": "91110000802100433B"}}),
    ("DELETE", "/customers/<south>/identifiers/cn.uscc", {"params": {"reason": "error"}}),
    ("GET", "/customers/<south>/key-mappings", {}),
    ("POST", "/customers/<south>/key-mappings", {"json": {"system": "erp", "external_id": "X"}}),
    ("GET", "/search", {"params": {"q": "华盛"}}),
    ("POST", "/duplicates/check", {"json": SOUTH}),
    ("GET", "/codes/<south>", {}),
    ("GET", "/systems", {}),
    ("POST", "/systems", {"json": {"name": "crm"}}),
    ("GET", "/systems/erp/customers/S-1", {}),
    ("GET", "/rules", {}),
    ("PUT", "/rules/other", {"json": {"pattern": "X{seq:6}", "kind": "individual"}}),
    ("GET", "/rules/std/preview", {"params": {"kind": "enterprise"}}),
    ("POST", "/merges", {"json": {"survivor": "<south>", "losers": ["<north>"],
                                  "reason": "same"}}),
    ("POST", "/merges/<merge>/undo", {"json": {"reason": "not the same"}}),
    ("GET", "/review-queue", {}),
    ("GET", "/naming-rules", {}),
    ("POST", "/naming-rules/x", {"json": {}}),
    ("DELETE", "/naming-rules/x", {}),
    ("GET", "/match-rules", {}),
    ("PUT", "/match-rules/enterprise/link", {"json": {"threshold": 0.97}}),
    ("GET", "/survivorship-rules", {}),
    ("PUT", "/survivorship-rules/industry", {"json": {"rule": "most_recent"}}),
    ("GET", "/approval-rules", {}),
    ("PUT", "/approval-rules/customer.merge", {"json": {"required": True}}),
    ("GET", "/overview", {}),
    ("GET", "/checks/codes", {}),
    ("POST", "/dedup-runs", {"json": {}}),
    ("POST", "/customers/<south_person>/unmask", {"json": {"reason": "x"}}),
    ("POST", "/customers/<north_person>/erase", {"json": {"reason": "x"}}),
    ("GET", "/customers/<south>/legal-name", {"params": {"on": "2026-01-01"}}),
    ("POST", "/systems/erp/customers/S-1/move", {"json": {"to": "<north>", "reason": "x"}}),
    ("PUT", "/users/viewer/password", {"json": {"password": "long enough pass"}}),
    ("POST", "/review-queue/1", {"json": {"decision": "defer"}}),
    ("GET", "/requests", {}),
    ("GET", "/requests/<request>", {}),
    ("POST", "/requests/<request>/approve", {"json": {}}),
    ("POST", "/requests/<request>/reject", {"json": {"reason": "no"}}),
    ("GET", "/audit", {}),
    ("GET", "/audit/verify", {}),
    ("GET", "/users", {}),
    ("POST", "/users", {"json": {"name": "eve"}}),
    ("POST", "/users/viewer/disable", {"json": {"reason": "left"}}),
    ("POST", "/users/viewer/enable", {}),
    ("GET", "/roles", {}),
    ("POST", "/roles", {"json": {"name": "reader", "permissions": ["read"]}}),
    ("DELETE", "/roles/reader", {}),
    ("GET", "/grants", {}),  # everyone's; one's own: ANY_USER
    ("POST", "/grants", {"json": {"user": "nobody", "role": "administrator"}}),
    ("DELETE", "/grants", {"params": {"user": "viewer", "role": "read_only",
                                      "scope": "region:44"}}),
    ("GET", "/tokens", {}),  # everyone's; one's own: ANY_USER
    ("POST", "/tokens", {"json": {"user": "tester", "name": "stolen"}}),
    ("POST", "/tokens", {"json": {"user": "nobody", "name": "mine"}}),  # own: needs a grant
    ("DELETE", "/tokens/<admin_token>", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), NEEDS_A_GRANT, ids=label(NEEDS_A_GRANT))
def test_a_user_without_grants_is_refused(reg: Register, client: TestClient, world: World,
                                          method: str, path: str, kwargs: Body) -> None:
    url, request = world.fill(path), world.fill(kwargs)
    entries = reg.verify_audit().entries
    anonymous = client.request(method, url, headers={"Authorization": "", "If-Match": "*"},
                               **request)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    refused = client.request(method, url, headers={**world.nobody, "If-Match": "*"}, **request)
    if method == "HEAD":  # no body, but the same status and type
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    else:
        assert "no grants" in problem(refused, 403, "forbidden")["detail"]
    assert reg.verify_audit().entries == entries  # nothing was done


#: Routes any authenticated user may call, grants or not: (method, path, status).
ANY_USER = [("GET", "/reference/regions", 200), ("GET", "/reference/regions/440300", 200),
            ("GET", "/reference/industries", 200), ("GET", "/reference/industries/C39", 200),
            ("GET", "/tokens?user=nobody", 200), ("GET", "/grants?user=nobody", 200),
            ("DELETE", "/tokens/<spare>", 204)]  # one's own tokens, grants, token


@pytest.mark.parametrize(("method", "path", "status"), ANY_USER, ids=label(ANY_USER))
def test_routes_any_user_may_call(client: TestClient, world: World, method: str, path: str,
                                  status: int) -> None:
    url = world.fill(path)
    assert client.request(method, url, headers={"Authorization": ""}).status_code == 401
    answer = client.request(method, url, headers=world.nobody)
    assert answer.status_code == status, answer.text


def test_own_tokens_and_grants_are_ones_own(client: TestClient, world: World) -> None:
    tokens = client.get("/tokens", params={"user": "nobody"}, headers=world.nobody).json()
    assert {t["user"] for t in tokens["data"]} == {"nobody"} and tokens["count"] == 2
    assert client.get("/grants", params={"user": "nobody"},
                      headers=world.nobody).json() == {"data": [], "count": 0}
    problem(client.get("/tokens", params={"user": "tester"}, headers=world.nobody), 403,
            "forbidden")
    assert client.delete(world.fill("/tokens/<spare>"), headers=world.nobody).status_code == 204
    assert [t["revoked_at"] is not None for t in client.get(
        "/tokens", params={"user": "nobody"}).json()["data"]] == [True, False]  # newest first


def test_only_the_requester_withdraws_a_request(client: TestClient, world: World) -> None:
    """Withdrawing needs no permission, only to be the requester: anyone else gets 403,
    which does not say who asked."""
    url = world.fill("/requests/<request>/withdraw")
    body = problem(client.post(url, headers=world.nobody), 403, "forbidden")
    assert "only the user who asked" in body["detail"] and "tester" not in body["detail"]
    mine = client.post(url)  # tester asked
    assert mine.status_code == 200 and mine.json()["status"] == "withdrawn", mine.text


def test_requests_are_shown_to_approvers_in_scope(client: TestClient, world: World) -> None:
    north = int(world.ids["request"])  # tester's retirement of a customer in region 11
    assert [r["id"] for r in client.get("/requests").json()["data"]] == [north]
    for who in (world.steward, world.viewer):
        assert client.get("/requests", headers=who).json() == {"data": [], "count": 0}
        problem(client.get(f"/requests/{north}", headers=who), 403, "forbidden")
    for action, body in (("approve", {}), ("reject", {"reason": "no"})):
        problem(client.post(f"/requests/{north}/{action}", json=body, headers=world.steward),
                403, "forbidden")
    south = client.post(world.fill("/customers/<south>/retire"), json={"reason": "closed"},
                        headers={"If-Match": "*"}).json()["request_id"]
    assert [r["id"] for r in client.get("/requests", headers=world.steward).json()["data"]
            ] == [south]  # about a customer in region 44: the steward may approve it
    problem(client.post(f"/requests/{south}/approve", json={}, headers=world.viewer), 403,
            "forbidden")
    approved = client.post(f"/requests/{south}/approve", json={}, headers=world.steward)
    assert approved.status_code == 200 and approved.json()["status"] == "applied"


# -- scopes ---------------------------------------------------------------------------

#: (method, a path in region 44, the same in region 11)
READS = [("GET", "/customers/<south>", "/customers/<north>"),
         ("HEAD", "/customers/<south>", "/customers/<north>"),
         ("GET", "/codes/<south>", "/codes/<north>"),
         ("GET", "/customers/<south>/names", "/customers/<north>/names"),
         ("GET", "/customers/<south>/key-mappings", "/customers/<north>/key-mappings"),
         ("GET", "/systems/erp/customers/S-1", "/systems/erp/customers/N-1")]


@pytest.mark.parametrize(("method", "south", "north"), READS, ids=label(READS))
def test_a_regional_viewer_reads_only_its_region(client: TestClient, world: World,
                                                 method: str, south: str, north: str) -> None:
    inside = client.request(method, world.fill(south), headers=world.viewer)
    assert inside.status_code == 200, inside.text
    assert client.request(method, world.fill(north)).status_code == 200  # the admin reads it
    refused = client.request(method, world.fill(north), headers=world.viewer)
    if method == "HEAD":
        assert refused.status_code == 403 and inside.headers["ETag"] == '"v2"'
        return
    body = problem(refused, 403, "forbidden")
    assert world.ids["north"] in body["detail"] and "read_only in region:44" in body["detail"]
    assert NORTH["legal_name"] not in refused.text  # nothing of the customer itself
    assert world.ids["south"] in inside.text or SOUTH["legal_name"] in inside.text


def test_lists_and_search_show_only_customers_in_scope(client: TestClient, world: World
                                                       ) -> None:
    ids = world.ids
    assert {ids["south"], ids["south_person"], ids["north"], ids["north_person"]} <= {
        c["code"] for c in client.get("/customers").json()["data"]}
    listed = client.get("/customers", headers=world.viewer).json()
    assert [c["code"] for c in listed["data"]] == [ids["south"], ids["south_person"]]
    assert listed["count"] == 2
    assert client.get("/customers", params={"region": "11"},
                      headers=world.viewer).json() == {"data": [], "count": 0}
    # A code prefix every enterprise shares: the admin finds both, the viewer one.
    assert {h["code"] for h in client.get("/search", params={"q": "CE"}).json()["data"]
            } >= {ids["south"], ids["north"]}
    assert [h["code"] for h in client.get("/search", params={"q": "CE"},
                                          headers=world.viewer).json()["data"]] == [ids["south"]]
    for query in (NORTH["legal_name"], "N-1", "11010519491231002X", ids["north"]):
        assert client.get("/search", params={"q": query}).json()["count"] == 1, query
        assert client.get("/search", params={"q": query}, headers=world.viewer
                          ).json() == {"data": [], "count": 0}, query
    # The duplicate check is for those who may register such a customer; it looks at
    # every customer, but of those outside one's scopes shows only code, owner, score.
    problem(client.post("/duplicates/check", json={**NORTH, "region": "440305"},
                        headers=world.viewer), 403, "forbidden")
    found = client.post("/duplicates/check", json={**NORTH, "region": "440305"},
                        headers=world.steward).json()["candidates"]
    [north] = [c for c in found if c["code"] == ids["north"]]
    assert north["legal_name"] is None and north["why"] == [] and north["score"] > 0.5


#: The changes of NEEDS_A_GRANT, all to customers in region 44 (NEW is in 440104).
CHANGES = [r for r in NEEDS_A_GRANT if r[0] not in ("GET", "HEAD")
           and r[1].startswith("/customers")]


@pytest.mark.parametrize(("method", "path", "kwargs"), CHANGES, ids=label(CHANGES))
def test_a_viewer_changes_nothing_even_in_its_region(client: TestClient, world: World,
                                                     method: str, path: str, kwargs: Body
                                                     ) -> None:
    refused = client.request(method, world.fill(path),
                             headers={**world.viewer, "If-Match": "*"}, **world.fill(kwargs))
    assert "read_only in region:44" in problem(refused, 403, "forbidden")["detail"]
    south = client.get(world.fill("/customers/<south>")).json()
    assert south["version"] == 2 and south["legal_name"] == SOUTH["legal_name"]


WIDE = {("GET", "/audit"), ("GET", "/audit/verify"), ("PUT", "/rules/other"),
        ("POST", "/systems"), ("GET", "/review-queue"), ("POST", "/review-queue/1")}
REGISTER_WIDE = [r for r in NEEDS_A_GRANT if r[:2] in WIDE]


@pytest.mark.parametrize(("method", "path", "kwargs"), REGISTER_WIDE, ids=label(REGISTER_WIDE))
def test_register_wide_work_needs_scope_all(client: TestClient, world: World, method: str,
                                            path: str, kwargs: Body) -> None:
    """A data steward has these permissions, but in region:44 only: not enough for work
    on the whole register; the same grant retires customers there."""
    body = problem(client.request(method, path, headers=world.steward, **kwargs), 403,
                   "forbidden")
    assert "on the whole register (a grant with scope all)" in body["detail"]
    retired = client.post(world.fill("/customers/<south>/retire"), json={"reason": "x"},
                          headers={**world.steward, "If-Match": "*"})
    assert retired.status_code == 202, retired.text  # allowed; held for approval


# -- masking --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "seller", "viewer"])
def test_personal_data_is_masked_for_everyone(client: TestClient, world: World, who: str
                                              ) -> None:
    """Administrator and sales hold see_sensitive, yet the API shows contacts and a
    person's number masked, as README says: only an audited unmasking shows them."""
    headers = {"admin": {}, "seller": world.seller, "viewer": world.viewer}[who]
    person = world.ids["south_person"]
    shown = [client.get(f"/customers/{person}", headers=headers),
             client.get(f"/codes/{person}", headers=headers)]
    listed = client.get("/customers", params={"kind": "individual"}, headers=headers)
    for response in (*shown, listed):
        assert response.status_code == 200, response.text
        assert not any(secret in response.text for secret in SECRETS)
    for body in (*(r.json() for r in shown),
                 next(c for c in listed.json()["data"] if c["code"] == person)):
        assert {k: body[k] for k in SHOWN} == SHOWN and not body.get("unmasked")
    company = client.get(world.fill("/customers/<south>"), headers=headers).json()
    assert company["identifiers"] == SOUTH["identifiers"]  # a company's USCC is not masked
    assert company["contacts"] == [{"kind": "phone", "value": "075****3388"},
                                   {"kind": "email", "value": "i***@huasheng.cn"}]


@pytest.mark.parametrize(("query", "field", "matched"), [
    ("440305198506121237", "identifier cn.ric", "440***********1237"),
    ("139 2345 6789", "phone", "139****6789"),
    ("lina.li@example.com", "e-mail", "l***@example.com")])
def test_search_by_personal_data_shows_it_masked(client: TestClient, world: World,
                                                 query: str, field: str, matched: str) -> None:
    for headers in ({}, world.seller, world.viewer):
        hits = client.get("/search", params={"q": query}, headers=headers)
        assert hits.status_code == 200, hits.text
        assert [h["code"] for h in hits.json()["data"]] == [world.ids["south_person"]]
        assert hits.json()["data"][0]["why"] == {"field": field, "matched": matched,
                                                 "match": "exact", "score": 100.0}
        assert not any(secret in hits.text for secret in SECRETS)


def test_refusals_do_not_reveal_a_persons_number(client: TestClient, world: World) -> None:
    again = client.post("/customers", headers=world.seller, json={
        **SOUTH_PERSON, "legal_name": "李丽", "phones": [], "emails": []})
    duplicate = problem(again, 409, "duplicate")
    assert duplicate["candidates"][0]["code"] == world.ids["south_person"]
    assert "same ID number" in duplicate["candidates"][0]["why"]
    assert SECRETS[0] not in again.text
    added = client.post(world.fill("/customers/<north_person>/identifiers"),
                        json={"scheme": "cn.ric", "value": SECRETS[0]})
    assert SECRETS[0] not in problem(added, 409, "conflict")["detail"]


def test_a_refused_removal_does_not_reveal_an_individuals_identifier(
        reg: Register, client: TestClient) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_user("erp")
    reg.grant("erp", "api_client")  # update, but not see_sensitive
    erp = {**bearer(reg, "erp"), "If-Match": "*"}
    made = client.post("/customers", headers=erp, json={
        "kind": "individual", "legal_name": "Hans Müller", "region": "DE",
        "identifiers": [{"scheme": "vat.de", "value": "DE136695976"}]}).json()
    assert made["identifiers"] == [{"scheme": "vat.de", "value": "136**5976"}]  # masked
    refused = client.delete(f"/customers/{made['code']}/identifiers/vat.fr",
                            params={"reason": "given in error"}, headers=erp)
    assert "136695976" not in problem(refused, 404, "not-found")["detail"]


# -- validation -----------------------------------------------------------------------

#: (method, path, body, the field the 422 names): each route that takes a body.
BAD_BODIES: list[tuple[str, str, Body, str]] = [
    ("POST", "/customers", {"kind": "enterprise"}, "legal_name"),
    ("PATCH", "/customers/<south>", {"size": "x" * 17}, "size"),
    ("POST", "/customers/<south>/retire", {}, "reason"),
    ("POST", "/customers/<south>/rename", {"reason": "x"}, "legal_name"),
    ("POST", "/customers/<south>/change-code", {"reason": ""}, "reason"),
    ("POST", "/customers/<south>/names", {"kind": "short"}, "text"),
    ("POST", "/customers/<south>/identifiers", {"scheme": "cn.ric"}, "value"),
    ("POST", "/customers/<south>/key-mappings", {"system": "erp"}, "external_id"),
    ("POST", "/duplicates/check", {"legal_name": "x"}, "kind"),
    ("POST", "/systems", {"name": "x" * 65}, "name"),
    ("PUT", "/rules/std", {"kind": "enterprise"}, "pattern"),
    ("POST", "/merges", {"survivor": "<south>", "losers": [], "reason": "x"}, "losers"),
    ("POST", "/merges/<merge>/undo", {}, "reason"),
    ("POST", "/review-queue/1", {"decision": "maybe"}, "decision"),
    ("POST", "/requests/<request>/approve", {"why": "checked"}, "why"),
    ("POST", "/requests/<request>/reject", {}, "reason"),
    ("POST", "/users", {"name": ""}, "name"),
    ("POST", "/users/viewer/disable", {"reason": ""}, "reason"),
    ("POST", "/roles", {"name": "reader", "permissions": []}, "permissions"),
    ("POST", "/grants", {"user": "viewer"}, "role"),
    ("POST", "/tokens", {"user": "viewer", "name": "t", "days": 0}, "days"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_BODIES,
                         ids=[f"{m} {p} {f}" for m, p, _, f in BAD_BODIES])
def test_a_bad_body_is_refused_naming_the_field(reg: Register, client: TestClient, world: World,
                                                method: str, path: str, body: Body,
                                                field: str) -> None:
    entries = reg.verify_audit().entries
    found = problem(client.request(method, world.fill(path), json=world.fill(body),
                                   headers={"If-Match": "*"}), 422, "validation")
    assert field in [e["field"] for e in found["errors"]], found["errors"]
    assert found["detail"].startswith(f"{found['errors'][0]['field']}: ")
    assert reg.verify_audit().entries == entries  # refused before anything was done
