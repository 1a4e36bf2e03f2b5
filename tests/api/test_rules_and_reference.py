"""The API's coding rules, merges, review queue and reference data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from custmdm.register import Register


def test_rules_are_added_versioned_and_previewed(client: TestClient) -> None:
    added = client.put("/rules/std", json={"pattern": "C{kind}{seq:6}"})
    assert added.status_code == 200, added.text
    assert [(r["name"], r["version"]) for r in added.json()["data"]] == [("std", 1)]
    preview = client.get("/rules/std/preview", params={"kind": "enterprise", "count": 2})
    assert preview.json() == {"codes": ["CE000001", "CE000002"]}
    again = client.put("/rules/std", json={"pattern": "C{kind}{seq:7}"})
    assert again.json()["data"][0]["version"] == 2
    bad = client.put("/rules/odd", json={"pattern": "C{nonsense}"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_merge_and_undo(reg: Register, client: TestClient) -> None:
    client.put("/rules/std", json={"pattern": "C{kind}{seq:6}"})
    for rule in reg.match_rules():
        reg.set_match_rule(rule.kind, rule.action, None)
    one = client.post("/customers", json={"kind": "enterprise", "legal_name":
                                          "深圳市华盛电子科技有限公司", "region": "440305"})
    two = client.post("/customers", json={"kind": "enterprise", "legal_name":
                                          "深圳华盛电子科技有限公司", "region": "440305"})
    survivor, loser = one.json()["code"], two.json()["code"]
    client.patch(f"/customers/{loser}", json={"grade": "vip"}, headers={"If-Match": '"v1"'})
    stale = client.post("/merges", json={"survivor": survivor, "losers": [loser],
                                         "reason": "the same company",
                                         "versions": {survivor: 1, loser: 1}})
    assert stale.status_code == 412 and loser in stale.json()["detail"]
    assert client.get(f"/customers/{loser}").json()["status"] == "active"
    merged = client.post("/merges", json={"survivor": survivor, "losers": [loser],
                                          "reason": "the same company",
                                          "versions": {survivor: 1, loser: 2}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged"] == [loser]
    assert merged.headers["ETag"] == f'"v{merged.json()["survivor"]["version"]}"'
    assert client.get(f"/customers/{loser}").json()["current_code"] == survivor
    undone = client.post(f"/merges/{merged.json()['merge_id']}/undo",
                         json={"reason": "not the same after all"})
    assert undone.status_code == 200, undone.text
    assert client.get(f"/customers/{loser}").json()["status"] == "active"
    assert client.get("/review-queue").json() == {"data": [], "count": 0}


def test_reference_data(client: TestClient) -> None:
    provinces = client.get("/reference/regions").json()
    assert {"code": "440000", "name": "广东省"}.items() <= next(
        r for r in provinces["data"] if r["code"] == "440000").items()
    shenzhen = client.get("/reference/regions/440300").json()["data"]
    assert shenzhen[0]["name"] == "深圳市" and any(r["code"] == "440305" for r in shenzhen)
    unknown = client.get("/reference/regions/440399")
    assert unknown.status_code == 404 and "did you mean 4403" in unknown.json()["detail"]
    assert client.get("/reference/industries/Q99").status_code == 404
    sections = client.get("/reference/industries").json()["data"]
    assert any(s["code"] == "C" for s in sections)
    assert client.get("/reference/industries/C39").json()["data"][0]["code"] == "39"


def test_a_rule_is_retired_with_a_reason(client: TestClient) -> None:
    client.put("/rules/std", json={"pattern": "C{kind}{seq:6}"})
    client.put("/rules/gov", json={"pattern": "G{seq:6}", "kind": "government"})
    assert client.delete("/rules/gov").status_code == 422  # no reason
    left = client.delete("/rules/gov", params={"reason": "merged into std"})
    assert left.status_code == 200 and [r["name"] for r in left.json()["data"]] == ["std"]
    assert client.delete("/rules/gov", params={"reason": "again"}).status_code == 404
    assert client.put("/rules/gov", json={"pattern": "H{seq:6}", "kind": "government"}
                      ).status_code == 409  # the name stays with its codes
