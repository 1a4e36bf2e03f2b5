"""Customer input and output: drafts validated into rows, rows read back as records."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, select
from stdnum.exceptions import ValidationError as StdnumError

from custmdm.domain.codes import CodeContext
from custmdm.domain.contacts import Contact, ContactKind, contact
from custmdm.domain.customer import Grade, Kind, Lifecycle, Size, parse_choice
from custmdm.domain.identifiers import Identifier, validate_identifier
from custmdm.domain.identifiers.ric import get_birth_date
from custmdm.domain.matching import MatchRecord
from custmdm.domain.names import NameForms, NameKind, forms_of, legal_form
from custmdm.errors import InvalidComponent, InvalidFormat, ValidationError, in_field
from custmdm.security.crypto import mask
from custmdm.security.fields import PERSONAL_SCHEMES, SensitiveFields
from custmdm.standards.countries import get_country
from custmdm.standards.industries import get_industry
from custmdm.standards.regions import get_region
from custmdm.store.tables import (
    coding_rule,
    customer,
    customer_code,
    identifier,
)
from custmdm.store.tables import contact as contact_table

MAX_NAME_LENGTH = 500
#: Unicode category Cc: C0 and C1 control characters.
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CustomerDraft:
    """What someone types to register a customer; validated by :func:`validate_draft`.

    ``region`` is a GB/T 2260 code (or 2/4-digit prefix) for Chinese customers, or an
    ISO 3166 country code for others. ``identifiers`` are ``(scheme, value)`` pairs.
    """

    kind: str
    legal_name: str
    identifiers: Sequence[Identifier | tuple[str, str]] = ()
    region: str | None = None
    industry: str | None = None
    size: str | None = None
    grade: str | None = None
    owner: str | None = None
    lifecycle: str = Lifecycle.ACTIVE.value
    #: Other names it is known by, registered with it: (kind, text), kind one of
    #: short, alias, english, codename.
    names: Sequence[tuple[str, str]] = ()
    phones: Sequence[str] = ()
    emails: Sequence[str] = ()
    address: str | None = None
    #: 法定代表人 of an enterprise.
    legal_representative: str | None = None


@dataclass(frozen=True)
class ValidCustomer:
    """A draft that passed validation, with reference codes resolved."""

    kind: Kind
    legal_name: str
    country: str
    region: str | None
    industry: str | None
    industry_section: str | None
    industry_division: str | None
    size: str | None
    grade: str | None
    owner: str | None
    lifecycle: str
    identifiers: tuple[Identifier, ...] = field(default=())
    #: The legal name's forms for matching and search (see domain.names).
    name_forms: NameForms | None = None
    #: Other names: (kind, text, forms).
    other_names: tuple[tuple[str, str, NameForms], ...] = ()
    contacts: tuple[Contact, ...] = ()

    def code_context(self, issued_on: date) -> CodeContext:
        """What a coding rule sees of this customer."""
        return CodeContext(
            kind=self.kind.value,
            issued_on=issued_on,
            region=self.region,
            country=self.country,
            industry_section=self.industry_section,
            industry_division=self.industry_division,
            grade=self.grade,
        )

    def values(self, now: datetime) -> tuple[Any, ...]:
        """The row's values in :data:`CUSTOMER_COLUMNS` order."""
        return (*self.values_before_timestamps(), now, now)

    def legal_name_row(self) -> tuple[Any, ...]:
        """The legal name's row, in NAME_ROW_COLUMNS order."""
        return (NameKind.LEGAL.value, self.legal_name,
                *(self.name_forms or forms_of(self.legal_name)))

    def name_rows(self) -> list[tuple[Any, ...]]:
        """Every name's row (NAME_ROW_COLUMNS), legal first."""
        return [self.legal_name_row()] + [
            (kind, text, *forms) for kind, text, forms in self.other_names]

    def match_record(self) -> MatchRecord:
        """What the duplicate check compares of this customer."""
        return match_record(
            self.kind.value, [self.name_forms or forms_of(self.legal_name),
                              *(forms for _, _, forms in self.other_names)],
            self.legal_name, self.region,
            [f"{i.scheme}:{i.value}" for i in self.identifiers], self.contacts)

    def values_before_timestamps(self) -> tuple[Any, ...]:
        """The row's values in :data:`CUSTOMER_COLUMNS` order, but ``created_at`` and
        ``updated_at`` (the last two), which are set when the row is written."""
        return (self.kind.value, self.legal_name, self.country, self.region, self.industry,
                self.industry_section, self.size, self.grade, self.lifecycle, self.owner, 1)


def validate_legal_name(name: str) -> str:
    """The legal name exactly as entered, once we know it is usable."""
    if not name or not name.strip():
        raise InvalidFormat("legal name is empty; give the registered name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidFormat(f"legal name has {len(name)} characters; at most 500 are allowed")
    if _CONTROL_CHARACTERS.search(name):
        raise InvalidFormat("legal name contains control characters (tab, newline ...)")
    return name


def resolve_region(value: str | None) -> tuple[str, str | None]:
    """``(country, gb2260 region)`` from a region code, a prefix, or a country code."""
    if value is None or not value.strip():
        return "CN", None
    value = value.strip()
    if value.isdigit():
        return "CN", get_region(value).code
    country = get_country(value).alpha2
    return country, None


def resolve_industry(value: str | None) -> tuple[str | None, str | None, str | None]:
    """``(canonical code, section letter, division digits)`` of a GB/T 4754 code."""
    if value is None or not value.strip():
        return None, None, None
    found = get_industry(value)
    division = found.code[:2] if found.code.isdigit() else None
    return found.code, found.section, division


def validate_draft(draft: CustomerDraft, default_owner: str | None = None) -> ValidCustomer:
    """Check everything about a draft that needs no database; raise on the first error."""
    with in_field("kind"):
        kind = parse_choice(Kind, draft.kind, "kind")
    with in_field("region"):
        country, region = resolve_region(draft.region)
    identifiers = tuple(_validate_identifiers(draft.identifiers))
    if region is None and country == "CN":
        region = _region_from_identifiers(identifiers)
    with in_field("industry"):
        industry, section, division = resolve_industry(draft.industry)
    with in_field("legal_name"):
        legal_name = validate_legal_name(draft.legal_name)
    with in_field("size"):
        size = parse_choice(Size, draft.size, "size").value if draft.size else None
    with in_field("grade"):
        grade = parse_choice(Grade, draft.grade, "grade").value if draft.grade else None
    with in_field("status"):
        lifecycle = _registrable_lifecycle(draft.lifecycle)
    return ValidCustomer(
        kind=kind,
        legal_name=legal_name,
        country=country,
        region=region,
        industry=industry,
        industry_section=section,
        industry_division=division,
        size=size,
        grade=grade,
        owner=draft.owner or default_owner,
        lifecycle=lifecycle,
        identifiers=identifiers,
        name_forms=(forms := forms_of(legal_name)),
        other_names=_other_names(draft.names, forms.normalised),
        contacts=_contacts(draft, country),
    )


def _contacts(draft: CustomerDraft, country: str) -> tuple[Contact, ...]:
    given = [*((ContactKind.PHONE, p, f"phones.{i}") for i, p in enumerate(draft.phones)),
             *((ContactKind.EMAIL, e, f"emails.{i}") for i, e in enumerate(draft.emails))]
    if draft.address:
        given.append((ContactKind.ADDRESS, draft.address, "address"))
    if draft.legal_representative:
        given.append((ContactKind.LEGAL_REPRESENTATIVE, draft.legal_representative,
                      "legal_representative"))
    found: dict[tuple[str, str], Contact] = {}
    for kind, text, where in given:
        with in_field(where):
            valid = contact(kind, text, country)
        found.setdefault((valid.kind, valid.canonical), valid)  # the same phone twice: once
    return tuple(found.values())


def _birth_date(ric: str) -> str | None:
    try:
        return get_birth_date(ric).isoformat()
    except (ValueError, StdnumError):
        return None


def match_record(
    kind: str, names: Sequence[NameForms], legal_name: str, region: str | None,
    identifiers: Iterable[str], contacts: Iterable[Contact],
) -> MatchRecord:
    """A customer as matching sees it (domain.matching), from its stored parts."""
    by_kind: dict[str, list[str]] = {}
    for c in contacts:
        by_kind.setdefault(c.kind, []).append(c.canonical)
    form = legal_form(legal_name)
    birth = None
    ids = frozenset(identifiers)
    for ident in ids:
        if ident.startswith("cn.ric:"):
            birth = _birth_date(ident.partition(":")[2])
    return MatchRecord(
        kind=kind, names=tuple(names), legal_form=form.family if form else None,
        region=region, identifiers=ids,
        phones=frozenset(by_kind.get(ContactKind.PHONE, ())),
        emails=frozenset(by_kind.get(ContactKind.EMAIL, ())),
        address=min(by_kind.get(ContactKind.ADDRESS, ()), default=None),
        person=min(by_kind.get(ContactKind.LEGAL_REPRESENTATIVE, ()), default=None),
        birth_date=birth,
    )


#: Kinds of the other names a customer can be registered with.
OTHER_NAME_KINDS = (NameKind.SHORT, NameKind.ALIAS, NameKind.ENGLISH, NameKind.CODENAME)


def _other_names(
    given: Sequence[tuple[str, str]], legal_normalised: str
) -> tuple[tuple[str, str, NameForms], ...]:
    seen = {legal_normalised}
    out = []
    for i, (kind, text) in enumerate(given):
        with in_field(f"names.{i}"):
            name_kind = parse_choice(NameKind, kind, "name kind")
            if name_kind not in OTHER_NAME_KINDS:
                choices = ", ".join(k.value for k in OTHER_NAME_KINDS)
                raise InvalidComponent(f"a customer's other names are {choices}, "
                                       f"not {kind!r}")
            text = validate_legal_name(text)
            forms = forms_of(text)
            if forms.normalised in seen:
                raise InvalidComponent(f"the name {text!r} is given twice")
        seen.add(forms.normalised)
        out.append((name_kind.value, text, forms))
    return tuple(out)


#: A customer is registered in one of these states; merged and retired are reached
#: only through their own use cases, which keep codes and identifiers consistent.
REGISTRABLE = (Lifecycle.PROSPECT, Lifecycle.ACTIVE, Lifecycle.DORMANT, Lifecycle.CHURNED)


def _registrable_lifecycle(value: str) -> str:
    status = parse_choice(Lifecycle, value, "status")
    if status not in REGISTRABLE:
        choices = ", ".join(s.value for s in REGISTRABLE)
        raise InvalidComponent(
            f"a customer cannot be registered as {status.value}; choose one of {choices}"
        )
    return status.value


def _validate_identifiers(
    given: Iterable[Identifier | tuple[str, str]],
) -> Iterable[Identifier]:
    seen: set[str] = set()
    for i, item in enumerate(given):
        scheme, value = (item.scheme, item.value) if isinstance(item, Identifier) else item
        with in_field(f"identifiers.{i}"):
            valid = Identifier(scheme.strip().lower(), validate_identifier(scheme, value))
            if valid.scheme in seen:
                raise ValidationError(f"identifier scheme {valid.scheme} is given twice")
        seen.add(valid.scheme)
        yield valid


def _region_from_identifiers(identifiers: Sequence[Identifier]) -> str | None:
    """A USCC carries the registering authority's region; use it when none was given."""
    for ident in identifiers:
        if ident.scheme == "cn.uscc":
            try:
                return get_region(ident.value[2:8]).code
            except ValidationError:
                return None  # an old code no longer in GB/T 2260: leave the region empty
    return None


# -- reading back -----------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRecord:
    """One code of a customer with its state."""

    value: str
    status: str
    rule: str | None
    issued_at: datetime
    ended_at: datetime | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": self.status,
            "rule": self.rule,
            "issued_at": iso(self.issued_at),
            "ended_at": iso(self.ended_at),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CustomerRecord:
    """A customer as the edges show it. ``status`` is the lifecycle status."""

    id: int
    code: str
    kind: str
    legal_name: str
    status: str
    country: str
    region: str | None
    industry: str | None
    size: str | None
    grade: str | None
    owner: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    identifiers: tuple[Identifier, ...]
    codes: tuple[CodeRecord, ...]
    #: Returned by a registration that the match rules linked to this existing customer.
    linked: bool = False
    #: Personal data shown as it is (an audited unmasking, core.registry.unmask);
    #: otherwise contacts and an individual's identifiers are shown masked.
    unmasked: bool = False
    #: Phones, e-mails, the address and the legal representative, opened.
    contacts: tuple[Contact, ...] = ()

    def shown_identifiers(self) -> tuple[Identifier, ...]:
        """The identifiers as edges show them: an individual's, and a person's number
        on any customer (a sole proprietor's), are personal data, masked
        (110***********002X) unless this record was unmasked."""
        if self.unmasked:
            return self.identifiers
        person = self.kind == Kind.INDIVIDUAL.value
        return tuple(Identifier(i.scheme, mask(i.scheme, i.value))
                     if person or i.scheme in PERSONAL_SCHEMES else i
                     for i in self.identifiers)

    def shown_contacts(self) -> list[dict[str, str]]:
        """The contacts as edges show them (``kind``, ``value``): personal data (a
        phone, the legal representative's name), masked unless this record was
        unmasked."""
        return [{"kind": c.kind, "value": c.value if self.unmasked else mask(c.kind, c.value)}
                for c in self.contacts]

    def code_context(self, issued_on: date) -> CodeContext:
        """What a coding rule sees of this registered customer (for a change of code)."""
        _, section, division = resolve_industry(self.industry)
        return CodeContext(kind=self.kind, issued_on=issued_on, region=self.region,
                           country=self.country, industry_section=section,
                           industry_division=division, grade=self.grade)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (a contract: ``code``, ``kind``, ``legal_name``, ``status``,
        ``codes`` with statuses)."""
        return {
            "id": self.id,
            "code": self.code,
            "kind": self.kind,
            "legal_name": self.legal_name,
            "status": self.status,
            "country": self.country,
            "region": self.region,
            "industry": self.industry,
            "size": self.size,
            "grade": self.grade,
            "owner": self.owner,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "identifiers": [{"scheme": i.scheme, "value": i.value}
                            for i in self.shown_identifiers()],
            "contacts": self.shown_contacts(),
            "codes": [c.to_dict() for c in self.codes],
            **({"linked": True} if self.linked else {}),
            **({"unmasked": True} if self.unmasked else {}),
        }


def iso(moment: date | datetime | None) -> str | None:
    """ISO 8601 text for JSON, None kept. Every stored timestamp is UTC; SQLite gives
    them back without a zone, so one is added: a time without a zone is not RFC 3339."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat() if moment else None


def new_record(
    customer_id: int, valid: ValidCustomer, code: str, rule: Any, now: datetime
) -> CustomerRecord:
    """The record of a customer just registered, without reading it back."""
    code_record = CodeRecord(code, "active", f"{rule.name}@{rule.version}", now, None, None)
    return CustomerRecord(
        id=customer_id, code=code, kind=valid.kind.value, legal_name=valid.legal_name,
        status=valid.lifecycle, country=valid.country, region=valid.region,
        industry=valid.industry, size=valid.size, grade=valid.grade, owner=valid.owner,
        version=1, created_at=now, updated_at=now, identifiers=valid.identifiers,
        codes=(code_record,), contacts=valid.contacts,
    )


def load_records(conn: Connection, customer_ids: Sequence[int], fields: SensitiveFields,
                 ) -> list[CustomerRecord]:
    """Full records for these customers, in the order given, personal data opened."""
    if not customer_ids:
        return []
    ids = list(customer_ids)
    rows = {r.id: r for r in conn.execute(_CUSTOMERS, {"ids": ids})}
    codes: dict[int, list[CodeRecord]] = {i: [] for i in ids}
    for c in conn.execute(_CODES, {"ids": ids}):
        rule = f"{c.name}@{c.rule_version}" if c.name else None
        codes[c.customer_id].append(
            CodeRecord(c.value, c.status, rule, c.issued_at, c.ended_at, c.reason)
        )
    idents: dict[int, list[Identifier]] = {i: [] for i in ids}
    for i in conn.execute(_IDENTIFIERS, {"ids": ids}):
        idents[i.customer_id].append(
            Identifier(i.scheme, fields.identifier_of(i.scheme, i.value, i.sealed)))
    contacts: dict[int, list[Contact]] = {i: [] for i in ids}
    for c in conn.execute(_CONTACTS, {"ids": ids}):
        contacts[c.customer_id].append(fields.contact_of(c.kind, c.value, c.canonical))
    return [_record(rows[i], codes[i], idents[i], contacts[i]) for i in ids if i in rows]


# Built once: building a statement costs about as much as running it on an index.
_CUSTOMERS = select(customer).where(customer.c.id.in_(bindparam("ids", expanding=True)))
_CODES = (
    select(customer_code, coding_rule.c.name, coding_rule.c.version.label("rule_version"))
    .outerjoin(coding_rule, coding_rule.c.id == customer_code.c.rule_id)
    .where(customer_code.c.customer_id.in_(bindparam("ids", expanding=True)))
    .order_by(customer_code.c.issued_at, customer_code.c.id)
)
_IDENTIFIERS = (
    select(identifier)
    .where(identifier.c.customer_id.in_(bindparam("ids", expanding=True)), identifier.c.active)
    .order_by(identifier.c.id)
)
_CONTACTS = (
    select(contact_table.c.customer_id, contact_table.c.kind, contact_table.c.value,
           contact_table.c.canonical)
    .where(contact_table.c.customer_id.in_(bindparam("ids", expanding=True)))
    .order_by(contact_table.c.id)
)


#: Which of a customer's codes is its current one: the active code; for a retired
#: customer, the code retired with it (not a code it took over in a merge); else the last.
_CODE_PREFERENCE = {"active": 0, "retired": 1}


def current_code_of(customer_id: Any) -> Any:
    """The customer's current code (see _CODE_PREFERENCE), as a correlated SQL
    subquery; :func:`current_code` says the same of loaded codes."""
    preference = case(_CODE_PREFERENCE, value=customer_code.c.status, else_=2)
    return (select(customer_code.c.value).where(customer_code.c.customer_id == customer_id)
            .order_by(preference, customer_code.c.issued_at.desc(), customer_code.c.id.desc())
            .limit(1).scalar_subquery())


def current_code(codes: Sequence[CodeRecord]) -> str:
    """The current code among a customer's codes, given in issue order."""
    ranked = sorted(enumerate(codes), key=lambda c: (_CODE_PREFERENCE.get(c[1].status, 2),
                                                     -c[0]))
    return ranked[0][1].value if ranked else ""


def _record(row: Row[Any], codes: list[CodeRecord], idents: list[Identifier],
            contacts: list[Contact]) -> CustomerRecord:
    return CustomerRecord(
        id=row.id,
        code=current_code(codes),
        kind=row.kind,
        legal_name=row.legal_name,
        status=row.lifecycle,
        country=row.country,
        region=row.region,
        industry=row.industry,
        size=row.size,
        grade=row.grade,
        owner=row.owner,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        identifiers=tuple(idents),
        codes=tuple(codes),
        contacts=tuple(contacts),
    )
