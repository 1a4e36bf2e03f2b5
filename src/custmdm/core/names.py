"""A customer's names: adding them, reading them as of a date, renaming.

The legal name lives in two places on purpose: ``customer.legal_name`` (what lists and
exports show) and a ``customer_name`` row of kind ``legal`` with its validity, which
keeps the history. Every use case here changes both in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select, update

from custmdm.core import dedup, naming
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, iso, validate_legal_name
from custmdm.core.registry import (
    bump_version,
    changeable,
    find_by_code,
    get_customer_by_id,
    require_reason,
    require_version,
)
from custmdm.domain.names import NameKind, forms_of
from custmdm.errors import Conflict, InvalidComponent, ValidationError
from custmdm.security.access import Permission
from custmdm.store.tables import NAME_COLUMNS, customer_name

#: Kinds a name can be added as; the legal name changes by renaming, which also makes
#: the former name.
ADDABLE_KINDS = (NameKind.SHORT, NameKind.ALIAS, NameKind.ENGLISH, NameKind.CODENAME)


@dataclass(frozen=True)
class NameRecord:
    """One name of a customer, as stored."""

    id: int
    kind: str
    text: str
    normalised: str
    pinyin: str
    initials: str
    valid_from: date | None
    valid_to: date | None
    source: str | None

    def is_valid_on(self, day: date) -> bool:
        """Valid from ``valid_from`` (inclusive) until ``valid_to`` (exclusive)."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day < self.valid_to))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "normalised": self.normalised,
                "pinyin": self.pinyin, "initials": self.initials,
                "valid_from": iso(self.valid_from), "valid_to": iso(self.valid_to),
                "source": self.source}


def add_name(
    ctx: Context, code: str, kind: str, text: str, *, valid_from: date | None = None,
    source: str | None = None, override_reason: str | None = None,
) -> NameRecord:
    """Give a customer another name (short, alias, English or code name). A name that
    makes it look like another customer is refused or warned like a registration."""
    name_kind = _addable_kind(kind)
    text = _valid_name(text)
    record = changeable(ctx, code, "names")
    naming.check(ctx, record.kind, name_kind.value, text)
    forms = forms_of(text)
    override = dedup.guard_new_name(ctx, record.id, forms, override_reason)
    with ctx.store.write() as conn:
        now = ctx.now()
        clash = conn.execute(
            select(customer_name.c.kind, customer_name.c.text)
            .where(customer_name.c.customer_id == record.id,
                   customer_name.c.normalised == forms.normalised,
                   customer_name.c.valid_to.is_(None))
        ).first()
        if clash is not None:
            raise Conflict(f"customer {record.code} already has the {clash.kind} name "
                           f"{clash.text!r}, which is the same name")
        bump_version(conn, record, now)
        ctx.store.insert_many(conn, customer_name, NAME_COLUMNS, [(
            record.id, name_kind.value, text, *forms, valid_from, None,
            source or ctx.actor.name, now)])
        dedup.add_name_keys(ctx, conn, record.id, forms, record.region)
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.name.add", "customer", record.id,
            {"code": record.code, "kind": name_kind.value, "text": text,
             "valid_from": iso(valid_from), **_overridden(override)}, now)])
    return next(n for n in names_of(ctx, record.code)
                if n.kind == name_kind.value and n.text == text and n.valid_to is None)


def names_of(ctx: Context, code: str, at: date | None = None) -> list[NameRecord]:
    """A customer's names: all of them, history included, or those valid on ``at``.
    Legal names (current, then former) come first, then by kind and validity."""
    record = find_by_code(ctx, code).customer
    query = select(customer_name).where(customer_name.c.customer_id == record.id)
    if at is not None:
        query = query.where(
            or_(customer_name.c.valid_from.is_(None), customer_name.c.valid_from <= at),
            or_(customer_name.c.valid_to.is_(None), customer_name.c.valid_to > at),
        )
    with ctx.store.read() as conn:
        rows = conn.execute(query).all()
    order = {kind.value: n for n, kind in enumerate(_LISTING_ORDER)}
    return sorted((_record(r) for r in rows),
                  key=lambda n: (order[n.kind], n.valid_from or date.min, n.id))


_LISTING_ORDER = (NameKind.LEGAL, NameKind.FORMER, NameKind.SHORT, NameKind.ALIAS,
                  NameKind.ENGLISH, NameKind.CODENAME)


def legal_name_on(ctx: Context, code: str, day: date) -> str:
    """What the customer was legally called on ``day`` (its legal or former name then).

    Before its first recorded legal name began (say, a customer registered under the
    name it has had for years), the earliest legal name known is the answer.
    """
    legal = [n for n in names_of(ctx, code)
             if n.kind in (NameKind.LEGAL.value, NameKind.FORMER.value)]
    for name in legal:
        if name.is_valid_on(day):
            return name.text
    return min(legal, key=lambda n: n.valid_from or date.min).text


def rename(
    ctx: Context, code: str, new_legal_name: str, reason: str, *, on: date | None = None,
    override_reason: str | None = None,
    expected_version: int | None = None,
) -> CustomerRecord:
    """Change the legal name from ``on`` (default: today). The old legal name becomes a
    former name, valid until that day, and keeps matching the customer."""
    new_legal_name = validate_legal_name(new_legal_name)
    reason = require_reason(reason)
    record = changeable(ctx, code, "names", Permission.RENAME)
    require_version(record, expected_version)
    naming.check(ctx, record.kind, NameKind.LEGAL.value, new_legal_name)
    day = on or ctx.today()
    if day > ctx.today():
        raise ValidationError(f"a rename takes effect today or earlier, not on {day}; "
                              "register it when it happens")
    forms = forms_of(new_legal_name)
    override = dedup.guard_new_name(ctx, record.id, forms, override_reason,
                                    new_legal_name=new_legal_name)
    ctx.approvals.check(ctx, "customer.rename",
                        {"code": record.code, "to": new_legal_name, "on": day.isoformat(),
                         "reason": reason, "override_reason": override_reason}, [record])
    with ctx.store.write() as conn:
        now = ctx.now()
        current = conn.execute(
            select(customer_name).where(_current_legal(record.id))
        ).one()
        if current.normalised == forms.normalised:
            raise Conflict(f"{new_legal_name!r} is already the legal name of {record.code} "
                           f"(as {current.text!r})")
        if current.valid_from is not None and day <= current.valid_from:
            raise ValidationError(
                f"the current legal name is valid from {current.valid_from}; a rename must "
                "take effect after that day")
        bump_version(conn, record, now, legal_name=new_legal_name)
        conn.execute(update(customer_name).where(customer_name.c.id == current.id)
                     .values(kind=NameKind.FORMER.value, valid_to=day))
        ctx.store.insert_many(conn, customer_name, NAME_COLUMNS, [(
            record.id, NameKind.LEGAL.value, new_legal_name, *forms, day, None,
            ctx.actor.name, now)])
        dedup.add_name_keys(ctx, conn, record.id, forms, record.region)
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.rename", "customer", record.id,
            {"code": record.code, "from": current.text, "to": new_legal_name,
             "on": day.isoformat(), "reason": reason, **_overridden(override)}, now)])
    return get_customer_by_id(ctx, record.id)


# -- helpers ------------------------------------------------------------------------------


def _overridden(override: dict[str, Any] | None) -> dict[str, Any]:
    return {} if override is None else {"duplicate_override": override}


def _addable_kind(kind: str) -> NameKind:
    try:
        name_kind = NameKind(kind.strip().lower())
    except ValueError:
        name_kind = None
    if name_kind not in ADDABLE_KINDS:
        choices = ", ".join(k.value for k in ADDABLE_KINDS)
        hint = ("; to change the legal name use `customer rename`"
                if name_kind in (NameKind.LEGAL, NameKind.FORMER) else "")
        raise InvalidComponent(f"a name can be added as {choices}, not {kind!r}{hint}")
    return name_kind


def _valid_name(text: str) -> str:
    try:
        return validate_legal_name(text)
    except ValidationError as error:
        raise type(error)(error.message.replace("legal name", "name")) from None


def _current_legal(customer_id: int) -> Any:
    return and_(customer_name.c.customer_id == customer_id,
                customer_name.c.kind == NameKind.LEGAL.value,
                customer_name.c.valid_to.is_(None))


def _record(row: Any) -> NameRecord:
    return NameRecord(row.id, row.kind, row.text, row.normalised, row.pinyin, row.initials,
                      row.valid_from, row.valid_to, row.source)
