"""Request and response bodies: one model per use (Create, Update, Public), lists as
``{data, count}``. Public models mirror the core's ``to_dict`` shapes, which the CLI's
``--json`` prints too, so a client sees one shape everywhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from custmdm.core.customers import CustomerDraft

Item = TypeVar("Item")
#: Longest text any field takes (names are at most 500 characters in the register).
TEXT = 500


class Page(BaseModel, Generic[Item]):
    """A page of a list: the items and how many there are on it."""

    data: list[Item]
    count: int


class IdentifierIn(BaseModel):
    scheme: str = Field(max_length=32, examples=["cn.uscc"])
    value: str = Field(max_length=64, examples=["91440300192203821X"])


class NameIn(BaseModel):
    kind: str = Field(max_length=16, examples=["short"])
    text: str = Field(max_length=TEXT, examples=["华盛电子"])


class CustomerCreate(BaseModel):
    """A customer to register (客户登记)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=16, examples=["enterprise"])
    legal_name: str = Field(max_length=TEXT, examples=["深圳市华盛电子科技有限公司"])
    region: str | None = Field(None, max_length=16, examples=["440305"])
    industry: str | None = Field(None, max_length=8, examples=["C39"])
    size: str | None = Field(None, max_length=16)
    grade: str | None = Field(None, max_length=16)
    owner: str | None = Field(None, max_length=100)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=20)
    names: list[NameIn] = Field(default_factory=list, max_length=50)
    phones: list[str] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    address: str | None = Field(None, max_length=TEXT)
    legal_representative: str | None = Field(None, max_length=100)
    #: Register although the duplicate check warns: why (goes into the audit trail).
    override_reason: str | None = Field(None, max_length=TEXT)

    def draft(self) -> CustomerDraft:
        return CustomerDraft(
            kind=self.kind, legal_name=self.legal_name, region=self.region,
            industry=self.industry, size=self.size, grade=self.grade, owner=self.owner,
            identifiers=[(i.scheme, i.value) for i in self.identifiers],
            names=[(n.kind, n.text) for n in self.names], phones=self.phones,
            emails=self.emails, address=self.address,
            legal_representative=self.legal_representative)


class CustomerUpdate(BaseModel):
    """Classification and owner; a field left out stays, ``null`` clears it."""

    model_config = ConfigDict(extra="forbid")

    industry: str | None = Field(None, max_length=8)
    size: str | None = Field(None, max_length=16)
    grade: str | None = Field(None, max_length=16)
    owner: str | None = Field(None, max_length=100)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT)


class IdentifierPublic(BaseModel):
    scheme: str
    value: str  # masked for personal data unless unmasked


class ContactPublic(BaseModel):
    kind: str
    value: str  # masked unless unmasked


class CodePublic(BaseModel):
    value: str
    status: str
    rule: str | None
    issued_at: datetime | None
    ended_at: datetime | None
    reason: str | None


class CustomerPublic(BaseModel):
    """A customer as the actor may see it (contacts and persons' numbers masked)."""

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
    created_at: datetime | None
    updated_at: datetime | None
    identifiers: list[IdentifierPublic]
    contacts: list[ContactPublic]
    codes: list[CodePublic]
    linked: bool = False
    unmasked: bool = False


class Resolution(CustomerPublic):
    """A customer found by one of its codes, and what that code is now."""

    requested_code: str
    requested_code_status: str
    current_code: str


class Candidate(BaseModel):
    code: str
    owner: str | None
    status: str
    legal_name: str | None = Field(description="null when the customer is outside the "
                                               "actor's scopes: ask its owner")
    score: float
    why: list[str]
    action: str | None


class DuplicateCheck(BaseModel):
    """The customers a draft may duplicate, best first, and what the rules would do."""

    action: str | None
    candidates: list[Candidate]


class SearchWhy(BaseModel):
    field: str
    matched: str
    match: str
    score: float


class SearchHit(BaseModel):
    code: str
    kind: str
    legal_name: str
    status: str
    why: SearchWhy


class NamePublic(BaseModel):
    kind: str
    text: str
    normalised: str
    pinyin: str
    initials: str
    valid_from: date | None
    valid_to: date | None
    source: str | None


class NameCreate(BaseModel):
    """Another name: short, alias, english or codename."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=16, examples=["short"])
    text: str = Field(max_length=TEXT)
    valid_from: date | None = None
    source: str | None = Field(None, max_length=100)
    override_reason: str | None = Field(None, max_length=TEXT)


class Rename(BaseModel):
    """A new legal name; the old one becomes a former name."""

    model_config = ConfigDict(extra="forbid")

    legal_name: str = Field(max_length=TEXT)
    reason: str = Field(min_length=1, max_length=TEXT)
    on: date | None = None
    override_reason: str | None = Field(None, max_length=TEXT)


class CodeChange(BaseModel):
    """A new code: the next of a rule, or an explicit one; the old one is superseded."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT)
    rule: str | None = Field(None, max_length=64)
    to: str | None = Field(None, max_length=64)


class IdentifierCreate(IdentifierIn):
    model_config = ConfigDict(extra="forbid")

    override_reason: str | None = Field(None, max_length=TEXT)


class KeyMappingPublic(BaseModel):
    system: str
    external_id: str
    external_name: str | None
    code: str
    valid_from: date | None
    valid_to: date | None


class KeyMappingCreate(BaseModel):
    """A system's id (and name) for the customer."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(max_length=64, examples=["erp"])
    external_id: str = Field(max_length=200, examples=["C-1001"])
    external_name: str | None = Field(None, max_length=TEXT)
    valid_from: date | None = None


class KeyMappingMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=64, description="the code of the customer "
                                                             "the system's id really is")
    reason: str = Field(min_length=1, max_length=TEXT)
    on: date | None = Field(None, description="the day it moves (default: today)")


class XrefMatchPublic(KeyMappingPublic):
    """Which customer a system's id is, with the customer as it is now."""

    customer: CustomerPublic


class SystemPublic(BaseModel):
    name: str
    description: str | None


class SystemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, examples=["erp"])
    description: str | None = Field(None, max_length=TEXT)


class ChangeRequestPublic(BaseModel):
    id: int
    action: str
    target: str
    payload: dict[str, Any]
    status: str
    requested_by: str
    requested_at: datetime
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=TEXT)


class AuditEntryPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


class Pending(BaseModel):
    """A change held for a second user's approval (HTTP 202)."""

    status: str
    detail: str
    request_id: int | None


class LegalNameOn(BaseModel):
    code: str
    on: date
    legal_name: str


class ErasurePublic(BaseModel):
    customer: CustomerPublic
    codes: list[str] = Field(description="the codes erased: the person's and those of "
                                         "customers merged into them")
    removed: dict[str, int] = Field(description="rows removed, by kind")
    log_emptied: bool
