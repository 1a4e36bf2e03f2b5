"""An API client over each backend, acting as the register's administrator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from custmdm.api import create_app
from custmdm.register import Register


@pytest.fixture
def client(reg: Register, db_url: str) -> Iterator[TestClient]:
    """An API client acting as the register's administrator (``tester``)."""
    token = reg.create_token("tester", "tests").token
    with TestClient(create_app(db_url), raise_server_exceptions=False) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield http
