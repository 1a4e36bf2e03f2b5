"""Users, roles, grants and tokens over the API: an administrator's work, and a token
that stops working once revoked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_users_roles_grants_and_tokens(client: TestClient,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    made = client.post("/users", json={"name": "erp", "kind": "system"})
    assert made.status_code == 201 and made.json()["kind"] == "system"
    role = client.post("/roles", json={"name": "reader", "permissions": ["read"]})
    assert role.status_code == 201 and role.json()["builtin"] is False
    granted = client.post("/grants", json={"user": "erp", "role": "reader", "scope": "all"})
    assert granted.status_code == 201, granted.text
    assert [g["role"] for g in client.get("/grants", params={"user": "erp"}).json()["data"]
            ] == ["reader"]
    issued = client.post("/tokens", json={"user": "erp", "name": "ERP sync", "days": 30})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    token, token_id = issued.json()["token"], issued.json()["record"]["id"]
    assert token not in client.get("/tokens").text  # listed, never shown again
    erp = {"Authorization": f"Bearer {token}"}
    assert client.get("/customers", headers=erp).status_code == 200
    denied = client.post("/users", json={"name": "x"}, headers=erp)
    assert denied.status_code == 403  # reader may not manage users
    monkeypatch.setattr("custmdm.api.deps.AUTHORIZATION_TTL", 0.0)  # no cached token
    assert client.delete(f"/tokens/{token_id}").status_code == 204
    assert client.get("/customers", headers=erp).status_code == 401
    assert client.delete("/grants", params={"user": "erp", "role": "reader"}
                         ).status_code == 204
    assert client.delete("/roles/reader").status_code == 204
    disabled = client.post("/users/erp/disable", json={"reason": "replaced"})
    assert disabled.json()["active"] is False
    assert client.post("/users/erp/enable").json()["active"] is True
