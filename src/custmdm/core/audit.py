"""Audit entries, written inside the transaction of the change they describe, chained
by MAC when it commits (see store.audit and security.audit_chain)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from custmdm.store.audit import pending_entry
from custmdm.store.database import Store


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
    """Queue audit entries; they are chained and inserted when the transaction commits."""
    store.queue_audit(conn, [pending_entry(row) for row in rows])
