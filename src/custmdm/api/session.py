"""Browser sessions: log in with a password, get a cookie; log out.

A session is a token of the user's (``custmdm token list`` shows it as a "browser
session"), kept in an HttpOnly, SameSite=Strict cookie so page scripts never see it.
A request authenticated by the cookie that changes something must also carry the
session's CSRF token in ``X-CSRF-Token`` (double submit): another site can make a
browser send the cookie, but cannot read the CSRF token. Clients other than browsers
use bearer tokens and need neither."""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import (
    SESSION_COOKIE,
    RegisterDep,
    Registers,
    csrf_token_of,
    require_csrf,
    session_token,
)
from custmdm.api.problems import PROBLEM_JSON, PROBLEM_RESPONSES, PROBLEM_SCHEMA
from custmdm.core.access import MAX_SESSION_HOURS, SESSION_HOURS
from custmdm.errors import PermissionDenied

router = APIRouter(prefix="/session", tags=["session"], responses=PROBLEM_RESPONSES)

#: Failed logins of one user from one address before further tries wait.
MAX_FAILURES = 5
#: How long failures are counted, and how long a throttled login waits.
FAILURE_WINDOW = 300.0


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=100, examples=["admin"])
    password: str = Field(min_length=1, max_length=1000)
    hours: int = Field(SESSION_HOURS, ge=1, le=MAX_SESSION_HOURS,
                       description="How long the session lasts")


class SessionPublic(BaseModel):
    user: str
    expires_at: datetime | None = None
    csrf_token: str | None = Field(None, description="Send it as X-CSRF-Token with every "
                                                     "change made with the session cookie")


class LoginThrottle:
    """Failed logins per user and client address; the sixth in five minutes waits.

    Passwords are argon2id hashes, slow to guess; this stops a script from guessing
    at the server's full speed. A try counts from the moment it starts, so a burst
    sent at once is throttled like one sent in turn. Kept in memory, per server
    process; behind a proxy, run uvicorn with --proxy-headers so the address is the
    client's."""

    #: The most (user, address) pairs remembered; the least recently seen go first.
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._trying: Counter[tuple[str, str]] = Counter()

    def start(self, key: tuple[str, str]) -> float:
        """Begin a try for ``key``: 0 if it may go ahead (then call ``finish``), else
        the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.pop(key, ()) if now - t < FAILURE_WINDOW]
            if recent:
                self._failures[key] = recent
            if len(recent) + self._trying[key] >= MAX_FAILURES:
                return FAILURE_WINDOW - (now - recent[0]) if recent else 1.0
            self._trying[key] += 1
            return 0.0

    def finish(self, key: tuple[str, str], outcome: Literal["failed", "succeeded", "error"]
               ) -> None:
        """End a try begun with ``start``: a wrong password counts, a login forgets the
        failures, an error on the server does neither."""
        with self._lock:
            self._trying[key] -= 1
            if self._trying[key] <= 0:
                del self._trying[key]
            if outcome == "failed":
                self._failures.setdefault(key, []).append(time.monotonic())
                self._failures.move_to_end(key)
                while len(self._failures) > self.MAX_KEYS:
                    self._failures.popitem(last=False)
            elif outcome == "succeeded":
                self._failures.pop(key, None)


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle()
    return throttle


@router.post("", status_code=201, response_model=SessionPublic,
             responses={429: {"description": "too many failed logins; wait Retry-After "
                                             "seconds",
                              "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}})
async def log_in(body: Login, request: Request, response: Response,
                 throttle: Annotated[LoginThrottle, Depends(_throttle)]) -> Any:
    """Log in with a user name and password: sets the session cookie and returns the
    CSRF token to send with changes. A wrong name or password is 401."""
    key = (body.user, request.client.host if request.client else "")
    wait = throttle.start(key)
    if wait > 0:
        raise HTTPException(429, f"too many failed logins for {body.user!r}; try again in "
                                 f"{int(wait) + 1} s", headers={"Retry-After": str(int(wait) + 1)})
    registers: Registers = request.app.state.registers

    def open_session() -> Any:
        with registers.acting_as("api") as register:  # the user is the actor
            return register.open_session(body.user, body.password, body.hours)

    try:
        made = await run_in_threadpool(open_session)
    except PermissionDenied as error:
        throttle.finish(key, "failed")
        raise HTTPException(401, error.message) from None
    except BaseException:
        throttle.finish(key, "error")
        raise
    throttle.finish(key, "succeeded")
    response.set_cookie(SESSION_COOKIE, made.token, max_age=body.hours * 3600,
                        httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return SessionPublic(user=body.user, expires_at=made.record.expires_at,
                         csrf_token=csrf_token_of(made.token))


@router.get("", response_model=SessionPublic)
def who_am_i(request: Request, reg: RegisterDep) -> Any:
    """The user the request acts as; with a session cookie, also its CSRF token (a page
    reloaded has lost it)."""
    token = session_token(request)
    return SessionPublic(user=reg.user, csrf_token=token and csrf_token_of(token))


@router.delete("", status_code=204)
async def log_out(request: Request, response: Response) -> None:
    """Log out: the session's token is revoked at once and the cookie cleared (a
    session that expired or was revoked already just loses its cookie)."""
    token = session_token(request)
    if token is not None:
        require_csrf(request, token)
        registers: Registers = request.app.state.registers

        def close() -> None:
            try:
                name = registers.cached_user(token) or registers.user_of(token)
            except PermissionDenied:
                return  # nothing left to revoke
            with registers.acting_as(name) as register:
                register.close_session(token)

        await run_in_threadpool(close)
        registers.forget(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
