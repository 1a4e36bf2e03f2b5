"""A customer's names: adding, reading as of a date, renaming (both databases)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from custmdm import CustomerDraft
from custmdm.errors import Conflict, InvalidComponent, InvalidFormat, ValidationError
from custmdm.register import Register
from custmdm.store.tables import audit_entry, customer_name

OLD = "深圳市华盛电子科技有限公司"
NEW = "深圳市华盛智能科技股份有限公司"


@pytest.fixture
def code(reg: Register) -> str:
    reg.add_rule("std", "C{kind}{seq:6}")
    return reg.register(CustomerDraft("enterprise", OLD, region="440305")).code


def test_names_are_added_with_their_forms(reg: Register, code: str) -> None:
    short = reg.add_name(code, "short", "華盛電子")
    assert (short.kind, short.text, short.normalised) == ("short", "華盛電子", "华盛电子")
    assert (short.pinyin, short.initials) == ("huashengdianzi", "hsdz")
    assert short.source == "tester"
    reg.add_name(code, "english", "Huasheng Electronics Co., Ltd.", valid_from=date(2020, 1, 1))
    assert [(n.kind, n.text) for n in reg.names(code)] == [
        ("legal", OLD), ("short", "華盛電子"), ("english", "Huasheng Electronics Co., Ltd.")]
    assert reg.find(code).customer.version == 3


def test_the_same_name_twice_is_refused_whatever_its_spelling(reg: Register, code: str) -> None:
    reg.add_name(code, "alias", "华盛电子")
    with pytest.raises(Conflict, match="already has the alias name '华盛电子'"):
        reg.add_name(code, "short", "華盛 電子")
    with pytest.raises(Conflict, match="legal name"):
        reg.add_name(code, "alias", "深圳市华盛电子科技有限公司 ")


@pytest.mark.parametrize(("kind", "text", "error", "message"), [
    ("legal", "X", InvalidComponent, "use `customer rename`"),
    ("nickname", "X", InvalidComponent, "short, alias, english, codename"),
    ("alias", " ", InvalidFormat, "name is empty"),
    ("alias", "华盛\t电子", InvalidFormat, "control characters"),
])
def test_bad_names_are_refused(
    reg: Register, code: str, kind: str, text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        reg.add_name(code, kind, text)
    assert [n.kind for n in reg.names(code)] == ["legal"]


def test_renaming_keeps_the_old_name_as_former_until_the_day(reg: Register, code: str) -> None:
    day = date.today() - timedelta(days=10)
    record = reg.rename(code, NEW, "更名登记", on=day)
    assert record.legal_name == NEW and record.code == code
    names = reg.names(code)
    assert [(n.kind, n.text, n.valid_from, n.valid_to) for n in names] == [
        ("legal", NEW, day, None), ("former", OLD, None, day)]
    assert [n.text for n in reg.names(code, at=day - timedelta(days=1))] == [OLD]
    assert [n.text for n in reg.names(code, at=day)] == [NEW]
    assert reg.legal_name_on(code, day - timedelta(days=1)) == OLD
    assert reg.legal_name_on(code, day) == NEW
    assert reg.legal_name_on(code, date(1990, 1, 1)) == OLD  # before any recorded date
    with reg.store.read() as conn:
        audit = conn.execute(select(audit_entry.c.detail)
                             .where(audit_entry.c.action == "customer.rename")).scalar_one()
        legal = conn.execute(select(customer_name.c.text).where(
            customer_name.c.kind == "legal", customer_name.c.valid_to.is_(None))).all()
    assert audit == {"code": code, "from": OLD, "to": NEW, "on": day.isoformat(),
                     "reason": "更名登记"}
    assert [r.text for r in legal] == [NEW]


def test_renames_follow_each_other_in_time(reg: Register, code: str) -> None:
    first = date.today() - timedelta(days=30)
    reg.rename(code, NEW, "更名", on=first)
    with pytest.raises(ValidationError, match="must take effect after that day"):
        reg.rename(code, "深圳市华盛集团有限公司", "再次更名", on=first)
    reg.rename(code, "深圳市华盛集团有限公司", "再次更名")
    assert [(n.kind, n.text) for n in reg.names(code)] == [
        ("legal", "深圳市华盛集团有限公司"), ("former", OLD), ("former", NEW)]
    reg.add_name(code, "short", "华盛")
    assert [n.kind for n in reg.names(code, at=first)] == ["former", "short"]


@pytest.mark.parametrize(("name", "on", "reason", "error", "message"), [
    (OLD, None, "x", Conflict, "is already the legal name"),
    ("深圳市華盛電子科技有限公司", None, "x", Conflict, "is already the legal name"),
    (NEW, date.today() + timedelta(days=1), "x", ValidationError, "today or earlier"),
    (NEW, None, " ", ValidationError, "give a reason"),
    ("", None, "x", InvalidFormat, "legal name is empty"),
])
def test_bad_renames_change_nothing(
    reg: Register, code: str, name: str, on: date | None, reason: str,
    error: type[Exception], message: str,
) -> None:
    with pytest.raises(error, match=message):
        reg.rename(code, name, reason, on=on)
    assert reg.find(code).customer.legal_name == OLD
    assert [(n.kind, n.text) for n in reg.names(code)] == [("legal", OLD)]


def test_names_of_retired_customers_are_frozen(reg: Register, code: str) -> None:
    reg.retire(code, "注销")
    with pytest.raises(Conflict, match="retired"):
        reg.add_name(code, "alias", "华盛")
    with pytest.raises(Conflict, match="retired"):
        reg.rename(code, NEW, "更名")


def test_other_names_are_registered_with_the_customer(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    record = reg.register(CustomerDraft("enterprise", OLD, region="440305",
                                        names=[("short", "华盛电子"), ("english", "Huasheng")]))
    reg.register_many([CustomerDraft("enterprise", NEW, region="440305",
                                     names=[("alias", "华盛智能")])])
    assert [(n.kind, n.text) for n in reg.names(record.code)] == [
        ("legal", OLD), ("short", "华盛电子"), ("english", "Huasheng")]
    assert reg.search("华盛智能")[0].customer.legal_name == NEW
    with pytest.raises(InvalidComponent, match="given twice"):
        reg.register(CustomerDraft("enterprise", "X有限公司", names=[("short", "X有限公司")]))
    with pytest.raises(InvalidComponent, match="not 'former'"):
        reg.register(CustomerDraft("enterprise", "Y有限公司", names=[("former", "Z")]))
