"""What every use case receives: where the data lives, who acts, and the policies."""

from __future__ import annotations

import functools
import getpass
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custmdm.core.approval import ApprovalPolicy, NoApprovalNeeded
from custmdm.errors import PermissionDenied, ValidationError
from custmdm.security.access import Authorization, Permission
from custmdm.store.database import Store

if TYPE_CHECKING:
    from custmdm.core.coding import ReservationPool
    from custmdm.core.customers import CustomerRecord, ValidCustomer
    from custmdm.store.registration import RegistrationWriter
    from custmdm.store.search import NameIndex


@dataclass(frozen=True, slots=True)
class Actor:
    """The user or system on whose behalf a use case runs; recorded in the audit trail."""

    name: str

    @classmethod
    def local_user(cls) -> Actor:
        """The user named like the operating-system login (``custmdm init`` makes the
        first one an administrator)."""
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):
            return cls("unknown")


#: Seconds a process trusts the grants it loaded (see Context.authorization).
AUTHORIZATION_TTL = 5.0


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
    _authorization: Authorization | None = None
    _authorization_loaded_at: float = 0.0
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

    # -- permissions (core.access) ------------------------------------------------------

    @property
    def authorization(self) -> Authorization:
        """What the actor may do, reloaded after AUTHORIZATION_TTL seconds, so a revoked
        grant or a disabled user stops working in running processes too."""
        if (self._authorization is None
                or time.monotonic() - self._authorization_loaded_at > AUTHORIZATION_TTL):
            from custmdm.core.access import load_authorization

            with self.store.read() as conn:
                self._authorization = load_authorization(conn, self.actor.name)
            self._authorization_loaded_at = time.monotonic()
        return self._authorization

    def for_actor(self, name: str) -> Context:
        """The same register, policies and clock, acting as another user (an approved
        change request runs as its requester)."""
        return Context(self.store, Actor(name), self.approvals, self.now)

    def forget_authorization(self) -> None:
        """Load grants afresh on next use (after this process changed some)."""
        self._authorization = None

    def require(self, permission: Permission,
                record: CustomerRecord | ValidCustomer | None = None,
                what: str | None = None) -> None:
        """Raise PermissionDenied unless the actor may do ``permission`` (to ``record``,
        registered or about to be; without one, on the whole register)."""
        auth = self.authorization
        facts = None
        if record is not None:
            from custmdm.core.access import facts_of

            facts = facts_of(record)
            code = getattr(record, "code", None)
            what = what or (f"customer {code}" if code else
                            f"a customer in region {record.region or record.country}")
        if not auth.grants:
            self._explain_no_grants()
        auth.require(permission, facts, what)

    def require_user(self) -> None:
        """Raise PermissionDenied unless the actor is an active user with some grant."""
        if not self.authorization.grants:
            self._explain_no_grants()
            raise PermissionDenied(f"{self.actor.name} has no grants; an administrator "
                                   "gives them with `custmdm grant add`")

    def _explain_no_grants(self) -> None:
        from custmdm.core.access import explain_missing_user

        with self.store.read() as conn:
            reason = explain_missing_user(conn, self.actor.name)
        if reason is not None:
            raise PermissionDenied(reason)

    def scope_filter(self, permission: Permission) -> Any:
        """The customers the actor may act on with ``permission``, as a condition on the
        ``customer`` table (None: all of them)."""
        from custmdm.core.access import customer_scope_filter

        return customer_scope_filter(self.authorization, permission)

    def today(self) -> date:
        """The day of issue used by ``{yyyy}``, ``{yy}`` and ``{mm}``: the business
        day in ``$CUSTMDM_TIMEZONE`` (e.g. Asia/Shanghai), else the machine's zone."""
        return self.now().astimezone(business_timezone()).date()
