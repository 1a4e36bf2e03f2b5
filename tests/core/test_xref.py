"""Key mapping: systems, their ids for customers, moving and importing (both databases)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from custmdm import CustomerDraft
from custmdm.errors import Conflict, InvalidFormat, NotFound, ValidationError
from custmdm.register import Register
from custmdm.store.tables import audit_entry, xref

# These tests register look-alike customers on purpose.
pytestmark = pytest.mark.usefixtures("unchecked")


@pytest.fixture
def codes(reg: Register) -> list[str]:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_system("ERP", "SAP ECC")
    reg.add_system("billing")
    return [reg.register(CustomerDraft("enterprise", name, region="440305")).code
            for name in ("深圳市华盛电子科技有限公司", "深圳市华胜电子科技有限公司")]


def test_one_call_each_way(reg: Register, codes: list[str]) -> None:
    reg.add_xref(codes[0], "ERP", "K-00123", "华盛电子")
    reg.add_xref(codes[0], "billing", "B77", "深圳华盛")
    found = reg.find_xref("ERP", " K-00123 ")
    assert found.customer.code == codes[0] and found.mapping.external_name == "华盛电子"
    assert [(m.system, m.external_id, m.external_name) for m in reg.xrefs(codes[0])] == [
        ("ERP", "K-00123", "华盛电子"), ("billing", "B77", "深圳华盛")]
    assert [m.external_id for m in reg.xrefs(codes[0], "billing")] == ["B77"]
    assert reg.xrefs(codes[1]) == []


def test_an_id_is_never_taken_from_another_customer(reg: Register, codes: list[str]) -> None:
    reg.add_xref(codes[0], "ERP", "K-00123")
    with pytest.raises(Conflict, match=f"mapped to customer {codes[0]}; move it explicitly"):
        reg.add_xref(codes[1], "ERP", "K-00123")
    assert reg.add_xref(codes[0], "ERP", "K-00123", "新名称").external_name == "新名称"
    assert reg.find_xref("ERP", "K-00123").customer.code == codes[0]


def test_moving_a_mapping_ends_the_old_one_and_is_audited(
    reg: Register, codes: list[str]
) -> None:
    reg.add_xref(codes[0], "ERP", "K-00123", "华盛")
    moved = reg.move_xref("ERP", "K-00123", codes[1], "录错客户", on=date(2026, 11, 1))
    assert (moved.customer_code, moved.valid_from) == (codes[1], date(2026, 11, 1))
    assert reg.find_xref("ERP", "K-00123").customer.code == codes[1]
    old = reg.xrefs(codes[0])
    assert [(m.external_id, m.valid_to) for m in old] == [("K-00123", date(2026, 11, 1))]
    with reg.store.read() as conn:
        detail = conn.execute(select(audit_entry.c.detail)
                              .where(audit_entry.c.action == "xref.move")).scalar_one()
    assert detail["from"] == codes[0] and detail["to"] == codes[1]
    with pytest.raises(Conflict, match="already mapped"):
        reg.move_xref("ERP", "K-00123", codes[1], "again")
    with pytest.raises(ValidationError, match="reason"):
        reg.move_xref("ERP", "K-00123", codes[0], " ")


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda r, c: r.add_xref(c[0], "CRM", "1"), NotFound,
     "no system named 'CRM' \\(known: ERP, billing\\)"),
    (lambda r, c: r.add_xref(c[0], "ERP", " "), InvalidFormat, "external id"),
    (lambda r, c: r.find_xref("ERP", "nope"), NotFound, "ERP id 'nope' is not mapped"),
    (lambda r, c: r.add_system("ERP"), Conflict, "already registered"),
    (lambda r, c: r.add_system("my erp"), InvalidFormat, "without spaces"),
])
def test_clear_errors(reg: Register, codes: list[str], call: object, error: type[Exception],
                      message: str) -> None:
    with pytest.raises(error, match=message):
        call(reg, codes)  # type: ignore[operator]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_adds_and_refreshes_all_or_nothing(
    reg: Register, codes: list[str], tmp_path: Path
) -> None:
    reg.add_xref(codes[0], "ERP", "K1", "旧名")
    good = write(tmp_path / "erp.csv", "code,external_id,external_name\n"
                 f"{codes[0]},K1,华盛电子\n{codes[0]},K2,\n{codes[1]},K3,华胜\n")
    result = reg.import_xrefs(good, "ERP")
    assert (result.added, result.renamed, result.unchanged) == (2, 1, 0)
    assert reg.find_xref("ERP", "K1").mapping.external_name == "华盛电子"
    assert reg.import_xrefs(good, "ERP").unchanged == 3

    bad = write(tmp_path / "bad.csv", "code,external_id,external_name\n"
                f"{codes[1]},K9,\n{codes[1]},K1,抢走\n")
    with pytest.raises(Conflict, match=f"line 3: ERP id 'K1' is mapped to customer {codes[0]}"):
        reg.import_xrefs(bad, "ERP")
    with reg.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(xref)).scalar() == 3  # no K9


@pytest.mark.parametrize(("text", "message"), [
    ("code,id\nX,1\n", "missing: external_id"),
    ("code,external_id\nCE000001,\n", "line 2: code and external_id are both needed"),
    ("code,external_id\nCE000001,A\nCE000002,A\n", "line 3: external id 'A' appears again"),
    ("code,external_id\nNOPE,A\n", "line 2: no customer has code NOPE"),
])
def test_import_errors_name_the_line(
    reg: Register, codes: list[str], tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises((InvalidFormat, Conflict, NotFound), match=message):
        reg.import_xrefs(write(tmp_path / "f.csv", text), "ERP")
