"""Contacts: phones, e-mails, addresses and the legal representative, with the canonical
form matching compares ("phone written differently" is the same phone).

Phones are parsed by ``phonenumbers`` (Google's libphonenumber) into E.164, e-mails
checked by ``email-validator`` and compared in lower case; addresses and people's names
are normalised like names. These values are personal data: they are stored encrypted,
with a blind index of the canonical form in match keys (security.fields).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from custmdm.domain.names import normalise
from custmdm.errors import InvalidFormat


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    LEGAL_REPRESENTATIVE = "legal_representative"  # 法定代表人


class Contact(NamedTuple):
    kind: str
    value: str  # as entered
    canonical: str  # what matching compares


MAX_CONTACT_LENGTH = 500


def canonical_phone(text: str, country: str = "CN") -> str:
    """A phone number in E.164; national numbers are read as ``country``'s.

    >>> canonical_phone("138-0013-8000"), canonical_phone("+86 138 0013 8000")
    ('+8613800138000', '+8613800138000')
    >>> canonical_phone("(0755) 8376-5566")
    '+8675583765566'
    >>> canonical_phone("12345")
    Traceback (most recent call last):
    ...
    custmdm.errors.InvalidFormat: phone '12345' is not a valid number for CN; ...
    """
    try:
        parsed = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException as error:
        raise InvalidFormat(f"phone {text!r} is not a phone number ({error}); write it "
                            "like 138 0013 8000 or +86 755 8376 5566") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidFormat(f"phone {text!r} is not a valid number for {country}; check the "
                            "digits, or give the country code (+86 …)")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def canonical_email(text: str) -> str:
    """An e-mail address checked for syntax (no DNS lookup), in lower case.

    >>> canonical_email(" Zhang.San@Example.COM ")
    'zhang.san@example.com'
    """
    try:
        valid = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidFormat(f"e-mail {text!r} is not valid: {error}") from None
    return str(valid.normalized).lower()


def contact(kind: ContactKind, text: str, country: str = "CN") -> Contact:
    """A contact as entered, checked, with its canonical form."""
    if not text or not text.strip():
        raise InvalidFormat(f"{kind.value.replace('_', ' ')} is empty; leave it out instead")
    if len(text) > MAX_CONTACT_LENGTH:
        raise InvalidFormat(f"{kind.value.replace('_', ' ')} has {len(text)} characters; "
                            f"at most {MAX_CONTACT_LENGTH} are allowed")
    if kind is ContactKind.PHONE:
        canonical = canonical_phone(text, country)
    elif kind is ContactKind.EMAIL:
        canonical = canonical_email(text)
    else:
        canonical = normalise(text)
        if not canonical:
            raise InvalidFormat(f"{kind.value.replace('_', ' ')} {text!r} has no letters "
                                "or digits")
    if len(canonical) > MAX_CONTACT_LENGTH:  # normalising can lengthen (ﷺ → 18 letters)
        raise InvalidFormat(f"{kind.value.replace('_', ' ')} is {len(canonical)} characters "
                            f"long once normalised; at most {MAX_CONTACT_LENGTH} are allowed")
    return Contact(kind.value, text.strip(), canonical)
