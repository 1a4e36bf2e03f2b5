"""The rules stewards set beyond coding rules: naming rules (命名规范), match rules (the
duplicate check's thresholds), survivorship rules (who wins a merge, field by field) and
approval rules (which changes need a second user)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import PagingDep, page
from custmdm.api.schemas import TEXT, Page
from custmdm.core.requests import APPROVABLE
from custmdm.domain.customer import Kind
from custmdm.domain.matching import Action
from custmdm.domain.naming import NamingRule
from custmdm.domain.survivorship import MERGED_FIELDS, Survivorship

router = APIRouter(tags=["rules and merges"], responses=PROBLEM_RESPONSES)
RuleName = Annotated[str, Path(min_length=1, max_length=64)]


def one_of(values: Iterable[str]) -> str:
    """A pattern matching exactly one of ``values`` (for path parameters)."""
    return "^(" + "|".join(re.escape(v) for v in values) + ")$"


MergedField = Annotated[str, Path(pattern=one_of(MERGED_FIELDS), examples=["industry"])]
ApprovableAction = Annotated[str, Path(pattern=one_of(APPROVABLE),
                                       examples=["customer.merge"])]


class NamingRuleSave(BaseModel):
    """What names must look like; empty lists and nulls impose nothing."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(None, max_length=32, description="customer kind; null: all")
    name_kinds: list[str] = Field(["legal"], min_length=1, max_length=10,
                                  description="the kinds of name it checks")
    required_parts: list[str] = Field(default_factory=list, max_length=10,
                                      examples=[["region", "trade_name", "legal_form"]])
    forbidden_words: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200)
    min_length: int | None = Field(None, ge=1, le=1000)
    max_length: int | None = Field(None, ge=1, le=1000)
    allowed_characters: list[str] = Field(default_factory=list, max_length=10,
                                          examples=[["han", "latin", "digit"]])
    extra_characters: str = Field("", max_length=100, examples=["（）()·&-"])
    description: str = Field("", max_length=TEXT)

    def rule(self, name: str) -> NamingRule:
        return NamingRule(name=name, kind=self.kind, name_kinds=tuple(self.name_kinds),
                          required_parts=tuple(self.required_parts),
                          forbidden_words=tuple(self.forbidden_words),
                          min_length=self.min_length, max_length=self.max_length,
                          allowed_characters=tuple(self.allowed_characters),
                          extra_characters=self.extra_characters,
                          description=self.description)


class NamingRulePublic(BaseModel):
    name: str
    kind: str | None
    name_kinds: list[str]
    required_parts: list[str]
    forbidden_words: list[str]
    min_length: int | None
    max_length: int | None
    allowed_characters: list[str]
    extra_characters: str
    description: str


@router.get("/naming-rules", response_model=Page[NamingRulePublic])
def naming_rules(reg: RegisterDep, paging: PagingDep) -> Any:
    """Every naming rule; names given from now on must follow them."""
    return page((asdict(rule) for rule in reg.naming_rules()), paging)


@router.post("/naming-rules/{name}", status_code=201, response_model=NamingRulePublic)
def add_naming_rule(name: RuleName, body: NamingRuleSave, reg: RegisterDep) -> Any:
    """Add a naming rule (a name already taken is 409; remove it first to change it)."""
    return asdict(reg.add_naming_rule(body.rule(name)))


@router.delete("/naming-rules/{name}", status_code=204)
def remove_naming_rule(name: RuleName, reg: RegisterDep) -> Response:
    """Remove a naming rule; names given under it stay as they are."""
    reg.remove_naming_rule(name)
    return Response(status_code=204)


class MatchRulePublic(BaseModel):
    kind: str
    action: Literal["block", "warn", "link"]
    threshold: float


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        gt=0, le=1, description="the match probability at or above which the action "
                                "applies; null removes the rule")


@router.get("/match-rules", response_model=Page[MatchRulePublic])
def match_rules(reg: RegisterDep) -> Any:
    """What the duplicate check on entry does, per customer kind: block, warn or link
    at or above each threshold."""
    return page(reg.match_rules())


@router.put("/match-rules/{kind}/{action}", response_model=Page[MatchRulePublic])
def set_match_rule(kind: Kind, action: Action, body: Threshold,
                   reg: RegisterDep) -> Any:
    """Set a kind's threshold for an action (null removes it); returns every rule."""
    reg.set_match_rule(kind.value, action.value, body.threshold)
    return match_rules(reg)


class FieldRulePublic(BaseModel):
    field: str
    rule: Survivorship
    systems: list[str]
    default: bool


class FieldRuleSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: Survivorship | None = Field(description="null puts the built-in rule back")
    systems: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20,
        description="for trusted: the systems, most trusted first")


@router.get("/survivorship-rules", response_model=Page[FieldRulePublic])
def survivorship_rules(reg: RegisterDep) -> Any:
    """How a merge chooses each field's value."""
    return page(reg.survivorship_rules())


@router.put("/survivorship-rules/{field}", response_model=FieldRulePublic)
def set_survivorship_rule(field: MergedField, body: FieldRuleSave, reg: RegisterDep) -> Any:
    """Set one field's rule (``trusted`` needs its systems)."""
    return reg.set_survivorship_rule(field, body.rule and body.rule.value,
                                     body.systems).to_dict()


class ApprovalRulePublic(BaseModel):
    action: str
    description: str
    required: bool


class ApprovalRuleSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool = Field(description="whether a second user must approve the action")


@router.get("/approval-rules", response_model=Page[ApprovalRulePublic])
def approval_rules(reg: RegisterDep) -> Any:
    """Every action that can be held for approval, and whether it is."""
    required = set(reg.approval_rules())
    return page({"action": action, "description": description,
                 "required": action in required}
                for action, description in APPROVABLE.items())


@router.put("/approval-rules/{action}", response_model=Page[ApprovalRulePublic])
def set_approval_rule(action: ApprovableAction, body: ApprovalRuleSave,
                      reg: RegisterDep) -> Any:
    """Make an action need a second user's approval, or not any more."""
    reg.set_approval_rule(action, body.required)
    return approval_rules(reg)
