"""Finding customers: search by anything, and the duplicate check before registering."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from custmdm.api.deps import RegisterDep
from custmdm.api.schemas import CustomerCreate, DuplicateCheck, Page, SearchHit

router = APIRouter(tags=["lookup"])


@router.get("/search", response_model=Page[SearchHit])
def search(reg: RegisterDep,
           q: Annotated[str, Query(min_length=1, max_length=200,
                                   description="a code, a name, pinyin, an identifier, a "
                                               "phone, an e-mail or another system's id")],
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    """Customers matching ``q``, best first, each with why it matched."""
    hits = reg.search(q, limit)
    return {"data": [h.to_dict() for h in hits], "count": len(hits)}


@router.post("/duplicates/check", response_model=DuplicateCheck)
def check_duplicates(body: CustomerCreate, reg: RegisterDep,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10) -> Any:
    """The existing customers a draft may duplicate, scored, without registering it."""
    return reg.check_duplicates(body.draft(), limit).to_dict()
