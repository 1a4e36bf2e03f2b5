"""The two response shapes every route shares: a page of items, and a body that
carries a customer's version as its ETag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse


def etag(version: int) -> str:
    """A customer's version as an ETag: ``"v3"``."""
    return f'"v{version}"'


def page(items: Iterable[Any]) -> dict[str, Any]:
    """``{data, count}`` of items (each rendered by its ``to_dict`` if it has one)."""
    data = [i.to_dict() if hasattr(i, "to_dict") else i for i in items]
    return {"data": data, "count": len(data)}


def tagged(body: Any, version: int, status: int = 200,
           location: str | None = None) -> JSONResponse:
    """``body`` with ``version`` as its ETag (and a Location for something created)."""
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return JSONResponse(body, status_code=status, headers=headers)
