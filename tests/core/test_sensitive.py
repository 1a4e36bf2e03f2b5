"""Personal data at rest: encrypted, blind-indexed, masked, found again, and never
stored in plain text (issue 5, part 2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, text

from custmdm import open_register
from custmdm.core.customers import CustomerDraft
from custmdm.core.erasure import ERASED_NAME
from custmdm.errors import ApprovalRequired, ConfigurationError, Conflict, ValidationError
from custmdm.io.backup import _pg_arguments, _pg_tool
from custmdm.register import Register
from custmdm.security.keys import Keyring
from custmdm.store import database, schema
from custmdm.store.database import Store
from custmdm.store.tables import contact, identifier, match_key

RIC = "11010519491231002X"
OTHER_RIC = "110105198001010016"
PHONE, PHONE_E164 = "138 0013 8000", "+8613800138000"
EMAIL = "Zhang.Wei@Example.com"
ADDRESS = "北京市西城区金融大街88号"

#: Every form in which a registered value could leak (as typed, canonical, compact).
PLAIN = [RIC, OTHER_RIC, "13800138000", PHONE_E164, "13900139000", "zhang.wei@example.com",
         EMAIL, "li.na@example.cn", ADDRESS, "金融大街", "王建国"]


def person(name: str = "张伟", ric: str = RIC, **more: object) -> CustomerDraft:
    return CustomerDraft("individual", name, region="110105", identifiers=[("cn.ric", ric)],
                         **more)  # type: ignore[arg-type]


def register_everything(reg: Register) -> str:
    """Personal data through every path that writes it: one registration, a bulk one,
    an identifier added later, a merge (rows moved). Returns the first code."""
    reg.add_rule("std", "C{kind}{seq:6}")
    code = reg.register(person(phones=[PHONE], emails=[EMAIL], address=ADDRESS)).code
    reg.register_many([CustomerDraft("enterprise", "北京金融街投资有限公司", region="110102",
                                     phones=["13900139000"], emails=["li.na@example.cn"],
                                     legal_representative="王建国")])
    other = reg.register(CustomerDraft("individual", "张伟伟", region="110105"),
                         override_reason="a different person").code
    reg.add_identifier(other, "cn.ric", OTHER_RIC, override_reason="checked")
    return code


def stored_bytes(reg: Register, db_url: str, tmp_path: Path) -> bytes:
    """Everything the database holds on disk: the SQLite file and its WAL, or a plain
    pg_dump of the register's schema."""
    if reg.store.is_sqlite:
        reg.store.dispose()
        path = Path(reg.store.engine.url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    args, env = _pg_arguments(reg.store)
    dump = tmp_path / "dump.sql"
    subprocess.run([_pg_tool("pg_dump"), "--format=plain", "--file", str(dump), *args],
                   env=env, check=True)
    return dump.read_bytes()


def test_the_stored_register_holds_no_personal_data_in_plain_text(
        reg: Register, db_url: str, tmp_path: Path) -> None:
    register_everything(reg)
    raw = stored_bytes(reg, db_url, tmp_path)
    assert "张伟".encode() in raw  # the names are stored as they are: the check can fail
    leaked = [value for value in PLAIN if value.encode() in raw]
    assert leaked == [], f"stored in plain text: {leaked}"


def test_personal_data_opens_again_for_matching_and_display(reg: Register) -> None:
    code = register_everything(reg)
    record = reg.find(code).customer
    shown = record.to_dict()
    assert shown["identifiers"] == [{"scheme": "cn.ric", "value": "110***********002X"}]
    assert {c["kind"]: c["value"] for c in shown["contacts"]} == {
        "phone": "138****8000", "email": "Z***@Example.com", "address": "北京市西城区****"}
    opened = reg.unmask(code, "customer asked for a copy of their data").customer.to_dict()
    assert {c["kind"]: c["value"] for c in opened["contacts"]} == {
        "phone": PHONE, "email": EMAIL, "address": ADDRESS}
    assert opened["identifiers"] == [{"scheme": "cn.ric", "value": RIC}]
    # The duplicate check compares the opened values: the same person is found.
    found = reg.check_duplicates(person("张 伟", phones=["+86 138-0013-8000"]))
    assert found.candidates and found.candidates[0].code == code


def test_encrypted_values_are_found_by_equality(reg: Register) -> None:
    code = register_everything(reg)
    for query in (RIC, "+86 138 0013 8000", "zhang.wei@EXAMPLE.com"):
        hits = reg.search(query)
        assert [h.customer.code for h in hits][:1] == [code], query
        assert query not in hits[0].matched  # the hit shows the value masked
    other = reg.register(CustomerDraft("individual", "赵六", region="310101")).code
    with pytest.raises(Conflict, match=r"cn\.ric 110\*+002X already belongs to customer "
                                       f"{code}"):
        reg.add_identifier(other, "cn.ric", RIC)


def test_rows_hold_tokens_and_blind_indexes(reg: Register) -> None:
    register_everything(reg)
    fields = reg.store.fields
    with reg.store.read() as conn:
        contacts = conn.execute(select(contact.c.kind, contact.c.value, contact.c.canonical,
                                       contact.c.blind)).all()
        ric = conn.execute(select(identifier.c.value, identifier.c.sealed)
                           .where(identifier.c.scheme == "cn.ric")).all()
        keys = set(conn.scalars(select(match_key.c.key)))
    assert all(v.startswith("v1:data-") and c.startswith("v1:data-") for _, v, c, _ in contacts)
    assert {fields.contact_of(k, v, c).canonical for k, v, c, _ in contacts} >= {
        PHONE_E164, "zhang.wei@example.com"}
    assert fields.contact_blind("phone", PHONE_E164) in {b for *_, b in contacts}
    assert {v for v, _ in ric} == {fields.identifier_value("cn.ric", r) for r in (RIC, OTHER_RIC)}
    assert {fields.identifier_of("cn.ric", v, s) for v, s in ric} == {RIC, OTHER_RIC}
    assert f"i:cn.ric:{fields.identifier_value('cn.ric', RIC)}" in keys


def test_upgrading_encrypts_personal_data_written_before(db_url: str, tmp_path: Path) -> None:
    """Migration 0016 seals contacts and persons' numbers stored in plain text by
    earlier revisions, and blinds their match keys; the register then works as usual."""
    store = Store(db_url)
    schema.upgrade(store, "0015")
    now = "2026-03-01 08:00:00"
    with store.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO customer (kind, legal_name, country, region, lifecycle, version, "
            "created_at, updated_at) VALUES ('individual', '张伟', 'CN', '110105', 'active', "
            f"1, '{now}', '{now}')"))
        cid = conn.execute(text("SELECT max(id) FROM customer")).scalar_one()
        conn.execute(text("INSERT INTO identifier (customer_id, scheme, value, active, "
                          f"created_at) VALUES ({cid}, 'cn.ric', '{RIC}', true, '{now}')"))
        conn.execute(text("INSERT INTO contact (customer_id, kind, value, canonical, "
                          f"created_at) VALUES ({cid}, 'phone', '{PHONE}', '{PHONE_E164}', "
                          f"'{now}')"))
        for key in (f"i:cn.ric:{RIC}", f"t:{PHONE_E164}", "n:张伟"):
            conn.execute(text("INSERT INTO match_key (key, customer_id) VALUES (:k, :c)"),
                         {"k": key, "c": cid})
        conn.execute(text("INSERT INTO register_key (key_id, purpose, check_value, "
                          "first_used_at) VALUES ('audit-0ther0ne', 'audit', :c, :t)"),
                     {"c": "0" * 32, "t": now})
    store.dispose()
    refused = open_register(db_url, actor="tester")
    with pytest.raises(ConfigurationError, match="holds none of this register's keys"):
        refused.init()  # another register's key file: nothing sealed under it
    refused.close()
    assert schema.current_revision(Store(db_url)) == "0015"
    with Store(db_url).engine.begin() as conn:
        assert conn.execute(text("SELECT canonical FROM contact")).scalar() == PHONE_E164
        conn.execute(text("DELETE FROM register_key"))
    reg = open_register(db_url, actor="tester")
    reg.init()
    try:
        fields = reg.store.fields
        with reg.store.read() as conn:
            value, sealed = conn.execute(select(identifier.c.value, identifier.c.sealed)).one()
            phone = conn.execute(select(contact.c.value, contact.c.canonical)).one()
            keys = set(conn.scalars(select(match_key.c.key)))
        assert value == fields.identifier_value("cn.ric", RIC)
        assert fields.identifier_of("cn.ric", value, sealed) == RIC
        assert fields.contact_of("phone", *phone) == ("phone", PHONE, PHONE_E164)
        assert keys == {"n:张伟", *fields.match_keys([f"i:cn.ric:{RIC}", f"t:{PHONE_E164}"])}
        assert [h.customer.legal_name for h in reg.search(RIC)] == ["张伟"]
    finally:
        reg.close()


def test_another_registers_key_file_is_refused(reg: Register, db_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong index key would silently find no duplicates: refused on the first write."""
    register_everything(reg)
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "other-keys.json"))
    other = open_register(db_url, actor="tester")
    try:
        other.store.use_keyring(Keyring.load(create=True))
        with pytest.raises(ConfigurationError, match="does not hold"):
            other.register(CustomerDraft("enterprise", "北京某某科技有限公司", region="110102"))
    finally:
        other.close()
    own = tmp_path / "own-keys.json"  # the register's own file, with a new index key
    own.write_text(reg.store.keyring.to_json())
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(own))
    reindexed = Keyring.load()
    reindexed.add_key("index")
    changed = open_register(db_url, actor="tester", keyring=reindexed)
    try:
        with pytest.raises(ConfigurationError, match="every blind index would change"):
            changed.register(CustomerDraft("enterprise", "北京某某科技有限公司", region="110102"))
    finally:
        changed.close()


def test_rotating_the_data_key_re_encrypts_every_value(
        reg: Register, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values (and the copies a merge keeps for undo) move to the new key in batches;
    a process that still holds the old keyring reads values under the new key; the
    merge still undoes exactly."""
    code = register_everything(reg)
    twin = reg.register(person("张伟", "110105198001010032", phones=["13600136000"]),
                        override_reason="checked: another person").code
    merged = reg.merge(code, [twin], reason="the same person after all")
    monkeypatch.setattr(database, "KEY_FILE_TTL", 0.0)  # look at the key file every time
    reader = open_register(db_url, actor="tester")  # loaded the key file before
    reader.find(code)
    old_key = reg.store.keyring.current["data"]
    try:
        rotation = reg.rotate_key("data", batch_size=2)
        new_key = reg.store.keyring.current["data"]
        assert (rotation.old_key, rotation.new_key) == (old_key, new_key) != (new_key,) * 2
        with reg.store.read() as conn:
            tokens = [*conn.scalars(select(contact.c.value)),
                      *conn.scalars(select(contact.c.canonical)),
                      *conn.scalars(select(identifier.c.sealed)
                                    .where(identifier.c.sealed.is_not(None)))]
        assert tokens and all(t.startswith(f"v1:{new_key}:") for t in tokens)
        assert rotation.resealed is not None and rotation.resealed >= len(tokens) // 2
        opened = reader.unmask(code, "rotation check").customer
        assert RIC in {i.value for i in opened.identifiers}
        assert PHONE in {c.value for c in opened.contacts}
        reg.undo_merge(merged.merge_id, "undo after rotation")
        assert {c.value for c in reg.unmask(twin, "check").customer.contacts} == {"13600136000"}
        assert reg.rotate_key("data", resume=True).resealed == 0  # nothing left
        # The reader, a process that loaded the key file before the rotation, writes
        # under the new key once it has looked at the file again.
        later = reader.register(CustomerDraft("enterprise", "北京后来科技有限公司",
                                              region="110102", phones=["13500135000"])).id
        with reg.store.read() as conn:
            token = conn.execute(select(contact.c.value)
                                 .where(contact.c.customer_id == later)).scalar_one()
        assert token.startswith(f"v1:{new_key}:")
        actions = [e.action for e in reg.audit_log()]
        assert "key.rotate" in actions and "key.reseal" in actions
        assert reg.verify_audit().intact
    finally:
        reader.close()


def test_the_index_key_cannot_be_rotated(reg: Register) -> None:
    with pytest.raises(ValidationError, match="blind index"):
        reg.rotate_key("index")
    with pytest.raises(ValidationError, match="resume"):
        reg.rotate_key("audit", resume=True)


def test_erasing_a_person_leaves_the_code_and_the_audit_chain(
        reg: Register, db_url: str, tmp_path: Path) -> None:
    """PIPL erasure: contacts, numbers, names and what other systems call the person
    go, also from a customer merged into them and from the merge's copy for undo; the
    codes still resolve, codes and the audit chain check out, and the stored register
    no longer holds the name anywhere."""
    reg.add_rule("std", "C{kind}{seq:6}")
    name = "欧阳明远"
    code = reg.register(person(name, phones=[PHONE], emails=[EMAIL], address=ADDRESS,
                               names=[("alias", "欧阳小明")])).code
    twin = reg.register(person(name, OTHER_RIC, phones=["13600136000"]),
                        override_reason="checked").code
    reg.merge(code, [twin], reason="the same person")
    reg.add_system("crm")
    reg.add_xref(code, "crm", "C-77", external_name="欧阳明远先生")
    bystander = reg.register(person("李明远", "110105194912310011")).code

    done = reg.erase(code, "the customer asked to be forgotten (PIPL art. 47)")

    assert done.customer.legal_name == ERASED_NAME and done.customer.contacts == ()
    assert done.customer.identifiers == () and set(done.codes) >= {code, twin}
    assert done.removed["contacts"] == 4 and done.removed["identifiers"] == 2
    assert reg.find(twin).customer.code == code  # codes still resolve
    for query in (RIC, OTHER_RIC, PHONE, EMAIL, name, "欧阳小明", "C-77"):
        assert [h.customer.code for h in reg.search(query)
                if h.customer.code == code and query != "C-77"] == [], query
    assert [h.customer.code for h in reg.search("C-77")] == [code]  # the mapping's id stays
    assert reg.find(bystander).customer.legal_name == "李明远"
    with pytest.raises(Conflict, match="cannot be undone"):
        reg.undo_merge(1, "undo")
    assert reg.check_codes().ok and reg.verify_audit().intact
    erased = [e for e in reg.audit_log() if e.action == "customer.erase"]
    assert len(erased) == 1 and erased[0].detail["removed"]["merge_snapshots"] == 1
    with reg.store.read() as conn:
        assert not conn.execute(select(match_key).where(
            match_key.c.customer_id == done.customer.id)).first()
    raw = stored_bytes(reg, db_url, tmp_path)
    assert "李明远".encode() in raw
    leaked = [v for v in (name, "欧阳小明", "明远先生", RIC, OTHER_RIC) if v.encode() in raw]
    assert leaked == [], f"still stored after erasure: {leaked}"


def test_only_an_individual_can_be_erased(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    code = reg.register(CustomerDraft("enterprise", "北京某某科技有限公司", region="110102")).code
    with pytest.raises(ValidationError, match="an enterprise: erasure is for an individual"):
        reg.erase(code, "no")
    with pytest.raises(ValidationError, match="give a reason"):
        reg.erase(code, " ")


def test_erasure_withdraws_a_pending_merge_the_person_is_merged_away_in(
        reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    survivor = reg.register(person("欧阳明远")).code
    loser = reg.register(person("欧阳明远", OTHER_RIC), override_reason="checked").code
    reg.set_approval_rule("customer.merge")
    with pytest.raises(ApprovalRequired):
        reg.merge(survivor, [loser], reason="the same person")
    reg.erase(loser, "asked to be forgotten")
    (request,) = reg.requests(status=None)
    assert request.status == "withdrawn" and request.payload == {"erased": True}


def test_a_persons_number_is_masked_on_any_customer(reg: Register) -> None:
    """A sole proprietor registered as an enterprise with the owner's ID number."""
    reg.add_rule("std", "C{kind}{seq:6}")
    shop = reg.register(CustomerDraft("other", "欧阳明远小卖部", region="110105",
                                      identifiers=[("cn.ric", RIC)]))
    assert shop.to_dict()["identifiers"] == [{"scheme": "cn.ric", "value": "110***********002X"}]
