"""Customers: register, read (by any code), list, update, retire.

Every customer response carries its version as an ETag; a change takes the ETag the
client read as If-Match, and a customer changed since is refused with 412, never
overwritten (the core checks the version inside the change's transaction)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import MAX_PAGE, PagingDep, etag, page, tagged
from custmdm.api.schemas import (
    CodeChange,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    ErasurePublic,
    IdentifierCreate,
    KeyMappingCreate,
    KeyMappingPublic,
    LegalNameOn,
    NameCreate,
    NamePublic,
    Page,
    Pending,
    Reason,
    Rename,
    Resolution,
)
from custmdm.core.customers import CustomerRecord
from custmdm.core.registry import CustomerFilter
from custmdm.core.registry import Resolution as CoreResolution

router = APIRouter(prefix="/customers", tags=["customers"], responses=PROBLEM_RESPONSES)


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (``"v3"``, an ETag this API gave); None for
    ``*``. If-Match compares strongly: a weak ETag (``W/"v3"``) never matches."""
    if if_match is None:
        raise HTTPException(428, 'a change needs If-Match: the ETag of the customer as '
                                 'read (e.g. If-Match: "v3")')
    value = if_match.strip()
    if value == "*":
        return None
    tags = [tag.strip() for tag in value.split(",")]
    versions = {int(tag[2:-1]) for tag in tags if len(tag) > 3 and tag[:2] == '"v'
                and tag[-1] == '"' and tag[2:-1].isascii() and tag[2:-1].isdecimal()}
    if len(versions) != 1 or len(tags) != 1:
        raise HTTPException(412, f"If-Match {if_match!r} is not one ETag this API gave "
                                 '(they look like "v3"; weak ones never match)')
    return versions.pop()


def _customer(record: CustomerRecord, response_status: int = 200,
              location: str | None = None) -> JSONResponse:
    return tagged(record.to_dict(), record.version, response_status, location)


def resolution(found: CoreResolution) -> JSONResponse:
    """A customer found by one of its codes, with its ETag."""
    return tagged(found.to_dict(), found.customer.version)


IfMatch = Annotated[str | None, Header(description='The ETag read, e.g. "v3"; * for any')]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic,
             responses={200: {"model": CustomerPublic,
                              "description": "linked to an existing customer"},
                        202: {"model": Pending}})
def register_customer(
    body: CustomerCreate, reg: RegisterDep,
    idempotency_key: Annotated[str | None, Header(
        description="Any unique text (a UUID): a retry with the same key returns the "
                    "customer the first request registered, never a second one")] = None,
) -> Any:
    """Register a customer and give it its code. The duplicate check runs first: a
    likely duplicate is refused with 409 and the candidates; give ``override_reason``
    to register one the rules only warn about."""
    if idempotency_key is None:
        record = reg.register(body.draft(), override_reason=body.override_reason)
        replayed = False
    else:
        once = reg.register_once(body.draft(), idempotency_key,
                                 override_reason=body.override_reason)
        record, replayed = once.customer, once.replayed
    response = _customer(record, 200 if record.linked else 201, f"/customers/{record.code}")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("", response_model=Page[CustomerPublic])
def list_customers(
    reg: RegisterDep,
    kind: str | None = None,
    region: Annotated[str | None, Query(description="GB/T 2260 prefix or country")] = None,
    industry: Annotated[str | None, Query(description="GB/T 4754 section or prefix")] = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    owner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Any:
    """Customers the actor may read, oldest first, a page at a time."""
    records = reg.customers(CustomerFilter(kind=kind, region=region, industry=industry,
                                           status=status_, owner=owner, limit=limit,
                                           offset=offset))
    return page(records)


@router.get("/{code}", response_model=Resolution)
async def get_customer(code: str, reg: RegisterDep) -> Any:
    """A customer by any code it has or had; a superseded code says so."""
    # On the event loop: a lookup by code is a few indexed reads, cheaper than the hop
    # to a worker thread, even on PostgreSQL where each is a round trip (973 against
    # 660 req/s, docs/benchmarks.md); slower routes stay in the thread pool.
    return resolution(reg.find(code))


@router.patch("/{code}", response_model=CustomerPublic)
def update_customer(code: str, body: CustomerUpdate, reg: RegisterDep,
                    if_match: IfMatch = None) -> Any:
    """Change industry, size, grade or owner (fields left out stay; null clears)."""
    version = expected_version(if_match)
    changes = body.model_dump(exclude_unset=True)
    return _customer(reg.update(code, expected_version=version, **changes))


@router.post("/{code}/retire", response_model=CustomerPublic,
             responses={202: {"model": Pending}})
def retire_customer(code: str, body: Reason, reg: RegisterDep,
                    if_match: IfMatch = None) -> Any:
    """Retire a customer; its code is never given to another."""
    version = expected_version(if_match)
    return _customer(reg.retire(code, body.reason, expected_version=version))


@router.post("/{code}/rename", response_model=CustomerPublic,
             responses={202: {"model": Pending}})
def rename_customer(code: str, body: Rename, reg: RegisterDep,
                    if_match: IfMatch = None) -> Any:
    """Change the legal name (更名); the old one stays as a former name."""
    return _customer(reg.rename(code, body.legal_name, body.reason, on=body.on,
                                override_reason=body.override_reason,
                                expected_version=expected_version(if_match)))


@router.post("/{code}/change-code", response_model=Resolution,
             responses={202: {"model": Pending}})
def change_code(code: str, body: CodeChange, reg: RegisterDep,
                if_match: IfMatch = None) -> Any:
    """Give the customer a new code; the old one still resolves, as superseded."""
    return resolution(reg.change_code(code, body.reason, rule=body.rule, to=body.to,
                                       expected_version=expected_version(if_match)))


@router.get("/{code}/names", response_model=Page[NamePublic])
def list_names(code: str, reg: RegisterDep, paging: PagingDep,
               at: date | None = None) -> Any:
    """Every name of the customer (legal, former, short, alias …), or those valid on
    ``at``."""
    return page(reg.names(code, at), paging)


@router.post("/{code}/names", status_code=201, response_model=NamePublic)
def add_name(code: str, body: NameCreate, reg: RegisterDep) -> Any:
    """Give the customer another name."""
    return reg.add_name(code, body.kind, body.text, valid_from=body.valid_from,
                        source=body.source, override_reason=body.override_reason).to_dict()


@router.post("/{code}/identifiers", response_model=CustomerPublic)
def add_identifier(code: str, body: IdentifierCreate, reg: RegisterDep) -> Any:
    """Give the customer an identifier of a scheme it has none of."""
    return _customer(reg.add_identifier(code, body.scheme, body.value,
                                        override_reason=body.override_reason))


@router.delete("/{code}/identifiers/{scheme}", response_model=CustomerPublic)
def remove_identifier(code: str, scheme: str, reg: RegisterDep,
                      reason: Annotated[str, Query(min_length=1, max_length=500)],
                      value: str | None = None, if_match: IfMatch = None) -> Any:
    """Remove an identifier given in error (the audit trail keeps it). If-Match: the
    identifier removed must be the one the client saw."""
    return _customer(reg.remove_identifier(code, scheme, reason, value=value,
                                           expected_version=expected_version(if_match)))


@router.get("/{code}/key-mappings", response_model=Page[KeyMappingPublic])
def list_key_mappings(code: str, reg: RegisterDep, paging: PagingDep,
                      system: str | None = None) -> Any:
    """What other systems call the customer: their ids and names (客户对应关系)."""
    return page(reg.xrefs(code, system), paging)


@router.post("/{code}/key-mappings", status_code=201, response_model=Page[KeyMappingPublic])
def add_key_mapping(code: str, body: KeyMappingCreate, reg: RegisterDep) -> Any:
    """Record a system's id (and name) for the customer; returns its mappings."""
    reg.add_xref(code, body.system, body.external_id, body.external_name,
                 valid_from=body.valid_from)
    return JSONResponse(page(reg.xrefs(code, body.system)), status_code=201)


@router.get("/{code}/legal-name", response_model=LegalNameOn)
def legal_name_on(code: str, on: date, reg: RegisterDep) -> Any:
    """What the customer was legally called on a day (for a contract or invoice then)."""
    return {"code": code, "on": on.isoformat(), "legal_name": reg.legal_name_on(code, on)}


@router.post("/{code}/unmask", response_model=Resolution)
def unmask(code: str, body: Reason, reg: RegisterDep) -> Any:
    """The customer with its contacts and a person's ID number in clear. Needs the
    see_sensitive permission; the reason is written to the audit trail."""
    return resolution(reg.unmask(code, body.reason))


@router.post("/{code}/erase", response_model=ErasurePublic)
def erase(code: str, body: Reason, reg: RegisterDep) -> Any:
    """Erase an individual's personal data (PIPL): contacts, identifiers, other names
    and external names go, the legal name is replaced; the code still resolves and the
    audit trail stays. Needs the erase permission; cannot be undone."""
    erased = reg.erase(code, body.reason)
    return tagged(erased.to_dict(), erased.customer.version)


@router.head("/{code}", include_in_schema=False)
def head_customer(code: str, reg: RegisterDep) -> Response:
    found = reg.find(code)
    return Response(headers={"ETag": etag(found.customer.version)})
