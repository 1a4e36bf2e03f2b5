"""Computing batches in helper processes while this process writes to the database.

Bulk loads spend about as much CPU preparing customers (generating, validating check
characters and reference data) as writing them, and SQLite takes one writer at a time,
so helpers prepare batch n+1 while this process writes batch n. Helpers are forked:
they start at once with the reference data already loaded, and they never touch the
database (their copies of its connections are left alone and never closed).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_helpers() -> int:
    """One helper per core beyond the first (none on one core)."""
    return max((os.cpu_count() or 1) - 1, 0)


def ordered_map(
    compute: Callable[[T], R], items: Iterable[T], helpers: int | None = None
) -> Iterator[R]:
    """``compute(item)`` for each item, in order, at most ``helpers + 1`` ahead.

    ``compute`` must be a module-level function. With no helpers, or fewer than two
    items, everything runs here.
    """
    helpers = default_helpers() if helpers is None else helpers
    iterator = iter(items)
    first = next(iterator, None)
    if first is None:
        return
    second = next(iterator, None)
    if helpers == 0 or second is None:
        yield compute(first)
        if second is not None:
            yield compute(second)
        yield from map(compute, iterator)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=helpers, mp_context=context,
                             initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        pending: deque[Future[R]] = deque()
        for item in _chain(first, second, iterator):
            pending.append(pool.submit(compute, item))
            if len(pending) > helpers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _die_with_parent(parent: int) -> None:
    """A helper must not outlive a parent that was killed: it would wait for work for
    ever. Linux delivers SIGKILL to it when the parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pool's own clean-up must do
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _chain(first: T, second: T, rest: Iterator[T]) -> Iterator[T]:
    yield first
    yield second
    yield from rest
