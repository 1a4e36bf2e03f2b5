"""Changing how a customer is classified (industry, size, grade) and who owns it.

One use case, :func:`update_customer`: the fields given change, the others stay. The
actor needs ``update`` on the customer as it is and as it will be, so nobody moves a
customer out of reach of their own scope by accident. ``expected_version`` makes the
change conditional on the version the caller read (the API's If-Match): a customer
changed since is refused with :class:`StaleVersion`, never silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, resolve_industry
from custmdm.core.registry import (
    bump_version,
    changeable,
    get_customer_by_id,
    require_version,
)
from custmdm.domain.customer import Grade, Size, parse_choice
from custmdm.errors import ValidationError, in_field
from custmdm.security.access import Permission

#: Fields :func:`update_customer` changes; the value None clears a field.
UPDATABLE = ("industry", "size", "grade", "owner")


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """What to change: only the fields named in ``given`` (an absent field stays)."""

    values: dict[str, str | None]

    def __post_init__(self) -> None:
        unknown = sorted(set(self.values) - set(UPDATABLE))
        if unknown:
            raise ValidationError(f"cannot update {', '.join(unknown)}; updatable fields: "
                                  f"{', '.join(UPDATABLE)} (names, codes and identifiers "
                                  "have their own changes)")
        if not self.values:
            raise ValidationError(f"nothing to update: give one of {', '.join(UPDATABLE)}")


def update_customer(ctx: Context, code: str, changes: CustomerChanges, *,
                    expected_version: int | None = None) -> CustomerRecord:
    """Change a customer's classification or owner (see the module docstring)."""
    record = changeable(ctx, code, "classification")
    require_version(record, expected_version)
    columns = _columns(changes)
    after = replace(record, **{k: v for k, v in columns.items() if k in UPDATABLE})
    ctx.require(Permission.UPDATE, after)
    before = {field: getattr(record, field) for field in changes.values}
    wanted = {field: getattr(after, field) for field in changes.values}
    if before == wanted:
        return record  # nothing changes: no new version, no audit entry
    with ctx.store.write() as conn:
        now = ctx.now()
        bump_version(conn, record, now, **columns)
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.update", "customer", record.id,
            {"code": record.code, "from": before, "to": wanted}, now)])
    return get_customer_by_id(ctx, record.id)


def _columns(changes: CustomerChanges) -> dict[str, Any]:
    """The customer table's columns for the changes, values checked and canonical."""
    columns: dict[str, Any] = {}
    for field, value in changes.values.items():
        with in_field(field):
            columns.update(_column(field, value))
    return columns


def _column(field: str, value: Any) -> dict[str, Any]:
    text = value.strip() if isinstance(value, str) else None
    if field == "industry":
        industry, section, _ = resolve_industry(text)
        return {"industry": industry, "industry_section": section}
    if field == "size":
        return {"size": parse_choice(Size, text, "size").value if text else None}
    if field == "grade":
        return {"grade": parse_choice(Grade, text, "grade").value if text else None}
    if text is not None and len(text) > 100:  # the owner
        raise ValidationError("owner is at most 100 characters")
    return {"owner": text or None}
