"""Merging duplicates into one survivor (合并), and undoing a merge.

A merge is one transaction: the survivor takes each field by its survivorship rule (or
the steward's pick); the losers' codes become superseded codes of the survivor and keep
resolving; their names stay as aliases (legal names) or as they were; identifiers,
contacts, key mappings and match keys move to the survivor; the losers' lifecycle
becomes ``merged``. Every row the merge changes is saved, as it was, in the ``merge``
row, so undo can put each back exactly, unless something changed those rows since,
which undo then lists instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, iso, load_records
from custmdm.core.registry import find_by_code, require_version
from custmdm.domain.customer import CodeStatus, Lifecycle
from custmdm.domain.matching import blocking_keys
from custmdm.domain.names import NameKind
from custmdm.domain.survivorship import (
    DEFAULT_SURVIVORSHIP,
    MERGED_FIELDS,
    Choice,
    Contender,
    FieldRule,
    Survivorship,
    choose,
    field_rule,
)
from custmdm.errors import Conflict, NotFound, ValidationError
from custmdm.security.access import Permission
from custmdm.security.fields import SensitiveFields
from custmdm.store.tables import (
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_key,
    merge,
    survivorship_rule,
    system,
    xref,
)

#: Columns that travel with a field (the industry's section letter with its code).
_WITH = {"industry": ("industry_section",), "region": ("country",)}
#: Rows a merge moves from the losers to the survivor.
_MOVED: tuple[Table, ...] = (identifier, contact, xref)


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    survivor: CustomerRecord
    merged: tuple[str, ...]  # the losers' codes, now superseded codes of the survivor
    fields: dict[str, str]  # field → code of the customer its value came from
    by: dict[str, str]  # field → the rule that chose it (pick, trusted:SYSTEM, …)

    def to_dict(self) -> dict[str, Any]:
        return {"merge_id": self.merge_id, "survivor": self.survivor.to_dict(),
                "merged": list(self.merged), "fields": self.fields, "by": self.by}


def merge_customers(
    ctx: Context, survivor_code: str, loser_codes: Sequence[str],
    picks: Mapping[str, str] | None = None, reason: str = "duplicates",
    within: Callable[[Connection, int], None] | None = None,
    trusted: Sequence[str] = (),
    review_cluster: int | None = None,
    expected_versions: Mapping[str, int] | None = None,
) -> MergeResult:
    """Merge ``loser_codes`` into the customer holding ``survivor_code``.

    Each field (domain.survivorship.MERGED_FIELDS) takes its value by its survivorship
    rule (see :func:`survivorship_rules`), unless ``picks`` maps it to the code of the
    customer whose value it takes. ``trusted`` names systems, most trusted first: for
    this merge, a field not picked takes its value from the customer mapped in the most
    trusted system that has one, before the field's own rule. Refused if any customer changes
    meanwhile (a conflict, never a lost update), if one is already merged, if the
    survivor is retired, or if their kinds differ. ``within(conn, merge_id)`` runs inside
    the merge's transaction (the review queue records its decision there).
    ``expected_versions``: code → the version the caller read of that customer; one
    that changed since is StaleVersion.
    """
    if not loser_codes:
        raise ValidationError("give the survivor's code and at least one code to merge into it")
    survivor = _current(ctx, survivor_code)
    losers = [_current(ctx, code) for code in loser_codes]
    everyone = [survivor, *losers]
    if len({c.id for c in everyone}) != len(everyone):
        raise ValidationError("a customer is named twice (codes of one customer); give each "
                              "customer once")
    if survivor.status == Lifecycle.RETIRED:
        raise Conflict(f"customer {survivor.code} is retired; a retired customer cannot "
                       "survive a merge (merge it into an active one instead)")
    for c in everyone:
        if c.status == Lifecycle.MERGED:
            raise Conflict(f"customer {c.code} is already merged; undo that merge first")
        if c.kind != survivor.kind:
            raise ValidationError(f"customer {c.code} is {c.kind} and {survivor.code} is "
                                  f"{survivor.kind}: only customers of one kind are merged")
    for c in everyone:
        ctx.require(Permission.MERGE, c)
    given = dict(zip([survivor_code, *loser_codes], everyone, strict=True))
    for code, version in (expected_versions or {}).items():
        if code not in given:
            raise ValidationError(f"a version is given for {code}, which is not in the merge")
        require_version(given[code], version)
    by_code = {c.code: c for c in everyone}
    choices = _choose_fields(ctx, everyone, picks or {}, trusted)
    chosen = {name: choice.code for name, choice in choices.items()}
    ctx.approvals.check(ctx, "customer.merge",
                        {"survivor": survivor.code, "losers": [c.code for c in losers],
                         "picks": dict(picks or {}), "reason": reason,
                         "trusted": list(trusted), "review_cluster": review_cluster},
                        everyone)
    loser_ids = [c.id for c in losers]
    with ctx.store.write() as conn:
        now = ctx.now()
        # Lock the customers before reading what hangs off them: a mapping or name
        # added meanwhile then waits for the merge, instead of moving unsaved.
        conn.execute(select(customer.c.id).where(customer.c.id.in_([survivor.id,
                                                                    *loser_ids]))
                     .with_for_update())
        before = _snapshot(conn, survivor.id, loser_ids)
        _check_versions(before["customer"], everyone)
        values = {field: getattr(by_code[code], field) for field, code in chosen.items()}
        extra = _travelling(conn, chosen, by_code)
        changes = {**values, **extra}
        _bump(conn, survivor, now, **changes)
        for loser in losers:
            _bump(conn, loser, now, lifecycle=Lifecycle.MERGED.value)
        moved_codes = conn.execute(
            update(customer_code).where(customer_code.c.customer_id.in_(loser_ids))
            .values(customer_id=survivor.id, status=CodeStatus.SUPERSEDED.value,
                    ended_at=now, reason=f"merged into {survivor.code}")
            .where(customer_code.c.status == CodeStatus.ACTIVE.value)).rowcount
        conn.execute(update(customer_code).where(customer_code.c.customer_id.in_(loser_ids))
                     .values(customer_id=survivor.id))
        legal = _current_legal_names(conn, [survivor.id, *loser_ids])
        conn.execute(update(customer_name)
                     .where(customer_name.c.id.in_([legal[i] for i in loser_ids if i in legal]))
                     .values(kind=NameKind.ALIAS.value))
        source = by_code[chosen["legal_name"]].id
        if source != survivor.id and source in legal:  # the survivor takes a loser's name
            conn.execute(update(customer_name).where(customer_name.c.id == legal[survivor.id])
                         .values(kind=NameKind.ALIAS.value))
            conn.execute(update(customer_name).where(customer_name.c.id == legal[source])
                         .values(kind=NameKind.LEGAL.value))
        for table in (customer_name, *_MOVED):
            conn.execute(update(table).where(table.c.customer_id.in_(loser_ids))
                         .values(customer_id=survivor.id))
        added_keys = _rekey(ctx, conn, survivor.id, loser_ids)
        after_versions = {str(c.id): c.version + 1 for c in everyone}
        merge_id = int(conn.execute(insert(merge).values(
            survivor_id=survivor.id, loser_ids=loser_ids, fields=chosen, reason=reason,
            before=before, added_keys=added_keys, versions=after_versions,
            merged_at=now, merged_by=ctx.actor.name).returning(merge.c.id)).scalar_one())
        detail = {"merge_id": merge_id, "survivor": survivor.code,
                  "losers": [c.code for c in losers], "fields": chosen,
                  "by": {name: choice.by for name, choice in choices.items()},
                  "trusted": list(trusted), "reason": reason,
                  "codes_superseded": moved_codes}
        write_audit(ctx.store, conn, [
            audit_row(ctx.actor.name, "customer.merge", "customer", c.id, detail, now)
            for c in everyone])
        if within is not None:
            within(conn, merge_id)
        record = load_records(conn, [survivor.id], ctx.store.fields)[0]
    return MergeResult(merge_id, record, tuple(c.code for c in losers), chosen,
                       {name: choice.by for name, choice in choices.items()})


def undo_merge(ctx: Context, merge_id: int, reason: str = "undo") -> CustomerRecord:
    """Put back every row the merge changed, exactly as it was; refused, listing what
    changed, if anything the merge touched has changed since."""
    with ctx.store.write() as conn:
        row = conn.execute(select(merge).where(merge.c.id == merge_id)).first()
        if row is None:
            raise NotFound(f"no merge {merge_id}")
        if row.undone_at is not None:
            raise Conflict(f"merge {merge_id} was undone on {iso(row.undone_at)} by "
                           f"{row.undone_by}")
        ids = [row.survivor_id, *row.loser_ids]
        for involved in load_records(conn, ids, ctx.store.fields):
            ctx.require(Permission.MERGE, involved)
        later = _later_changes(conn, row, ids, ctx.store.fields)
        if later:
            raise Conflict(f"merge {merge_id} cannot be undone exactly; changed since: "
                           + "; ".join(later))
        now = ctx.now()
        before = row.before
        # Rows that moved, back to where they were, as they were.
        # Names first made aliases, so no customer has two legal names on the way.
        conn.execute(update(customer_name).where(customer_name.c.id.in_(
            [saved["id"] for saved in before[customer_name.name]]))
            .values(kind=NameKind.ALIAS.value))
        for table in (customer_code, customer_name, *_MOVED):
            for saved in before[table.name]:
                conn.execute(update(table).where(table.c.id == saved["id"])
                             .values(_restored(table, saved)))
        for saved in before["customer"]:
            conn.execute(update(customer).where(customer.c.id == saved["id"])
                         .values(_restored(customer, saved)))
        conn.execute(delete(match_key).where(match_key.c.customer_id.in_(ids)))
        ctx.store.insert_many(conn, match_key, ("key", "customer_id"),
                              [(k, c) for k, c in before["match_key"]])
        conn.execute(update(merge).where(merge.c.id == merge_id)
                     .values(undone_at=now, undone_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "customer.merge.undo", "customer", cid,
            {"merge_id": merge_id, "reason": reason}, now) for cid in ids])
        return load_records(conn, [row.survivor_id], ctx.store.fields)[0]


def _current(ctx: Context, code: str) -> CustomerRecord:
    """The customer whose current code this is. An old code is refused rather than
    followed: after a merge it leads to the survivor, which is not what was meant."""
    found = find_by_code(ctx, code)
    if found.requested_code != found.customer.code:
        raise ValidationError(f"{found.requested_code} is a {found.requested_status} code; "
                              f"the customer's current code is {found.customer.code}: "
                              "merge by current codes")
    return found.customer


# -- choosing values ------------------------------------------------------------------------


def _choose_fields(ctx: Context, everyone: Sequence[CustomerRecord],
                   picks: Mapping[str, str], trusted: Sequence[str]) -> dict[str, Choice]:
    """For each field, whose value the survivor (first in ``everyone``) keeps: the
    survivorship rules in force and the systems each customer is mapped in, read
    together, then domain.survivorship decides."""
    with ctx.store.read() as conn:
        _check_systems(conn, trusted)
        rules = _survivorship_rules(conn)
        mapped: dict[int, set[str]] = {}
        for customer_id, name in conn.execute(
                select(xref.c.customer_id, system.c.name).join(system)
                .where(xref.c.customer_id.in_([c.id for c in everyone]),
                       xref.c.valid_to.is_(None))):
            mapped.setdefault(customer_id, set()).add(name)
    contenders = [Contender(c.code, {name: getattr(c, name) for name in MERGED_FIELDS},
                            c.updated_at, frozenset(mapped.get(c.id, ())))
                  for c in everyone]
    return choose(contenders, rules, picks, trusted)


# -- survivorship rules ---------------------------------------------------------------------


def survivorship_rules(ctx: Context) -> list[FieldRule]:
    """The rule in force for every field a merge decides: a steward's, else the
    built-in one (``default``)."""
    ctx.require_user()
    with ctx.store.read() as conn:
        rules = _survivorship_rules(conn)
    return [rules[name] for name in MERGED_FIELDS]


def set_survivorship_rule(ctx: Context, field_name: str, rule: str | None,
                          systems: Sequence[str] = ()) -> FieldRule:
    """Set a field's survivorship rule (``trusted`` with its systems, most trusted
    first), or with ``rule`` None go back to the built-in one. Audited."""
    ctx.require(Permission.MANAGE_RULES)
    if rule is None:
        if field_name not in MERGED_FIELDS:
            field_rule(field_name, Survivorship.SURVIVOR.value)  # raises the clear error
        wanted = DEFAULT_SURVIVORSHIP[field_name]
    else:
        wanted = field_rule(field_name, rule, systems)
    try:
        with ctx.store.write() as conn:
            _check_systems(conn, wanted.systems, "; add it with `custmdm system add`")
            before = _survivorship_rules(conn)[field_name]
            now = ctx.now()
            conn.execute(delete(survivorship_rule)
                         .where(survivorship_rule.c.field == field_name))
            if rule is not None:
                conn.execute(insert(survivorship_rule).values(
                    field=field_name, rule=wanted.rule.value, systems=list(wanted.systems),
                    updated_at=now, updated_by=ctx.actor.name))
            write_audit(ctx.store, conn, [audit_row(
                ctx.actor.name, "survivorship_rule.set", "survivorship_rule", field_name,
                {"field": field_name, "from": before.to_dict(), "to": wanted.to_dict()}, now)])
    except IntegrityError:
        raise Conflict(f"the {field_name} rule was changed by someone else at the same "
                       "moment; look at `custmdm dedup survivorship list` and run the "
                       "command again") from None
    return wanted


def _check_systems(conn: Connection, names: Sequence[str], hint: str = "") -> None:
    """Refuse systems (given with --trust) the register does not know."""
    if not names:
        return
    known = set(conn.scalars(select(system.c.name)))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationError(f"--trust {', '.join(unknown)}: no such system (known: "
                              f"{', '.join(sorted(known)) or 'none'}){hint}")


def _survivorship_rules(conn: Connection) -> dict[str, FieldRule]:
    rules = dict(DEFAULT_SURVIVORSHIP)
    for row in conn.execute(select(survivorship_rule)):
        rules[row.field] = FieldRule(row.field, Survivorship(row.rule), tuple(row.systems))
    return rules


def _travelling(conn: Connection, chosen: Mapping[str, str],
                by_code: Mapping[str, CustomerRecord]) -> dict[str, Any]:
    """Columns that go with a chosen field (country with region, section with industry)."""
    out: dict[str, Any] = {}
    for field, columns in _WITH.items():
        source = by_code[chosen[field]].id
        row = conn.execute(select(*(customer.c[c] for c in columns))
                           .where(customer.c.id == source)).one()
        out.update(zip(columns, row, strict=True))
    return out


def _current_legal_names(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """customer id → the id of its current legal name row."""
    return dict(conn.execute(select(customer_name.c.customer_id, customer_name.c.id).where(
        customer_name.c.customer_id.in_(ids), customer_name.c.kind == NameKind.LEGAL.value,
        customer_name.c.valid_to.is_(None))).all())


def _bump(conn: Connection, record: CustomerRecord, now: datetime, **changes: Any) -> None:
    done = conn.execute(
        update(customer).where(customer.c.id == record.id,
                               customer.c.version == record.version)
        .values(version=record.version + 1, updated_at=now, **changes)).rowcount
    if done != 1:
        raise Conflict(f"customer {record.code} was changed meanwhile; read it again and "
                       "merge again")


def _check_versions(rows: Sequence[Mapping[str, Any]], everyone: Sequence[CustomerRecord]
                    ) -> None:
    seen = {row["id"]: row["version"] for row in rows}
    for c in everyone:
        if seen.get(c.id) != c.version:
            raise Conflict(f"customer {c.code} was changed meanwhile; read it again and "
                           "merge again")


def _rekey(ctx: Context, conn: Connection, survivor_id: int, loser_ids: Sequence[int]
           ) -> list[str]:
    """File the survivor anew under the keys of everything it now holds (its region may
    have changed, and with it the city of its typo keys), the losers under none;
    returns the keys it did not have."""
    from custmdm.core.dedup import stored_record

    have = set(conn.scalars(select(match_key.c.key)
                            .where(match_key.c.customer_id == survivor_id)))
    fields = ctx.store.fields
    keys = fields.match_keys(blocking_keys(stored_record(conn, survivor_id, fields)))
    conn.execute(delete(match_key).where(match_key.c.customer_id.in_([survivor_id,
                                                                       *loser_ids])))
    ctx.store.insert_many(conn, match_key, ("key", "customer_id"),
                          [(k, survivor_id) for k in keys])
    return sorted(set(keys) - have)


# -- saving and restoring rows ----------------------------------------------------------------


def _snapshot(conn: Connection, survivor_id: int, loser_ids: Sequence[int]
              ) -> dict[str, Any]:
    """Every row the merge may change, as JSON-ready dicts per table."""
    ids = [survivor_id, *loser_ids]
    out: dict[str, Any] = {
        "customer": [_saved(customer, r) for r in conn.execute(
            select(customer).where(customer.c.id.in_(ids)).order_by(customer.c.id))],
        # The survivor's current legal name may become an alias (a pick): saved too.
        customer_name.name: [_saved(customer_name, r) for r in conn.execute(
            select(customer_name).where(customer_name.c.customer_id.in_(ids))
            .order_by(customer_name.c.id))],
        "match_key": [[k, c] for k, c in conn.execute(
            select(match_key.c.key, match_key.c.customer_id)
            .where(match_key.c.customer_id.in_(ids)))],
    }
    for table in (customer_code, *_MOVED):
        out[table.name] = [_saved(table, r) for r in conn.execute(
            select(table).where(table.c.customer_id.in_(loser_ids)).order_by(table.c.id))]
    return out


def _saved(table: Table, row: Any) -> dict[str, Any]:
    return {c.name: _json_value(getattr(row, c.name)) for c in table.columns}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _restored(table: Table, saved: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for column in table.columns:
        value = saved[column.name]
        if value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        out[column.name] = value
    return out


def _later_changes(conn: Connection, row: Any, ids: Sequence[int], fields: SensitiveFields,
                   ) -> list[str]:
    """What changed since the merge among the rows it touched."""
    found = []
    versions = dict(conn.execute(select(customer.c.id, customer.c.version)
                                 .where(customer.c.id.in_(ids))).all())
    codes = dict(conn.execute(select(customer_code.c.customer_id, customer_code.c.value)
                              .where(customer_code.c.customer_id.in_(ids),
                                     customer_code.c.status == "active")).all())
    for cid in ids:
        expected = row.versions[str(cid)]
        if versions.get(cid) != expected:
            found.append(f"customer {codes.get(cid, cid)} is at version {versions.get(cid)}, "
                         f"the merge left it at {expected}")
    for table in (customer_code, customer_name, *_MOVED):
        saved_ids = [saved["id"] for saved in row.before[table.name]]
        if not saved_ids:
            continue
        elsewhere = conn.execute(select(table.c.id).where(
            table.c.id.in_(saved_ids), table.c.customer_id.not_in(ids))).scalars().all()
        if elsewhere:
            found.append(f"{len(elsewhere)} {table.name} row(s) moved to other customers")
    # Rows a merge only re-points may change without a new customer version (a key
    # mapping moved, ended or renamed): anything but the owner differing is a change.
    for table in _MOVED:
        saved_rows = {saved["id"]: saved for saved in row.before[table.name]}
        if not saved_rows:
            continue
        for current in conn.execute(select(table).where(table.c.id.in_(list(saved_rows)))):
            # Opened: a data key rotation re-encrypts values without changing them.
            now_values = fields.opened_row(table.name, _saved(table, current))
            was = fields.opened_row(table.name, saved_rows[current.id])
            if any(now_values[c] != was[c] for c in now_values if c != "customer_id"):
                found.append(f"{table.name} row {current.id} changed "
                             f"({_describe(table, current)})")
    return found


def _describe(table: Table, row: Any) -> str:
    if table is xref:
        return f"mapping {row.external_id}"
    return f"{getattr(row, 'kind', getattr(row, 'scheme', ''))}"
