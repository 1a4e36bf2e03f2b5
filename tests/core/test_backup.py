"""Backup and restore, verified: a damaged or mismatched backup is refused and changes
nothing (both databases)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from custmdm import CustomerDraft, open_register
from custmdm.core.audit import AuditFilter
from custmdm.demo.generator import DemoGenerator
from custmdm.errors import ConfigurationError, PermissionDenied, ValidationError
from custmdm.register import Register
from custmdm.security.keys import Keyring


@pytest.fixture
def filled(unchecked: Register) -> Register:
    unchecked.add_rule("std", "C{kind}{seq:6}{check:mod37-2}")
    unchecked.register_many(DemoGenerator(seed=3).customers(40), batch_size=20)
    return unchecked


def _state(reg: Register) -> tuple[int, int, int]:
    overview = reg.overview()
    chain = reg.verify_audit()
    assert chain.intact, chain.problem
    return overview.customers, sum(overview.codes_by_rule.values()), chain.last_seq


def test_a_backup_restores_exactly_what_it_held(filled: Register, tmp_path: Path) -> None:
    before = _state(filled)
    info = filled.backup(tmp_path / "one.backup")
    manifest = info.manifest
    assert manifest["counts"]["customers"] == before[0] == 40
    assert manifest["audit_head"]["seq"] == before[2]
    assert manifest["dialect"] == filled.store.dialect and manifest["schema_revision"]
    assert manifest["key_ids"] and all(k.startswith(("audit-", "data-", "index-"))
                                       for k in manifest["key_ids"])
    # Life goes on after the backup …
    code = filled.customers()[0].code
    filled.retire(code, "gone")
    filled.register(CustomerDraft(kind="enterprise", legal_name="深圳市备份后科技有限公司",
                                  region="440305"))
    assert _state(filled)[0] == 41
    # … and the restore puts back the register as it was, plus the restore's own entry.
    result = filled.restore(tmp_path / "one.backup")
    assert result.manifest["counts"] == manifest["counts"]
    customers, codes, last = _state(filled)
    assert (customers, codes) == before[:2] and last == before[2] + 1
    assert filled.find(code).customer.status == "active"
    actions = [e.action for e in filled.audit_log(AuditFilter(limit=1000))]
    assert actions[0] == "register.restore"
    assert "register.backup" not in actions  # written after the snapshot it describes
    if filled.store.is_sqlite:
        assert result.previous is not None and result.previous.exists()


def _rewrite(source: Path, target: Path, *, manifest: dict[str, object] | None = None,
             data: bytes | None = None, drop: str | None = None) -> Path:
    with tarfile.open(source) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(target, "w") as out:
        for member, content in members:
            if member.name == drop:
                continue
            if member.name == "manifest.json" and manifest is not None:
                content = json.dumps(manifest).encode()
            elif member.name != "manifest.json" and data is not None:
                content = data
            member.size = len(content)
            out.addfile(member, io.BytesIO(content))
    return target


def test_a_damaged_or_mismatched_backup_is_refused_and_changes_nothing(
        filled: Register, tmp_path: Path) -> None:
    good = filled.backup(tmp_path / "good.backup")
    manifest = good.manifest
    with tarfile.open(good.path) as archive:
        data = archive.extractfile(manifest["data"]["name"]).read()  # type: ignore[union-attr]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / "noise.backup").write_bytes(b"not a backup at all")
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(good.path.read_bytes()[: good.path.stat().st_size // 2])
    cases: dict[str, tuple[Path, str]] = {
        "a flipped byte": (_rewrite(good.path, tmp_path / "flip.backup", data=bytes(flipped)),
                           "does not match the checksum"),
        "cut short": (truncated, "damaged|not a CustMDM backup"),
        "not an archive": (tmp_path / "noise.backup", "not a CustMDM backup"),
        "no manifest": (_rewrite(good.path, tmp_path / "bare.backup", drop="manifest.json"),
                        "manifest is damaged"),
        "another database": (_rewrite(good.path, tmp_path / "dialect.backup", manifest={
            **manifest, "dialect": "postgresql" if filled.store.is_sqlite else "sqlite"}),
            "backup; this register is"),
        "a newer CustMDM": (_rewrite(good.path, tmp_path / "newer.backup", manifest={
            **manifest, "schema_revision": "9999"}), "newer CustMDM"),
        "counts that do not match": (_rewrite(good.path, tmp_path / "counts.backup", manifest={
            **manifest, "counts": {**manifest["counts"], "customers": 41}}),
            "the manifest says"),
        "no such file": (tmp_path / "missing.backup", "no backup file"),
    }
    # (PostgreSQL checks the counts after its one-transaction restore, and puts the
    # register back from the backup it made first.)
    before = _state(filled)
    for case, (path, message) in cases.items():
        with pytest.raises(ValidationError, match=message):
            filled.restore(path)
        assert _state(filled) == before, case


def test_a_backup_needs_its_own_keys(filled: Register, tmp_path: Path) -> None:
    info = filled.backup(tmp_path / "keys.backup")
    stranger = Register(type(filled.store)(filled.store.url), filled.ctx.actor,
                        keyring=Keyring.generate(tmp_path / "other.json"))
    try:
        with pytest.raises(ConfigurationError, match="does not hold"):
            stranger.restore(info.path)
    finally:
        stranger.close()


def test_only_an_administrator_backs_up_or_restores(filled: Register, tmp_path: Path) -> None:
    filled.add_user("mia")
    filled.grant("mia", "data_steward")
    info = filled.backup(tmp_path / "admin.backup")
    with open_register(filled.store.url, actor="mia") as mia:
        with pytest.raises(PermissionDenied, match="'administer'"):
            mia.backup(tmp_path / "mia.backup")
        with pytest.raises(PermissionDenied, match="'administer'"):
            mia.restore(info.path)
    assert not (tmp_path / "mia.backup").exists()


def test_a_sqlite_backup_restores_into_a_new_file(filled: Register, tmp_path: Path) -> None:
    if not filled.store.is_sqlite:
        pytest.skip("a new SQLite file")
    info = filled.backup(tmp_path / "move.backup")
    with open_register(f"sqlite:///{tmp_path}/elsewhere/new.db",
                       actor=filled.ctx.actor.name) as moved:
        result = moved.restore(info.path)
        assert result.previous is None
        assert _state(moved)[0] == 40
