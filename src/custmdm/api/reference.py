"""Reference data: GB/T 2260 regions and GB/T 4754 industries, as codes and names."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import page
from custmdm.api.schemas import Page
from custmdm.errors import NotFound, UnknownReference
from custmdm.standards import industries, regions

router = APIRouter(prefix="/reference", tags=["reference data"], responses=PROBLEM_RESPONSES)


class RegionPublic(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    full_name: str


class IndustryPublic(BaseModel):
    code: str
    name: str
    level: str
    section: str
    parent_code: str | None


def _region(found: regions.Region) -> dict[str, Any]:
    return {"code": found.code, "name": found.name, "level": str(found.level),
            "parent_code": found.parent_code, "full_name": found.full_name()}


def _industry(found: industries.Industry) -> dict[str, Any]:
    return {"code": found.code, "name": found.name, "level": str(found.level),
            "section": found.section, "parent_code": found.parent_code}


@router.get("/regions", response_model=Page[RegionPublic])
def provinces(_: RegisterDep) -> Any:
    """The province-level regions."""
    return page(_region(r) for r in regions.all_regions() if r.parent_code is None)


@router.get("/regions/{code}", response_model=Page[RegionPublic])
def region(code: Annotated[str, Path(max_length=12)], _: RegisterDep) -> Any:
    """A region and the regions directly under it."""
    try:
        found = regions.get_region(code)
    except UnknownReference as error:
        raise NotFound(error.message) from None
    return page([_region(found), *(_region(r) for r in regions.children(found.code))])


@router.get("/industries", response_model=Page[IndustryPublic])
def sections(_: RegisterDep) -> Any:
    """The sections (门类) of the industry classification."""
    return page(_industry(i) for i in industries.all_industries("section"))


@router.get("/industries/{code}", response_model=Page[IndustryPublic])
def industry(code: Annotated[str, Path(max_length=8)], _: RegisterDep) -> Any:
    """An industry category and the categories directly under it."""
    try:
        found = industries.get_industry(code)
    except UnknownReference as error:
        raise NotFound(error.message) from None
    return page([_industry(found), *(_industry(i) for i in industries.children(found.code))])
