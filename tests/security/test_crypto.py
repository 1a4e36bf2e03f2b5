"""Field encryption, key ids in values, blind indexes and masks."""

from __future__ import annotations

import base64
import os
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custmdm.security.crypto import DecryptionFailed, FieldCipher, blind_index, mask


def new_cipher(key_id: str = "data-1") -> FieldCipher:
    return FieldCipher({key_id: os.urandom(32)}, key_id)


@given(st.text())
def test_any_text_goes_through_encryption_unchanged(text: str) -> None:
    cipher = new_cipher()
    token = cipher.encrypt("contact.address", text)
    assert cipher.decrypt("contact.address", token) == text


def test_the_same_value_encrypts_differently_each_time() -> None:
    cipher = new_cipher()
    first, second = (cipher.encrypt("contact.phone", "+8613812345678") for _ in range(2))
    assert first != second  # a fresh nonce each time: equal values do not show


def test_a_changed_moved_or_foreign_value_does_not_open() -> None:
    cipher = new_cipher()
    token = cipher.encrypt("contact.phone", "+8613812345678")
    prefix = "v1:data-1:"
    raw = bytearray(base64.b64decode(token[len(prefix):]))
    raw[-1] ^= 1
    with pytest.raises(DecryptionFailed, match="damaged"):
        cipher.decrypt("contact.phone", prefix + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptionFailed, match="moved from another field"):
        cipher.decrypt("contact.email", token)
    with pytest.raises(DecryptionFailed):
        new_cipher().decrypt("contact.phone", token)  # the same id, another key
    with pytest.raises(DecryptionFailed, match="does not hold"):
        new_cipher("data-2").decrypt("contact.phone", token)
    with pytest.raises(DecryptionFailed, match="not an encrypted value"):
        cipher.decrypt("contact.phone", "+8613812345678")


def test_values_under_an_older_key_still_open_after_a_rotation() -> None:
    old = new_cipher("data-1")
    token = old.encrypt("contact.phone", "+8613812345678")
    rotated = FieldCipher({**old.keys, "data-2": os.urandom(32)}, "data-2")
    assert not rotated.is_current(token) and old.is_current(token)
    assert rotated.decrypt("contact.phone", token) == "+8613812345678"
    assert rotated.encrypt("contact.phone", "x").startswith("v1:data-2:")
    copy = pickle.loads(pickle.dumps(rotated))  # handed to helper processes
    assert copy.decrypt("contact.phone", token) == "+8613812345678"


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
