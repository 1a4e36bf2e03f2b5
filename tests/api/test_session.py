"""Browser sessions: password login, an HttpOnly cookie, CSRF tokens for changes,
logout, and throttled guessing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from custmdm.api import create_app
from custmdm.api.session import MAX_FAILURES
from custmdm.core.audit import AuditFilter
from custmdm.errors import PermissionDenied, ValidationError
from custmdm.register import Register

PASSWORD = "correct horse battery"
CUSTOMER = {"kind": "enterprise", "legal_name": "深圳市华盛电子科技有限公司",
            "region": "440305"}


@pytest.fixture
def browser(reg: Register, db_url: str) -> Iterator[TestClient]:
    """A client with no token: it logs in as ``ann``, a data steward, like a browser."""
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_user("ann", password=PASSWORD)
    reg.grant("ann", "data_steward")
    with TestClient(create_app(db_url), raise_server_exceptions=False) as http:
        yield http


def log_in(http: TestClient, password: str = PASSWORD) -> str:
    made = http.post("/session", json={"user": "ann", "password": password})
    assert made.status_code == 201, made.text
    return str(made.json()["csrf_token"])


def test_log_in_act_and_log_out(reg: Register, browser: TestClient) -> None:
    assert browser.get("/customers").status_code == 401
    made = browser.post("/session", json={"user": "ann", "password": PASSWORD, "hours": 2})
    assert made.status_code == 201 and made.json()["user"] == "ann"
    cookie = made.headers["set-cookie"]
    assert "custmdm_session=cmdm_" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Max-Age=7200" in cookie
    csrf = made.json()["csrf_token"]
    assert csrf and csrf not in cookie  # the CSRF token is not the session token

    assert browser.get("/customers").status_code == 200  # the cookie alone reads
    forged = browser.post("/customers", json=CUSTOMER)  # another site can't send the header
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    assert browser.post("/customers", json=CUSTOMER,
                        headers={"X-CSRF-Token": "0" * 32}).status_code == 403
    assert browser.post("/customers", json=CUSTOMER,
                        headers={"X-CSRF-Token": "华盛".encode()}).status_code == 403
    done = browser.post("/customers", json=CUSTOMER, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text
    assert reg.find(done.json()["code"]).customer.owner == "ann"  # she registered it
    me = browser.get("/session").json()
    assert me == {"user": "ann", "expires_at": None, "csrf_token": csrf}

    [session] = [t for t in reg.tokens("ann") if t.name == "browser session"]
    assert session.expires_at is not None and session.revoked_at is None
    assert browser.delete("/session").status_code == 403  # logging out is a change too
    assert browser.delete("/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/customers").status_code == 401  # cookie cleared
    [session] = [t for t in reg.tokens("ann") if t.name == "browser session"]
    assert session.revoked_at is not None  # and the token revoked, should it be replayed
    actions = [e.action for e in reg.audit_log(AuditFilter(action="session."))]
    assert actions == ["session.close", "session.open"]


def test_a_replayed_cookie_fails_after_log_out(browser: TestClient) -> None:
    csrf = log_in(browser)
    token = browser.cookies["custmdm_session"]
    browser.delete("/session", headers={"X-CSRF-Token": csrf})
    browser.cookies.set("custmdm_session", token)
    replay = browser.get("/customers")
    assert replay.status_code == 401
    assert 'error="invalid_token"' in replay.headers["WWW-Authenticate"]


def test_wrong_passwords_are_refused_and_then_throttled(browser: TestClient) -> None:
    wrong = browser.post("/session", json={"user": "ann", "password": "guess"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    nobody = browser.post("/session", json={"user": "nobody", "password": "guess"})
    assert nobody.json()["detail"] == wrong.json()["detail"]  # says nothing of who exists
    for _ in range(MAX_FAILURES - 1):
        assert browser.post("/session", json={"user": "ann", "password": "x"}
                            ).status_code == 401
    throttled = browser.post("/session", json={"user": "ann", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 200
    assert throttled.json()["type"] == "/problems/too-many-requests"
    bad = browser.post("/session", json={"user": "ann", "password": PASSWORD, "hours": 0})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "hours"


def test_a_session_follows_its_user(reg: Register) -> None:
    reg.add_user("ben", password=PASSWORD)
    made = reg.open_session("ben", PASSWORD, hours=1)
    assert reg.authenticate_token(made.token) == "ben"
    assert made.record.expires_at is not None
    assert (made.record.expires_at - made.record.created_at).total_seconds() == 3600
    with pytest.raises(ValidationError, match="1–168 hours"):
        reg.open_session("ben", PASSWORD, hours=169)
    reg.disable_user("ben", "left")
    with pytest.raises(PermissionDenied):
        reg.authenticate_token(made.token)
    with pytest.raises(PermissionDenied):
        reg.open_session("ben", PASSWORD)
    assert reg.close_session(made.token) is False  # not the tester's session


def test_a_burst_of_guesses_is_throttled_like_guesses_in_turn(browser: TestClient) -> None:
    """Tries count from when they start: 12 wrong passwords sent at once get at most
    MAX_FAILURES answers, the rest 429, before any of the slow checks is done."""
    from concurrent.futures import ThreadPoolExecutor

    def guess(n: int) -> int:
        return browser.post("/session", json={"user": "ann", "password": f"guess{n}"}
                            ).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(guess, range(12)))
    assert statuses.count(401) <= MAX_FAILURES and statuses.count(429) >= 12 - MAX_FAILURES
    assert set(statuses) == {401, 429}


def test_logging_out_a_session_revoked_already_clears_the_cookie(
        reg: Register, browser: TestClient) -> None:
    csrf = log_in(browser)
    [session] = [t for t in reg.tokens("ann") if t.name == "browser session"]
    reg.revoke_token(session.id)
    gone = browser.delete("/session", headers={"X-CSRF-Token": csrf})
    assert gone.status_code == 204 and "custmdm_session" not in browser.cookies


def test_sessions_over_for_a_week_are_cleared_at_the_next_login(
        reg: Register, clock: Any) -> None:
    reg.add_user("ben", password=PASSWORD)
    old = reg.open_session("ben", PASSWORD, hours=1)
    recent = reg.open_session("ben", PASSWORD, hours=1)
    clock.moment += timedelta(days=7, minutes=30)  # old and recent expired 6d23h ago
    reg.open_session("ben", PASSWORD)
    assert {t.id for t in reg.tokens("ben")} >= {recent.record.id}
    clock.moment += timedelta(hours=1)
    newest = reg.open_session("ben", PASSWORD)
    kept = {t.id for t in reg.tokens("ben")}
    assert old.record.id not in kept and recent.record.id not in kept
    assert newest.record.id in kept
