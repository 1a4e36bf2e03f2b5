"""Users, roles, grants and API tokens (保密: who may do what, where)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import RegisterDep
from custmdm.api.problems import PROBLEM_RESPONSES
from custmdm.api.responses import PagingDep, page
from custmdm.api.schemas import TEXT, Page, Reason
from custmdm.errors import ValidationError

router = APIRouter(tags=["users and access"], responses=PROBLEM_RESPONSES)
UserName = Annotated[str, Path(min_length=1, max_length=100)]


class UserPublic(BaseModel):
    name: str
    display_name: str | None
    kind: str
    team: str | None
    active: bool
    has_password: bool
    created_at: datetime
    disabled_reason: str | None
    grants: list[str]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["ann"])
    display_name: str | None = Field(None, max_length=100)
    team: str | None = Field(None, max_length=100)
    kind: Literal["person", "system"] = "person"
    password: str | None = Field(None, max_length=1000)


class RolePublic(BaseModel):
    name: str
    permissions: list[str]
    description: str | None
    builtin: bool


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    permissions: list[str] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=TEXT)


class GrantPublic(BaseModel):
    user: str
    role: str
    scope: str
    created_at: datetime
    created_by: str


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=64)
    scope: str = Field("all", max_length=100, examples=["all", "region:44", "own"])


class TokenPublic(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100, examples=["ERP sync"])
    days: int | None = Field(90, ge=1, le=3650, description="null: until revoked")


class NewTokenPublic(BaseModel):
    """The token, shown this once: only its hash is kept."""

    token: str
    record: TokenPublic


@router.get("/users", response_model=Page[UserPublic])
def list_users(reg: RegisterDep, paging: PagingDep) -> Any:
    return page(reg.users(), paging)


@router.post("/users", status_code=201, response_model=UserPublic)
def add_user(body: UserCreate, reg: RegisterDep) -> Any:
    """A person, or (kind system) another system that uses tokens."""
    return reg.add_user(body.name, display_name=body.display_name, team=body.team,
                        kind=body.kind, password=body.password).to_dict()


@router.post("/users/{name}/disable", response_model=UserPublic)
def disable_user(name: UserName, body: Reason, reg: RegisterDep) -> Any:
    """No grant or token of theirs works any more (within seconds everywhere)."""
    return reg.disable_user(name, body.reason).to_dict()


@router.post("/users/{name}/enable", response_model=UserPublic)
def enable_user(name: UserName, reg: RegisterDep) -> Any:
    return reg.enable_user(name).to_dict()


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1000)
    current_password: str | None = Field(
        None, max_length=1000, description="needed to change one's own password: a "
                                           "stolen session must not become the account")


@router.put("/users/{name}/password", status_code=204)
def set_password(name: UserName, body: PasswordSet, reg: RegisterDep) -> Response:
    """Set a password: one's own (with the current one), or anyone's for those who
    manage users. The user's browser sessions end; API tokens stay."""
    if name == reg.user:
        if body.current_password is None:
            raise ValidationError("give current_password to change your own password").at(
                "current_password")
        reg.check_password(name, body.current_password)  # wrong: 403
    reg.set_password(name, body.password)
    return Response(status_code=204)


@router.get("/roles", response_model=Page[RolePublic])
def list_roles(reg: RegisterDep, paging: PagingDep) -> Any:
    return page(reg.roles(), paging)


@router.post("/roles", status_code=201, response_model=RolePublic)
def add_role(body: RoleCreate, reg: RegisterDep) -> Any:
    return reg.add_role(body.name, body.permissions, body.description).to_dict()


@router.delete("/roles/{name}", status_code=204)
def remove_role(name: Annotated[str, Path(max_length=64)], reg: RegisterDep) -> None:
    reg.remove_role(name)


@router.get("/grants", response_model=Page[GrantPublic])
def list_grants(reg: RegisterDep, paging: PagingDep, user: str | None = None) -> Any:
    return page(reg.grants(user), paging)


@router.post("/grants", status_code=201, response_model=GrantPublic)
def add_grant(body: GrantCreate, reg: RegisterDep) -> Any:
    """A role for a user within a scope: all, region:44, industry:C, team:NAME, own."""
    return reg.grant(body.user, body.role, body.scope).to_dict()


@router.delete("/grants", status_code=204)
def revoke_grant(reg: RegisterDep,
                 user: Annotated[str, Query(min_length=1, max_length=100)],
                 role: Annotated[str, Query(min_length=1, max_length=64)],
                 scope: Annotated[str, Query(max_length=100)] = "all") -> None:
    reg.revoke(user, role, scope)


@router.get("/tokens", response_model=Page[TokenPublic])
def list_tokens(reg: RegisterDep, paging: PagingDep, user: str | None = None) -> Any:
    """Tokens, newest first (never their values)."""
    return page(reg.tokens(user), paging)


@router.post("/tokens", status_code=201, response_model=NewTokenPublic)
def create_token(body: TokenCreate, reg: RegisterDep) -> Any:
    made = reg.create_token(body.user, body.name, body.days)
    return JSONResponse({"token": made.token, "record": made.record.to_dict()},
                        status_code=201, headers={"Cache-Control": "no-store"})


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**62)], reg: RegisterDep) -> None:
    reg.revoke_token(token_id)
