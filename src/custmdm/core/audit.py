"""Audit entries, written inside the transaction of the change they describe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from custmdm.store.database import Store
from custmdm.store.tables import AUDIT_COLUMNS, audit_entry


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


def write_audit(store: Store, conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert audit entries (one statement, however many)."""
    store.insert_many(conn, audit_entry, AUDIT_COLUMNS,
                      [tuple(row[c] for c in AUDIT_COLUMNS) for row in rows])
