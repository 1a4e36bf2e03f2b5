"""Finding customers: search, the duplicate check, any code, another system's id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from custmdm.api.customers import resolution
from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import PagingDep, page, tagged
from custmdm.api.schemas import (
    CustomerCreate,
    DuplicateCheck,
    KeyMappingMove,
    KeyMappingPublic,
    Page,
    Pending,
    Resolution,
    SearchHit,
    SystemCreate,
    SystemPublic,
    XrefMatchPublic,
)

router = APIRouter(tags=["lookup"], responses=PROBLEM_RESPONSES)


@router.get("/search", response_model=Page[SearchHit])
def search(reg: RegisterDep,
           q: Annotated[str, Query(min_length=1, max_length=200,
                                   description="a code, a name, pinyin, an identifier, a "
                                               "phone, an e-mail or another system's id")],
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    """Customers matching ``q``, best first, each with why it matched."""
    hits = reg.search(q, limit)
    return page(hits)


@router.post("/duplicates/check", response_model=DuplicateCheck)
def check_duplicates(body: CustomerCreate, reg: RegisterDep,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10) -> Any:
    """The existing customers a draft may duplicate, scored, without registering it."""
    return reg.check_duplicates(body.draft(), limit).to_dict()


@router.get("/codes/{code}", response_model=Resolution)
async def resolve_code(code: str, reg: RegisterDep) -> Any:
    """Any code ever issued: the customer it belongs to now, and what the code is
    (active, superseded by a change or a merge, retired)."""
    return resolution(reg.find(code))


@router.get("/systems", response_model=Page[SystemPublic])
def list_systems(reg: RegisterDep, paging: PagingDep) -> Any:
    """The other systems customers are known in."""
    return page(({"name": name, "description": text} for name, text in reg.systems()),
                paging)


@router.post("/systems", status_code=201, response_model=SystemPublic)
def add_system(body: SystemCreate, reg: RegisterDep) -> Any:
    return {"name": reg.add_system(body.name, body.description),
            "description": body.description}


@router.get("/systems/{system}/customers/{external_id}", response_model=XrefMatchPublic)
def find_by_external_id(system: str, external_id: str, reg: RegisterDep) -> Any:
    """Which customer a system's id is (the mapping and the customer as it is now)."""
    found = reg.find_xref(system, external_id)
    return tagged(found.to_dict(), found.customer.version)


@router.post("/systems/{system}/customers/{external_id}/move",
             response_model=KeyMappingPublic, responses={202: {"model": Pending}})
def move_key_mapping(system: str, external_id: str, body: KeyMappingMove,
                     reg: RegisterDep) -> Any:
    """Say a system's id means another customer: the old mapping ends, a new one
    starts (explicit and audited; may need approval)."""
    return reg.move_xref(system, external_id, body.to, body.reason, on=body.on).to_dict()
