"""The command line, as a user's script would drive it (both databases)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from custmdm.cli.main import app
from custmdm.demo.generator import make_uscc

USCC = make_uscc("9", "1", "440305", 42)
Run = Callable[..., "Result"]


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def run(db_url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, ["--db", db_url, "--actor", "cli-test", *args],
                               input=input)
        return Result(result.exit_code, result.stdout, result.stderr)

    assert invoke("init").exit_code == 0
    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr or result.stdout
    return result


def test_the_documented_workflow(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{kind}{region:4}{seq:6}{check:mod37-2}",
           "--region-prefix", "CN", "--priority", "10"))
    ok(run("rule", "add", "gov", "--pattern", "G{region:2}{seq:4}", "--kind", "government",
           "--gapless", "--priority", "5"))
    rules = ok(run("rule", "list", "--json")).json()
    assert [r["name"] for r in rules] == ["gov", "std"]  # type: ignore[index]
    preview = ok(run("rule", "preview", "std", "--region", "440305", "-n", "2")).stdout
    assert preview.split()[0].startswith("CE4403000001")

    added = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子有限公司",
                   "--id", f"cn.uscc={USCC}", "--region", "440305", "--industry", "C39",
                   "--json")).json()
    assert isinstance(added, dict)
    code = added["code"]
    assert code.startswith("CE4403000001")
    assert added["legal_name"] == "深圳市华盛电子有限公司"
    assert added["status"] == "active"
    assert added["codes"] == [{**added["codes"][0], "value": code, "status": "active"}]

    shown = ok(run("customer", "show", code, "--json")).json()
    assert isinstance(shown, dict) and shown["code"] == code

    refused = run("customer", "change-code", code, "--rule", "gov", "--reason", "test")
    assert refused.exit_code != 0 and "applies to kind=government" in refused.stderr
    ok(run("rule", "add", "key", "--pattern", "K{region:2}{seq:4}", "--priority", "200"))
    changed = ok(run("customer", "change-code", code, "--rule", "key", "--reason",
                     "key account", "--json")).json()
    assert isinstance(changed, dict)
    new_code = changed["code"]
    assert new_code == "K440001"
    old = ok(run("customer", "show", code, "--json")).json()
    assert isinstance(old, dict)
    assert old["requested_code_status"] == "superseded" and old["current_code"] == new_code
    text = ok(run("customer", "show", code)).stdout
    assert "superseded" in text and new_code in text

    ok(run("customer", "retire", new_code, "--reason", "closed"))
    listed = ok(run("customer", "list", "--status", "retired", "--json")).json()
    assert [c["code"] for c in listed] == [new_code]  # type: ignore[index,union-attr]
    report = ok(run("check", "codes", "--json")).json()
    assert isinstance(report, dict) and report["ok"] is True


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("customer", "show", "NOPE"), "no customer has code NOPE"),
        (("rule", "add", "x", "--pattern", "C{seq"), "unclosed"),
        (("customer", "add", "--kind", "firm", "--name", "X"), "unknown kind"),
        (("customer", "add", "--kind", "enterprise", "--name", "X", "--id", "cn.uscc"),
         "SCHEME=VALUE"),
        (("customer", "add", "--kind", "enterprise", "--name", "X", "--id",
          f"cn.uscc={USCC[:-1]}0"), "cn.uscc"),
    ],
)
def test_errors_are_one_line_on_stderr_with_a_nonzero_exit(
    run: Run, args: tuple[str, ...], fragment: str
) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]


def test_a_database_without_init_says_so(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{tmp_path}/new.db", "rule", "list"])
    assert result.exit_code != 0
    assert "run `custmdm init` first" in result.stderr


def test_demo_then_overview(run: Run) -> None:
    out = ok(run("demo", "--customers", "300")).stdout
    assert "registered 300 customers" in out
    assert "already has customers" in ok(run("demo", "--if-empty")).stdout
    summary = ok(run("overview", "--json")).json()
    assert isinstance(summary, dict) and summary["customers"] == 300
    assert ok(run("check", "codes")).exit_code == 0


def test_every_command_has_help() -> None:
    import typer.main

    command = typer.main.get_command(app)
    missing: list[str] = []

    def walk(cmd: object, path: str) -> None:
        if not getattr(cmd, "help", None):
            missing.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(command, "custmdm")
    assert missing == []


def test_names_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{kind}{seq:6}"))
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
                  "--region", "440305", "--json")).json()["code"]  # type: ignore[index]
    added = ok(run("name", "add", code, "華盛電子", "--kind", "short", "--json")).json()
    assert added == {**added, "kind": "short", "normalised": "华盛电子", "initials": "hsdz"}  # type: ignore[dict-item]
    renamed = ok(run("customer", "rename", code, "深圳市华盛智能科技股份有限公司", "--on",
                     "2026-01-01", "--reason", "更名登记", "--json")).json()
    assert renamed["legal_name"] == "深圳市华盛智能科技股份有限公司"  # type: ignore[index]
    names = ok(run("name", "list", code, "--json")).json()
    assert [(n["kind"], n["valid_to"]) for n in names] == [  # type: ignore[index,union-attr]
        ("legal", None), ("former", "2026-01-01"), ("short", None)]
    then = ok(run("name", "list", code, "--at", "2025-12-31", "--json")).json()
    assert [n["text"] for n in then] == ["深圳市华盛电子科技有限公司", "華盛電子"]  # type: ignore[index,union-attr]
    refused = run("name", "add", code, "华盛", "--kind", "legal")
    assert refused.exit_code != 0 and "customer rename" in refused.stderr
    bad_day = run("name", "list", code, "--at", "31.12.2025")
    assert bad_day.exit_code != 0 and "31.12.2025" in bad_day.stderr


def test_other_names_are_registered_with_the_customer(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{kind}{seq:6}"))
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
                  "--short", "华盛电子", "--short", "华盛", "--english",
                  "Huasheng Electronics Co., Ltd.", "--json")).json()["code"]  # type: ignore[index]
    names = ok(run("name", "list", code, "--json")).json()
    assert [(n["kind"], n["text"]) for n in names] == [  # type: ignore[index,union-attr]
        ("legal", "深圳市华盛电子科技有限公司"), ("short", "华盛电子"), ("short", "华盛"),
        ("english", "Huasheng Electronics Co., Ltd.")]
    hit = ok(run("search", "huasheng electronics", "--json")).json()[0]  # type: ignore[index]
    assert hit["code"] == code and hit["why"]["field"] == "English name"  # type: ignore[index]


def test_key_mapping_from_the_command_line(run: Run, tmp_path: object) -> None:
    from pathlib import Path

    ok(run("rule", "add", "std", "--pattern", "C{kind}{seq:6}"))
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
                  "--region", "440305", "--json")).json()["code"]  # type: ignore[index]
    ok(run("system", "add", "ERP", "--description", "SAP"))
    assert [s["name"] for s in ok(run("system", "list", "--json")).json()] == ["ERP"]  # type: ignore[index,union-attr]
    ok(run("xref", "add", code, "--system", "ERP", "--external-id", "K-00123",
           "--external-name", "华盛电子"))
    found = ok(run("xref", "find", "--system", "ERP", "--external-id", "K-00123",
                   "--json")).json()
    assert found["code"] == code and found["customer"]["legal_name"].startswith("深圳")  # type: ignore[index]
    csv = Path(str(tmp_path)) / "erp.csv"
    csv.write_text(f"code,external_id,external_name\n{code},K-2,华盛\n", encoding="utf-8")
    assert "1 added" in ok(run("xref", "import", str(csv), "--system", "ERP")).stdout
    listed = ok(run("xref", "list", code, "--json")).json()
    assert [m["external_id"] for m in listed] == ["K-00123", "K-2"]  # type: ignore[index,union-attr]
    missing = run("xref", "find", "--system", "ERP", "--external-id", "nope")
    assert missing.exit_code != 0 and "not mapped" in missing.stderr


def test_naming_rules_and_search_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{kind}{seq:6}"))
    ok(run("naming-rule", "add", "ent", "--kind", "enterprise", "--require", "legal_form",
           "--forbid", "中央", "--allow", "han,latin,digit,brackets"))
    rules = ok(run("naming-rule", "list", "--json")).json()
    assert rules[0]["required_parts"] == ["legal_form"]  # type: ignore[index]
    refused = run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子")
    assert refused.exit_code != 0 and "naming rule 'ent'" in refused.stderr
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子有限公司",
                  "--region", "440305", "--json")).json()["code"]  # type: ignore[index]
    hits = ok(run("search", "hsdz", "--json")).json()
    assert hits[0]["code"] == code  # type: ignore[index]
    assert hits[0]["why"] == {"field": "legal name (initials)", "matched": "深圳市华盛电子有限公司",  # type: ignore[index]
                              "match": "exact", "score": 100}
    ok(run("naming-rule", "remove", "ent"))
    assert ok(run("naming-rule", "list", "--json")).json() == []


def test_duplicates_from_the_command_line(run: Run, tmp_path: pathlib.Path) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}"))
    name = "深圳市华盛电子科技有限公司"
    first = ok(run("customer", "add", "--kind", "enterprise", "--name", name,
                   "--region", "440305", "--phone", "0755-83765566", "--owner", "sales07",
                   "--json")).json()
    code = first["code"]  # type: ignore[index]
    # dedup check from flags: the phone written differently, the name without region
    found = ok(run("dedup", "check", "--kind", "enterprise", "--name", "华盛电子科技有限责任公司",
                   "--phone", "+86 755 8376 5566", "--json")).json()
    best = found["candidates"][0]  # type: ignore[index]
    assert (best["code"], best["owner"], found["action"]) == (code, "sales07", "block")  # type: ignore[index]
    assert "same phone" in best["why"]
    # ... and from a JSON record
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"kind": "enterprise", "legal_name": "深圳市华胜电子科技有限公司",
                                  "region": "440305"}), encoding="utf-8")
    warned = ok(run("dedup", "check", "--record", str(record), "--json")).json()
    assert warned["action"] == "warn"  # type: ignore[index]
    # registering it: refused (exit 4, candidates as JSON), then overridden with a reason
    refused = run("customer", "add", "--kind", "enterprise", "--name", "深圳市华胜电子科技有限公司",
                  "--region", "440305", "--json")
    assert refused.exit_code == 4 and "--override" in refused.stderr
    assert json.loads(refused.stdout)["candidates"][0]["code"] == code
    ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华胜电子科技有限公司",
           "--region", "440305", "--override", "华胜 is another company"))
    # rules
    ok(run("dedup", "rule", "set", "enterprise", "warn", "0.8"))
    rules = ok(run("dedup", "rule", "list", "--json")).json()
    assert {"kind": "enterprise", "action": "warn", "threshold": 0.8} in rules  # type: ignore[operator]
    bad = run("dedup", "rule", "set", "enterprise", "warn", "2")
    assert bad.exit_code == 2 and "not a probability" in bad.stderr
    assert run("dedup", "check", "--kind", "enterprise").exit_code == 2


def test_merge_and_undo_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}"))
    ok(run("dedup", "rule", "remove", "enterprise", "warn"))  # register look-alikes freely
    a = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
               "--region", "440305", "--json")).json()["code"]  # type: ignore[index]
    b = ok(run("customer", "add", "--kind", "enterprise", "--name", "华盛电子科技有限责任公司",
               "--owner", "sales09", "--json")).json()["code"]  # type: ignore[index]
    merged = ok(run("merge", a, b, "--pick", f"owner={b}", "--json")).json()
    assert merged["survivor"]["owner"] == "sales09" and merged["merged"] == [b]  # type: ignore[index]
    shown = ok(run("customer", "show", b, "--json")).json()
    assert shown["code"] == a  # type: ignore[index]
    assert run("merge", a, "--pick", "owner").exit_code == 2
    assert "FIELD=CODE" in run("merge", a, b, "--pick", "owner").stderr
    ok(run("merge", "undo", str(merged["merge_id"])))  # type: ignore[index]
    assert ok(run("customer", "show", b, "--json")).json()["code"] == b  # type: ignore[index]
    again = run("merge", "undo", str(merged["merge_id"]))  # type: ignore[index]
    assert again.exit_code == 4 and "was undone" in again.stderr


def test_identifiers_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}"))
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
                  "--json")).json()["code"]  # type: ignore[index]
    uscc = make_uscc("9", "1", "440305", 1)
    added = ok(run("identifier", "add", code, f"cn.uscc={uscc}", "--json")).json()
    assert added["identifiers"] == [{"scheme": "cn.uscc", "value": uscc}]  # type: ignore[index]
    bad = run("identifier", "add", code, "cn.uscc")
    assert bad.exit_code == 2 and "SCHEME=VALUE" in bad.stderr
    twice = run("identifier", "add", code, f"cn.uscc={uscc}")
    assert twice.exit_code == 4 and "one identifier per scheme" in twice.stderr
    shown = ok(run("identifier", "remove", code, "cn.uscc", "--reason", "wrong firm"))
    assert uscc not in shown.stdout


def test_survivorship_rules_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}"))
    ok(run("dedup", "rule", "remove", "enterprise", "warn"))
    ok(run("system", "add", "ERP"))
    a = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
               "--json")).json()["code"]  # type: ignore[index]
    b = ok(run("customer", "add", "--kind", "enterprise", "--name", "华盛电子科技有限责任公司",
               "--region", "440305", "--owner", "sales09", "--json")).json()["code"]  # type: ignore[index]
    ok(run("xref", "add", b, "--system", "ERP", "--external-id", "K-1"))
    assert "owner: trusted (ERP)" in ok(run("dedup", "survivorship", "set", "owner",
                                            "trusted", "--trust", "ERP")).stdout
    rules = ok(run("dedup", "survivorship", "list", "--json")).json()
    assert {"field": "owner", "rule": "trusted", "systems": ["ERP"],
            "default": False} in rules  # type: ignore[operator]
    bad = run("dedup", "survivorship", "set", "owner", "trusted")
    assert bad.exit_code == 2 and "--trust SYSTEM" in bad.stderr
    merged = ok(run("merge", a, b))
    assert f"owner from {b} (trusted:ERP)" in merged.stdout
    assert f"region from {b} (most_complete)" in merged.stdout
    assert "(default)" in ok(run("dedup", "survivorship", "remove", "owner")).stdout


@pytest.mark.parametrize("record", [
    '{"kind": "enterprise", "legal_name": "华盛", "names": [{"kind": "short"}]}',
    '{"kind": "enterprise", "legal_name": "华盛", "names": ["short"]}',
    '{"kind": "enterprise", "legal_name": "华盛", "phones": [13800138000]}',
    '{"kind": "enterprise", "legal_name": "华盛", "phones": "13800138000"}',
    '{"kind": "enterprise", "legal_name": "华盛", "region": 440305}',
    '{"kind": "enterprise", "legal_name": "华盛", "colour": "red"}',
    '["not", "an", "object"]',
])
def test_a_badly_shaped_record_is_one_clear_line(run: Run, tmp_path: pathlib.Path,
                                                 record: str) -> None:
    path = tmp_path / "record.json"
    path.write_text(record, encoding="utf-8")
    result = run("dedup", "check", "--record", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert str(path) in result.stderr


def test_batch_run_and_review_queue_from_the_command_line(run: Run, tmp_path: pathlib.Path
                                                            ) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}"))
    for kind in ("enterprise", "individual", "government", "other"):
        for action in ("block", "warn"):
            ok(run("dedup", "rule", "remove", kind, action))  # an unchecked import
    ok(run("demo", "--customers", "200"))
    a = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市华盛电子科技有限公司",
               "--region", "440305", "--phone", "13800138000", "--json")).json()["code"]  # type: ignore[index]
    b = ok(run("customer", "add", "--kind", "enterprise", "--name", "華盛電子科技有限責任公司",
               "--region", "440305", "--phone", "+86 138 0013 8000", "--json")).json()["code"]  # type: ignore[index]
    result = ok(run("dedup", "run", "--json")).json()
    assert result["trained"] and result["clusters"] >= 1  # type: ignore[index]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"left,right\n{a},{b}\n", encoding="utf-8")
    trained = ok(run("dedup", "run", "--labels", str(labels), "--json")).json()
    assert trained["trained"]  # type: ignore[index]
    for training in (["--labels", str(labels)], ["--train"]):
        both = run("dedup", "run", "--file", str(labels), *training)
        assert both.exit_code == 2 and "trains nothing" in both.stderr
    lower = labels.with_name("lower.csv")
    lower.write_text(f"left,right\n{a.lower()},{b}\n", encoding="utf-8")
    ok(run("dedup", "run", "--labels", str(lower)))  # codes as find_by_code reads them
    labels.write_text(f"left,right\n{a},C999999\n", encoding="utf-8")
    bad = run("dedup", "run", "--labels", str(labels))
    assert bad.exit_code == 2 and "line 2: no customer has code 'C999999'" in bad.stderr
    queue = ok(run("dedup", "queue", "--json")).json()
    cluster = next(c for c in queue if set(c["codes"]) == {a, b})  # type: ignore[union-attr]
    assert "same phone" in cluster["pairs"][0]["why"]
    assert cluster["codes"][0] in ok(run("dedup", "queue")).stdout
    ok(run("dedup", "queue", "accept", str(cluster["id"]), "--survivor", a))
    assert ok(run("customer", "show", b, "--json")).json()["code"] == a  # type: ignore[index]
    again = run("dedup", "queue", "reject", str(cluster["id"]))
    assert again.exit_code == 4 and "already accepted" in again.stderr
    assert run("dedup", "queue", "defer", "9999").exit_code == 3


def test_audit_log_and_verify_from_the_command_line(run: Run, db_url: str) -> None:
    ok(run("demo", "--customers", "20"))
    entries = ok(run("audit", "log", "--action", "customer.register", "--limit", "5",
                     "--json")).json()
    assert isinstance(entries, dict) and entries["count"] == 5
    newest = entries["data"][0]
    assert newest["actor"] == "cli-test" and newest["seq"] > entries["data"][-1]["seq"]
    code = newest["detail"]["code"]
    mine = ok(run("audit", "log", "--customer", code, "--json")).json()
    assert isinstance(mine, dict) and [e["detail"]["code"] for e in mine["data"]] == [code]
    assert "customer.register" in ok(run("audit", "log", "--since", "2000-01-01")).stdout
    verified = ok(run("audit", "verify", "--json")).json()
    assert isinstance(verified, dict) and verified["intact"] is True
    assert verified["entries"] == verified["last_seq"] >= 21
    anchor = f"{verified['last_seq']}:{verified['last_mac']}"
    assert f"anchor {anchor}" in ok(run("audit", "verify")).stdout
    assert ok(run("audit", "verify", "--anchor", anchor)).exit_code == 0

    from sqlalchemy import create_engine, text

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:  # someone with SQL rights edits entry #3
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_entry_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3"))
    engine.dispose()
    broken = run("audit", "verify")
    assert broken.exit_code == 8
    assert "audit chain broken at entry #3" in broken.stderr


def test_init_creates_the_key_file_once(tmp_path: pathlib.Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "conf" / "keys.json"
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(keys))
    db = f"sqlite:///{tmp_path}/r.db"
    first = CliRunner().invoke(app, ["--db", db, "init"])
    assert first.exit_code == 0 and f"created the key file {keys}" in first.stdout
    assert keys.stat().st_mode & 0o777 == 0o600
    again = CliRunner().invoke(app, ["--db", db, "init"])
    assert again.exit_code == 0 and "created the key file" not in again.stdout
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "elsewhere.json"))
    missing = CliRunner().invoke(app, ["--db", db, "rule", "add", "x", "--pattern",
                                       "X{seq:4}"])
    assert missing.exit_code == 7
    assert "no keyring at" in missing.stderr and "CUSTMDM_KEY_FILE" in missing.stderr


def test_users_roles_grants_and_tokens_from_the_command_line(run: Run, db_url: str) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}{check:mod37-2}"))
    added = ok(run("user", "add", "ann", "--team", "south", "--role", "sales", "--scope",
                   "region:44", "--json")).json()
    assert isinstance(added, dict) and added["data"][0]["grants"] == ["sales in region:44"]
    users = ok(run("user", "list", "--json")).json()
    assert isinstance(users, dict) and [u["name"] for u in users["data"]] == ["ann",
                                                                                 "cli-test"]
    roles = ok(run("role", "list", "--json")).json()
    assert isinstance(roles, dict) and "data_steward" in {r["name"] for r in roles["data"]}
    ok(run("role", "add", "viewer", "-p", "read", "-p", "export"))
    assert "ann has viewer in all" in ok(run("grant", "add", "ann", "viewer")).stdout
    grants = ok(run("grant", "list", "ann", "--json")).json()
    assert isinstance(grants, dict) and grants["count"] == 2
    ok(run("grant", "revoke", "ann", "viewer"))
    ok(run("role", "remove", "viewer"))

    as_ann = CliRunner()

    def ann(*args: str) -> Result:
        result = as_ann.invoke(app, ["--db", db_url, "--actor", "ann", *args])
        return Result(result.exit_code, result.stdout, result.stderr)

    mine = ok(ann("customer", "add", "--kind", "enterprise", "--name", "深圳市甲科技有限公司",
                  "--region", "440305", "--json")).json()
    refused = ann("customer", "add", "--kind", "enterprise", "--name", "北京市乙科技有限公司",
                  "--region", "110105")
    assert refused.exit_code == 5 and "'create' in a scope covering" in refused.stderr
    assert ann("user", "list").exit_code == 5
    assert isinstance(mine, dict) and mine["owner"] == "ann"

    made = ok(run("token", "create", "ann", "--name", "laptop", "--days", "7", "--json")).json()
    assert isinstance(made, dict) and made["token"].startswith("cmdm_")
    listed = ok(run("token", "list", "--json")).json()
    assert isinstance(listed, dict) and listed["data"][0]["status"] == "active"
    assert made["token"] not in json.dumps(listed)
    ok(run("token", "revoke", str(made["id"])))
    ok(run("user", "disable", "ann", "--reason", "left"))
    gone = ann("customer", "list")
    assert gone.exit_code == 5 and "disabled (left)" in gone.stderr
    ok(run("user", "enable", "ann"))
    pw = CliRunner().invoke(app, ["--db", db_url, "--actor", "cli-test", "user", "password",
                                  "ann", "--password-stdin"], input="a long passphrase\n")
    assert pw.exit_code == 0, pw.stderr


def test_change_requests_from_the_command_line(run: Run, db_url: str) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}{check:mod37-2}"))
    code = ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市审批科技有限公司",
                  "--region", "440305", "--json")).json()["code"]  # type: ignore[index]
    ok(run("user", "add", "mia", "--role", "data_steward"))
    ok(run("approval", "add", "customer.retire"))
    assert "customer.retire" in ok(run("approval", "list", "--json")).stdout

    def mia(*args: str) -> Result:
        result = CliRunner().invoke(app, ["--db", db_url, "--actor", "mia", *args])
        return Result(result.exit_code, result.stdout, result.stderr)

    held = mia("customer", "retire", code, "--reason", "closed")
    assert held.exit_code == 6 and held.stderr.startswith("pending approval: ")
    listed = ok(run("request", "list", "--json")).json()
    assert isinstance(listed, dict) and listed["data"][0]["target"] == code
    request_id = str(listed["data"][0]["id"])
    assert "yours" in mia("request", "approve", request_id).stderr
    shown = ok(run("request", "approve", request_id, "--reason", "ok", "--json")).json()
    assert isinstance(shown, dict) and shown["status"] == "applied"
    assert ok(run("customer", "show", code, "--json")).json()["status"] == "retired"  # type: ignore[index]
    ok(run("approval", "remove", "customer.retire"))


def test_backup_and_restore_from_the_command_line(run: Run, tmp_path: pathlib.Path) -> None:
    ok(run("demo", "--customers", "30"))
    target = tmp_path / "nightly.backup"
    made = ok(run("backup", str(target), "--json")).json()
    assert isinstance(made, dict) and made["counts"]["customers"] == 30
    assert "backed up 30 customers" in ok(run("backup", str(tmp_path / "b2.backup"))).stdout
    ok(run("customer", "add", "--kind", "enterprise", "--name", "深圳市后加科技有限公司",
           "--region", "440305", "--override", "test"))
    restored = ok(run("restore", str(target), "--yes", "--json")).json()
    assert isinstance(restored, dict) and restored["restored"]["counts"]["customers"] == 30
    summary = ok(run("overview", "--json")).json()
    assert isinstance(summary, dict) and summary["customers"] == 30
    (tmp_path / "junk.backup").write_bytes(b"junk")
    refused = run("restore", str(tmp_path / "junk.backup"), "--yes")
    assert refused.exit_code == 2 and "not a CustMDM backup" in refused.stderr
    assert ok(run("audit", "verify")).exit_code == 0


def test_unmasking_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}{check:mod37-2}"))
    added = ok(run("customer", "add", "--kind", "individual", "--name", "张伟", "--region",
                   "110105", "--id", "cn.ric=11010519491231002X", "--phone", "13800138000",
                   "--json")).json()
    assert isinstance(added, dict)
    assert added["identifiers"][0]["value"] == "110***********002X"
    assert added["contacts"] == [{"kind": "phone", "value": "138****8000"}]
    shown = ok(run("customer", "show", added["code"])).stdout
    assert "110***********002X" in shown and "11010519491231002X" not in shown
    assert "phone 138****8000" in shown and "13800138000" not in shown
    clear = ok(run("customer", "show", added["code"], "--unmask", "contract check",
                   "--json")).json()
    assert isinstance(clear, dict) and clear["identifiers"][0]["value"] == "11010519491231002X"
    assert clear["unmasked"] is True and clear["contacts"][0]["value"] == "13800138000"
    found = ok(run("search", "+86 138 0013 8000", "--json")).json()
    assert isinstance(found, list) and [h["code"] for h in found] == [added["code"]]


def test_erase_from_the_command_line(run: Run) -> None:
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}{check:mod37-2}"))
    added = ok(run("customer", "add", "--kind", "individual", "--name", "张伟", "--region",
                   "110105", "--id", "cn.ric=11010519491231002X", "--phone", "13800138000",
                   "--json")).json()
    assert isinstance(added, dict)
    refused = run("erase", added["code"], "--reason", "asked", input="n\n")
    assert refused.exit_code == 1 and "cannot be undone" in refused.stdout
    erased = ok(run("erase", added["code"], "--reason", "the person asked", "--yes",
                    "--json")).json()
    assert isinstance(erased, dict) and erased["removed"]["contacts"] == 1
    assert erased["customer"]["code"] == added["code"] and erased["customer"]["contacts"] == []
    assert "个人信息已删除" in ok(run("customer", "show", added["code"])).stdout
    assert "audit chain intact" in ok(run("audit", "verify")).stdout


def test_key_rotate_from_the_command_line(run: Run, tmp_path: pathlib.Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from custmdm.security.keys import default_key_file

    own = tmp_path / "keys.json"  # a copy: the session's key file stays as it is
    shutil.copy(default_key_file(), own)
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(own))
    rotated = ok(run("key", "rotate", "--json")).json()
    assert isinstance(rotated, dict) and rotated["new_key"].startswith("audit-")
    assert rotated["new_key"] in own.read_text()
    assert "audit chain intact" in ok(run("audit", "verify")).stdout
    ok(run("rule", "add", "std", "--pattern", "C{seq:6}{check:mod37-2}"))
    ok(run("customer", "add", "--kind", "individual", "--name", "张伟", "--region", "110105",
           "--phone", "13800138000", "--email", "zw@example.com"))
    data = ok(run("key", "rotate", "--purpose", "data")).stdout
    assert "2 values re-encrypted under data-" in data
    again = ok(run("key", "rotate", "--purpose", "data", "--resume", "--json")).json()
    assert isinstance(again, dict) and again["resealed"] == 0
    refused = run("key", "rotate", "--purpose", "index")
    assert refused.exit_code == 2 and "cannot be rotated" in refused.stderr
