"""What every route depends on: the acting user (from a bearer token) and a register
acting as them."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from custmdm.core.context import AUTHORIZATION_TTL, Actor
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
        self._system = Register(store, Actor("api"))

    def for_actor(self, name: str) -> Register:
        registers: dict[str, Register] | None = getattr(self._local, "registers", None)
        if registers is None:
            registers = self._local.registers = {}
        found = registers.get(name)
        if found is None:
            found = registers[name] = Register(self.store, Actor(name))
        return found

    def user_of(self, token: str) -> str:
        """The user a token belongs to (PermissionDenied if none)."""
        key = hashlib.sha256(token.encode()).hexdigest()
        known = self._tokens.get(key)
        now = time.monotonic()
        if known is not None and now - known[1] < AUTHORIZATION_TTL:
            return known[0]
        name = self._system.authenticate_token(token)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (name, now)
        return name


async def current_register(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Register:
    """The register acting as the user whose token came with the request. Run on the
    event loop, not in a worker thread: it is an in-memory lookup but every few
    seconds per token, and a thread hop per request costs more than that lookup
    (docs/benchmarks.md)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "give an API token: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    registers: Registers = request.app.state.registers
    return cast(Register, ActingRegister(registers, registers.user_of(credentials.credentials)))


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
