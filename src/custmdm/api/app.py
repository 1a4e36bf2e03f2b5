"""The FastAPI application: ``create_app`` builds it over one register database.

Routes are thin: parse, call one use case of the register acting as the user, render.
Permissions, masking, approval and audit happen in the core, so the API shows and
does exactly what the actor may (see DESIGN: edges stay thin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from custmdm import __version__
from custmdm.api import (
    customers,
    governance,
    lookup,
    operations,
    policies,
    problems,
    reference,
    rules,
    session,
    users,
)
from custmdm.api.deps import Registers
from custmdm.api.limits import RequestLimits
from custmdm.security.keys import Keyring
from custmdm.store.database import Store


def create_app(url: str | None = None, *, keyring: Keyring | None = None) -> FastAPI:
    """The API over the register at ``url`` (default: the configured database), which
    must have been initialised (``custmdm init``)."""
    store = Store(url)
    if keyring is not None:
        store.use_keyring(keyring)
    registers = Registers(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            try:
                registers.close()
            finally:
                store.dispose()

    # The docs pages' scripts and styles come from the package, never from a CDN.
    app = FastAPIOffline(
        title="CustMDM", version=__version__, lifespan=lifespan,
        description="Customer master data and coding: register each customer once, under "
                    "a code that is unique for ever. Errors are RFC 9457 problem details.")
    app.state.registers = registers
    problems.install(app)
    app.add_middleware(RequestLimits)
    app.include_router(session.router)
    app.include_router(customers.router)
    app.include_router(lookup.router)
    app.include_router(rules.router)
    app.include_router(policies.router)
    app.include_router(governance.router)
    app.include_router(users.router)
    app.include_router(reference.router)
    app.include_router(operations.router)
    return app
