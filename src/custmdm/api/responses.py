"""The two response shapes every route shares: a page of items, and a body that
carries a customer's version as its ETag."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

#: The most items one page holds.
MAX_PAGE = 500


def etag(version: int) -> str:
    """A customer's version as an ETag: ``"v3"``."""
    return f'"v{version}"'


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a list a client asked for (``limit`` and ``offset``)."""

    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")] = MAX_PAGE
    offset: Annotated[int, Query(ge=0, le=2**31, description="items to skip")] = 0


#: A route's paging parameters. The lists paged this way (names, mappings, users,
#: tokens …) are short and read whole, then sliced; customers are paged in SQL.
PagingDep = Annotated[Paging, Depends()]


def page(items: Iterable[Any], paging: Paging | None = None) -> dict[str, Any]:
    """``{data, count}`` of items (each rendered by its ``to_dict`` if it has one);
    with ``paging``, only that page of them."""
    if paging is not None:
        items = islice(items, paging.offset, paging.offset + paging.limit)
    data = [i.to_dict() if hasattr(i, "to_dict") else i for i in items]
    return {"data": data, "count": len(data)}


def tagged(body: Any, version: int, status: int = 200,
           location: str | None = None) -> JSONResponse:
    """``body`` with ``version`` as its ETag (and a Location for something created)."""
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return JSONResponse(body, status_code=status, headers=headers)
