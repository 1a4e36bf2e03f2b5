"""What every route depends on: the acting user (from a bearer token) and a register
acting as them."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from custmdm.core.context import AUTHORIZATION_TTL, Actor
from custmdm.errors import PermissionDenied
from custmdm.register import Register
from custmdm.store.database import Store

_bearer = HTTPBearer(auto_error=False, description="An API token: `custmdm token create`")


class Registers:
    """One register per acting user and worker thread over one shared store.

    A register's context caches rules, grants and counter hints for its actor; its
    caches are not meant to be shared between threads, and FastAPI runs each request
    in a worker thread, so each thread keeps its own. Tokens are checked against the
    database at most every AUTHORIZATION_TTL seconds, as grants are: a revoked token
    stops working as quickly as a revoked grant."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._local = threading.local()
        self._tokens: dict[str, tuple[str, float]] = {}

    def for_actor(self, name: str) -> Register:
        registers: dict[str, Register] | None = getattr(self._local, "registers", None)
        if registers is None:
            registers = self._local.registers = {}
        found = registers.get(name)
        if found is None:
            found = registers[name] = Register(self.store, Actor(name))
        return found

    def cached_user(self, token: str) -> str | None:
        """The user of a token checked less than AUTHORIZATION_TTL seconds ago."""
        known = self._tokens.get(hashlib.sha256(token.encode()).hexdigest())
        if known is not None and time.monotonic() - known[1] < AUTHORIZATION_TTL:
            return known[0]
        return None

    def user_of(self, token: str) -> str:
        """The user a token belongs to, checked in the database (PermissionDenied if
        none); remembered for AUTHORIZATION_TTL seconds."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        name = self.for_actor("api").authenticate_token(token)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (name, now)
        return name


async def current_register(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Register:
    """The register acting as the user whose token came with the request (401 for a
    missing, unknown, expired or revoked token). On the event loop: a token seen in
    the last seconds is an in-memory lookup, cheaper than a thread hop per request
    (docs/benchmarks.md); others are checked against the database in a worker thread."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "give an API token: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    registers: Registers = request.app.state.registers
    token = credentials.credentials
    name = registers.cached_user(token)
    if name is None:  # checked against the database: in a worker thread, not on the loop
        try:
            name = await run_in_threadpool(registers.user_of, token)
        except PermissionDenied as error:
            raise HTTPException(401, error.message, headers={
                "WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    return cast(Register, ActingRegister(registers, name))


class ActingRegister:
    """The register of one user, taken in whichever thread uses it: this dependency
    runs on the event loop, most routes in worker threads, and each thread has its own
    registers (see Registers)."""

    __slots__ = ("_name", "_registers")

    def __init__(self, registers: Registers, name: str) -> None:
        self._registers = registers
        self._name = name

    def __getattr__(self, item: str) -> Any:
        return getattr(self._registers.for_actor(self._name), item)


RegisterDep = Annotated[Register, Depends(current_register)]
