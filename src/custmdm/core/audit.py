"""Audit entries, written inside the transaction of the change they describe, chained
by MAC when it commits (see store.audit and security.audit_chain)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from custmdm.core.approval import APPLYING, mark_applied
from custmdm.errors import ValidationError
from custmdm.security.access import Permission
from custmdm.security.audit_chain import ChainReport, verify_chain
from custmdm.store.audit import chain_head, pending_entry, read_entries, utc
from custmdm.store.database import Store
from custmdm.store.tables import audit_entry

if TYPE_CHECKING:
    from custmdm.core.context import Context


def audit_row(
    actor: str, action: str, entity: str, entity_id: object, detail: Mapping[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """One audit entry as a row, for :func:`write_audit`."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "detail": dict(detail),
    }


def write_audit(store: Store, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Queue audit entries; they are chained and inserted when the transaction commits.

    While an approved change request is applied (core.approval), the entries name it and
    its approver, and the request is marked applied in this same transaction."""
    applying = APPLYING.get()
    if applying is not None:
        mark_applied(conn, applying)
        rows = [{**row, "detail": {**row["detail"], "change_request": applying.request_id,
                                   "approved_by": applying.approver}} for row in rows]
    store.queue_audit(conn, [pending_entry(row) for row in rows])


# -- reading the trail -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit trail (审计记录), as shown to people."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "entity": self.entity, "entity_id": self.entity_id,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters for the audit log; all optional, combined with AND. Newest first."""

    actor: str | None = None
    #: An action, or its family with a trailing dot: ``customer.`` for every customer action.
    action: str | None = None
    #: Entries about the customer with this code (any code it ever had).
    code: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


def audit_log(ctx: Context, filters: AuditFilter) -> list[AuditEntry]:
    """The entries matching ``filters``, newest first."""
    ctx.require(Permission.READ_AUDIT)
    if not 1 <= filters.limit <= 10_000:
        raise ValidationError("limit must be between 1 and 10000")
    query = select(audit_entry.c.seq, audit_entry.c.at, audit_entry.c.actor,
                   audit_entry.c.action, audit_entry.c.entity, audit_entry.c.entity_id,
                   audit_entry.c.detail).order_by(audit_entry.c.seq.desc()).limit(filters.limit)
    entity, entity_id = filters.entity, filters.entity_id
    if filters.code:
        from custmdm.core.registry import find_by_code

        entity, entity_id = "customer", str(find_by_code(ctx, filters.code).customer.id)
    if filters.actor:
        query = query.where(audit_entry.c.actor == filters.actor)
    if filters.action:
        action = filters.action.strip()
        query = query.where(audit_entry.c.action.startswith(action, autoescape=True)
                            if action.endswith(".") else audit_entry.c.action == action)
    if entity:
        query = query.where(audit_entry.c.entity == entity)
    if entity_id:
        query = query.where(audit_entry.c.entity_id == entity_id)
    if filters.since:
        query = query.where(audit_entry.c.at >= utc(filters.since))
    if filters.until:
        query = query.where(audit_entry.c.at < utc(filters.until))
    with ctx.store.read() as conn:
        return [AuditEntry(int(r.seq), utc(r.at), r.actor, r.action, r.entity, r.entity_id,
                           r.detail) for r in conn.execute(query)]


def verify_audit(ctx: Context, anchor: str | None = None) -> ChainReport:
    """Walk the whole chain and report the first broken link (see security.audit_chain).

    ``anchor``: ``SEQ:MAC`` printed by an earlier verify, which the chain must still
    pass through. Reads in one snapshot, so writers may go on meanwhile; the report
    covers the chain as it was when the walk began.
    """
    ctx.require(Permission.READ_AUDIT)
    recorded = parse_anchor(anchor) if anchor else None
    with ctx.store.read() as conn:
        return verify_chain(read_entries(conn), ctx.store.keyring.audit_secret,
                            chain_head(conn), recorded)


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:MAC`` as given on the command line.

    >>> parse_anchor("12:" + "A" * 64)[0]
    12
    """
    seq, _, mac = text.strip().partition(":")
    if not seq.isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef"
                                                  for c in mac.lower()):
        raise ValidationError(f"{text!r} is not an anchor: write SEQ:MAC as `custmdm audit "
                              "verify` printed it, e.g. 12408:4f1c… (64 hex digits)")
    return int(seq), mac.lower()
