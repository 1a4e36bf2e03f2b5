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
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from custmdm.api.deps import (
    SESSION_COOKIE,
    RegisterDep,
    Registers,
    csrf_token_of,
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
    at the server's full speed. Kept in memory, per server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[float]] = {}

    def wait_left(self, key: tuple[str, str]) -> float:
        """Seconds before ``key`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(key, ()) if now - t < FAILURE_WINDOW]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
        return FAILURE_WINDOW - (now - recent[0]) if len(recent) >= MAX_FAILURES else 0.0

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of names: forget the oldest
                self._failures.clear()
            self._failures.setdefault(key, []).append(time.monotonic())

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
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
    wait = throttle.wait_left(key)
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
        throttle.failed(key)
        raise HTTPException(401, error.message) from None
    throttle.succeeded(key)
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
def log_out(request: Request, response: Response, reg: RegisterDep) -> None:
    """Log out: the session's token is revoked at once and the cookie cleared."""
    token = session_token(request)
    if token is not None:
        reg.close_session(token)
        request.app.state.registers.forget(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

