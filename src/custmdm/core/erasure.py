"""Personal-data erasure (PIPL 个人信息删除) of an individual customer.

What identifies the person goes, in one transaction: contacts and identifiers
(ciphertext and blind indexes), the match keys made of them and of the names, every
name but the current legal one, which becomes :data:`ERASED_NAME`, and what other
systems call them. Customers merged into this one are the same person and go with
it; the copies merges keep for undo and the change requests about them are scrubbed
too. What stays is what accountability needs and identifies no one: the customer row
with its codes (a code is never reused and still resolves), key mappings' ids, and
the audit trail, whose chain is not touched. One entry records the erasure, with
counts and no personal data.

Entries written before the erasure keep what they recorded (a rename's or an added
name's text, say): the trail is append-only by design. Registrations of individuals,
and their key mappings, record no name; contacts and ID numbers are never recorded
(numbers are masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, select, update

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord
from custmdm.core.registry import find_by_code, get_customer_by_id, require_reason
from custmdm.domain.customer import Kind
from custmdm.domain.names import NameKind, forms_of
from custmdm.errors import StaleVersion, ValidationError
from custmdm.security.access import Permission
from custmdm.store.search import purge_deleted_names
from custmdm.store.tables import (
    NAME_FORM_COLUMNS,
    change_request,
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_key,
    merge,
    review_cluster,
    xref,
)

#: The legal name an erased person is left with.
ERASED_NAME = "（个人信息已删除）"


@dataclass(frozen=True, slots=True)
class Erasure:
    """An erasure done: the customer as it is now and what was removed."""

    customer: CustomerRecord
    codes: tuple[str, ...]
    removed: dict[str, int]
    #: SQLite: whether the write-ahead log could be emptied at once (readers hold it).
    log_emptied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"customer": self.customer.to_dict(), "codes": list(self.codes),
                "removed": self.removed, "log_emptied": self.log_emptied}


def erase_person(ctx: Context, code: str, reason: str) -> Erasure:
    """Erase an individual's personal data (see the module docstring); needs the
    ``erase`` permission on the customer."""
    reason = require_reason(reason)
    record = find_by_code(ctx, code).customer
    ctx.require(Permission.ERASE, record)
    if record.kind != Kind.INDIVIDUAL.value:
        raise ValidationError(
            f"customer {record.code} is {'an' if record.kind[0] in 'aeiou' else 'a'} "
            f"{record.kind}: erasure is for an individual's personal data; correct or "
            "remove an organisation's contacts and identifiers instead")
    now = ctx.now()
    with ctx.store.write() as conn:
        ids = _same_person(conn, record.id)
        bumped = conn.execute(update(customer).where(
            customer.c.id == record.id, customer.c.version == record.version)
            .values(version=record.version + 1, updated_at=now, legal_name=ERASED_NAME))
        if bumped.rowcount != 1:
            raise StaleVersion(f"customer {record.code} was changed meanwhile; read it again "
                               "and retry")
        conn.execute(update(customer).where(customer.c.id.in_(ids[1:]))
                     .values(version=customer.c.version + 1, updated_at=now,
                             legal_name=ERASED_NAME))
        removed = _remove_personal_rows(conn, ids)
        purge_deleted_names(conn)
        removed["merge_snapshots"] = _scrub_merges(conn, ids)
        removed["change_requests"] = _scrub_requests(ctx, conn, ids, now)
        _stale_reviews(conn, ids)
        codes = tuple(conn.scalars(select(customer_code.c.value).where(
            customer_code.c.customer_id.in_(ids)).order_by(customer_code.c.id)))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.erase", "customer", record.id,
            {"code": record.code, "codes": list(codes), "reason": reason,
             "removed": removed}, now)])
    # No copy of the erased pages left in SQLite's WAL either (readers can hold it up:
    # then SQLite overwrites the log from its start as writes go on).
    log_emptied = ctx.store.truncate_log()
    return Erasure(get_customer_by_id(ctx, record.id), codes, removed, log_emptied)


def _same_person(conn: Connection, customer_id: int) -> list[int]:
    """The customer and every customer merged into it (not undone), transitively."""
    found = [customer_id]
    for survivor in found:
        for losers in conn.scalars(select(merge.c.loser_ids).where(
                merge.c.survivor_id == survivor, merge.c.undone_at.is_(None))):
            found.extend(int(i) for i in losers if int(i) not in found)
    return found


def _remove_personal_rows(conn: Connection, ids: list[int]) -> dict[str, int]:
    removed = {
        "contacts": conn.execute(delete(contact).where(contact.c.customer_id.in_(ids))
                                 ).rowcount,
        "identifiers": conn.execute(delete(identifier).where(
            identifier.c.customer_id.in_(ids))).rowcount,
        "match_keys": conn.execute(delete(match_key).where(
            match_key.c.customer_id.in_(ids))).rowcount,
        "names": conn.execute(delete(customer_name).where(
            customer_name.c.customer_id.in_(ids),
            ~and_(customer_name.c.kind == NameKind.LEGAL.value,
                  customer_name.c.valid_to.is_(None)))).rowcount,
    }
    forms = forms_of(ERASED_NAME)
    conn.execute(update(customer_name).where(customer_name.c.customer_id.in_(ids))
                 .values(text=ERASED_NAME, source=None,
                         **dict(zip(NAME_FORM_COLUMNS, forms, strict=True))))
    removed["external_names"] = conn.execute(
        update(xref).where(xref.c.customer_id.in_(ids), xref.c.external_name.is_not(None))
        .values(external_name=None, external_normalised=None)).rowcount
    return removed


def _scrub_merges(conn: Connection, ids: list[int]) -> int:
    """Merges the person took part in keep, for undo, no personal rows; undo is then
    refused (the customers' versions moved on), as it should be. Only those merges'
    saved rows are read."""
    wanted = set(ids)
    involved = [merge_id for merge_id, survivor_id, loser_ids in conn.execute(
        select(merge.c.id, merge.c.survivor_id, merge.c.loser_ids))
        if wanted & {survivor_id, *(int(i) for i in loser_ids)}]
    for merge_id in involved:
        before = conn.execute(select(merge.c.before).where(merge.c.id == merge_id)
                              ).scalar_one()
        before = {**before, "contact": [], "identifier": [], "match_key": [],
                  "customer": [{**row, "legal_name": ERASED_NAME}
                               for row in before.get("customer", [])],
                  customer_name.name: [{**row, "text": ERASED_NAME, "source": None}
                                       for row in before.get(customer_name.name, [])],
                  xref.name: [{**row, "external_name": None, "external_normalised": None}
                              for row in before.get(xref.name, [])]}
        conn.execute(update(merge).where(merge.c.id == merge_id)
                     .values(before=before, added_keys=[]))
    return len(involved)


def _scrub_requests(ctx: Context, conn: Connection, ids: list[int], now: Any) -> int:
    """Change requests about the person (any customer it was made against, a merge's
    losers too): pending ones withdrawn; every one's intended change (a new name, say)
    dropped."""
    wanted = {str(i) for i in ids}
    about = [request_id for request_id, versions in conn.execute(
        select(change_request.c.id, change_request.c.versions))
        if wanted & set(versions)]
    if not about:
        return 0
    conn.execute(update(change_request).where(
        change_request.c.id.in_(about), change_request.c.status == "pending")
        .values(status="withdrawn", decided_by=ctx.actor.name, decided_at=now,
                decision_reason="the customer's personal data was erased"))
    conn.execute(update(change_request).where(change_request.c.id.in_(about))
                 .values(payload={"erased": True}))
    return len(about)


def _stale_reviews(conn: Connection, ids: list[int]) -> None:
    """Open review clusters with the person in them are out of date."""
    wanted = set(ids)
    stale = [cluster_id for cluster_id, members in conn.execute(
        select(review_cluster.c.id, review_cluster.c.customer_ids)
        .where(review_cluster.c.status.in_(["open", "deferred"])))
        if wanted & {int(m) for m in members}]
    if stale:
        conn.execute(update(review_cluster).where(review_cluster.c.id.in_(stale))
                     .values(status="stale"))
