"""Where maker–checker approval plugs in.

Governed use cases (change of code, merge, legal rename, retirement, key-mapping move,
coding-rule change) ask ``ctx.approvals.check`` before they change anything. The
register's policy (core.requests.RegisterApprovals) looks up whether the action needs
approval; if so it records a change request and raises
:class:`custmdm.errors.ApprovalRequired`. When another user approves the request, the
same use case runs again with :data:`APPLYING` set: the policy lets it through, and
its audit entries mark the request applied in the change's own transaction
(:func:`mark_applied`), so the change and its approval commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, select, update

from custmdm.errors import Conflict
from custmdm.store.tables import change_request, coding_rule, customer

if TYPE_CHECKING:
    from custmdm.core.context import Context


class ApprovalPolicy(Protocol):
    """Decides whether a governed change may be applied now."""

    def check(self, ctx: Context, action: str, details: Mapping[str, Any],
              targets: Sequence[Any] = ()) -> None:
        """Return to apply the change now; raise ApprovalRequired to hold it.
        ``targets``: the customer records (or rule) the change is about."""


class NoApprovalNeeded:
    """Every change applies at once."""

    def check(self, ctx: Context, action: str, details: Mapping[str, Any],
              targets: Sequence[Any] = ()) -> None:
        return None


@dataclass
class Applying:
    """An approved change request being applied in this context."""

    request_id: int
    action: str
    approver: str
    at: datetime
    #: What the request was made against: customer id → version, "rule:NAME" → version.
    versions: Mapping[str, int] = field(default_factory=dict)
    reason: str | None = None
    marked: bool = False


#: Set while an approved request's use case runs (core.requests.approve_request).
APPLYING: ContextVar[Applying | None] = ContextVar("custmdm_applying", default=None)


def mark_applied(conn: Connection, state: Applying) -> None:
    """Inside the change's transaction: the request is applied (once)."""
    if state.marked:
        return
    _unchanged_since_request(conn, state)
    done = conn.execute(
        update(change_request)
        .where(change_request.c.id == state.request_id, change_request.c.status == "pending")
        .values(status="applied", decided_by=state.approver, decided_at=state.at,
                decision_reason=state.reason))
    if done.rowcount != 1:
        raise Conflict(f"change request {state.request_id} was decided meanwhile")
    state.marked = True


def _unchanged_since_request(conn: Connection, state: Applying) -> None:
    """Inside the change's transaction: its targets are at most one version (this
    change's own) past what the request was made against; anything more is a change by
    someone else since the approver looked."""
    customers = {int(k): v for k, v in state.versions.items() if not k.startswith("rule:")}
    now = dict(conn.execute(select(customer.c.id, customer.c.version)
                            .where(customer.c.id.in_(list(customers)))).all()) if customers \
        else {}
    rules = {k[5:]: v for k, v in state.versions.items() if k.startswith("rule:")}
    now_rules = dict(conn.execute(
        select(coding_rule.c.name, coding_rule.c.version)
        .where(coding_rule.c.name.in_(list(rules)), coding_rule.c.is_current)).all()) \
        if rules else {}
    moved = [f"customer {cid}" for cid, v in customers.items() if now.get(cid, v) > v + 1]
    moved += [f"rule {name}" for name, v in rules.items() if now_rules.get(name, v) > v + 1]
    if moved:
        raise Conflict(f"change request {state.request_id}: {', '.join(moved)} changed while "
                       "it was being applied; nothing was changed")
