"""Who may do what, checked in the core: the role × action × scope matrix, users,
roles, grants, passwords and tokens (both databases)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from custmdm import CustomerDraft, open_register
from custmdm.core import context
from custmdm.core.audit import AuditFilter
from custmdm.errors import Conflict, NotFound, PermissionDenied, ValidationError
from custmdm.register import Register
from custmdm.security.access import REGISTER_WIDE, ROLES, Permission, Scope
from custmdm.store.tables import api_token, app_user, audit_entry

#: Scopes that cover ann's customer (440305, industry C39, owned by ann of team south)
#: and not zed's (110105, F51, owned by zed of team north).
NARROW_SCOPES = ["region:44", "region:4403", "industry:C", "industry:39", "team:south", "own"]


def _draft(mine: bool, name: str) -> CustomerDraft:
    if mine:
        return CustomerDraft(kind="enterprise", legal_name=f"深圳市{name}科技有限公司",
                             region="440305", industry="C39", owner="ann")
    return CustomerDraft(kind="enterprise", legal_name=f"北京市{name}商贸有限公司",
                         region="110105", industry="F51", owner="zed")


class World:
    """An administrator's register, and ann's, who holds one grant."""

    def __init__(self, admin: Register, role: str, scope: str) -> None:
        self.admin = admin
        admin.add_rule("std", "C{seq:6}{check:mod37-2}")
        admin.add_rule("alt", "A{seq:6}{check:mod37-2}", priority=200)
        admin.add_user("ann", team="south")
        admin.add_user("zed", team="north")
        admin.grant("ann", role, scope)
        self.ann = open_register(admin.store.url, actor="ann")
        self.count = itertools.count()

    def customer(self, mine: bool) -> str:
        return self.admin.register(_draft(mine, f"目标{next(self.count)}"),
                                   override_reason="test").code

    def entries(self) -> int:
        with self.admin.store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_entry)).scalar_one())


#: One use case per permission that acts on a customer: (permission, set-up) where the
#: set-up makes the targets (as the administrator) and returns what ann then tries.
Attempt = Callable[[], Any]


def _on(act: Callable[[World, str], Any]) -> Callable[[World, bool], Attempt]:
    def set_up(w: World, mine: bool) -> Attempt:
        code = w.customer(mine)
        return lambda: act(w, code)
    return set_up


def _merge(w: World, mine: bool) -> Attempt:
    survivor, loser = w.customer(mine), w.customer(mine)
    return lambda: w.ann.merge(survivor, [loser], reason="same")


CUSTOMER_ACTIONS: dict[str, tuple[Permission, Callable[[World, bool], Attempt]]] = {
    "find": (Permission.READ, _on(lambda w, code: w.ann.find(code))),
    "register": (Permission.CREATE, lambda w, mine: lambda: w.ann.register(
        _draft(mine, f"新客户{next(w.count)}"), override_reason="test")),
    "add a name": (Permission.UPDATE, _on(lambda w, code: w.ann.add_name(
        code, "alias", f"别名{next(w.count)}"))),
    "rename": (Permission.RENAME, _on(lambda w, code: w.ann.rename(
        code, f"深圳市新名{next(w.count)}有限公司", "更名"))),
    "change code": (Permission.CHANGE_CODE, _on(lambda w, code: w.ann.change_code(
        code, "re-coded", rule="alt"))),
    "retire": (Permission.RETIRE, _on(lambda w, code: w.ann.retire(code, "gone"))),
    "merge": (Permission.MERGE, _merge),
}

#: Use cases about the register as a whole: only a grant with scope all allows them.
REGISTER_ACTIONS: dict[str, tuple[Permission, Callable[[World], Any]]] = {
    "add a coding rule": (Permission.MANAGE_RULES, lambda w: w.ann.add_rule(
        f"r{next(w.count)}", f"R{next(w.count)}{{seq:4}}", kind="government")),
    "add a user": (Permission.MANAGE_USERS, lambda w: w.ann.add_user(f"u{next(w.count)}")),
    "read the audit log": (Permission.READ_AUDIT, lambda w: w.ann.audit_log()),
    "verify the audit chain": (Permission.READ_AUDIT, lambda w: w.ann.verify_audit()),
    "check codes": (Permission.READ_AUDIT, lambda w: w.ann.check_codes()),
    "run batch deduplication": (Permission.MERGE, lambda w: w.ann.review_queue()),
}


@pytest.fixture(params=[(role, scope) for role in ROLES
                        for scope in ["all", *NARROW_SCOPES[::2], "own"]],
                ids=lambda p: f"{p[0]}-{p[1]}")
def world(request: pytest.FixtureRequest, unchecked: Register) -> Iterator[World]:
    role, scope = request.param
    made = World(unchecked, role, scope)
    made.role, made.scope = role, scope  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        made.ann.close()


def test_role_action_scope_matrix(world: World) -> None:
    """Every built-in role, in every kind of scope, tries every action on a customer its
    scope covers and on one it does not: allowed exactly when the role has the
    permission and the scope covers the customer; a refusal writes nothing."""
    role, scope = world.role, Scope.parse(world.scope)  # type: ignore[attr-defined]
    permissions = ROLES[role]
    for (name, (permission, set_up)), mine in itertools.product(CUSTOMER_ACTIONS.items(),
                                                                (True, False)):
        allowed = permission in permissions and (mine or scope.kind.value == "all")
        _expect(world, f"{role} in {scope}: {name} ({'in' if mine else 'out of'} scope)",
                allowed, set_up(world, mine))
    for name, (permission, act_on_register) in REGISTER_ACTIONS.items():
        assert permission in REGISTER_WIDE or permission is Permission.MERGE
        allowed = permission in permissions and scope.kind.value == "all"
        _expect(world, f"{role} in {scope}: {name}", allowed,
                lambda act=act_on_register: act(world))  # type: ignore[misc]


def _expect(world: World, case: str, allowed: bool, attempt: Callable[[], Any]) -> None:
    before = world.entries()
    try:
        attempt()
    except PermissionDenied as denied:
        assert not allowed, f"{case}: refused, should be allowed ({denied})"
        assert world.entries() == before, f"{case}: a refusal wrote to the audit trail"
        assert "may not" in str(denied) and "ann has" in str(denied)
        return
    assert allowed, f"{case}: allowed, should be refused"


@pytest.mark.parametrize("scope", ["all", *NARROW_SCOPES])
def test_lists_search_and_counts_show_only_customers_in_scope(unchecked: Register,
                                                              scope: str) -> None:
    world = World(unchecked, "read_only", scope)
    try:
        mine, theirs = world.customer(True), world.customer(False)
        listed = {c.code for c in world.ann.customers()}
        found = {h.customer.code for h in world.ann.search("有限公司")}
        counted = world.ann.overview().customers
        if scope == "all":
            assert {mine, theirs} <= listed and {mine, theirs} <= found and counted == 2
        else:
            assert listed == {mine} and found == {mine} and counted == 1
            with pytest.raises(PermissionDenied, match=f"customer {theirs}"):
                world.ann.find(theirs)
    finally:
        world.ann.close()


def test_a_custom_role_gives_exactly_its_permissions(reg: Register) -> None:
    reg.add_rule("std", "C{seq:6}{check:mod37-2}")
    role = reg.add_role("renamer", ["read", "Rename"], "fixes legal names")
    assert role.permissions == ("read", "rename") and not role.builtin
    assert [r.name for r in reg.roles()][-1] == "renamer"
    reg.add_user("ann")
    reg.grant("ann", "renamer", "region:44")
    code = reg.register(_draft(True, "改名")).code
    with open_register(reg.store.url, actor="ann") as ann:
        assert ann.rename(code, "深圳市改名后科技有限公司", "更名").legal_name.startswith("深圳")
        with pytest.raises(PermissionDenied, match="'retire'"):
            ann.retire(code, "no")
    with pytest.raises(Conflict, match="granted to ann"):
        reg.remove_role("renamer")
    with pytest.raises(ValidationError, match="unknown permission 'fly'"):
        reg.add_role("pilot", ["fly"])
    with pytest.raises(Conflict, match="built-in"):
        reg.add_role("sales", ["read"])
    reg.revoke("ann", "renamer", "region:44")
    reg.remove_role("renamer")
    assert "renamer" not in {r.name for r in reg.roles()}


def test_a_revoked_grant_or_disabled_user_stops_working(reg: Register,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    reg.add_user("ann")
    reg.grant("ann", "read_only", "all")
    ann = open_register(reg.store.url, actor="ann")
    try:
        assert ann.customers() == []
        monkeypatch.setattr(context, "AUTHORIZATION_TTL", 3600.0)
        reg.revoke("ann", "read_only", "all")
        assert ann.customers() == []  # trusted for a while (AUTHORIZATION_TTL) …
        monkeypatch.setattr(context, "AUTHORIZATION_TTL", 0.0)  # … then read again
        with pytest.raises(PermissionDenied, match="ann has no grants"):
            ann.customers()
        reg.grant("ann", "read_only", "all")
        reg.disable_user("ann", "left the company")
        with pytest.raises(PermissionDenied, match=r"disabled \(left the company"):
            ann.customers()
        reg.enable_user("ann")
        assert ann.customers() == []
    finally:
        ann.close()
    with open_register(reg.store.url, actor="nobody") as nobody, \
            pytest.raises(PermissionDenied, match=r"no user 'nobody'.*custmdm user add"):
        nobody.customers()


def test_the_last_administrator_cannot_be_removed(reg: Register) -> None:
    me = reg.ctx.actor.name
    with pytest.raises(Conflict, match="no active user who can manage users"):
        reg.revoke(me, "administrator", "all")
    with pytest.raises(Conflict, match="no active user who can manage users"):
        reg.disable_user(me, "leaving")
    reg.add_user("deputy")
    reg.grant("deputy", "administrator")
    reg.revoke(me, "administrator", "all")  # now allowed: deputy remains
    with open_register(reg.store.url, actor="deputy") as deputy:
        assert [g.role for g in deputy.grants(me)] == []


def test_users_grants_and_their_errors(reg: Register) -> None:
    user = reg.add_user("ann", display_name="Ann Li", team="south", password="correct horse")
    assert (user.name, user.team, user.has_password, user.active) == ("ann", "south", True,
                                                                       True)
    with reg.store.read() as conn:
        stored = conn.execute(select(app_user.c.password_hash)
                              .where(app_user.c.name == "ann")).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert reg.check_password("ann", "correct horse") == "ann"
    for name, password in (("ann", "wrong horse!"), ("nobody", "correct horse")):
        with pytest.raises(PermissionDenied, match="wrong user name or password"):
            reg.check_password(name, password)
    with pytest.raises(ValidationError, match="at least 10"):
        reg.set_password("ann", "short")
    with pytest.raises(Conflict, match="exists already"):
        reg.add_user("ann")
    with pytest.raises(ValidationError, match="without spaces"):
        reg.add_user("ann li")
    with pytest.raises(NotFound, match="no role 'boss'"):
        reg.grant("ann", "boss")
    with pytest.raises(ValidationError, match="region '99'"):
        reg.grant("ann", "sales", "region:99")
    with pytest.raises(ValidationError, match="not a scope"):
        reg.grant("ann", "sales", "planet:mars")
    granted = reg.grant("ann", "sales", "region:440000")
    assert granted.scope == "region:44"
    with pytest.raises(Conflict, match="already"):
        reg.grant("ann", "sales", "region:44")
    assert [(g.role, g.scope) for g in reg.grants("ann")] == [("sales", "region:44")]
    assert {u.name: u.grants for u in reg.users()}["ann"] == ("sales in region:44",)
    actions = [e.action for e in reg.audit_log(AuditFilter(entity="user", entity_id="ann"))]
    assert actions == ["grant.add", "user.add"]
    assert all("correct horse" not in str(e.detail) for e in reg.audit_log())


def test_tokens_are_shown_once_stored_hashed_and_expire(reg: Register, clock: Any) -> None:
    reg.add_user("erp", kind="system")
    reg.grant("erp", "api_client")
    made = reg.create_token("erp", "ERP sync", days=30)
    assert made.token.startswith("cmdm_") and len(made.token) > 40
    assert reg.authenticate_token(made.token) == "erp"
    with reg.store.read() as conn:
        stored = [tuple(row) for row in conn.execute(select(api_token))]
    assert made.token not in str(stored)
    assert stored[0][3] == hashlib.sha256(made.token.encode()).hexdigest()
    listed = reg.tokens("erp")
    assert [(t.name, t.prefix, t.status(clock())) for t in listed] == [
        ("ERP sync", made.token[:12], "active")]
    assert listed[0].last_used_at is not None
    clock.moment += timedelta(days=31)
    with pytest.raises(PermissionDenied, match="expired"):
        reg.authenticate_token(made.token)
    forever = reg.create_token("erp", "nightly", days=None)
    reg.revoke_token(forever.record.id)
    with pytest.raises(PermissionDenied, match="revoked"):
        reg.authenticate_token(forever.token)
    with pytest.raises(Conflict, match="already"):
        reg.revoke_token(forever.record.id)
    live = reg.create_token("erp", "live")
    reg.disable_user("erp", "decommissioned")
    with pytest.raises(PermissionDenied, match="disabled"):
        reg.authenticate_token(live.token)
    with pytest.raises(PermissionDenied):
        reg.authenticate_token("cmdm_guessed")
    with pytest.raises(ValidationError, match="1–3650 days"):
        reg.create_token(reg.ctx.actor.name, "x", days=0)


def test_two_administrators_disabled_at_once_leave_one(reg: Register) -> None:
    """Each disable alone would leave an administrator; both at once must not pass."""
    import threading

    reg.add_user("deputy")
    reg.grant("deputy", "administrator")
    me = reg.ctx.actor.name
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(actor: str, target: str) -> None:
        with open_register(reg.store.url, actor=actor) as acting:
            acting.users()  # load grants before the race
            barrier.wait()
            try:
                acting.disable_user(target, "leaving")
                outcomes.append("disabled")
            except Conflict:
                outcomes.append("refused")

    threads = [threading.Thread(target=disable, args=(me, "deputy")),
               threading.Thread(target=disable, args=("deputy", me))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["disabled", "refused"]


def test_an_individuals_identifiers_are_masked_and_unmasking_is_audited(reg: Register) -> None:
    reg.add_rule("std", "C{seq:6}{check:mod37-2}")
    person = reg.register(CustomerDraft(kind="individual", legal_name="张伟", region="110105",
                                        identifiers=[("cn.ric", "11010519491231002X")]))
    shown = reg.find(person.code).customer.to_dict()["identifiers"]
    assert shown == [{"scheme": "cn.ric", "value": "110***********002X"}]
    company = reg.register(_draft(True, "公开"))
    assert company.to_dict()["identifiers"] == []  # (none given) an enterprise's are public
    unmasked = reg.unmask(person.code, "identity check for a contract")
    assert unmasked.customer.to_dict()["identifiers"][0]["value"] == "11010519491231002X"
    entry = reg.audit_log(AuditFilter(action="customer.unmask"))[0]
    assert entry.detail == {"code": person.code, "fields": ["identifiers", "contacts"],
                            "reason": "identity check for a contract"}
    reg.add_user("ro")
    reg.grant("ro", "read_only")
    with open_register(reg.store.url, actor="ro") as ro:
        assert "110***" in str(ro.find(person.code).customer.to_dict())
        with pytest.raises(PermissionDenied, match="'see_sensitive'"):
            ro.unmask(person.code, "curious")
    with pytest.raises(ValidationError, match="reason"):
        reg.unmask(person.code, " ")
    assert len(reg.audit_log(AuditFilter(action="customer.unmask"))) == 1
