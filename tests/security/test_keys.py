"""The keyring: where keys come from, how they are kept, what a damaged one says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custmdm.errors import ConfigurationError
from custmdm.security.keys import PURPOSES, Keyring


def test_a_new_key_file_is_private_and_reads_back(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "conf" / "keys.json"
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(path))
    monkeypatch.delenv("CUSTMDM_KEYS", raising=False)
    made = Keyring.load(create=True)
    assert made.created and path.stat().st_mode & 0o777 == 0o600
    again = Keyring.load()
    assert not again.created
    for purpose in PURPOSES:
        assert again.current_key(purpose) == made.current_key(purpose)
        assert len(made.current_key(purpose).secret) == 32
    assert len({made.current_key(p).secret for p in PURPOSES}) == 3


def test_a_new_key_keeps_the_old_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "keys.json"))
    keyring = Keyring.load(create=True)
    old = keyring.current_key("data")
    new = keyring.add_key("data")
    reread = Keyring.load()
    assert reread.current_key("data") == new and reread.key(old.id) == old
    assert new.check_value != old.check_value and len(new.check_value) == 32


def test_two_processes_adding_keys_lose_neither(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that read the file before another one's rotation keeps that key when
    it adds its own: losing a data key would lose what it encrypted."""
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "keys.json"))
    Keyring.load(create=True)
    early, late = Keyring.load(), Keyring.load()
    data = late.add_key("data")
    audit = early.add_key("audit")  # read the file before `data` existed
    reread = Keyring.load()
    assert reread.key(data.id) == data and reread.current_key("data") == data
    assert reread.current_key("audit") == audit
    assert early.current_key("data") == data  # and now uses it


def test_keys_can_come_whole_from_the_environment(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = Keyring.generate().to_json()
    monkeypatch.setenv("CUSTMDM_KEYS", text)
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "unused.json"))
    keyring = Keyring.load(create=True)
    assert keyring.source == "$CUSTMDM_KEYS" and not (tmp_path / "unused.json").exists()
    with pytest.raises(ConfigurationError, match="cannot be changed here"):
        keyring.add_key("audit")


def test_a_missing_key_file_says_how_to_get_one(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTMDM_KEY_FILE", str(tmp_path / "none.json"))
    monkeypatch.delenv("CUSTMDM_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="custmdm init"):
        Keyring.load()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d["keys"][0].update(secret="not base64!"), "cannot be read"),
    (lambda d: d["keys"][0].update(secret="AAAA"), "not 32 bytes"),
    (lambda d: d["current"].pop("audit"), "no current 'audit' key"),
    (lambda d: d.pop("keys"), "keys"),
])
def test_a_damaged_keyring_says_what_is_wrong(damage, message: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(Keyring.generate().to_json())
    damage(data)
    with pytest.raises(ConfigurationError, match=message):
        Keyring.parse(json.dumps(data), "test")
    with pytest.raises(ConfigurationError, match="not in the keyring"):
        Keyring.generate().key("audit-deadbeef")
