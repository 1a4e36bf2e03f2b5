"""Running the register: counts (统计), the code invariants, and the batch duplicate run
whose clusters go to the review queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.core.batch import THRESHOLD

router = APIRouter(tags=["operations"], responses=PROBLEM_RESPONSES)


class OverviewPublic(BaseModel):
    customers: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_province: dict[str, int]
    codes_by_rule: dict[str, int]


class CodeCheck(BaseModel):
    ok: bool
    problems: list[str]
    notes: list[str]
    counts: dict[str, int]


class DedupRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: bool = Field(False, description="train the model again first (it is trained "
                                           "anyway when there is none)")
    threshold: float = Field(THRESHOLD, gt=0, lt=1,
                             description="the match probability a pair needs to be "
                                         "queued for review")


class DedupRun(BaseModel):
    customers: int
    pairs: int
    clusters: int
    trained: bool
    seconds: dict[str, float]


@router.get("/overview", response_model=OverviewPublic)
def overview(reg: RegisterDep,
             top_provinces: Annotated[int, Query(ge=1, le=50)] = 10) -> Any:
    """Counts of the customers the actor may read: by kind, status and province; codes
    issued by each rule."""
    return reg.overview(top_provinces).to_dict()


@router.get("/checks/codes", response_model=CodeCheck)
def check_codes(reg: RegisterDep) -> Any:
    """Check every code invariant (unique for ever, each number accounted for, …) in
    one snapshot; ``ok`` false lists the problems. Needs read_audit."""
    return reg.check_codes().to_dict()


@router.post("/dedup-runs", response_model=DedupRun)
def dedup_run(body: DedupRunCreate, reg: RegisterDep) -> Any:
    """Deduplicate the whole register with Splink; the clusters found go to the review
    queue. It answers when the run is done: minutes for a million customers
    (docs/benchmarks.md), so give the client a long timeout."""
    return reg.dedup_run(train=body.train, threshold=body.threshold).to_dict()
