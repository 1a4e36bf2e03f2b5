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

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Executable,
    Insert,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import Grouping

from custmdm.store.database import Store
from custmdm.store.tables import (
    AUDIT_COLUMNS,
    CODE_COLUMNS,
    CUSTOMER_COLUMNS,
    IDENTIFIER_COLUMNS,
    audit_entry,
    code_counter,
    coding_rule,
    customer,
    customer_code,
    identifier,
)

Row = Mapping[str, Any]


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
        identifiers: Sequence[Row], audit: Row,
    ) -> tuple[int, int] | None:
        """See :meth:`PostgresRegistrationWriter.register_on_counter`."""
        raise NotImplementedError("only where registers_on_counter is true")

    def insert_customer(
        self, conn: Connection, values: Row, identifiers: Sequence[Row]
    ) -> int:
        """Insert the customer and its identifiers; returns the customer id."""
        customer_id = int(conn.execute(_INSERT_CUSTOMER, dict(values)).scalar_one())
        self.store.insert_many(conn, identifier, IDENTIFIER_COLUMNS, [
            (customer_id, *(i[c] for c in IDENTIFIER_COLUMNS[1:])) for i in identifiers
        ])
        return customer_id

    def insert_code_and_audit(self, conn: Connection, code: Row, audit: Row) -> bool:
        """Record an issued code and its audit entry; False if the rule is stale."""
        if insert_code_if_rule_current(conn, code) is None:
            return False
        self.store.insert_many(conn, audit_entry, AUDIT_COLUMNS,
                               [tuple(audit[c] for c in AUDIT_COLUMNS)])
        return True

    def claim_and_register(
        self, code_id: int, rule_id: int, values: Row, identifiers: Sequence[Row],
        audit: Row,
    ) -> int | None:
        """See :meth:`PostgresRegistrationWriter.claim_and_register`."""
        raise NotImplementedError("codes are reserved ahead only where the store says so")


class PostgresRegistrationWriter(RegistrationWriter):
    """The same steps folded into single statements with data-modifying CTEs."""

    registers_on_counter = True

    def register_on_counter(
        self, counter: Row, candidates: Sequence[str], base: int, values: Row,
        identifiers: Sequence[Row], audit: Row,
    ) -> tuple[int, int] | None:
        """A gapless registration as one atomic statement; ``(customer id, seq)``.

        The statement takes the next number of the counter (``counter`` gives
        ``rule_name``, ``scope_key``, ``rule_id``, ``issued_at``), picks the code for it
        from ``candidates`` (the codes for ``base``, ``base + 1`` …, rendered ahead by
        the caller, since check characters are computed in Python) and writes the
        customer, identifiers, code and audit entry. The counter row is locked only
        inside the statement, never while the client works, which is what keeps many
        gapless writers moving on few cores. If the number falls outside the candidates
        or the rule version is no longer current, the code value is NULL, its NOT NULL
        constraint fails the whole statement, nothing is written (the counter
        included), and None is returned: the caller then takes the ordinary path.
        """
        count = len(identifiers)
        params: dict[str, Any] = {
            **_params_of("c_", values), **_params_of("k_", counter),
            "codes": list(candidates), "base": base,
            "a_at": audit["at"], "a_actor": audit["actor"], "a_action": audit["action"],
            "a_entity": audit["entity"], "a_detail": json.dumps(audit["detail"],
                                                               ensure_ascii=False),
        }
        for n, ident in enumerate(identifiers):
            params[f"i{n}_scheme"] = ident["scheme"]
            params[f"i{n}_value"] = ident["value"]
        try:
            with self.store.autocommit() as conn:
                row = conn.execute(
                    self.store.statement(f"pg:register_on_counter:{count}",
                                         lambda _: _register_on_counter(count)),
                    params,
                ).one()
        except IntegrityError as error:
            message = self.store.violated_constraint(error)
            if "null value" in message and "customer_code" in message:
                return None
            raise
        return int(row[0]), int(row[1])

    def insert_customer(
        self, conn: Connection, values: Row, identifiers: Sequence[Row]
    ) -> int:
        params = _params_of("c_", values)
        for n, ident in enumerate(identifiers):
            params[f"i{n}_scheme"] = ident["scheme"]
            params[f"i{n}_value"] = ident["value"]
        count = len(identifiers)
        return int(self.store.execute_scalar(
            conn, f"pg:insert_customer:{count}", lambda _: _customer_with_identifiers(count),
            params))

    def insert_code_and_audit(self, conn: Connection, code: Row, audit: Row) -> bool:
        params = {**_params_of("k_", code), **_params_of("a_", audit)}
        found = self.store.execute_scalar(conn, "pg:code_and_audit",
                                          lambda _: _code_and_audit(), params)
        return found is not None

    def claim_and_register(
        self, code_id: int, rule_id: int, values: Row, identifiers: Sequence[Row],
        audit: Row,
    ) -> int | None:
        """Register a customer on a reserved code in one atomic statement; None (and
        nothing written) if the code is no longer reserved or its rule version is no
        longer current."""
        count = len(identifiers)
        audit = {k: v for k, v in audit.items() if k != "entity_id"}  # the new id, in SQL
        params = {**_params_of("c_", values), **_params_of("a_", audit),
                  "code_id": code_id, "k_rule_id": rule_id, "k_issued_at": audit["at"]}
        for n, ident in enumerate(identifiers):
            params[f"i{n}_scheme"] = ident["scheme"]
            params[f"i{n}_value"] = ident["value"]
        # One statement is one atomic transaction of its own: no BEGIN, no COMMIT.
        with self.store.autocommit() as conn:
            found = self.store.execute_scalar(
                conn, f"pg:claim_and_register:{count}", lambda _: _claim_and_register(count),
                params)
        return None if found is None else int(found)


def registration_writer(store: Store) -> RegistrationWriter:
    """The writer for this store's database."""
    return RegistrationWriter(store) if store.is_sqlite else PostgresRegistrationWriter(store)


# -- PostgreSQL statements ------------------------------------------------------------------


def _identifier_inserts(new_customer: Any, count: int) -> list[Any]:
    return [
        insert(identifier).from_select(
            list(IDENTIFIER_COLUMNS),
            select(new_customer.c.id,
                   bindparam(f"i{n}_scheme", type_=identifier.c.scheme.type),
                   bindparam(f"i{n}_value", type_=identifier.c.value.type),
                   true(), bindparam("c_created_at", type_=identifier.c.created_at.type)),
        ).cte(f"new_identifier_{n}")
        for n in range(count)
    ]


def _customer_with_identifiers(count: int) -> Executable:
    new_customer = (
        insert(customer)
        .from_select(list(CUSTOMER_COLUMNS), select(*_params("c_", CUSTOMER_COLUMNS, customer)))
        .returning(customer.c.id)
        .cte("new_customer")
    )
    statement: Select[Any] = select(new_customer.c.id)
    for cte in _identifier_inserts(new_customer, count):
        statement = statement.add_cte(cte)
    return statement


def _audit_insert(source: Select[Any]) -> Insert:
    return insert(audit_entry).from_select(list(AUDIT_COLUMNS), source)


def _code_and_audit() -> Executable:
    new_code = _INSERT_CODE_IF_RULE_CURRENT.cte("new_code")
    audit = _audit_insert(
        select(*_params("a_", AUDIT_COLUMNS, audit_entry))
        .where(select(new_code.c.id).exists())
    ).cte("new_audit")
    return select(new_code.c.id).add_cte(audit)


def _register_on_counter(count: int) -> Executable:
    taken = postgresql.insert(code_counter).values(
        rule_name=bindparam("k_rule_name", type_=String),
        scope_key=bindparam("k_scope_key", type_=String),
        next_value=2,
    )
    counter = (
        taken.on_conflict_do_update(
            index_elements=[code_counter.c.rule_name, code_counter.c.scope_key],
            set_={"next_value": code_counter.c.next_value + 1},
        )
        .returning((code_counter.c.next_value - 1).label("seq"))
        .cte("counter")
    )
    # Parenthesised, since PostgreSQL does not accept $1::VARCHAR[][i].
    candidates = type_coerce(Grouping(bindparam("codes", type_=ARRAY(String))), ARRAY(String))
    offset = counter.c.seq - bindparam("base", type_=BigInteger) + 1
    picked = select(
        counter.c.seq,
        case((_rule_is_current(), candidates[offset]), else_=null()).label("value"),
    ).cte("picked")
    new_customer = (
        insert(customer)
        .from_select(list(CUSTOMER_COLUMNS),
                     select(*_params("c_", CUSTOMER_COLUMNS, customer)).select_from(picked))
        .returning(customer.c.id)
        .cte("new_customer")
    )
    both = new_customer.join(picked, true())
    new_code = insert(customer_code).from_select(
        list(CODE_COLUMNS),
        select(picked.c.value, new_customer.c.id,
               bindparam("k_rule_id", type_=customer_code.c.rule_id.type),
               bindparam("k_scope_key", type_=String), picked.c.seq, literal("active"),
               bindparam("k_issued_at", type_=customer_code.c.issued_at.type))
        .select_from(both),
    ).cte("new_code")
    detail = cast(
        cast(bindparam("a_detail", type_=String), JSONB).op("||")(
            func.jsonb_build_object("code", picked.c.value)),
        JSON,
    )
    audit = _audit_insert(
        select(*(bindparam(f"a_{c}", type_=audit_entry.c[c].type)
                 for c in ("at", "actor", "action", "entity")),
               cast(new_customer.c.id, String), detail).select_from(both)
    ).cte("new_audit")
    statement: Select[Any] = (
        select(new_customer.c.id, picked.c.seq).select_from(both)
        .add_cte(new_code).add_cte(audit)
    )
    for cte in _identifier_inserts(new_customer, count):
        statement = statement.add_cte(cte)
    return statement


def _claim_and_register(count: int) -> Executable:
    new_id = select(
        func.nextval(func.pg_get_serial_sequence("customer", "id")).label("id")
    ).cte("new_id")
    claimed = (
        update(customer_code)
        .where(customer_code.c.id == bindparam("code_id"),
               customer_code.c.status == "reserved", _rule_is_current())
        .values(status="active", customer_id=select(new_id.c.id).scalar_subquery(),
                issued_at=bindparam("k_issued_at", type_=customer_code.c.issued_at.type))
        .returning(customer_code.c.customer_id)
        .cte("claimed")
    )
    new_customer = (
        insert(customer)
        .from_select(["id", *CUSTOMER_COLUMNS],
                     select(claimed.c.customer_id, *_params("c_", CUSTOMER_COLUMNS, customer)))
        .returning(customer.c.id)
        .cte("new_customer")
    )
    audit_values = [
        cast(new_customer.c.id, String) if c == "entity_id"
        else bindparam(f"a_{c}", type_=audit_entry.c[c].type)
        for c in AUDIT_COLUMNS
    ]
    audit = _audit_insert(select(*audit_values).select_from(new_customer)).cte("new_audit")
    statement: Select[Any] = select(new_customer.c.id).add_cte(audit)
    for cte in _identifier_inserts(new_customer, count):
        statement = statement.add_cte(cte)
    return statement

