"""The duplicate check on entry, on SQLite and PostgreSQL: candidates come from the
blocking index, carry a score, a reason, the code and the owner; rules block, warn (with
an audited override) or link."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from custmdm import open_register
from custmdm.core.customers import CustomerDraft
from custmdm.core.dedup import DuplicateSuspected
from custmdm.demo.generator import make_uscc
from custmdm.domain.matching import Action
from custmdm.errors import Conflict, ValidationError
from custmdm.register import Register
from custmdm.store.tables import audit_entry, contact, customer, match_key

USCC = make_uscc("9", "1", "440305", 1)
OTHER_USCC = make_uscc("9", "1", "440305", 2)
HUASHENG = "深圳市华盛电子科技有限公司"


def ent(name: str, *ids: str, **more: object) -> CustomerDraft:
    return CustomerDraft("enterprise", name, identifiers=[("cn.uscc", i) for i in ids],
                         region=more.pop("region", "440305"), **more)  # type: ignore[arg-type]


@pytest.fixture
def coded(reg: Register) -> Register:
    reg.add_rule("std", "C{kind}{seq:6}")
    return reg


def count(reg: Register, table: object) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_the_same_uscc_is_blocked_naming_code_and_owner(coded: Register) -> None:
    first = coded.register(ent(HUASHENG, USCC, owner="sales07"))
    with pytest.raises(DuplicateSuspected) as refused:
        coded.register(ent("华盛电子", USCC, owner="sales09"))
    best = refused.value.result.candidates[0]
    assert (best.code, best.owner, best.action) == (first.code, "sales07", Action.BLOCK)
    assert "same USCC" in best.explanation
    assert first.code in str(refused.value) and "sales07" in str(refused.value)
    assert count(coded, customer) == 1


@pytest.mark.parametrize("variant, why", [
    ("深圳市华盛电子科技有限责任公司", "same name after removing legal form and region"),
    ("華盛電子科技有限公司", "same name after removing legal form and region"),
    ("深圳市华胜电子科技有限公司", "names sound alike"),
    ("深圳市华盛电子科枝有限公司", "similar after removing legal form and region"),
])
def test_a_variant_of_the_name_is_a_candidate_with_its_reason(
    coded: Register, variant: str, why: str
) -> None:
    first = coded.register(ent(HUASHENG))
    result = coded.check_duplicates(ent(variant))
    assert result.candidates[0].code == first.code
    assert any(why in reason for reason in result.candidates[0].explanation)
    assert result.action in (Action.WARN, Action.BLOCK)


def test_a_phone_written_differently_is_the_same_phone(coded: Register) -> None:
    first = coded.register(ent(HUASHENG, phones=["0755-83765566"], legal_representative="张三"))
    found = coded.check_duplicates(ent("华盛科技", phones=["+86 755 8376 5566"],
                                       legal_representative="张 三"))
    assert found.candidates[0].code == first.code
    assert {"same phone", "same legal representative"} <= set(found.candidates[0].explanation)


def test_a_warning_needs_an_override_with_a_reason_which_is_audited(coded: Register) -> None:
    first = coded.register(ent(HUASHENG))
    look_alike = ent("深圳市华胜电子科技有限公司")
    with pytest.raises(DuplicateSuspected, match="--override"):
        coded.register(look_alike)
    with pytest.raises(DuplicateSuspected):
        coded.register(look_alike, override_reason="   ")
    second = coded.register(look_alike, override_reason="华胜 is another company")
    with coded.store.read() as conn:
        detail = conn.execute(select(audit_entry.c.detail).where(
            audit_entry.c.entity_id == str(second.id),
            audit_entry.c.action == "customer.register")).scalar_one()
    assert detail["duplicate_override"] == {"reason": "华胜 is another company",
                                            "candidates": [first.code]}


def test_different_companies_with_the_same_trade_name_are_not_blocked(coded: Register) -> None:
    coded.register(ent(HUASHENG, USCC))
    other = coded.check_duplicates(ent("北京华盛物流有限公司", OTHER_USCC, region="110105"))
    assert other.action is None


def test_the_same_person_name_with_another_id_number_is_not_a_duplicate(
    coded: Register
) -> None:
    coded.register(CustomerDraft("individual", "张伟", region="110105",
                                 identifiers=[("cn.ric", "11010519491231002X")]))
    other = coded.check_duplicates(CustomerDraft(
        "individual", "张伟", region="110105", identifiers=[("cn.ric", "110105198001010016")]))
    assert other.action is None


def test_a_link_rule_returns_the_existing_customer(coded: Register) -> None:
    first = coded.register(ent(HUASHENG, USCC))
    coded.set_match_rule("enterprise", "link", 0.999)
    linked = coded.register(ent("华盛电子", USCC))
    assert linked.code == first.code and linked.linked
    assert count(coded, customer) == 1


def test_renaming_checks_and_files_the_new_name(coded: Register) -> None:
    first = coded.register(ent(HUASHENG, USCC))
    second = coded.register(ent("深圳市恒泰贸易有限公司", OTHER_USCC))
    with pytest.raises(DuplicateSuspected, match=first.code):
        coded.rename(second.code, "深圳市华盛电子科技有限责任公司", reason="took the name")
    coded.rename(second.code, "深圳市恒泰国际贸易有限公司", reason="new scope")
    found = coded.check_duplicates(ent("恒泰国际贸易有限公司"))
    assert found.candidates[0].code == second.code
    # the former name still identifies it
    assert coded.check_duplicates(ent("恒泰贸易有限公司")).candidates[0].code == second.code


def test_every_registration_path_writes_keys_and_contacts(coded: Register) -> None:
    coded.register(ent(HUASHENG, USCC, phones=["13800138000"], emails=["a@b.cn"]))
    coded.register_many([ent("深圳市恒泰贸易有限公司", OTHER_USCC, phones=["13900139000"])])
    fields = coded.store.fields
    with coded.store.read() as conn:
        keys = set(conn.scalars(select(match_key.c.key)))
        phones = {fields.contact_of("phone", None, c) for c in conn.scalars(
            select(contact.c.canonical).where(contact.c.kind == "phone"))}
    # Phones and e-mails are filed under their blind indexes, never as they are.
    assert {f"i:cn.uscc:{USCC}", "n:华盛电子科技", f"i:cn.uscc:{OTHER_USCC}", "n:恒泰贸易",
            *fields.match_keys(["t:+8613800138000", "e:a@b.cn", "t:+8613900139000"])} <= keys
    assert not any("+86" in k or "@" in k for k in keys)
    assert {p.canonical for p in phones} == {"+8613800138000", "+8613900139000"}


def test_rules_are_checked_and_audited(coded: Register) -> None:
    with pytest.raises(ValidationError, match="not a probability"):
        coded.set_match_rule("enterprise", "warn", 1.5)
    with pytest.raises(ValidationError, match="unknown action"):
        coded.set_match_rule("enterprise", "shout", 0.5)
    coded.set_match_rule("enterprise", "warn", 0.7)
    rules = {(r.kind, r.action.value): r.threshold for r in coded.match_rules()}
    assert rules[("enterprise", "warn")] == 0.7 and rules[("enterprise", "block")] == 0.99
    coded.set_match_rule("enterprise", "warn", None)
    assert ("enterprise", "warn") not in {(r.kind, r.action.value) for r in coded.match_rules()}
    with coded.store.read() as conn:
        assert conn.execute(select(func.count()).where(
            audit_entry.c.action == "match_rule.set")).scalar_one() == 2


def test_bad_contacts_are_refused_with_a_clear_error(coded: Register) -> None:
    with pytest.raises(ValidationError, match="phone '12345' is not a valid number"):
        coded.register(ent(HUASHENG, phones=["12345"]))
    with pytest.raises(ValidationError, match="e-mail 'zhang@' is not valid"):
        coded.register(ent(HUASHENG, emails=["zhang@"]))
    assert count(coded, customer) == 0


# -- edges found in review ---------------------------------------------------------------


def test_keys_that_differ_only_after_the_cut_are_filed_once(coded: Register) -> None:
    first, second = ("user@" + "a" * 63 + "." + "b" * 40 + ending for ending in (".com", ".net"))
    record = coded.register(ent(HUASHENG, emails=[first, second]))
    assert record.code


def test_a_link_goes_to_the_customer_that_triggers_it_never_a_retired_one(
    coded: Register
) -> None:
    old = coded.register(ent(HUASHENG, USCC))
    coded.retire(old.code, reason="closed")
    live = coded.register(ent("深圳市华盛电子科技有限公司", OTHER_USCC),
                          override_reason="the old one closed; a new company")
    coded.set_match_rule("enterprise", "link", 0.3)
    linked = coded.register(ent("深圳市华盛电子科技有限公司"))
    assert linked.linked and linked.code == live.code


def test_a_name_change_above_a_link_threshold_is_refused(coded: Register) -> None:
    coded.register(ent(HUASHENG, USCC))
    other = coded.register(ent("深圳市恒泰贸易有限公司", OTHER_USCC))
    coded.set_match_rule("enterprise", "link", 0.3)
    with pytest.raises(DuplicateSuspected):
        coded.rename(other.code, "深圳市华盛电子科技有限公司", reason="took the name")


def test_a_retired_customer_is_found_by_its_identifier_and_only_warns(coded: Register) -> None:
    old = coded.register(ent(HUASHENG, USCC))
    coded.retire(old.code, reason="closed")
    found = coded.check_duplicates(ent("深圳市新名字科技有限公司", USCC))
    assert found.candidates[0].code == old.code and found.action is Action.WARN
    assert "same USCC" in found.candidates[0].explanation


def test_identifiers_of_different_schemes_are_not_evidence_against(coded: Register) -> None:
    coded.register(CustomerDraft("enterprise", "Siemens AG", region="DE",
                                 identifiers=[("vat.de", "DE129273398")]))
    found = coded.check_duplicates(ent("Siemens AG", USCC, region="DE"))
    assert not any("different" in why for why in found.candidates[0].explanation)


def test_a_common_name_says_less_than_a_rare_one(unchecked: Register) -> None:
    unchecked.add_rule("std", "C{kind}{seq:6}")
    for _ in range(30):
        unchecked.register(CustomerDraft("individual", "张伟", region="110105"))
    unchecked.register(CustomerDraft("individual", "欧阳翠花", region="110105"))
    unchecked.set_match_rule("individual", "warn", 0.5)
    common = unchecked.check_duplicates(CustomerDraft("individual", "张伟", region="110105"))
    rare = unchecked.check_duplicates(CustomerDraft("individual", "欧阳翠花", region="110105"))
    assert rare.action is Action.WARN and common.action is None


def test_a_customer_with_many_names_is_checked(coded: Register) -> None:
    names = [("alias", f"华盛{n:02d}号电子科技有限公司") for n in range(80)]
    assert coded.check_duplicates(ent(HUASHENG, names=names)).action is None


def test_a_contact_too_long_once_normalised_is_refused(coded: Register) -> None:
    with pytest.raises(ValidationError, match="once normalised"):
        coded.register(ent(HUASHENG, address="\ufdfa" * 40))


def test_a_check_reads_only_what_it_needs(unchecked: Register) -> None:
    """A draft that shares no key costs one statement; a core held by more customers
    than one lookup returns is counted in full (term frequency), and scored so."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from custmdm.core.dedup import PER_KEY, stored_record
    from custmdm.domain.matching import Frequencies, score

    statements: list[str] = []

    def seen(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(sql)

    unchecked.add_rule("std", "C{kind}{seq:6}")
    holders = PER_KEY + 10
    for n in range(holders):
        unchecked.register(CustomerDraft("individual", "张伟", region="110105",
                                         phones=[f"1380013{n:04d}"]))
    draft = CustomerDraft("individual", "张伟", region="110105", phones=["13800130007"])
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        unchecked.check_duplicates(CustomerDraft("individual", "欧阳翠花", region="110105"))
        assert len(statements) == 1
        statements.clear()
        found = unchecked.check_duplicates(draft)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(statements) == 4  # lookup, the candidates, the full count, the rules
    best = found.candidates[0]
    with unchecked.store.read() as conn:
        theirs = stored_record(conn, best.customer_id, unchecked.store.fields)
    from custmdm.core.customers import validate_draft
    ours = validate_draft(draft, default_owner="x").match_record()
    expected = score(ours, theirs, Frequencies(holders, {"张伟": holders}))
    assert best.probability == pytest.approx(expected.probability)


def test_a_link_to_a_customer_outside_ones_scope_names_only_its_code(coded: Register) -> None:
    first = coded.register(ent(HUASHENG, USCC))
    coded.set_match_rule("enterprise", "link", 0.999)
    coded.add_user("bei")
    coded.grant("bei", "sales", "region:11")  # Beijing only
    with open_register(coded.store.url, actor="bei") as bei, \
            pytest.raises(Conflict, match=f"registered already as {first.code}, outside"):
        bei.register(ent("华盛电子", USCC, region="110105"))
    assert count(coded, customer) == 1
