"""The tamper-evident audit trail: chained entries, append-only table, verify and log
(both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from custmdm import CustomerDraft, open_register
from custmdm.core.audit import AuditFilter
from custmdm.demo.generator import DemoGenerator
from custmdm.errors import ConfigurationError, NotFound, PermissionDenied, ValidationError
from custmdm.register import Register
from custmdm.security.audit_chain import GENESIS
from custmdm.security.keys import Keyring
from custmdm.store.tables import audit_chain, audit_entry


def ent(name: str, region: str = "440305") -> CustomerDraft:
    return CustomerDraft(kind="enterprise", legal_name=name, region=region)


@pytest.fixture
def busy(reg: Register) -> Register:
    """A register after every kind of write: single registrations on a gapless and a
    gap-allowed rule (PostgreSQL's single-statement paths), a bulk load, a rename and
    a retirement."""
    reg.add_rule("gov", "G{seq:5}{check:mod37-2}", kind="government", gapless=True,
                 priority=1)
    reg.add_rule("all", "C{kind}{seq:6}{check:mod37-2}", priority=2)
    reg.register(CustomerDraft(kind="government", legal_name="深圳市南山区人民政府",
                               region="440305"))
    first = reg.register(ent("深圳市华盛电子科技有限公司"))
    reg.register(ent("广州市天河区某某贸易有限公司", "440106"))
    reg.register_many(DemoGenerator(seed=5).customers(30), batch_size=10)
    reg.rename(first.code, "深圳市华盛科技有限公司", "新名称 2026")
    reg.retire(first.code, "no longer a customer")
    return reg


def entries(reg: Register) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entry)).scalar_one())


def test_every_write_path_appends_to_one_intact_chain(busy: Register) -> None:
    report = busy.verify_audit()
    assert report.intact, report.problem
    assert report.entries == entries(busy) >= 2 + 3 + 30 + 2
    with busy.store.read() as conn:
        seqs = list(conn.execute(select(audit_entry.c.seq).order_by(audit_entry.c.seq))
                    .scalars())
        head = conn.execute(select(audit_chain.c.seq, audit_chain.c.mac)).one()
    assert seqs == list(range(1, len(seqs) + 1))
    assert tuple(head) == (report.last_seq, report.last_mac) and report.last_mac != GENESIS


def test_the_audit_table_refuses_update_and_delete(busy: Register) -> None:
    for statement in (update(audit_entry).values(actor="someone else"),
                      delete(audit_entry).where(audit_entry.c.seq == 1)):
        with pytest.raises(DBAPIError, match="append-only"), busy.store.write() as conn:
            conn.execute(statement)
    if not busy.store.is_sqlite:
        with pytest.raises(DBAPIError, match="append-only"), busy.store.write() as conn:
            conn.execute(text("TRUNCATE audit_entry"))
    assert busy.verify_audit().intact


def _without_triggers(reg: Register, change: Callable[[Connection], object]) -> None:
    """Tamper as someone with full SQL rights would: triggers off, one change, on."""
    with reg.store.engine.begin() as conn:
        if reg.store.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
        change(conn)
        if not reg.store.is_sqlite:
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER USER"))


def _row(conn: Connection, seq: int) -> dict[str, object]:
    return dict(conn.execute(select(audit_entry).where(audit_entry.c.seq == seq))
                .mappings().one())


ALTERATIONS: dict[str, Callable[[int], dict[str, object]]] = {
    "actor": lambda _: {"actor": "mallory"},
    "action": lambda _: {"action": "customer.forged"},
    "entity_id": lambda _: {"entity_id": "999999"},
    "detail": lambda _: {"detail": {"legal_name": "假公司"}},
    "at": lambda _: {"at": datetime(2020, 1, 1, tzinfo=UTC)},
    "mac": lambda _: {"mac": "f" * 64},
    "key_id": lambda _: {"key_id": "audit-00000000"},
}


@pytest.mark.parametrize("column", list(ALTERATIONS))
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_altering_any_column_of_any_entry_is_detected(busy: Register, column: str,
                                                      where: str) -> None:
    last = busy.verify_audit().last_seq
    seq = {"first": 1, "middle": last // 2, "last": last}[where]
    _without_triggers(busy, lambda conn: conn.execute(
        update(audit_entry).where(audit_entry.c.seq == seq).values(ALTERATIONS[column](seq))))
    report = busy.verify_audit()
    assert not report.intact
    assert report.broken_at == seq and report.entries == seq - 1
    assert f"#{seq}" in (report.problem or "")


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_deleting_any_entry_is_detected(busy: Register, where: str) -> None:
    last = busy.verify_audit().last_seq
    seq = {"first": 1, "middle": last // 2, "last": last}[where]
    _without_triggers(busy, lambda conn: conn.execute(
        delete(audit_entry).where(audit_entry.c.seq == seq)))
    report = busy.verify_audit()
    assert not report.intact and report.broken_at == seq
    assert "missing" in (report.problem or "")


def test_renumbering_after_a_deletion_is_detected(busy: Register) -> None:
    """Closing the gap a deletion leaves breaks the MACs instead."""
    last = busy.verify_audit().last_seq

    def delete_and_renumber(conn: Connection) -> None:
        conn.execute(delete(audit_entry).where(audit_entry.c.seq == 3))
        for seq in range(4, last + 1):
            conn.execute(update(audit_entry).where(audit_entry.c.seq == seq)
                         .values(seq=seq - 1))
        conn.execute(update(audit_chain).values(seq=last - 1))

    _without_triggers(busy, delete_and_renumber)
    report = busy.verify_audit()
    assert not report.intact and report.broken_at == 3


@pytest.mark.parametrize("where", ["end", "end with the head moved", "in place of #2"])
def test_inserting_an_entry_is_detected(busy: Register, where: str) -> None:
    """Without the audit key no one can make a valid MAC, so an entry made in SQL
    shows wherever it goes, even with the chain head moved along."""
    last = busy.verify_audit().last_seq

    def forge(conn: Connection) -> None:
        template = _row(conn, last)
        template.pop("id")
        forged = {**template, "actor": "mallory", "detail": {"note": "forged"}}
        if where == "in place of #2":
            conn.execute(delete(audit_entry).where(audit_entry.c.seq == 2))
            forged["seq"] = 2
        else:
            forged["seq"] = last + 1
        conn.execute(insert(audit_entry).values(forged))
        if where == "end with the head moved":
            conn.execute(update(audit_chain).values(seq=last + 1, mac=forged["mac"]))

    _without_triggers(busy, forge)
    report = busy.verify_audit()
    assert not report.intact
    assert report.broken_at == {"end": last + 1, "end with the head moved": last + 1,
                                "in place of #2": 2}[where]
    if where == "end":  # it also takes the next entry's place: writers would fail
        with pytest.raises(DBAPIError, match=r"uq_audit_entry_seq|UNIQUE"):
            busy.register(ent("深圳市下一家科技有限公司"))
        _without_triggers(busy, lambda conn: conn.execute(
            delete(audit_entry).where(audit_entry.c.seq == last + 1)))


def test_a_register_refuses_another_registers_key_file(busy: Register, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stranger = Keyring.generate(tmp_path / "other.json")
    other = Register(type(busy.store)(busy.store.url), busy.ctx.actor, keyring=stranger)
    try:
        with pytest.raises(ConfigurationError, match="does not hold"):
            other.register(ent("深圳市另一家科技有限公司"))
        report = other.verify_audit()
        assert report.broken_at == 1 and "not the register's key file" in (report.problem
                                                                           or "")
    finally:
        other.close()
    assert busy.verify_audit().intact


def test_a_rotated_audit_key_keeps_old_entries_verifiable(busy: Register, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keyring = Keyring.parse(busy.store.keyring.to_json(), "copy", tmp_path / "keys.json")
    old = keyring.current_key("audit")
    new = keyring.add_key("audit")
    rotated = Register(type(busy.store)(busy.store.url), busy.ctx.actor, keyring=keyring)
    before = entries(busy)
    try:
        rotated.register(ent("深圳市新钥匙科技有限公司"))
        with rotated.store.read() as conn:
            used = list(conn.execute(select(audit_entry.c.key_id).order_by(audit_entry.c.seq))
                        .scalars())
        assert set(used[:before]) == {old.id} and set(used[before:]) == {new.id}
        assert rotated.verify_audit().intact
    finally:
        rotated.close()


def test_audit_log_filters(busy: Register) -> None:
    newest = busy.audit_log(AuditFilter(limit=3))
    assert [e.seq for e in newest] == sorted((e.seq for e in newest), reverse=True)
    renamed = busy.audit_log(AuditFilter(action="customer.rename"))
    assert len(renamed) == 1 and renamed[0].detail["to"] == "深圳市华盛科技有限公司"
    code = busy.audit_log(AuditFilter(action="customer.retire"))[0]
    history = busy.audit_log(AuditFilter(entity="customer", entity_id=code.entity_id))
    assert [e.action for e in history] == ["customer.retire", "customer.rename",
                                           "customer.register"]
    family = busy.audit_log(AuditFilter(action="rule.", limit=100))
    assert {e.action for e in family} == {"rule.add"} and len(family) == 2
    assert busy.audit_log(AuditFilter(actor="nobody")) == []
    future = datetime.now(UTC) + timedelta(days=1)
    assert busy.audit_log(AuditFilter(since=future)) == []
    assert len(busy.audit_log(AuditFilter(until=future, limit=1000))) == entries(busy)
    with pytest.raises(ValidationError, match="limit"):
        busy.audit_log(AuditFilter(limit=0))
    with pytest.raises(NotFound):
        busy.audit_log(AuditFilter(code="CX000000"))


def test_audit_log_by_any_code_of_a_customer(busy: Register) -> None:
    record = busy.register(ent("深圳市改码科技有限公司"))
    changed = busy.change_code(record.code, reason="re-coded", rule="all")
    by_old = busy.audit_log(AuditFilter(code=record.code))
    by_new = busy.audit_log(AuditFilter(code=changed.customer.code))
    assert by_old == by_new
    assert [e.action for e in by_new] == ["customer.change_code", "customer.register"]


def test_an_anchor_kept_outside_shows_an_end_cut_off_with_its_head(busy: Register) -> None:
    before = busy.verify_audit()
    anchor = f"{before.last_seq}:{before.last_mac}"
    busy.register(ent("深圳市后来科技有限公司"))
    assert busy.verify_audit(anchor).intact
    cut = before.last_seq - 1

    def cut_the_end(conn: Connection) -> None:  # the last entries and the head, together
        conn.execute(delete(audit_entry).where(audit_entry.c.seq > cut))
        mac = conn.execute(select(audit_entry.c.mac).where(audit_entry.c.seq == cut)).scalar()
        conn.execute(update(audit_chain).values(seq=cut, mac=mac))

    _without_triggers(busy, cut_the_end)
    assert busy.verify_audit().intact  # nothing inside the database can tell
    report = busy.verify_audit(anchor)
    assert not report.intact and report.broken_at == cut + 1
    assert "cut off" in (report.problem or "")
    other = f"{cut}:{'0' * 64}"
    assert "not the one recorded" in (busy.verify_audit(other).problem or "")
    with pytest.raises(ValidationError, match="SEQ:MAC"):
        busy.verify_audit("12:abc")


def test_key_rotate_chains_new_entries_under_a_new_key(busy: Register, tmp_path) -> None:  # type: ignore[no-untyped-def]
    keyring = Keyring.parse(busy.store.keyring.to_json(), "copy", tmp_path / "keys.json")
    keyring.save()
    rotating = Register(type(busy.store)(busy.store.url), busy.ctx.actor, keyring=keyring)
    try:
        before = entries(busy)
        rotation = rotating.rotate_key()
        assert rotation.new_key != rotation.old_key
        assert Keyring.parse((tmp_path / "keys.json").read_text(), "file").current_key(
            "audit").id == rotation.new_key  # saved before use
        rotating.register(ent("深圳市轮换科技有限公司"))
        with rotating.store.read() as conn:
            used = list(conn.execute(select(audit_entry.c.key_id)
                                     .order_by(audit_entry.c.seq)).scalars())
        assert set(used[:before]) == {rotation.old_key}
        assert set(used[before:]) == {rotation.new_key}  # the rotation's own entry too
        assert rotating.verify_audit().intact
        with pytest.raises(ValidationError, match="cannot be rotated"):
            rotating.rotate_key("index")
        busy.add_user("steward")
        busy.grant("steward", "data_steward")
        with open_register(busy.store.url, actor="steward") as steward, \
                pytest.raises(PermissionDenied, match="'administer'"):
            steward.rotate_key()
    finally:
        rotating.close()
