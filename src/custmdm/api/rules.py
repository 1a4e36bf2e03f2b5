"""Coding rules (编码规则): list, add, new version, preview; and the duplicate-review
queue with merge and undo (客户合并)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import page, tagged
from custmdm.api.schemas import TEXT, CustomerPublic, Page, Pending, Reason

router = APIRouter(tags=["rules and merges"], responses=PROBLEM_RESPONSES)


class RuleConditions(BaseModel):
    kind: str | None
    region_prefix: str | None
    industry: str | None
    grade: str | None


class RulePublic(BaseModel):
    name: str
    version: int
    pattern: str
    priority: int
    gapless: bool
    counter_scope: str
    conditions: RuleConditions
    kind_letters: dict[str, str]
    grade_letters: dict[str, str]
    codes_issued: int
    created_at: str | None
    created_by: str


class RuleSave(BaseModel):
    """A coding rule: its pattern and the customers it applies to."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(max_length=200, examples=["C{kind}{region:4}{seq:6}{check:mod37-2}"])
    kind: str | None = Field(None, max_length=16)
    region_prefix: str | None = Field(None, max_length=16)
    industry: str | None = Field(None, max_length=8)
    grade: str | None = Field(None, max_length=16)
    priority: int | None = Field(None, ge=0, le=1_000_000)
    gapless: bool | None = None
    counter_scope: Literal["prefix", "rule"] | None = None
    kind_letters: dict[str, str] | None = None
    grade_letters: dict[str, str] | None = None


class Preview(BaseModel):
    codes: list[str]


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor: str = Field(max_length=64)
    losers: list[str] = Field(min_length=1, max_length=50)
    picks: dict[str, str] = Field(default_factory=dict,
                                  description="field → code whose value the survivor keeps")
    trusted: list[str] = Field(default_factory=list, max_length=20,
                               description="systems whose customers' values win, most "
                                           "trusted first")
    reason: str = Field(min_length=1, max_length=TEXT)
    versions: dict[str, Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=dict, max_length=51,
        description="code → the version (ETag) read of that customer: one changed since "
                    "is refused with 412, as If-Match does for a single customer")


class MergePublic(BaseModel):
    merge_id: int
    survivor: CustomerPublic
    merged: list[str]
    fields: dict[str, str]
    by: dict[str, str]


class PairPublic(BaseModel):
    left: str
    right: str
    score: float
    why: list[str]


class ClusterPublic(BaseModel):
    id: int
    status: str
    codes: list[str]
    legal_names: list[str]
    pairs: list[PairPublic]


class ClusterDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject", "defer"]
    survivor: str | None = Field(None, max_length=64)
    versions: dict[str, Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=dict, max_length=51,
        description="accept: code → the version (ETag) reviewed of that customer; one "
                    "changed since is refused with 412")


@router.get("/rules", response_model=Page[RulePublic])
def list_rules(reg: RegisterDep) -> Any:
    """The current coding rules, in the order they are tried."""
    return page(reg.rules())


@router.put("/rules/{name}", response_model=Page[RulePublic])
def save_rule(name: Annotated[str, Path(max_length=64)], body: RuleSave,
              reg: RegisterDep) -> Any:
    """Add a rule, or save a new version of it (options left out are kept). Refused if
    it could collide with another rule or a code already issued."""
    options = body.model_dump(exclude_none=True)
    pattern = options.pop("pattern")
    if reg.rule_version(name):
        reg.update_rule(name, pattern, **options)
    else:
        reg.add_rule(name, pattern, **options)
    return list_rules(reg)


@router.delete("/rules/{name}", response_model=Page[RulePublic],
               responses={202: {"model": Pending}})
def retire_rule(name: Annotated[str, Path(max_length=64)], reg: RegisterDep,
                reason: Annotated[str, Query(min_length=1, max_length=TEXT)]) -> Any:
    """Retire a rule: it gives no more codes (the next fitting rule applies); its codes
    stay, unique for ever, and its name is not reused. Returns the current rules."""
    reg.retire_rule(name, reason)
    return list_rules(reg)


@router.get("/rules/{name}/preview", response_model=Preview)
def preview(name: Annotated[str, Path(max_length=64)], reg: RegisterDep,
            kind: str | None = None, region: str | None = None,
            industry: str | None = None, grade: str | None = None,
            count: Annotated[int, Query(ge=1, le=50)] = 5) -> Any:
    """The next codes the rule would give such a customer; consumes nothing."""
    return {"codes": reg.preview(name, kind=kind, region=region, industry=industry,
                                 grade=grade, count=count)}


@router.post("/merges", response_model=MergePublic,
             responses={202: {"description": "held for approval"}})
def merge(body: MergeRequest, reg: RegisterDep) -> Any:
    """Merge duplicates into the survivor: names, identifiers, contacts and key
    mappings move to it; the losers' codes resolve to it."""
    merged = reg.merge(body.survivor, body.losers, body.picks, body.reason,
                       trusted=body.trusted, expected_versions=body.versions)
    return tagged(merged.to_dict(), merged.survivor.version)


@router.post("/merges/{merge_id}/undo", response_model=CustomerPublic)
def undo_merge(merge_id: Annotated[int, Path(ge=1, le=2**62)], body: Reason,
               reg: RegisterDep) -> Any:
    """Put back exactly what a merge changed; refused if those rows changed since."""
    survivor = reg.undo_merge(merge_id, body.reason)
    return tagged(survivor.to_dict(), survivor.version)


@router.get("/review-queue", response_model=Page[ClusterPublic])
def review_queue(reg: RegisterDep,
                 status: Literal["open", "deferred", "accepted", "rejected", "stale"] = "open",
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
    """Clusters of likely duplicates from batch runs (待复核队列)."""
    found = reg.review_queue(status, limit)
    return page(found)


@router.post("/review-queue/{cluster_id}", response_model=ClusterPublic)
def decide(cluster_id: Annotated[int, Path(ge=1, le=2**62)], body: ClusterDecision,
           reg: RegisterDep) -> Any:
    """Accept (merge), reject (never proposed again) or defer a cluster."""
    return reg.decide(cluster_id, body.decision, body.survivor,
                      expected_versions=body.versions).to_dict()
