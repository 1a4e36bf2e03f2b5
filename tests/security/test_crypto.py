"""Field encryption, key wrapping, blind indexes and masks."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custmdm.security.crypto import (
    DecryptionFailed,
    FieldCipher,
    blind_index,
    mask,
    new_data_key,
    unwrap_key,
    wrap_key,
)


@given(st.text())
def test_any_text_goes_through_encryption_unchanged(text: str) -> None:
    cipher = FieldCipher(new_data_key())
    token = cipher.encrypt("contact.address", text)
    assert cipher.decrypt("contact.address", token) == text


def test_the_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher(new_data_key())
    first, second = (cipher.encrypt("contact.phone", "+8613812345678") for _ in range(2))
    assert first != second  # a fresh nonce each time: equal values do not show


def test_a_changed_moved_or_foreign_value_does_not_open() -> None:
    dek = new_data_key()
    cipher = FieldCipher(dek)
    token = cipher.encrypt("contact.phone", "+8613812345678")
    raw = bytearray(base64.b64decode(token[3:]))
    raw[-1] ^= 1
    with pytest.raises(DecryptionFailed, match="damaged"):
        cipher.decrypt("contact.phone", "v1:" + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptionFailed, match="moved from another field"):
        cipher.decrypt("contact.email", token)
    with pytest.raises(DecryptionFailed):
        FieldCipher(new_data_key()).decrypt("contact.phone", token)
    with pytest.raises(DecryptionFailed, match="not an encrypted value"):
        cipher.decrypt("contact.phone", "+8613812345678")


def test_a_data_key_opens_only_with_the_key_that_wrapped_it() -> None:
    kek, other = new_data_key(), new_data_key()
    dek = new_data_key()
    wrapped = wrap_key(kek, dek)
    assert dek not in wrapped and unwrap_key(kek, wrapped) == dek
    with pytest.raises(DecryptionFailed, match="wrong key file"):
        unwrap_key(other, wrapped)


def test_blind_indexes_are_keyed_and_per_field() -> None:
    key = b"k" * 32
    assert blind_index(key, "phone", "+8613812345678") != blind_index(
        key, "email", "+8613812345678")
    assert len(blind_index(key, "cn.ric", "11010519491231002X")) == 32


@pytest.mark.parametrize(("kind", "value", "shown"), [
    ("phone", "+8613812345678", "+86 138****5678"),
    ("phone", "+14155550123", "+14****0123"),
    ("email", "bob@example.com", "b***@example.com"),
    ("cn.ric", "11010519491231002X", "110***********002X"),
    ("legal_representative", "欧阳娜娜", "欧***"),
    ("address", "北京市海淀区中关村大街1号", "北京市海淀区****"),
    ("phone", "123", "1**"),
])
def test_masks_keep_enough_to_recognise(kind: str, value: str, shown: str) -> None:
    assert mask(kind, value) == shown
    if len(value) > 4:
        assert mask(kind, value) != value
