"""Change requests (变更申请): maker–checker for governed changes.

A steward (``custmdm request-rule``, :func:`set_approval_rule`) says which actions need
approval. Such an action, asked for by anyone, is recorded as a change request with
what it was made against (customer versions, the rule's version) and raises
:class:`ApprovalRequired`. Another user with the ``approve`` permission on the customer
applies it (:func:`approve_request`): the use case runs again as the requester, whose
own permission is checked again, and the request is marked applied in the change's
own transaction (core.approval). If the target changed since the request, applying
it is a conflict; the request says so and nothing changes.

Events and notifications come with the integration work: :data:`NOTIFY` is the seam
(called with the event name and the request, after each commit).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from custmdm.core.approval import APPLYING, Applying
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.coding import RuleTarget, current_version
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, load_records
from custmdm.errors import (
    ApprovalRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from custmdm.security.access import Permission
from custmdm.store.audit import utc
from custmdm.store.tables import approval_rule, change_request, customer

#: The actions that can be made to need approval, and what each is.
APPROVABLE: Mapping[str, str] = {
    "customer.change_code": "change of a customer's code",
    "customer.merge": "merge of customers",
    "customer.rename": "change of the legal name",
    "customer.retire": "retirement of a customer",
    "xref.move": "moving a key mapping to another customer",
    "rule.change": "adding, changing or retiring a coding rule",
}
STATUSES = ("pending", "applied", "rejected", "conflict", "withdrawn")
#: Seconds a process trusts the approval rules it read.
RULES_TTL = 2.0

#: The notification seam: called after a request is created or decided.
NOTIFY: list[Callable[[str, ChangeRequest], None]] = []


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A change waiting for approval, or decided."""

    id: int
    action: str
    target: str
    payload: dict[str, Any]
    status: str
    requested_by: str
    requested_at: datetime
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "target": self.target,
                "payload": self.payload, "status": self.status,
                "requested_by": self.requested_by,
                "requested_at": self.requested_at.isoformat(), "reason": self.reason,
                "decided_by": self.decided_by,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "decision_reason": self.decision_reason}


# -- which actions need approval --------------------------------------------------------


def _action(action: str) -> str:
    action = action.strip().lower()
    if action not in APPROVABLE:
        raise ValidationError(f"{action!r} cannot need approval; choose from "
                              f"{', '.join(APPROVABLE)}")
    return action


def set_approval_rule(ctx: Context, action: str, required: bool) -> None:
    """Make an action need approval by a second user, or not any more."""
    ctx.require(Permission.MANAGE_RULES)
    action = _action(action)
    with ctx.store.write() as conn:
        now = ctx.now()
        conn.execute(delete(approval_rule).where(approval_rule.c.action == action))
        if required:
            conn.execute(approval_rule.insert().values(action=action, updated_at=now,
                                                       updated_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "approval_rule.set",
                                                "approval_rule", action,
                                                {"required": required}, now)])
    _RULES_SEEN.clear()


def approval_rules(ctx: Context) -> list[str]:
    """The actions that need approval."""
    ctx.require_user()
    with ctx.store.read() as conn:
        return sorted(conn.execute(select(approval_rule.c.action)).scalars())


_RULES_SEEN: dict[str, tuple[float, frozenset[str]]] = {}


def _required(ctx: Context) -> frozenset[str]:
    seen = _RULES_SEEN.get(ctx.store.url)
    if seen is None or time.monotonic() - seen[0] > RULES_TTL:
        with ctx.store.read() as conn:
            actions = frozenset(conn.execute(select(approval_rule.c.action)).scalars())
        seen = _RULES_SEEN[ctx.store.url] = (time.monotonic(), actions)
    return seen[1]


class RegisterApprovals:
    """The register's own policy: the actions its approval rules name need a request."""

    def check(self, ctx: Context, action: str, details: Mapping[str, Any],
              targets: Sequence[Any] = ()) -> None:
        applying = APPLYING.get()
        if applying is not None:
            if applying.action != action:
                raise Conflict(f"change request {applying.request_id} is a {applying.action}, "
                               f"not a {action}")
            return
        if action not in _required(ctx):
            return
        request = _create(ctx, action, details, targets)
        raise ApprovalRequired(
            f"a {APPROVABLE[action]} needs approval: recorded as change request "
            f"{request.id}, waiting for another user with the approve permission "
            f"(`custmdm request approve {request.id}`)", request.id)


def _describe(action: str, details: Mapping[str, Any]) -> str:
    match action:
        case "customer.merge":
            return f"{', '.join(details['losers'])} into {details['survivor']}"
        case "xref.move":
            return f"{details['system']} {details['external_id']} to {details['to']}"
        case "rule.change":
            return f"{'retire ' if details.get('retire') else ''}rule {details['name']}"
    return str(details.get("code", ""))


def _create(ctx: Context, action: str, details: Mapping[str, Any],
            targets: Sequence[Any]) -> ChangeRequest:
    customers = [t for t in targets if isinstance(t, CustomerRecord)]
    versions = {str(c.id): c.version for c in customers}
    versions.update({f"rule:{t.name}": t.version for t in targets
                     if isinstance(t, RuleTarget)})
    payload = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in details.items()}
    with ctx.store.write() as conn:
        now = ctx.now()
        request_id = int(conn.execute(change_request.insert().values(
            action=action, payload=payload,
            customer_id=customers[0].id if customers else None,
            target=_describe(action, details)[:200], versions=versions, status="pending",
            requested_by=ctx.actor.name, requested_at=now,
            reason=str(details.get("reason") or "")[:500] or None,
        ).returning(change_request.c.id)).scalar_one())
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "change_request.create", "change_request", request_id,
            {"action": action, "payload": payload, "versions": versions}, now)])
    request = get_request(ctx, request_id, check=False)
    _notify("change_request.created", request)
    return request


# -- reading -------------------------------------------------------------------------------


def get_request(ctx: Context, request_id: int, *, check: bool = True) -> ChangeRequest:
    """One change request (its requester, or a user who may approve it)."""
    with ctx.store.read() as conn:
        row = conn.execute(select(change_request).where(change_request.c.id == request_id)
                           ).first()
        if row is None:
            raise NotFound(f"no change request {request_id}; see `custmdm request list`")
        if check and row.requested_by != ctx.actor.name:
            _require_approver(ctx, conn, row)
    return _record(row)


def list_requests(ctx: Context, status: str | None = "pending", *, mine: bool = False,
                  limit: int = 50) -> list[ChangeRequest]:
    """Change requests, newest first: the actor's own, and those they may approve
    (filtered by scope in SQL)."""
    ctx.require_user()
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status {status!r}: choose from {', '.join(STATUSES)}")
    if not 1 <= limit <= 1000:
        raise ValidationError("limit must be between 1 and 1000")
    query = select(change_request).order_by(change_request.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(change_request.c.status == status)
    own = change_request.c.requested_by == ctx.actor.name
    if mine:
        query = query.where(own)
    else:
        approvable = ctx.scope_filter(Permission.APPROVE)
        if approvable is not None:  # customers in the approver's scopes, in SQL
            in_scope = change_request.c.customer_id.in_(select(customer.c.id).where(approvable))
            query = query.where(or_(own, in_scope))
        elif not ctx.authorization.allows(Permission.APPROVE):
            query = query.where(own)
    with ctx.store.read() as conn:
        return [_record(row) for row in conn.execute(query)]


def _record(row: Any) -> ChangeRequest:
    return ChangeRequest(int(row.id), row.action, row.target, dict(row.payload), row.status,
                         row.requested_by, utc(row.requested_at), row.reason, row.decided_by,
                         row.decided_at and utc(row.decided_at), row.decision_reason)


def _targets(ctx: Context, conn: Connection, row: Any) -> list[CustomerRecord]:
    ids = [int(k) for k in row.versions if not k.startswith("rule:")]
    return load_records(conn, ids, ctx.store.fields)


def _require_approver(ctx: Context, conn: Connection, row: Any) -> list[CustomerRecord]:
    """Refuse unless the actor may approve the request; its customers."""
    targets = _targets(ctx, conn, row)
    if not targets:  # a rule change: the whole register
        ctx.require(Permission.APPROVE)
    for record in targets:
        ctx.require(Permission.APPROVE, record)
    return targets


# -- deciding ------------------------------------------------------------------------------


def approve_request(ctx: Context, request_id: int, reason: str | None = None) -> ChangeRequest:
    """Apply a pending request as its requester, if the actor (another user) may approve
    it and nothing it was made against changed since."""
    with ctx.store.read() as conn:
        row = _pending(conn, request_id)
        if row.requested_by == ctx.actor.name:
            raise Conflict(f"change request {request_id} is yours: another user must "
                           "approve it")
        targets = _require_approver(ctx, conn, row)
        changed = _changed_since(ctx, row, targets)
    if changed:
        _decide(ctx, request_id, "conflict", f"changed since the request: {changed}")
        raise Conflict(f"change request {request_id} cannot be applied: {changed} since it "
                       "was made; it is marked conflict, ask for a new one")
    requester = ctx.for_actor(row.requested_by)
    state = Applying(request_id, row.action, ctx.actor.name, ctx.now(),
                     {str(k): int(v) for k, v in row.versions.items()}, reason)
    token = APPLYING.set(state)
    try:
        _APPLY[row.action](requester, dict(row.payload))
    finally:
        APPLYING.reset(token)
    if not state.marked:  # every governed use case writes an audit entry
        raise AssertionError(f"{row.action} applied without marking request {request_id}")
    request = get_request(ctx, request_id, check=False)
    _notify("change_request.applied", request)
    return request


def reject_request(ctx: Context, request_id: int, reason: str) -> ChangeRequest:
    """Refuse a pending request, with a reason the requester sees."""
    if not reason or not reason.strip():
        raise ValidationError("give a reason (--reason): the requester sees it")
    with ctx.store.read() as conn:
        row = _pending(conn, request_id)
        _require_approver(ctx, conn, row)
    request = _decide(ctx, request_id, "rejected", reason.strip())
    _notify("change_request.rejected", request)
    return request


def withdraw_request(ctx: Context, request_id: int) -> ChangeRequest:
    """The requester takes back a pending request."""
    with ctx.store.read() as conn:
        row = _pending(conn, request_id)
    if row.requested_by != ctx.actor.name:  # who asked is not everyone's business
        raise PermissionDenied(f"only the user who asked for change request {request_id} "
                               "can withdraw it (an approver rejects it)")
    return _decide(ctx, request_id, "withdrawn", None)


def _pending(conn: Connection, request_id: int) -> Any:
    row = conn.execute(select(change_request).where(change_request.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"no change request {request_id}; see `custmdm request list`")
    if row.status != "pending":
        raise Conflict(f"change request {request_id} is {row.status} already")
    return row


def _changed_since(ctx: Context, row: Any, targets: list[CustomerRecord]) -> str | None:
    changes = [f"customer {c.code} is at version {c.version}, not {row.versions[str(c.id)]}"
               for c in targets if c.version != row.versions[str(c.id)]]
    for key, version in row.versions.items():
        if key.startswith("rule:") and (now := current_version(ctx, key[5:])) != version:
            changes.append(f"rule {key[5:]} is at version {now}, not {version}")
    return "; ".join(changes) or None


def _decide(ctx: Context, request_id: int, status: str, reason: str | None) -> ChangeRequest:
    with ctx.store.write() as conn:
        now = ctx.now()
        done = conn.execute(update(change_request).where(
            change_request.c.id == request_id, change_request.c.status == "pending")
            .values(status=status, decided_by=ctx.actor.name, decided_at=now,
                    decision_reason=reason))
        if done.rowcount != 1:
            raise Conflict(f"change request {request_id} was decided meanwhile")
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, f"change_request.{status}", "change_request", request_id,
            {"reason": reason}, now)])
    return get_request(ctx, request_id, check=False)


def _notify(event: str, request: ChangeRequest) -> None:
    for listener in NOTIFY:
        listener(event, request)


# -- applying: each governed use case from its request's payload ---------------------------


def _apply_change_code(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.registry import change_code

    return change_code(ctx, p["code"], p["reason"], rule_name=p["rule"], new_value=p["to"])


def _apply_retire(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.registry import retire_customer

    return retire_customer(ctx, p["code"], p["reason"])


def _apply_rename(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.names import rename

    return rename(ctx, p["code"], p["to"], p["reason"], on=date.fromisoformat(p["on"]),
                  override_reason=p.get("override_reason"))


def _apply_merge(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.merge import merge_customers

    if p.get("review_cluster") is not None:  # accepted from the review queue: decide it
        from custmdm.core.batch import decide

        return decide(ctx, p["review_cluster"], "accept", survivor=p["survivor"])
    return merge_customers(ctx, p["survivor"], p["losers"], p["picks"] or None, p["reason"],
                           trusted=p.get("trusted") or ())


def _apply_move(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.xref import find_xref, move_xref

    now_at = find_xref(ctx, p["system"], p["external_id"]).customer.code
    if now_at != p["from"]:
        raise Conflict(f"{p['system']} id {p['external_id']} is mapped to {now_at} now, not "
                       f"{p['from']}")
    return move_xref(ctx, p["system"], p["external_id"], p["to"], p["reason"],
                     on=date.fromisoformat(p["on"]))


def _apply_rule(ctx: Context, p: dict[str, Any]) -> Any:
    from custmdm.core.coding import retire_rule, save_rule

    if p.get("retire"):
        return retire_rule(ctx, p["name"], p["reason"])
    return save_rule(ctx, p["name"], p["pattern"], kind=p["kind"],
                     region_prefix=p["region_prefix"], industry=p["industry"],
                     grade=p["grade"], priority=p["priority"], gapless=p["gapless"],
                     counter_scope=p["counter_scope"], kind_letters=p["kind_letters"],
                     grade_letters=p["grade_letters"], new_version=p["new_version"])


_APPLY: Mapping[str, Callable[[Context, dict[str, Any]], Any]] = {
    "customer.change_code": _apply_change_code,
    "customer.merge": _apply_merge,
    "customer.rename": _apply_rename,
    "customer.retire": _apply_retire,
    "xref.move": _apply_move,
    "rule.change": _apply_rule,
}
