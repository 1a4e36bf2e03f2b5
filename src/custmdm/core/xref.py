"""Key mapping (客户对应关系): which customer another system means by its own id.

A system (ERP, CRM, billing …) is registered once. A mapping says that the system's
``external_id`` (and, optionally, the name it uses) is one of our customers, from a day,
until it ends. Among the mappings that hold, a system's id belongs to one customer: the
database enforces it. A mapping never moves to another customer silently: moving one
is its own use case, audited (and where approval will plug in).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, literal, select, update
from sqlalchemy.exc import IntegrityError

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, current_code_of, iso
from custmdm.core.registry import find_by_code, get_customer_by_id, require_reason
from custmdm.domain.customer import Kind, Lifecycle
from custmdm.domain.names import normalise
from custmdm.errors import Conflict, InvalidFormat, NotFound, PermissionDenied
from custmdm.security.access import Permission
from custmdm.store.tables import customer, system, xref

MAX_SYSTEM_NAME = 64
MAX_EXTERNAL_ID = 200


@dataclass(frozen=True)
class KeyMapping:
    """One system's id (and name) for one customer."""

    system: str
    external_id: str
    external_name: str | None
    customer_code: str
    valid_from: date | None
    valid_to: date | None

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "external_id": self.external_id,
                "external_name": self.external_name, "code": self.customer_code,
                "valid_from": iso(self.valid_from), "valid_to": iso(self.valid_to)}


@dataclass(frozen=True)
class XrefMatch:
    """The answer to "which customer is this system's id": the mapping and the
    customer as it is now."""

    mapping: KeyMapping
    customer: CustomerRecord

    def to_dict(self) -> dict[str, Any]:
        return {**self.mapping.to_dict(), "customer": self.customer.to_dict()}


@dataclass(frozen=True)
class ImportResult:
    """What importing a mapping file did."""

    added: int
    renamed: int  # mappings that held already, whose external name changed
    unchanged: int


# -- systems ------------------------------------------------------------------------------


def add_system(ctx: Context, name: str, description: str | None = None) -> str:
    """Register a system by name (ERP, CRM, billing …); returns the name."""
    ctx.require(Permission.MANAGE_RULES)
    name = name.strip()
    if not name or len(name) > MAX_SYSTEM_NAME or any(ch.isspace() for ch in name):
        raise InvalidFormat(f"system name {name!r}: give 1 to {MAX_SYSTEM_NAME} characters "
                            "without spaces, e.g. ERP or crm-cn")
    try:
        with ctx.store.write() as conn:
            now = ctx.now()
            conn.execute(system.insert().values(name=name, description=description,
                                                created_at=now))
            write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "system.add", "system",
                                                    name, {"description": description}, now)])
    except IntegrityError:
        raise Conflict(f"system {name!r} is already registered") from None
    return name


def list_systems(ctx: Context) -> list[tuple[str, str | None]]:
    """Every system: (name, description), by name."""
    ctx.require_user()
    with ctx.store.read() as conn:
        rows = conn.execute(select(system.c.name, system.c.description)
                            .order_by(system.c.name)).all()
    return [(r.name, r.description) for r in rows]


# -- mappings -----------------------------------------------------------------------------


def add_xref(
    ctx: Context, code: str, system_name: str, external_id: str,
    external_name: str | None = None, *, valid_from: date | None = None,
) -> KeyMapping:
    """Map a system's id (and name) to a customer. An id already mapped to another
    customer is refused, naming it; use :func:`move_xref` to move it."""
    external_id = _external_id(external_id)
    record = _mappable(ctx, code)
    with ctx.store.write() as conn:
        system_id = _system_id(conn, system_name)
        _insert_or_keep(ctx, conn, system_id, system_name, external_id, external_name,
                        record, valid_from)
    return find_xref(ctx, system_name, external_id).mapping


def find_xref(ctx: Context, system_name: str, external_id: str) -> XrefMatch:
    """Which customer the system means by ``external_id`` (the mapping that holds)."""
    external_id = _external_id(external_id)
    with ctx.store.read() as conn:
        system_id = _system_id(conn, system_name)
        row = conn.execute(
            select(xref).where(xref.c.system_id == system_id,
                               xref.c.external_id == external_id, xref.c.valid_to.is_(None))
        ).first()
    if row is None:
        raise NotFound(f"{system_name} id {external_id!r} is not mapped to any customer")
    found = get_customer_by_id(ctx, row.customer_id)
    ctx.require(Permission.READ, found)
    return XrefMatch(_mapping(row, system_name, found.code), found)


def xrefs_of(ctx: Context, code: str, system_name: str | None = None) -> list[KeyMapping]:
    """What other systems call a customer: its mappings (those that ended included),
    optionally of one system."""
    record = find_by_code(ctx, code).customer
    query = (select(xref, system.c.name.label("system_name"))
             .join(system, system.c.id == xref.c.system_id)
             .where(xref.c.customer_id == record.id))
    if system_name is not None:
        query = query.where(system.c.name == system_name)
    with ctx.store.read() as conn:
        if system_name is not None:
            _system_id(conn, system_name)  # an unknown system is an error, not "none"
        rows = conn.execute(query.order_by(system.c.name, xref.c.valid_to.is_not(None),
                                           xref.c.external_id)).all()
    return [_mapping(r, r.system_name, record.code) for r in rows]


def move_xref(
    ctx: Context, system_name: str, external_id: str, to_code: str, reason: str,
    *, on: date | None = None,
) -> KeyMapping:
    """Move a mapping to another customer: the old mapping ends ``on`` (default today)
    and a new one starts that day. Audited; the approval seam is asked first."""
    reason = require_reason(reason)
    current = find_xref(ctx, system_name, external_id)
    ctx.require(Permission.UPDATE, current.customer)
    target = _mappable(ctx, to_code)
    if target.id == current.customer.id:
        raise Conflict(f"{system_name} id {external_id!r} is already mapped to {target.code}")
    day = on or ctx.today()
    ctx.approvals.check(ctx, "xref.move",
                        {"system": system_name, "external_id": external_id,
                         "from": current.customer.code, "to": target.code, "reason": reason,
                         "on": day.isoformat()}, [current.customer, target])
    with ctx.store.write() as conn:
        _still_mappable(conn, target)
        now = ctx.now()
        system_id = _system_id(conn, system_name)
        ended = conn.execute(
            update(xref).where(xref.c.system_id == system_id,
                               xref.c.external_id == current.mapping.external_id,
                               xref.c.customer_id == current.customer.id,
                               xref.c.valid_to.is_(None))
            .values(valid_to=day)
        ).rowcount
        if ended != 1:
            raise Conflict("the mapping was changed meanwhile; look it up again and retry")
        conn.execute(xref.insert().values(
            system_id=system_id, external_id=current.mapping.external_id,
            external_name=current.mapping.external_name,
            external_normalised=_normalised(current.mapping.external_name),
            customer_id=target.id, valid_from=day, created_at=now))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "xref.move", "customer", target.id,
            {"system": system_name, "external_id": current.mapping.external_id,
             "from": current.customer.code, "to": target.code, "on": day.isoformat(),
             "reason": reason}, now)])
    return find_xref(ctx, system_name, external_id).mapping


def import_xrefs(ctx: Context, path: Path | str, system_name: str) -> ImportResult:
    """Add or refresh a system's mappings from a CSV file with the header
    ``code,external_id,external_name`` (the name may be empty), all in one transaction.

    A row whose id is mapped to another customer stops the import with its line number:
    moving a mapping is never done by an import. Nothing is written unless every row is
    fine.
    """
    rows = list(_read_mapping_file(Path(path)))
    customers: dict[str, CustomerRecord] = {}
    for line, code, _, _ in rows:  # each customer looked up once, at its first line
        if code not in customers:
            customers[code] = _mappable(ctx, code, line)
    added = renamed = unchanged = 0
    with ctx.store.write() as conn:
        system_id = _system_id(conn, system_name)
        for line, code, external_id, external_name in rows:
            outcome = _insert_or_keep(ctx, conn, system_id, system_name, external_id,
                                      external_name, customers[code], None, line=line,
                                      audit=False)
            added += outcome == "added"
            renamed += outcome == "renamed"
            unchanged += outcome == "unchanged"
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "xref.import", "system", system_name,
            {"file": Path(path).name, "added": added, "renamed": renamed,
             "unchanged": unchanged}, ctx.now())])
    return ImportResult(added, renamed, unchanged)


# -- helpers ------------------------------------------------------------------------------


def _insert_or_keep(
    ctx: Context, conn: Connection, system_id: int, system_name: str, external_id: str,
    external_name: str | None, record: CustomerRecord, valid_from: date | None,
    *, line: int | None = None, audit: bool = True,
) -> str:
    """Add the mapping, or keep (and rename) the one that holds; 'added', 'renamed' or
    'unchanged'. A mapping that holds for another customer is a Conflict."""
    where = f"line {line}: " if line is not None else ""
    _still_mappable(conn, record, where)
    external_name = (external_name or "").strip() or None
    holding = conn.execute(
        select(xref.c.id, xref.c.customer_id, xref.c.external_name)
        .where(xref.c.system_id == system_id, xref.c.external_id == external_id,
               xref.c.valid_to.is_(None))
    ).first()
    now = ctx.now()
    if holding is not None:
        if holding.customer_id != record.id:
            other = _current_code(conn, holding.customer_id)
            raise Conflict(f"{where}{system_name} id {external_id!r} is mapped to customer "
                           f"{other}; move it explicitly (xref move) if that is wrong")
        if external_name is None or external_name == holding.external_name:
            return "unchanged"
        conn.execute(update(xref).where(xref.c.id == holding.id)
                     .values(external_name=external_name,
                             external_normalised=_normalised(external_name)))
        outcome = "renamed"
    else:
        conn.execute(xref.insert().values(
            system_id=system_id, external_id=external_id, external_name=external_name,
            external_normalised=_normalised(external_name), customer_id=record.id,
            valid_from=valid_from, created_at=now))
        outcome = "added"
    if audit:
        detail = {"system": system_name, "external_id": external_id,
                  "external_name": external_name, "code": record.code}
        if record.kind == Kind.INDIVIDUAL.value:  # a person's name: see core.erasure
            del detail["external_name"]
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, f"xref.{'add' if outcome == 'added' else 'rename'}", "customer",
            record.id, detail, now)])
    return outcome


def _external_id(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_EXTERNAL_ID:
        raise InvalidFormat(f"external id {value!r}: give 1 to {MAX_EXTERNAL_ID} characters")
    return value


def _system_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(system.c.id).where(system.c.name == name)).scalar()
    if found is None:
        known = ", ".join(conn.execute(select(system.c.name).order_by(system.c.name))
                          .scalars()) or "none yet"
        raise NotFound(f"no system named {name!r} (known: {known}); add it with "
                       "`custmdm system add`")
    return int(found)


def _mappable(ctx: Context, code: str, line: int | None = None) -> CustomerRecord:
    try:
        record = find_by_code(ctx, code).customer
        ctx.require(Permission.UPDATE, record)
    except (NotFound, PermissionDenied) as error:
        raise error.prefixed(f"line {line}: ") if line is not None else error from None
    if record.status in (Lifecycle.RETIRED.value, Lifecycle.MERGED.value):
        where = f"line {line}: " if line is not None else ""
        raise Conflict(f"{where}customer {record.code} is {record.status}; map the id to "
                       "the customer that continues it")
    return record


def _still_mappable(conn: Connection, record: CustomerRecord, where: str = "") -> None:
    """Inside the write: the customer was not merged or retired since it was read (the
    row is share-locked on PostgreSQL, so a merge waits for this mapping or the other
    way round)."""
    status = conn.execute(select(customer.c.lifecycle).where(customer.c.id == record.id)
                          .with_for_update(read=True)).scalar()
    if status in (Lifecycle.RETIRED.value, Lifecycle.MERGED.value):
        raise Conflict(f"{where}customer {record.code} was {status} meanwhile; map the id "
                       "to the customer that continues it")


def _current_code(conn: Connection, customer_id: int) -> str:
    found = conn.execute(select(current_code_of(literal(customer_id)))).scalar()
    return str(found) if found is not None else f"#{customer_id}"


def _read_mapping_file(path: Path) -> Iterable[tuple[int, str, str, str | None]]:
    """(line, code, external id, external name) per data row of the CSV file."""
    if not path.is_file():
        raise NotFound(f"no file {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = {"code", "external_id"} - set(header)
        if missing:
            raise InvalidFormat(f"{path.name}: the header must name code, external_id and "
                                f"optionally external_name (missing: {', '.join(sorted(missing))})")
        reader.fieldnames = header
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            code = (row.get("code") or "").strip()
            external_id = (row.get("external_id") or "").strip()
            if not code or not external_id:
                raise InvalidFormat(f"line {line}: code and external_id are both needed")
            if external_id in seen:
                raise Conflict(f"line {line}: external id {external_id!r} appears again "
                               f"(first on line {seen[external_id]})")
            seen[external_id] = line
            yield line, code, _external_id(external_id), row.get("external_name")


def _mapping(row: Any, system_name: str, code: str) -> KeyMapping:
    return KeyMapping(system_name, row.external_id, row.external_name, code, row.valid_from,
                   row.valid_to)


def _normalised(external_name: str | None) -> str | None:
    """What search compares an external name by (empty names are not searched)."""
    return (normalise(external_name) or None) if external_name else None
