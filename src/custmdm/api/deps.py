"""What every route depends on: the acting user (from a bearer token) and a register
acting as them."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from custmdm.core.access import token_hash
from custmdm.core.context import AUTHORIZATION_TTL, Actor
from custmdm.errors import PermissionDenied
from custmdm.register import Register
from custmdm.store.database import Store

_log = logging.getLogger("custmdm.api")
#: The cookie a browser session's token is kept in (api.session).
SESSION_COOKIE = "custmdm_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API token: `custmdm token create`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="A browser session (POST /session); a change made with "
                                   "it also needs the session's X-CSRF-Token header")


class Registers:
    """Registers acting as users, over one shared store, lent out one call at a time.

    A register's context caches rules, grants, counter hints and reserved codes for its
    actor, and is not meant for two threads at once; FastAPI runs requests in worker
    threads that come and go. So each call borrows an idle register of its user (or a
    new one) and gives it back: a user has as many as they had calls at once, however
    many threads served them, and ``close`` voids the codes they reserved but did not
    use. Tokens are checked against the database at most every AUTHORIZATION_TTL
    seconds, as grants are: a revoked token stops working as quickly as a revoked
    grant."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._idle: dict[str, list[Register]] = {}
        self._closed = False
        self._tokens: dict[str, tuple[str, float]] = {}

    @contextmanager
    def acting_as(self, name: str) -> Iterator[Register]:
        """A register acting as ``name``, this caller's alone until the block ends."""
        with self._lock:
            idle = self._idle.get(name)
            register = idle.pop() if idle else None
        if register is None:
            register = Register(self.store, Actor(name))
        try:
            yield register
        finally:
            with self._lock:
                closed = self._closed
                if not closed:
                    self._idle.setdefault(name, []).append(register)
            if closed:  # a call that outlived the server's stop: void its codes now
                self._release(register)

    def close(self) -> int:
        """Void the gap-allowed codes the idle registers reserved and did not use (the
        server is stopping; registers still lent void theirs when given back); returns
        how many."""
        with self._lock:
            self._closed = True
            idle = [register for registers in self._idle.values() for register in registers]
            self._idle = {}
        return sum(self._release(register) for register in idle)

    @staticmethod
    def _release(register: Register) -> int:
        try:
            return register.ctx.reservations.release(
                register.ctx, "reserved but unused when the API server stopped")
        except Exception:  # the others still get theirs voided; these stay reserved
            _log.exception("voiding reserved codes failed")
            return 0

    def cached_user(self, token: str) -> str | None:
        """The user of a token checked less than AUTHORIZATION_TTL seconds ago."""
        known = self._tokens.get(token_hash(token))
        if known is not None and time.monotonic() - known[1] < AUTHORIZATION_TTL:
            return known[0]
        return None

    def user_of(self, token: str) -> str:
        """The user a token belongs to, checked in the database (PermissionDenied if
        none); remembered for AUTHORIZATION_TTL seconds."""
        key = token_hash(token)
        now = time.monotonic()
        with self.acting_as("api") as register:
            name = register.authenticate_token(token)
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (name, now)
        return name

    def forget(self, token: str) -> None:
        """Stop trusting a token at once (its session was closed here)."""
        self._tokens.pop(token_hash(token), None)


def csrf_token_of(session: str) -> str:
    """The CSRF token that goes with a session token: derived from it, so nothing is
    stored, and it reveals nothing of the session token."""
    return hashlib.sha256(b"custmdm csrf\0" + session.encode()).hexdigest()[:32]


def session_token(request: Request) -> str | None:
    """The session token in the request's cookie, if any."""
    return request.cookies.get(SESSION_COOKIE) or None


def require_csrf(request: Request, session: str) -> None:
    """Refuse (403) a change made with the session cookie that lacks its CSRF token."""
    sent = request.headers.get("X-CSRF-Token", "").encode()
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
            sent, csrf_token_of(session).encode()):
        raise HTTPException(403, "a change made with the session cookie needs its CSRF "
                                 "token in X-CSRF-Token (POST/GET /session return it)")


async def current_register(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Register:
    """The register acting as the user whose bearer token, or session cookie, came with
    the request (401 for a missing, unknown, expired or revoked one; 403 for a change
    made with the cookie but without its CSRF token). On the event loop: a token seen
    in the last seconds is an in-memory lookup, cheaper than a thread hop per request
    (docs/benchmarks.md); others are checked against the database in a worker thread."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    elif cookie:
        token = cookie
        require_csrf(request, token)
    else:
        raise HTTPException(401, "give an API token (Authorization: Bearer <token>) or log "
                                 "in (POST /session)",
                            headers={"WWW-Authenticate": "Bearer"})
    registers: Registers = request.app.state.registers
    name = registers.cached_user(token)
    if name is None:  # checked against the database: in a worker thread, not on the loop
        try:
            name = await run_in_threadpool(registers.user_of, token)
        except PermissionDenied as error:
            raise HTTPException(401, error.message, headers={
                "WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    return cast(Register, ActingRegister(registers, name))


class ActingRegister:
    """The register of one user, borrowed for each call (see Registers): this
    dependency runs on the event loop and most routes in worker threads."""

    __slots__ = ("_name", "_registers")

    def __init__(self, registers: Registers, name: str) -> None:
        self._registers = registers
        self._name = name

    @property
    def user(self) -> str:
        """The acting user's name."""
        return self._name

    def __getattr__(self, item: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._registers.acting_as(self._name) as register:
                return getattr(register, item)(*args, **kwargs)
        return call


RegisterDep = Annotated[Register, Depends(current_register)]
