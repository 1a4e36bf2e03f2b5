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
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, update

from custmdm.errors import Conflict
from custmdm.store.tables import change_request

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
    marked: bool = False


#: Set while an approved request's use case runs (core.requests.approve_request).
APPLYING: ContextVar[Applying | None] = ContextVar("custmdm_applying", default=None)


def mark_applied(conn: Connection, state: Applying) -> None:
    """Inside the change's transaction: the request is applied (once)."""
    if state.marked:
        return
    done = conn.execute(
        update(change_request)
        .where(change_request.c.id == state.request_id, change_request.c.status == "pending")
        .values(status="applied", decided_by=state.approver, decided_at=state.at))
    if done.rowcount != 1:
        raise Conflict(f"change request {state.request_id} was decided meanwhile")
    state.marked = True
