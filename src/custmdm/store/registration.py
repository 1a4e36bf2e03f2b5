"""Writing one registration in as few round trips as each database allows.

A registration writes a customer row, its identifiers, its code and an audit entry.
PostgreSQL can do several of those in one statement (data-modifying CTEs), which
matters when many writers share two cores: every statement costs client CPU and a
round trip. SQLite cannot (no DML in CTEs) and needs none of it (no network), so it
runs the same steps as plain statements. Both keep the same guarantees:

* a code is recorded only while its coding-rule version is still current, checked in
  the same statement (``None`` returned otherwise, so the caller can choose again);
* a reserved code is claimed only if it is still reserved;
* all of it is one transaction (or one atomic statement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Executable,
    String,
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import Grouping

from custmdm.security.audit_chain import canonical_json
from custmdm.store.audit import chain_params, chained_audit_insert, pending_entry
from custmdm.store.database import Store
from custmdm.store.tables import (
    CODE_COLUMNS,
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    IDENTIFIER_COLUMNS,
    NAME_COLUMNS,
    NAME_ROW_COLUMNS,
    code_counter,
    coding_rule,
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_key,
)

Row = Mapping[str, Any]

#: Separates the candidate codes sent to a gapless registration (ASCII unit separator).
CODE_SEPARATOR = "\x1f"
#: First key of the advisory locks on which gapless writers of one counter queue
#: (two-key advisory locks never clash with the one-key RULE_CHANGES_LOCK).
COUNTER_LOCK_CLASS = 0x434D44  # "CMD"


def _params(prefix: str, table_columns: Sequence[str], table: Any) -> list[Any]:
    return [bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in table_columns]


def _rule_is_current() -> Any:
    """The rule version is current; on PostgreSQL also share-locked until commit, so a
    new version waits for this statement's transaction (and then sees its code)."""
    return (
        select(coding_rule.c.id)
        .where(coding_rule.c.id == bindparam("k_rule_id"), coding_rule.c.is_current)
        .with_for_update(read=True)
        .exists()
    )


_INSERT_CUSTOMER = insert(customer).returning(customer.c.id)
_INSERT_CODE_IF_RULE_CURRENT = (
    insert(customer_code)
    .from_select(list(CODE_COLUMNS),
                 select(*_params("k_", CODE_COLUMNS, customer_code)).where(_rule_is_current()))
    .returning(customer_code.c.id)
)
def insert_code_if_rule_current(conn: Connection, code: Row) -> int | None:
    """Record a code row if its rule version is still current; its id, else None."""
    found = conn.execute(_INSERT_CODE_IF_RULE_CURRENT, _params_of("k_", code)).scalar()
    return None if found is None else int(found)


def _params_of(prefix: str, row: Row) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in row.items()}


class RegistrationWriter:
    """Plain statements, one per step (SQLite, and the reference behaviour)."""

    #: Can a gapless registration be written in one statement (see
    #: :meth:`PostgresRegistrationWriter.register_on_counter`)?
    registers_on_counter = False

    def __init__(self, store: Store) -> None:
        self.store = store

    def register_on_counter(
        self, counter: Row, candidates: Sequence[str], base: int, values: Row,
        identifiers: Sequence[Row], names: Sequence[Row], audit: Row,
        contacts: Sequence[Row] = (), keys: Sequence[str] = (),
    ) -> tuple[int, int] | None:
        """See :meth:`PostgresRegistrationWriter.register_on_counter`."""
        raise NotImplementedError("only where registers_on_counter is true")

    def insert_customer(
        self, conn: Connection, values: Row, identifiers: Sequence[Row], names: Sequence[Row],
        contacts: Sequence[Row] = (), keys: Sequence[str] = (),
    ) -> int:
        """Insert the customer, its identifiers, its names (each: the NAME_COLUMNS
        from ``kind`` to ``source``, legal name first), its contacts (CONTACT_COLUMNS
        from ``kind`` to ``blind``, sealed: security.fields) and its match keys (as
        stored); returns the customer id."""
        customer_id = int(conn.execute(_INSERT_CUSTOMER, dict(values)).scalar_one())
        self.store.insert_many(conn, identifier, IDENTIFIER_COLUMNS, [
            (customer_id, i["scheme"], i["value"], True, values["created_at"], i["sealed"])
            for i in identifiers])
        self.store.insert_many(conn, customer_name, NAME_COLUMNS, [
            (customer_id, *(name[c] for c in NAME_COLUMNS[1:-1]), values["created_at"])
            for name in names])
        self.store.insert_many(conn, contact, CONTACT_COLUMNS, [
            (customer_id, *(c[k] for k in CONTACT_COLUMNS[1:-1]), values["created_at"])
            for c in contacts])
        self.store.insert_many(conn, match_key, ("key", "customer_id"),
                               [(key, customer_id) for key in keys])
        return customer_id

    def insert_code_and_audit(self, conn: Connection, code: Row, audit: Row) -> bool:
        """Record an issued code and its audit entry; False if the rule is stale."""
        if insert_code_if_rule_current(conn, code) is None:
            return False
        self.store.queue_audit(conn, [pending_entry(audit)])
        return True

    def insert_reserved(
        self, conn: Connection, rule_id: int, scope_key: str, first: int,
        codes: Sequence[str], reserved_at: datetime, audit: Row,
    ) -> list[int]:
        """See :meth:`PostgresRegistrationWriter.insert_reserved`."""
        raise NotImplementedError("codes are reserved ahead only where the store says so")

    def claim_and_register(
        self, code_id: int, rule_id: int, values: Row, identifiers: Sequence[Row],
        names: Sequence[Row], audit: Row, contacts: Sequence[Row] = (),
        keys: Sequence[str] = (),
    ) -> int | None:
        """See :meth:`PostgresRegistrationWriter.claim_and_register`."""
        raise NotImplementedError("codes are reserved ahead only where the store says so")


class PostgresRegistrationWriter(RegistrationWriter):
    """The same steps folded into single statements with data-modifying CTEs."""

    registers_on_counter = True

    def register_on_counter(
        self, counter: Row, candidates: Sequence[str], base: int, values: Row,
        identifiers: Sequence[Row], names: Sequence[Row], audit: Row,
        contacts: Sequence[Row] = (), keys: Sequence[str] = (),
    ) -> tuple[int, int] | None:
        """A gapless registration as one atomic statement; ``(customer id, seq)``.

        The statement writes the customer and its identifiers, then takes the next
        number of the counter (``counter`` gives ``rule_name``, ``scope_key``,
        ``rule_id``, ``issued_at``), picks the code for it from ``candidates`` (the
        codes for ``base``, ``base + 1`` …, rendered ahead by the caller, since check
        characters are computed in Python) and writes the code and the audit entry.
        The counter row is locked as late as possible and only inside the statement,
        never while the client works, which is what keeps many gapless writers moving
        on few cores. If the number falls outside the candidates or the rule version
        is no longer current, the code value is NULL, its NOT NULL constraint fails
        the whole statement, nothing is written (the counter included), and None is
        returned: the caller then takes the ordinary path.
        """
        params: dict[str, Any] = {
            **_params_of("c_", values), **_params_of("k_", counter),
            **_identifier_arrays(identifiers), **_name_arrays(names),
            **_contact_arrays(contacts, keys),
            "codes": CODE_SEPARATOR.join(candidates), "base": base,
            **_audit_params(self.store, audit),
            # The code goes in front of the rest of the detail, in SQL.
            "a_detail": canonical_json(audit["detail"])[1:],
        }
        try:
            row = self.store.run_alone("pg:register_on_counter", _register_on_counter, params)
        except IntegrityError as error:
            message = self.store.violated_constraint(error)
            if "null value" in message and "customer_code" in message:
                return None
            raise
        assert row is not None  # one row, or an error for the whole statement
        return int(row[0]), int(row[1])

    def insert_customer(
        self, conn: Connection, values: Row, identifiers: Sequence[Row], names: Sequence[Row],
        contacts: Sequence[Row] = (), keys: Sequence[str] = (),
    ) -> int:
        params = {**_params_of("c_", values), **_identifier_arrays(identifiers),
                  **_name_arrays(names), **_contact_arrays(contacts, keys)}
        return int(self.store.execute_scalar(conn, "pg:insert_customer",
                                             lambda _: _customer_with_identifiers(), params))

    def insert_reserved(
        self, conn: Connection, rule_id: int, scope_key: str, first: int,
        codes: Sequence[str], reserved_at: datetime, audit: Row,
    ) -> list[int]:
        """Record ``codes`` (numbers ``first`` …) as reserved, with their audit entry,
        in one statement; the new rows' ids in the order of ``codes``."""
        params = {"k_codes": list(codes), "k_first": first, "k_rule_id": rule_id,
                  "k_scope_key": scope_key, "k_issued_at": reserved_at}
        rows = conn.execute(self.store.statement("pg:insert_reserved", _insert_reserved),
                            params).all()
        self.store.queue_audit(conn, [pending_entry(audit)])
        ids = {int(seq): int(code_id) for code_id, seq in rows}
        return [ids[first + n] for n in range(len(codes))]

    def claim_and_register(
        self, code_id: int, rule_id: int, values: Row, identifiers: Sequence[Row],
        names: Sequence[Row], audit: Row, contacts: Sequence[Row] = (),
        keys: Sequence[str] = (),
    ) -> int | None:
        """Register a customer on a reserved code in one atomic statement; None (and
        nothing written) if the code is no longer reserved or its rule version is no
        longer current."""
        params = {**_params_of("c_", values), **_audit_params(self.store, audit),
                  **_identifier_arrays(identifiers), **_name_arrays(names),
                  **_contact_arrays(contacts, keys),
                  "a_detail": canonical_json(audit["detail"]),
                  "code_id": code_id, "k_rule_id": rule_id, "k_issued_at": audit["at"]}
        # One statement is one atomic transaction of its own: no BEGIN, no COMMIT.
        row = self.store.run_alone("pg:claim_and_register", _claim_and_register, params)
        return None if row is None else int(row[0])


def registration_writer(store: Store) -> RegistrationWriter:
    """The writer for this store's database."""
    return RegistrationWriter(store) if store.is_sqlite else PostgresRegistrationWriter(store)


def _audit_params(store: Store, audit: Row) -> dict[str, Any]:
    """The parameters of an audit entry appended in SQL (store.audit)."""
    return chain_params(store.checked_audit_key(), audit["at"], audit["actor"],
                        audit["action"], audit["entity"])


def _identifier_arrays(identifiers: Sequence[Row]) -> dict[str, list[str | None]]:
    """Identifiers as three parallel arrays, so one statement serves any number."""
    return {"i_schemes": [i["scheme"] for i in identifiers],
            "i_values": [i["value"] for i in identifiers],
            "i_sealed": [i["sealed"] for i in identifiers]}


# -- PostgreSQL statements ------------------------------------------------------------------


def _identifier_insert(new_customer: Any) -> Any:
    """Insert the customer's identifiers (unnested from three arrays); one row per
    identifier, with its customer's id."""
    given = func.unnest(
        bindparam("i_schemes", type_=ARRAY(String)), bindparam("i_values", type_=ARRAY(String)),
        bindparam("i_sealed", type_=ARRAY(Text)),
    ).table_valued("scheme", "value", "sealed").render_derived()
    return insert(identifier).from_select(
        list(IDENTIFIER_COLUMNS),
        select(new_customer.c.id, given.c.scheme, given.c.value, true(),
               bindparam("c_created_at", type_=identifier.c.created_at.type), given.c.sealed)
        .select_from(new_customer).join(given, true()),
    ).returning(identifier.c.customer_id).cte("new_identifiers")


#: The name columns a registration statement takes as arrays, one element per name.
_NAME_ARRAYS = NAME_ROW_COLUMNS


def _name_arrays(names: Sequence[Row]) -> dict[str, list[Any]]:
    """Names as parallel arrays (see _name_insert), so one statement takes any number."""
    return {f"n_{c}": [n[c] for n in names] for c in (*_NAME_ARRAYS, "source")}


def _name_insert(new_customer: Any) -> Any:
    """Insert the customer's names (forms computed in Python), unnested from arrays."""
    arrays = [bindparam(f"n_{c}", type_=ARRAY(customer_name.c[c].type))
              for c in (*_NAME_ARRAYS, "source")]
    given = func.unnest(*arrays).table_valued(*_NAME_ARRAYS, "source").render_derived()
    return insert(customer_name).from_select(
        ["customer_id", *NAME_ROW_COLUMNS, "source", "created_at"],
        select(new_customer.c.id, *(given.c[c] for c in (*_NAME_ARRAYS, "source")),
               bindparam("c_created_at", type_=customer_name.c.created_at.type))
        .select_from(new_customer).join(given, true()),
    ).returning(customer_name.c.customer_id).cte("new_name")


def _contact_arrays(contacts: Sequence[Row], keys: Sequence[str]) -> dict[str, list[Any]]:
    """Contacts as parallel arrays and match keys as one (see _contact_insert)."""
    return {**{f"t_{c}": [row[c] for row in contacts] for c in _CONTACT_ARRAYS},
            "m_keys": list(keys)}


_CONTACT_ARRAYS = CONTACT_COLUMNS[1:-1]


def _contact_insert(new_customer: Any) -> Any:
    """Insert the customer's contacts, unnested from arrays."""
    arrays = [bindparam(f"t_{c}", type_=ARRAY(contact.c[c].type)) for c in _CONTACT_ARRAYS]
    given = func.unnest(*arrays).table_valued(*_CONTACT_ARRAYS).render_derived()
    return insert(contact).from_select(
        list(CONTACT_COLUMNS),
        select(new_customer.c.id, *(given.c[c] for c in _CONTACT_ARRAYS),
               bindparam("c_created_at", type_=contact.c.created_at.type))
        .select_from(new_customer).join(given, true()),
    ).returning(contact.c.customer_id).cte("new_contact")


def _key_insert(new_customer: Any) -> Any:
    """Insert the customer's match keys (the blocking index), unnested from an array."""
    given = func.unnest(bindparam("m_keys", type_=ARRAY(String))).table_valued(
        "key").render_derived()
    return insert(match_key).from_select(
        ["key", "customer_id"],
        select(given.c.key, new_customer.c.id).select_from(new_customer).join(given, true()),
    ).returning(match_key.c.customer_id).cte("new_key")


def _new_customer(source: Any = None, with_id: Any = None) -> Any:
    columns = list(CUSTOMER_COLUMNS)
    values = _params("c_", CUSTOMER_COLUMNS, customer)
    if with_id is not None:
        columns, values = ["id", *columns], [with_id, *values]
    chosen = select(*values)
    if source is not None:
        chosen = chosen.select_from(source)
    return (insert(customer).from_select(columns, chosen).returning(customer.c.id)
            .cte("new_customer"))


def _customer_with_identifiers() -> Executable:
    new_customer = _new_customer()
    return (select(new_customer.c.id).add_cte(_identifier_insert(new_customer))
            .add_cte(_name_insert(new_customer)).add_cte(_contact_insert(new_customer))
            .add_cte(_key_insert(new_customer)))


def _register_on_counter(_store: Store) -> Executable:
    new_customer = _new_customer()
    new_identifiers = _identifier_insert(new_customer)
    new_name = _name_insert(new_customer)
    new_contact = _contact_insert(new_customer)
    new_key = _key_insert(new_customer)
    # The counter is taken from rows of new_customer and after new_identifiers and
    # new_name have run (a data dependency, which PostgreSQL must honour), so its row
    # lock is held only for the code, the audit entry and the commit.
    written = sum((select(func.count()).select_from(cte).scalar_subquery()
                   for cte in (new_identifiers, new_name, new_contact, new_key)),
                  start=literal(0))
    # Writers of one counter first queue on an advisory lock for it: the lock manager
    # wakes them one at a time, where waiters on the row itself would all wake at
    # each commit and compete (measured: about a quarter of the server's CPU).
    queued = (
        select(func.pg_advisory_xact_lock(
            literal(COUNTER_LOCK_CLASS),
            func.hashtext(bindparam("k_rule_name", type_=String).concat(CODE_SEPARATOR)
                          .concat(bindparam("k_scope_key", type_=String)))).label("queued"))
        .select_from(new_customer).where(written >= 0)
        .cte("queued")
    )
    taken = postgresql.insert(code_counter).from_select(
        ["rule_name", "scope_key", "next_value"],
        select(bindparam("k_rule_name", type_=String), bindparam("k_scope_key", type_=String),
               literal(2, BigInteger))
        .select_from(queued),
    )
    counter = (
        taken.on_conflict_do_update(
            index_elements=[code_counter.c.rule_name, code_counter.c.scope_key],
            set_={"next_value": code_counter.c.next_value + 1},
        )
        .returning((code_counter.c.next_value - 1).label("seq"))
        .cte("counter")
    )
    # One text parameter rather than an array: cheaper to send. Codes never contain
    # the separator (see domain.codes.LITERAL_CHARACTERS).
    candidates = type_coerce(
        Grouping(func.string_to_array(bindparam("codes", type_=String), CODE_SEPARATOR)),
        ARRAY(String))
    offset = counter.c.seq - bindparam("base", type_=BigInteger) + 1
    picked = select(
        counter.c.seq,
        case((_rule_is_current(), candidates[offset]), else_=null()).label("value"),
    ).cte("picked")
    both = new_customer.join(picked, true())
    new_code = insert(customer_code).from_select(
        list(CODE_COLUMNS),
        select(picked.c.value, new_customer.c.id,
               bindparam("k_rule_id", type_=customer_code.c.rule_id.type),
               bindparam("k_scope_key", type_=String), picked.c.seq, literal("active"),
               bindparam("k_issued_at", type_=customer_code.c.issued_at.type))
        .select_from(both),
    ).returning(customer_code.c.id).cte("new_code")
    # The chain head is locked after the code is written (a data dependency), so it
    # is the statement's last lock.
    written_code = new_customer.join(picked, true()).join(new_code, true())
    detail = (literal('{"code":').concat(cast(func.to_json(picked.c.value), Text))
              .concat(",").concat(bindparam("a_detail", type_=Text)))
    head, audit = chained_audit_insert(written_code, cast(new_customer.c.id, Text), detail)
    return (
        select(new_customer.c.id, picked.c.seq).select_from(both)
        .add_cte(new_identifiers).add_cte(new_name).add_cte(new_contact).add_cte(new_key)
        .add_cte(new_code).add_cte(head).add_cte(audit)
    )


def _insert_reserved(_store: Store) -> Executable:
    given = func.unnest(bindparam("k_codes", type_=ARRAY(String))).table_valued(
        "value", with_ordinality="n").render_derived()
    new_codes = insert(customer_code).from_select(
        list(CODE_COLUMNS),
        select(given.c.value, null(), bindparam("k_rule_id", type_=BigInteger),
               bindparam("k_scope_key", type_=String),
               bindparam("k_first", type_=BigInteger) + given.c.n - 1, literal("reserved"),
               bindparam("k_issued_at", type_=customer_code.c.issued_at.type)),
    ).returning(customer_code.c.id, customer_code.c.seq)
    return new_codes


def _claim_and_register(store: Store) -> Executable:
    # The sequence is named in the SQL, not looked up on every call.
    sequence: Any = literal_column(f"'{store.serial_sequence(customer)}'::regclass")
    new_id = select(func.nextval(sequence).label("id")).cte("new_id")
    claimed = (
        update(customer_code)
        .where(customer_code.c.id == bindparam("code_id"),
               customer_code.c.status == "reserved", _rule_is_current())
        .values(status="active", customer_id=select(new_id.c.id).scalar_subquery(),
                issued_at=bindparam("k_issued_at", type_=customer_code.c.issued_at.type))
        .returning(customer_code.c.customer_id)
        .cte("claimed")
    )
    new_customer = _new_customer(claimed, with_id=claimed.c.customer_id)
    parts = [_identifier_insert(new_customer), _name_insert(new_customer),
             _contact_insert(new_customer), _key_insert(new_customer)]
    # The chain head is locked only once everything else is written (a data
    # dependency), so it is the statement's last lock.
    written = sum((select(func.count()).select_from(cte).scalar_subquery() for cte in parts),
                  start=literal(0))
    after = select(new_customer.c.id).where(written >= 0).subquery("written")
    head, audit = chained_audit_insert(after, cast(after.c.id, Text),
                                       bindparam("a_detail", type_=Text))
    statement = select(new_customer.c.id)
    for cte in (*parts, head, audit):
        statement = statement.add_cte(cte)
    return statement
