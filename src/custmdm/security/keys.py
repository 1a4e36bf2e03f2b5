"""The keyring: every secret key of a register, kept outside its database.

Three purposes, each with a current key and any number of older ones (kept so that
what they protected stays readable or verifiable):

* ``audit``: the HMAC key that chains audit entries (a forger without it cannot
  produce a valid chain, even with full write access to the database);
* ``data``: the AES-GCM key personal data is encrypted under (security.fields);
* ``index``: the HMAC key of blind indexes, which make encrypted values searchable for
  equality.

The keyring is a JSON file, readable by its owner only (mode 0600), found at
``$CUSTMDM_KEY_FILE``, else ``$XDG_CONFIG_HOME/custmdm/keys.json`` (default
``~/.config/custmdm/keys.json``). Where no file can be written (containers), the same
JSON can be given whole in ``$CUSTMDM_KEYS``. Keys are never stored in the database;
the database only records each key's id and a check value, so that opening a
register with the wrong keyring fails clearly instead of quietly.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from custmdm.errors import ConfigurationError

KEY_FILE_ENV = "CUSTMDM_KEY_FILE"
KEYS_ENV = "CUSTMDM_KEYS"
PURPOSES = ("audit", "data", "index")
FORMAT = "custmdm-keyring-1"
_CHECK_MESSAGE = b"custmdm key check"


@dataclass(frozen=True, slots=True)
class Key:
    """One secret key: 32 random bytes with an id that says what it is for."""

    id: str
    purpose: str
    secret: bytes = field(repr=False)
    created: str

    @property
    def check_value(self) -> str:
        """A value derived from the key that reveals nothing about it, stored in the
        database to recognise the key later."""
        return hmac.new(self.secret, _CHECK_MESSAGE, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def generate(cls, purpose: str) -> Key:
        """A new random key for ``purpose``."""
        return cls(f"{purpose}-{secrets.token_hex(4)}", purpose, secrets.token_bytes(32),
                   datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


@dataclass
class Keyring:
    """All keys by id, the current one per purpose, and where they came from."""

    keys: dict[str, Key]
    current: dict[str, str]
    source: str
    path: Path | None = None
    #: Whether this process made the key file (``custmdm init`` says so).
    created: bool = False
    #: The file's modification time when it was read (see :meth:`reread_if_changed`).
    read_mtime_ns: int | None = None

    def current_key(self, purpose: str) -> Key:
        """The key new data is protected with."""
        return self.keys[self.current[purpose]]

    def key(self, key_id: str) -> Key:
        """The key with this id, old or current."""
        found = self.keys.get(key_id)
        if found is None:
            raise ConfigurationError(
                f"the key {key_id!r} is not in the keyring ({self.source}); use the key "
                f"file this register was created with (set ${KEY_FILE_ENV})")
        return found

    def audit_secret(self, key_id: str) -> bytes | None:
        """The secret of an audit key by id; None for an unknown id or another purpose
        (the audit chain reports that entry as broken)."""
        found = self.keys.get(key_id)
        return found.secret if found is not None and found.purpose == "audit" else None

    def add_key(self, purpose: str) -> Key:
        """Make a new current key for ``purpose`` (older ones stay) and save the file.

        Under an exclusive lock, the file is read again and this keyring takes in
        every key it holds first: another process may have added one since this one
        read the file, and writing without it would lose whatever that key protects.
        """
        if self.path is None:
            self.save()  # says why it cannot
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(f".{self.path.name}.lock"),
                       os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.exists():
                on_disk = Keyring.read_file(self.path)
                self.keys = {**on_disk.keys, **self.keys}
                self.current = {**self.current, **on_disk.current}
            new = Key.generate(purpose)
            self.keys[new.id] = new
            self.current[purpose] = new.id
            self.save()
        finally:
            os.close(lock)  # releases the lock
        return new

    def reread_if_changed(self) -> Keyring | None:
        """The key file read again if it changed since this keyring was read (another
        process rotated a key); None if it did not, or there is no file."""
        if self.path is None:
            return None
        try:
            if os.stat(self.path).st_mtime_ns == self.read_mtime_ns:
                return None
            return Keyring.read_file(self.path)
        except OSError:
            return None

    # -- the file --------------------------------------------------------------------

    @classmethod
    def read_file(cls, path: Path) -> Keyring:
        """The keyring in the file at ``path``."""
        mtime = os.stat(path).st_mtime_ns
        keyring = cls.parse(path.read_text(encoding="utf-8"), str(path), path)
        keyring.read_mtime_ns = mtime
        return keyring

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        """A new keyring with one key per purpose (not saved)."""
        keys = {k.id: k for k in (Key.generate(p) for p in PURPOSES)}
        return cls(keys, {k.purpose: k.id for k in keys.values()},
                   str(path) if path else "generated", path)

    def to_json(self) -> str:
        """The keyring as the JSON the file holds."""
        return json.dumps({
            "format": FORMAT,
            "current": self.current,
            "keys": [{"id": k.id, "purpose": k.purpose, "created": k.created,
                      "secret": base64.b64encode(k.secret).decode()}
                     for k in self.keys.values()],
        }, indent=2) + "\n"

    def save(self, *, new: bool = False) -> None:
        """Write the file atomically, readable by its owner only. ``new``: refuse to
        replace a file that appeared meanwhile (two ``init`` at once must not each
        make a key file, one losing the other's keys)."""
        if self.path is None:
            raise ConfigurationError(
                f"the keyring comes from ${KEYS_ENV} and cannot be changed here; set "
                f"${KEY_FILE_ENV} to a file to add keys")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(self.to_json())
            out.flush()
            os.fsync(out.fileno())
        if new:
            try:
                os.link(temporary, self.path)  # fails if the name exists: never replaces
            except FileExistsError:
                raise ConfigurationError(
                    f"{self.path} was created by another process meanwhile; run the "
                    "command again to use it") from None
            finally:
                os.unlink(temporary)
            return
        os.replace(temporary, self.path)
        self.read_mtime_ns = os.stat(self.path).st_mtime_ns

    @classmethod
    def parse(cls, text: str, source: str, path: Path | None = None) -> Keyring:
        """Read a keyring's JSON; says what is wrong with a damaged one."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT!r}")
            keys = {}
            for entry in data["keys"]:
                secret = base64.b64decode(entry["secret"], validate=True)
                if len(secret) != 32:
                    raise ValueError(f"key {entry['id']!r} is not 32 bytes")
                keys[entry["id"]] = Key(entry["id"], entry["purpose"], secret,
                                        entry.get("created", ""))
            current = dict(data["current"])
            for purpose in PURPOSES:
                if keys.get(current.get(purpose, "")) is None:
                    raise ValueError(f"no current {purpose!r} key")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigurationError(f"the keyring {source} cannot be read: {error}") from None
        return cls(keys, current, source, path)

    @classmethod
    def load(cls, create: bool = False) -> Keyring:
        """The keyring this process is configured with (see the module docstring).

        ``create``: make a new key file where none exists yet (``custmdm init``).
        """
        given = os.environ.get(KEYS_ENV)
        if given:
            return cls.parse(given, f"${KEYS_ENV}")
        path = default_key_file()
        try:
            return cls.read_file(path)
        except FileNotFoundError:
            if not create:
                raise ConfigurationError(
                    f"no keyring at {path}: run `custmdm init` to create one, or set "
                    f"${KEY_FILE_ENV} to the key file of this register") from None
            keyring = cls.generate(path)
            keyring.save(new=True)
            keyring.created = True
            return keyring
        except OSError as error:
            raise ConfigurationError(f"the keyring {path} cannot be read: {error}") from None


def default_key_file() -> Path:
    """``$CUSTMDM_KEY_FILE``, else ``keys.json`` in the user's config directory."""
    given = os.environ.get(KEY_FILE_ENV)
    if given:
        return Path(given).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "custmdm" / "keys.json"
