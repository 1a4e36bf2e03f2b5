"""What every use case receives: where the data lives, who acts, and the policies."""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custmdm.core.approval import ApprovalPolicy, NoApprovalNeeded
from custmdm.errors import ValidationError
from custmdm.store.database import Store

if TYPE_CHECKING:
    from custmdm.core.coding import ReservationPool
    from custmdm.store.registration import RegistrationWriter
    from custmdm.store.search import NameIndex


@dataclass(frozen=True, slots=True)
class Actor:
    """The user or system on whose behalf a use case runs; recorded in the audit trail."""

    name: str

    @classmethod
    def local_user(cls) -> Actor:
        """The operating-system user, for the CLI on the embedded database."""
        try:
            return cls(f"local:{getpass.getuser()}")
        except (KeyError, OSError):
            return cls("local:unknown")


def business_timezone() -> tzinfo | None:
    """``$CUSTMDM_TIMEZONE`` as a zone; None means the machine's local zone."""
    return _zone(os.environ.get("CUSTMDM_TIMEZONE"))


@functools.lru_cache(maxsize=8)
def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"CUSTMDM_TIMEZONE={name!r} is not a time zone; use a name like Asia/Shanghai"
        ) from None


def utc_now() -> datetime:
    """The current time in UTC; every stored timestamp is UTC."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Store + actor + policies, passed to every core function."""

    store: Store
    actor: Actor
    approvals: ApprovalPolicy = field(default_factory=NoApprovalNeeded)
    now: Callable[[], datetime] = utc_now
    #: Parsed coding-rule versions by id (see core.coding).
    rule_cache: dict[int, Any] = field(default_factory=dict)
    #: The current rules as last loaded: a first guess, re-checked on use.
    current_rules: list[Any] | None = None
    rules_loaded_at: float = 0.0
    #: Where this process last saw each gapless counter: (rule, scope) -> next value.
    counter_hints: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Gapless codes rendered ahead: (rule id, series) -> (first number, codes).
    codes_ahead: dict[tuple[int, str], tuple[int, list[str]]] = field(default_factory=dict)
    #: Naming rules as last loaded (see core.naming).
    naming_rules: list[Any] | None = None
    naming_rules_loaded_at: float = 0.0
    _reservations: ReservationPool | None = None
    _name_index: NameIndex | None = None
    _writer: RegistrationWriter | None = None

    @property
    def reservations(self) -> ReservationPool:
        """Gap-allowed codes reserved ahead by this process."""
        if self._reservations is None:
            from custmdm.core.coding import ReservationPool

            self._reservations = ReservationPool()
        return self._reservations

    @property
    def name_index(self) -> NameIndex:
        """Trigram lookups on names (see store.search); kept, as it learns where
        pg_trgm lives once."""
        if self._name_index is None:
            from custmdm.store.search import NameIndex

            self._name_index = NameIndex(self.store)
        return self._name_index

    @property
    def writer(self) -> RegistrationWriter:
        """How this database writes a registration (see store.registration)."""
        if self._writer is None:
            from custmdm.store.registration import registration_writer

            self._writer = registration_writer(self.store)
        return self._writer

    def today(self) -> date:
        """The day of issue used by ``{yyyy}``, ``{yy}`` and ``{mm}``: the business
        day in ``$CUSTMDM_TIMEZONE`` (e.g. Asia/Shanghai), else the machine's zone."""
        return self.now().astimezone(business_timezone()).date()
