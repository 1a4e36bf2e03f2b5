"""Field encryption (AES-GCM), blind indexes (HMAC) and masks (脱敏), pure logic.

Sensitive fields are encrypted under the keyring's current ``data`` key. Each value
names the key that sealed it (``v1:<key id>:<base64 nonce + ciphertext + tag>``), so
after a rotation old and new values are read side by side while the rotation works
through the rows, and a crash half-way loses nothing: a row is under one key or the
other. The field's name is bound in as associated data, so a value cannot be moved to
another field unnoticed.

A blind index is HMAC-SHA256 under the keyring's ``index`` key of a field's canonical
form (E.164 phone, lower-case e-mail, compact identifier): equal values give equal
indexes, so equality search and duplicate matching work on them. Without the key they
do not tell the value, nor let anyone test a guess; that two customers share a phone
number does show (equal indexes), as it must for matching.

>>> cipher = FieldCipher({"data-1": b"k" * 32}, "data-1")
>>> token = cipher.encrypt("contact.phone", "+8613812345678")
>>> token.startswith("v1:data-1:") and "138" not in token
True
>>> cipher.decrypt("contact.phone", token)
'+8613812345678'
>>> mask("phone", "+8613812345678")
'+86 138****5678'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custmdm.errors import ConfigurationError

_NONCE = 12
TOKEN_PREFIX = "v1:"


class DecryptionFailed(ConfigurationError):
    """A value does not open: the wrong key file, or a damaged (or moved) value."""


class FieldCipher:
    """Encrypts under the current data key; decrypts under whichever key a value names.

    Holds only key bytes, so it can be handed to helper processes (pickled); the
    AES-GCM objects are made on first use."""

    def __init__(self, keys: Mapping[str, bytes], current: str,
                 missing: Callable[[str], bytes | None] | None = None) -> None:
        """``missing``: asked for a key a value names that ``keys`` lacks (another
        process rotated it in): its secret, or None."""
        if current not in keys:
            raise ConfigurationError(f"the current data key {current} is not in the keyring")
        self.keys = dict(keys)
        self.current = current
        self._missing = missing
        self._prefix = f"{TOKEN_PREFIX}{current}:"
        self._aeads: dict[str, AESGCM] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys, "current": self.current}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["keys"], state["current"])  # type: ignore[misc]

    def _aead(self, key_id: str) -> AESGCM:
        aead = self._aeads.get(key_id)
        if aead is None:
            secret = self.keys.get(key_id)
            if secret is None and self._missing is not None:
                secret = self._missing(key_id)
                if secret is not None:
                    self.keys[key_id] = secret
            if secret is None:
                raise DecryptionFailed(
                    f"a value is encrypted under data key {key_id}, which the key file does "
                    "not hold: use the key file this register was written with")
            aead = self._aeads[key_id] = AESGCM(secret)
        return aead

    def encrypt(self, field: str, plaintext: str) -> str:
        """``v1:<key id>:`` + base64(nonce + ciphertext + tag), under the current key;
        ``field`` is bound in as associated data."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead(self.current).encrypt(nonce, plaintext.encode("utf-8"),
                                                  field.encode())
        return self._prefix + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, field: str, token: str) -> str:
        """The plaintext of a value :meth:`encrypt` made for ``field``."""
        version, _, rest = token.partition(":")
        key_id, _, body = rest.partition(":")
        if version + ":" != TOKEN_PREFIX or not body:
            raise DecryptionFailed(f"{field}: not an encrypted value")
        aead = self._aead(key_id)
        try:
            raw = base64.b64decode(body, validate=True)
            plain = aead.decrypt(raw[:_NONCE], raw[_NONCE:], field.encode())
        except (InvalidTag, ValueError):
            raise DecryptionFailed(f"{field} does not open with data key {key_id}: damaged, "
                                   "or moved from another field") from None
        return plain.decode("utf-8")

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed under the current key (else a rotation re-seals
        it)."""
        return token.startswith(self._prefix)


def blind_index(index_key: bytes, field: str, canonical: str) -> str:
    """The keyed equality index of a canonical value (32 hex digits: 128 bits).

    >>> blind_index(b"k" * 32, "phone", "+8613812345678") == blind_index(
    ...     b"k" * 32, "phone", "+8613812345678")
    True
    >>> blind_index(b"k" * 32, "phone", "+8613812345678") == blind_index(
    ...     b"j" * 32, "phone", "+8613812345678")
    False
    """
    message = f"{field}\x1f{canonical}".encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()[:32]


# -- masks -------------------------------------------------------------------------------


def mask(kind: str, value: str) -> str:
    """A value as shown to someone who may not see it: enough to recognise, not to use.

    >>> mask("email", "alice.wang@example.com")
    'a***@example.com'
    >>> mask("cn.ric", "11010519491231002X")
    '110***********002X'
    >>> mask("legal_representative", "王小明")
    '王**'
    >>> mask("address", "深圳市南山区科技园南区深南大道10000号")
    '深圳市南山区****'
    >>> mask("phone", "010-62345678")
    '010****5678'
    """
    value = value.strip()
    if not value:
        return value
    match kind:
        case "phone":
            return _mask_phone(value)
        case "email":
            local, at, domain = value.partition("@")
            return f"{local[:1]}***@{domain}" if at else _keep(value, 1, 0)
        case "address":
            return _keep(value, 6, 0, "****")
        case "legal_representative" | "person" | "name":
            return value[:1] + "*" * max(len(value) - 1, 1)
    return _keep(value, 3, 4)  # identifiers and anything else


def _mask_phone(value: str) -> str:
    if value.startswith("+86") and len(value) == 14:  # a Chinese mobile in E.164
        return f"+86 {value[3:6]}****{value[-4:]}"
    return _keep(value, 3, 4, "****")


def _keep(value: str, head: int, tail: int, filler: str | None = None) -> str:
    if len(value) <= head + tail:
        return value[:1] + "*" * (len(value) - 1)
    hidden = len(value) - head - tail
    return value[:head] + (filler if filler is not None else "*" * hidden) + (
        value[len(value) - tail:] if tail else "")
