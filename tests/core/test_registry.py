"""Registering, finding, re-coding and retiring customers (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from custmdm import CustomerDraft, CustomerFilter, Identifier
from custmdm.demo.generator import DemoGenerator, make_uscc
from custmdm.errors import (
    Conflict,
    InvalidChecksum,
    InvalidComponent,
    NotFound,
    RuleViolation,
    UnknownReference,
    ValidationError,
)
from custmdm.register import Register
from custmdm.store.tables import audit_entry, code_counter, customer, customer_code, identifier

USCC = make_uscc("9", "1", "440305", 1)
OTHER_USCC = make_uscc("9", "1", "110105", 2)


@pytest.fixture
def coded(reg: Register) -> Register:
    reg.add_rule("std", "C{kind}{region:2}{seq:6}{check:mod37-2}", region_prefix="CN")
    reg.add_rule("abroad", "F{country}{seq:5}{check:mod37-2}", priority=200)
    return reg


def ent(name: str = "深圳市华盛电子科技有限公司", *ids: str, region: str | None = "440305",
        **more: str) -> CustomerDraft:
    return CustomerDraft(kind="enterprise", legal_name=name,
                         identifiers=[Identifier("cn.uscc", i) for i in ids], region=region,
                         **more)  # type: ignore[arg-type]


def count(reg: Register, table: object) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_register_keeps_the_legal_name_exactly_and_records_everything(coded: Register) -> None:
    name = "深圳市华盛电子科技（集团）有限公司 "
    record = coded.register(ent(name, USCC, industry="C39", size="medium", grade="vip"))
    assert record.legal_name == name
    assert record.kind == "enterprise" and record.status == "active"
    assert record.region == "440305" and record.industry == "39"
    assert record.identifiers == (Identifier("cn.uscc", USCC),)
    assert [(c.value, c.status) for c in record.codes] == [(record.code, "active")]
    assert record.owner == "tester"
    data = record.to_dict()
    assert {"code", "kind", "legal_name", "status", "codes"} <= set(data)
    assert data["codes"][0] == {**data["codes"][0], "value": record.code, "status": "active"}
    with coded.store.read() as conn:
        audit = conn.execute(select(audit_entry)
                             .where(audit_entry.c.action == "customer.register")).one()
    assert audit.action == "customer.register" and audit.detail["code"] == record.code


def test_region_comes_from_the_uscc_when_not_given(coded: Register) -> None:
    record = coded.register(ent("北京市朝阳区某某有限公司", OTHER_USCC, region=None))
    assert record.region == "110105"
    assert record.code.startswith("CE11")


@pytest.mark.parametrize(
    ("draft", "error", "fragment"),
    [
        (CustomerDraft("firm", "X有限公司"), InvalidComponent, "unknown kind 'firm'"),
        (CustomerDraft("enterprise", "   "), ValidationError, "legal name is empty"),
        (CustomerDraft("enterprise", "X", region="999999"), UnknownReference, "unknown region"),
        (CustomerDraft("enterprise", "X", industry="Z9"), UnknownReference, "industry"),
        (CustomerDraft("enterprise", "X", identifiers=[("cn.uscc", USCC[:-1] + "0")]),
         InvalidChecksum, "cn.uscc"),
        (CustomerDraft("enterprise", "X", identifiers=[("xx.id", "1")]), ValidationError,
         "cn.uscc"),
        (CustomerDraft("enterprise", "X", size="huge"), InvalidComponent, "unknown size"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_written(
    coded: Register, draft: CustomerDraft, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        coded.register(draft)
    assert count(coded, customer) == 0
    assert count(coded, customer_code) == 0


def test_an_identifier_belongs_to_one_active_customer(coded: Register) -> None:
    first = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    # The duplicate check finds it first ...
    with pytest.raises(Conflict, match=f"already registered as {first.code}.*same USCC"):
        coded.register(ent("深圳华盛电子", USCC))
    # ... and the database refuses it even when the check is off (or raced).
    coded.set_match_rule("enterprise", "block", None)
    with pytest.raises(Conflict, match=f"already belongs to customer {first.code}"):
        coded.register(ent("深圳华盛电子", USCC), override_reason="the check is wrong")
    assert count(coded, customer) == 1
    coded.retire(first.code, reason="closed down")
    # A retired customer's identifier is free again; registering it again is a decision.
    with pytest.raises(Conflict, match=f"may be a customer already registered: {first.code}"):
        coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    again = coded.register(ent("深圳市华盛电子科技有限公司", USCC),
                           override_reason="it trades again under the same licence")
    assert again.code != first.code
    with coded.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(identifier)
                            .where(identifier.c.active)).scalar_one() == 1


def test_find_resolves_any_code_and_rejects_a_mistyped_check_character(coded: Register) -> None:
    record = coded.register(ent())
    assert coded.find(record.code).customer.id == record.id
    assert coded.find(record.code.lower()).customer.id == record.id
    body, check = record.code[:-1], record.code[-1]
    wrong = body + ("0" if check != "0" else "1")
    with pytest.raises(InvalidChecksum, match="fails its check character"):
        coded.find(wrong)
    never_issued = coded.preview("std", region="440305", count=1)[0]
    with pytest.raises(NotFound, match="no customer has code"):
        coded.find(never_issued)


def test_change_of_code_keeps_the_old_code_resolving(coded: Register) -> None:
    coded.add_rule("vip", "V{seq:4}{check:mod37-2}", priority=300, grade="vip")
    record = coded.register(ent(grade="vip"))
    changed = coded.change_code(record.code, "became a key account", rule="vip")
    assert changed.customer.code.startswith("V0001")
    old = coded.find(record.code)
    assert old.requested_status == "superseded"
    assert old.customer.code == changed.customer.code
    assert old.to_dict()["current_code"] == changed.customer.code
    assert [c.status for c in old.customer.codes] == ["superseded", "active"]
    assert old.customer.version == 2
    with pytest.raises(ValidationError, match="reason"):
        coded.change_code(changed.customer.code, " ", rule="vip")


def test_change_to_an_explicit_code_that_fits_a_rule(coded: Register) -> None:
    record = coded.register(ent())
    issued = record.code
    next_in_series = coded.preview("std", region="440305", count=2)[1]  # skips one number
    changed = coded.change_code(issued, "migrated from legacy ERP", to=next_in_series)
    assert changed.customer.code == next_in_series
    with pytest.raises(Conflict, match="already issued"):
        coded.change_code(next_in_series, "again", to=issued)
    with pytest.raises(InvalidChecksum):
        wrong = "0" if next_in_series[-1] != "0" else "1"
        coded.change_code(next_in_series, "typo", to=next_in_series[:-1] + wrong)
    # The skipped number was recorded void, and the next registration skips past it.
    report = coded.check_codes()
    assert report.ok, report.problems
    assert report.counts["void"] == 1
    assert coded.register(ent("广州市天成物流有限公司", region="440104")).code[4:10] == "000004"


def test_gapless_rule_refuses_explicit_codes_that_would_leave_holes(reg: Register) -> None:
    reg.add_rule("g", "G{seq:4}{check:mod37-2}", gapless=True)
    record = reg.register(ent())
    later = reg.preview("g", count=2)[1]
    with pytest.raises(Conflict, match="gapless"):
        reg.change_code(record.code, "why not", to=later)


def test_retire_keeps_the_code_for_ever(coded: Register) -> None:
    record = coded.register(ent("深圳市华盛电子科技有限公司", USCC))
    retired = coded.retire(record.code, "customer asked to close the account")
    assert retired.status == "retired"
    assert retired.code == record.code
    assert [c.status for c in retired.codes] == ["retired"]
    assert coded.find(record.code).requested_status == "retired"
    with pytest.raises(Conflict, match="already retired"):
        coded.retire(record.code, "again")
    with pytest.raises(Conflict, match="cannot change"):
        coded.change_code(record.code, "x", rule="std")
    assert coded.register(ent("another")).code != record.code
    assert coded.check_codes().ok


def test_list_filters(coded: Register) -> None:
    coded.register(ent("A", region="440305"))
    coded.register(ent("B", region="110101", industry="I65"))
    coded.register(CustomerDraft("individual", "张伟", region="440304"))
    coded.register(CustomerDraft("enterprise", "Acme Inc.", region="US"))
    names = lambda f: [r.legal_name for r in coded.customers(f)]  # noqa: E731
    assert names(CustomerFilter(region="44")) == ["A", "张伟"]
    assert names(CustomerFilter(region="US")) == ["Acme Inc."]
    assert names(CustomerFilter(kind="individual")) == ["张伟"]
    assert names(CustomerFilter(industry="I")) == ["B"]
    assert names(CustomerFilter(industry="65")) == ["B"]
    assert names(CustomerFilter(limit=2, offset=1)) == ["B", "张伟"]


def test_bulk_registration_is_consistent_with_single_registration(coded: Register) -> None:
    drafts = list(DemoGenerator(seed=7).customers(600))
    result = coded.register_many(drafts, batch_size=250)
    assert result.registered == 600
    assert count(coded, customer) == 600
    assert count(coded, audit_entry) == 1 + 2 + 600  # the first user, two rules, 600
    report = coded.check_codes()
    assert report.ok, report.problems
    assert report.counts == {"active": 600}
    # A later single registration continues the same counters, after the batch's numbers.
    with coded.store.read() as conn:
        taken = conn.execute(select(func.max(customer_code.c.seq))
                             .where(customer_code.c.scope_key == "CE44")).scalar_one()
    single = coded.register(ent("深圳市华盛电子科技有限公司", region="440305"))
    assert single.code[4:10] == f"{taken + 1:06d}"
    assert coded.check_codes().ok


@pytest.mark.parametrize("validators", [0, 1])
def test_bulk_stops_at_the_first_bad_draft_with_its_position(
    coded: Register, validators: int
) -> None:
    drafts = list(DemoGenerator(seed=7).customers(30))
    drafts[24] = CustomerDraft("enterprise", "", region="440305")
    with pytest.raises(ValidationError, match=r"customer 25: .*\(20 registered before it\)"):
        coded.register_many(drafts, batch_size=10, validators=validators)
    assert count(coded, customer) == 20
    assert coded.check_codes().ok


def test_bulk_refuses_identifiers_already_taken(coded: Register) -> None:
    first = coded.register(ent("X", USCC))
    with pytest.raises(Conflict, match=first.code):
        coded.register_many([ent("Y", OTHER_USCC), ent("Z", USCC)])
    assert count(coded, customer) == 1


def test_change_to_an_explicit_code_must_suit_the_customer(reg: Register) -> None:
    reg.add_rule("ent", "C{kind}{seq:4}", kind="enterprise")
    reg.add_rule("ind", "C{kind}{seq:4}", kind="individual")
    person = reg.register(CustomerDraft("individual", "张伟", region="110105"))
    assert person.code == "CP0001"
    with pytest.raises(RuleViolation, match="CE0005 is not one of them"):
        reg.change_code(person.code, "wrong series", to="CE0005")
    with pytest.raises(RuleViolation, match="applies to kind=enterprise"):
        reg.change_code(person.code, "wrong rule", rule="ent")
    assert reg.register(ent("A")).code == "CE0001"


def test_customers_cannot_be_registered_retired(coded: Register) -> None:
    with pytest.raises(InvalidComponent, match="cannot be registered as retired"):
        coded.register(CustomerDraft("enterprise", "X", region="440305", lifecycle="retired"))
    assert count(coded, customer) == 0


def test_list_filter_by_county_is_exact(coded: Register) -> None:
    coded.register(ent("坪山", region="440310"))
    coded.register(ent("光明", region="440311"))
    assert [r.legal_name for r in coded.customers(CustomerFilter(region="440310"))] == ["坪山"]
    assert len(coded.customers(CustomerFilter(region="440000"))) == 2
    with pytest.raises(InvalidComponent, match="unknown kind"):
        coded.customers(CustomerFilter(kind="firm"))


def test_reserved_codes_are_claimed_or_voided_never_lost(coded: Register) -> None:
    codes = [coded.register(ent(f"企业{n}", region="440305")).code for n in range(5)]
    assert len(set(codes)) == 5
    coded.close()  # voids whatever this process reserved and did not use
    report = coded.check_codes()
    assert report.ok, report.problems
    assert report.counts["active"] == 5
    if coded.store.reserves_separately:
        # Blocks of 1, 2, 4 were reserved for the series: 7 numbers, 5 used, 2 voided.
        assert report.counts["void"] == 2
        with coded.store.read() as conn:
            actions = [r.action for r in conn.execute(select(audit_entry))]
        assert actions.count("code.reserve") == 3 and actions.count("code.void") == 1
    else:
        assert "void" not in report.counts


def test_check_codes_finds_a_counter_below_its_codes_and_gapless_holes(reg: Register) -> None:
    reg.add_rule("g", "G{seq:4}", gapless=True)
    for n in range(3):
        reg.register(ent(f"g{n}"))
    assert reg.check_codes().ok
    with reg.store.write() as conn:  # simulate damage a bug or a hand edit could do
        conn.execute(update(code_counter).values(next_value=2))
    assert any("would collide" in p for p in reg.check_codes().problems)
    with reg.store.write() as conn:
        conn.execute(update(code_counter).values(next_value=6))
    assert any("there are holes" in p for p in reg.check_codes().problems)


def test_bulk_audit_entries_carry_the_code_and_the_customer(coded: Register) -> None:
    drafts = list(DemoGenerator(seed=7).customers(20))
    coded.register_many(drafts, batch_size=8)
    with coded.store.read() as conn:
        entries = conn.execute(select(audit_entry)
                               .where(audit_entry.c.action == "customer.register")).all()
        codes = {cid: value for cid, value in conn.execute(
            select(customer_code.c.customer_id, customer_code.c.value))}
        created = {cid: at for cid, at in conn.execute(
            select(customer.c.id, customer.c.created_at))}
    assert len(entries) == 20
    for entry in entries:
        customer_id = int(entry.entity_id)
        assert entry.detail["code"] == codes[customer_id]
        # An individual's name is personal data, kept out of the append-only trail.
        assert ("legal_name" in entry.detail) == (entry.detail["kind"] != "individual")
        assert entry.actor == "tester" and entry.at == created[customer_id]


def test_a_bulk_batch_prepared_under_old_rules_is_prepared_again(coded: Register) -> None:
    from custmdm.core.bulk import prepare_batch, write_batch, write_prepared
    from custmdm.core.coding import StaleRule, cached_rules
    from custmdm.core.customers import validate_draft

    valid = [validate_draft(ent(f"企业{n}", region="440305"), default_owner="tester")
             for n in range(3)]
    today = coded.ctx.today()
    batch = prepare_batch(valid, cached_rules(coded.ctx), today, coded.store.fields)
    # Another process adds a rule that now wins for these customers.
    coded.add_rule("shenzhen", "SZ{seq:5}", region_prefix="4403", priority=10)
    with pytest.raises(StaleRule):
        write_batch(coded.ctx, batch)
    assert count(coded, customer) == 0
    codes = write_prepared(coded.ctx, batch,
                           lambda rules: prepare_batch(valid, rules, today, coded.store.fields))
    assert codes == ["SZ00001", "SZ00002", "SZ00003"]
    assert coded.check_codes().ok


def test_reservation_blocks_follow_the_pace_of_registration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from custmdm.core import coding

    clock = [0.0]
    monkeypatch.setattr(coding.time, "monotonic", lambda: clock[0])
    pool = coding.ReservationPool()
    key = (1, "CE")
    assert pool._next_size(key) == 1
    sizes = []
    for _ in range(10):  # each block used up within a second: double, up to the cap
        pool._sizes[key] = (pool._next_size(key), clock[0])
        sizes.append(pool._sizes[key][0])
        clock[0] += 0.5
    assert sizes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 256]
    clock[0] += 5  # lasted a few seconds: keep the size
    assert pool._next_size(key) == 256
    clock[0] += 60  # lasted a minute: halve
    assert pool._next_size(key) == 128


@pytest.mark.parametrize("gapless", [False, True])
def test_every_registration_path_records_the_legal_name(reg: Register, gapless: bool) -> None:
    from custmdm.store.tables import customer_name

    reg.add_rule("std", "C{kind}{seq:6}", gapless=gapless)
    single = reg.register(ent("深圳市華盛電子科技有限公司", USCC))
    reg.register_many(list(DemoGenerator(seed=7).customers(30)), batch_size=12)
    with reg.store.read() as conn:
        rows = conn.execute(select(customer_name)).all()
        customers = conn.execute(select(customer.c.id, customer.c.legal_name)).all()
    legal = [r for r in rows if r.kind == "legal"]
    assert sorted((r.customer_id, r.text) for r in legal) == sorted(
        (c.id, c.legal_name) for c in customers)
    assert all(r.valid_to is None and r.source == "registration" for r in rows)
    assert {r.kind for r in rows} - {"legal"} <= {"short", "english"}  # the demo's others
    first = next(r for r in rows if r.customer_id == single.id)
    assert (first.normalised, first.core, first.initials) == (
        "深圳市华盛电子科技有限公司", "华盛电子科技", "szshsdzkjyxgs")
