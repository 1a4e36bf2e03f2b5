"""Field encryption (AES-GCM), blind indexes (HMAC) and masks (脱敏), pure logic.

Envelope encryption: every customer gets a data key of its own (256 random bits),
stored only wrapped, i.e. AES-GCM-encrypted under the keyring's current ``data`` key.
Its sensitive fields are encrypted under that data key, each with the field's name as
associated data, so a value cannot be moved to another field unnoticed. Two things
follow: rotating the ``data`` key re-wraps one small key per customer, never the
fields; and erasing a person (PIPL) destroys one data key, after which every copy of
their fields, in the audit trail and in backups too, is unreadable ("crypto-shredding")
while the audit chain stays intact.

A blind index is HMAC-SHA256 under the keyring's ``index`` key of a field's canonical
form (E.164 phone, lower-case e-mail, compact identifier): equal values give equal
indexes, so equality search and duplicate matching work on them; without the key
they reveal nothing, not even which of two customers share a phone number.

>>> dek = new_data_key()
>>> cipher = FieldCipher(dek)
>>> token = cipher.encrypt("contact.phone", "+8613812345678")
>>> token.startswith("v1:") and "138" not in token
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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custmdm.errors import ConfigurationError

_NONCE = 12
_WRAP_CONTEXT = b"custmdm customer data key"
TOKEN_PREFIX = "v1:"


class DecryptionFailed(ConfigurationError):
    """A value does not open: the wrong key file, or a damaged (or moved) value."""


def new_data_key() -> bytes:
    """A customer's own data key: 256 random bits."""
    return AESGCM.generate_key(bit_length=256)


def wrap_key(kek: bytes, data_key: bytes) -> bytes:
    """A data key encrypted under the keyring's data key (nonce + ciphertext + tag)."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _WRAP_CONTEXT)


def unwrap_key(kek: bytes, wrapped: bytes, what: str = "a customer's data key") -> bytes:
    """The data key inside ``wrapped``."""
    try:
        return AESGCM(kek).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _WRAP_CONTEXT)
    except (InvalidTag, ValueError):
        raise DecryptionFailed(f"{what} does not open with the keyring's data key: the "
                               "wrong key file, or a damaged row") from None


class FieldCipher:
    """Encrypts and decrypts one customer's fields under its data key."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(data_key)

    def encrypt(self, field: str, plaintext: str) -> str:
        """``v1:`` + base64(nonce + ciphertext + tag); ``field`` is bound in as
        associated data."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), field.encode())
        return TOKEN_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, field: str, token: str) -> str:
        """The plaintext of a value :meth:`encrypt` made for ``field``."""
        if not token.startswith(TOKEN_PREFIX):
            raise DecryptionFailed(f"{field}: not an encrypted value")
        try:
            raw = base64.b64decode(token[len(TOKEN_PREFIX):], validate=True)
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], field.encode())
        except (InvalidTag, ValueError):
            raise DecryptionFailed(f"{field} does not open with this customer's data key: "
                                   "damaged, or moved from another field or customer"
                                   ) from None
        return plain.decode("utf-8")


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
