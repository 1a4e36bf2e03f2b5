"""Which of a customer's fields are personal data, and how each is kept at rest.

- **Contacts** (phone, e-mail, address, legal representative): ``contact.value`` and
  ``contact.canonical`` hold AES-GCM tokens (security.crypto); ``contact.blind`` the
  blind index of the canonical form, for equality search.
- **Identifiers of natural persons** (:data:`PERSONAL_SCHEMES`): ``identifier.value``
  holds the blind index, so "one active customer per identifier" is still a unique
  index and lookups stay equality lookups; ``identifier.sealed`` holds the number.
- **Match keys made from them** (``t:`` phone, ``e:`` e-mail, ``i:cn.ric:``) hold blind
  indexes: the duplicate check finds the same candidates without the plain values.

Everything here is pure: the keys come in a :class:`SensitiveFields`, which holds
only key bytes and can be handed to helper processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from custmdm.domain.contacts import Contact
from custmdm.security.crypto import FieldCipher, blind_index, mask
from custmdm.security.keys import Keyring

#: Identifier schemes whose numbers identify a natural person (PIPL personal data).
PERSONAL_SCHEMES = frozenset({"cn.ric"})

#: Match-key prefixes (domain.matching.blocking_keys) whose rest is personal data, and
#: the field whose blind index replaces it.
_BLIND_KEY_FIELDS = (("t:", "contact.phone"), ("e:", "contact.email"),
                     *((f"i:{s}:", f"identifier.{s}") for s in sorted(PERSONAL_SCHEMES)))


def shown_identifier(scheme: str, value: str) -> str:
    """An identifier's number as messages and the audit trail carry it: a person's
    masked, others as they are."""
    return mask(scheme, value) if scheme in PERSONAL_SCHEMES else value


class SensitiveFields:
    """Seals, opens and blind-indexes personal fields under one keyring's keys."""

    def __init__(self, cipher: FieldCipher, index_key: bytes) -> None:
        self.cipher = cipher
        self._index_key = index_key

    @classmethod
    def from_keyring(cls, keyring: Keyring,
                     missing: Callable[[str], bytes | None] | None = None) -> SensitiveFields:
        """``missing``: see :class:`FieldCipher`."""
        data = {k.id: k.secret for k in keyring.keys.values() if k.purpose == "data"}
        return cls(FieldCipher(data, keyring.current["data"], missing),
                   keyring.current_key("index").secret)

    def __getstate__(self) -> dict[str, Any]:
        return {"cipher": self.cipher, "index_key": self._index_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["cipher"], state["index_key"])  # type: ignore[misc]

    def blind(self, field: str, canonical: str) -> str:
        return blind_index(self._index_key, field, canonical)

    # -- contacts ----------------------------------------------------------------------

    def contact_row(self, found: Contact) -> dict[str, str]:
        """A contact as ``contact`` stores it: kind, sealed value and canonical form,
        and the blind index of the canonical form."""
        field = f"contact.{found.kind}"
        return {"kind": found.kind,
                "value": self.cipher.encrypt(field, found.value),
                "canonical": self.cipher.encrypt(f"{field}.canonical", found.canonical),
                "blind": self.contact_blind(found.kind, found.canonical)}

    def contact_of(self, kind: str, value: str | None, canonical: str) -> Contact:
        """A stored contact opened (``value`` None: only the canonical form is needed)."""
        field = f"contact.{kind}"
        return Contact(kind, self.cipher.decrypt(field, value) if value is not None else "",
                       self.cipher.decrypt(f"{field}.canonical", canonical))

    def contact_blind(self, kind: str, canonical: str) -> str:
        """What ``contact.blind`` holds for a contact of this kind and canonical form."""
        return self.blind(f"contact.{kind}", canonical)

    def opened_row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """A ``contact`` or ``identifier`` row (column → value) with its tokens opened,
        so two rows compare equal whatever key their values are under."""
        if table == "contact":
            opened = self.contact_of(row["kind"], row["value"], row["canonical"])
            return {**row, "value": opened.value, "canonical": opened.canonical}
        if table == "identifier" and row.get("sealed"):
            return {**row, "sealed": self.identifier_of(row["scheme"], row["value"],
                                                        row["sealed"])}
        return row

    def resealed(self, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """The sealed columns of a ``contact`` or ``identifier`` row (column → value)
        under the current data key, whatever key they were under (a rotation)."""
        if table == "contact":
            sealed = self.contact_row(self.contact_of(row["kind"], row["value"],
                                                      row["canonical"]))
            return {"value": sealed["value"], "canonical": sealed["canonical"]}
        number = self.identifier_of(row["scheme"], row["value"], row["sealed"])
        return {"sealed": self.identifier_row(row["scheme"], number)["sealed"]}

    # -- identifiers -------------------------------------------------------------------

    def identifier_value(self, scheme: str, value: str) -> str:
        """What ``identifier.value`` holds for this identifier: the blind index of a
        person's number, other numbers as they are."""
        if scheme in PERSONAL_SCHEMES:
            return self.blind(f"identifier.{scheme}", value)
        return value

    def identifier_row(self, scheme: str, value: str) -> dict[str, Any]:
        """``scheme``, ``value`` and ``sealed`` as ``identifier`` stores them."""
        if scheme in PERSONAL_SCHEMES:
            return {"scheme": scheme, "value": self.identifier_value(scheme, value),
                    "sealed": self.cipher.encrypt(f"identifier.{scheme}", value)}
        return {"scheme": scheme, "value": value, "sealed": None}

    def identifier_of(self, scheme: str, value: str, sealed: str | None) -> str:
        """A stored identifier's number, opened where it is sealed."""
        if sealed is None:
            return value
        return self.cipher.decrypt(f"identifier.{scheme}", sealed)

    # -- match keys --------------------------------------------------------------------

    def match_keys(self, keys: Iterable[str]) -> list[str]:
        """Blocking keys (domain.matching.blocking_keys) as ``match_key`` stores them:
        those made of personal data replaced by their blind indexes."""
        return [self.match_key(key) for key in keys]

    def match_key(self, key: str) -> str:
        for prefix, field in _BLIND_KEY_FIELDS:
            if key.startswith(prefix):
                return prefix + self.blind(field, key[len(prefix):])
        return key
