"""Who may do what: permissions, roles, scopes and grants (pure logic, no I/O).

A user holds **grants**; a grant gives a **role** (a set of permissions) within a
**scope** (which customers it covers). An action on a customer is allowed when one of
the user's grants has the action's permission and covers that customer. Permissions
about the register as a whole (rules, users, the audit trail, keys and backups) need
a grant whose scope is ``all``.

The core checks every use case against an :class:`Authorization`, and turns the same
scopes into SQL filters for lists and search (core.access), so every edge (CLI, API,
web) enforces the same rules.

>>> auth = Authorization("ann", None, (Grant("sales", ROLES["sales"], Scope.parse("region:44")),))
>>> auth.allows(Permission.UPDATE, CustomerFacts(region="440305", country="CN"))
True
>>> auth.allows(Permission.RETIRE, CustomerFacts(region="440305", country="CN"))
False
>>> auth.allows(Permission.READ, CustomerFacts(region="110105", country="CN"))
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from custmdm.errors import PermissionDenied, ValidationError
from custmdm.standards.countries import get_country
from custmdm.standards.regions import get_region


class Permission(StrEnum):
    """One thing a role may do."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"  # names, identifiers, contacts, classification, key mappings
    RENAME = "rename"  # the legal name
    CHANGE_CODE = "change_code"
    MERGE = "merge"  # merge, undo, batch deduplication and its review queue
    RETIRE = "retire"
    EXPORT = "export"
    SEE_SENSITIVE = "see_sensitive"  # unmasked contacts and personal identifiers
    ERASE = "erase"  # personal-data erasure (PIPL)
    APPROVE = "approve"  # change requests of other users
    MANAGE_RULES = "manage_rules"  # coding, naming, match and survivorship rules; systems
    MANAGE_USERS = "manage_users"  # users, roles, grants, tokens
    READ_AUDIT = "read_audit"  # the audit trail and integrity checks
    ADMINISTER = "administer"  # keys, backup and restore


#: Permissions about the register as a whole: only a grant with scope ``all`` gives them.
REGISTER_WIDE = frozenset({Permission.MANAGE_RULES, Permission.MANAGE_USERS,
                           Permission.READ_AUDIT, Permission.ADMINISTER})

_ALL = frozenset(Permission)
_P = Permission

#: The built-in roles (GLOSSARY names). Custom roles are stored with their permissions.
ROLES: Mapping[str, frozenset[Permission]] = {
    "administrator": _ALL,
    "data_steward": _ALL - {_P.MANAGE_USERS, _P.ADMINISTER},
    "sales": frozenset({_P.READ, _P.CREATE, _P.UPDATE, _P.SEE_SENSITIVE}),
    "auditor": frozenset({_P.READ, _P.READ_AUDIT, _P.EXPORT}),
    "read_only": frozenset({_P.READ}),
    "api_client": frozenset({_P.READ, _P.CREATE, _P.UPDATE, _P.EXPORT}),
}

ROLE_DESCRIPTIONS: Mapping[str, str] = {
    "administrator": "everything, including users, keys and backups",
    "data_steward": "all customer data work: merge, rename, re-code, retire, rules, approve",
    "sales": "read, register and update customers, with their contacts",
    "auditor": "read customers (masked) and the audit trail; export",
    "read_only": "read customers (masked)",
    "api_client": "another system: read, register, update, export",
}

_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def parse_permissions(names: Iterable[str]) -> frozenset[Permission]:
    """Permission names as typed; says which are unknown.

    >>> sorted(parse_permissions(["read", "Export"]))
    [<Permission.EXPORT: 'export'>, <Permission.READ: 'read'>]
    """
    found, unknown = set(), []
    for name in names:
        try:
            found.add(Permission(name.strip().lower()))
        except ValueError:
            unknown.append(name)
    if unknown:
        raise ValidationError(f"unknown permission {', '.join(map(repr, unknown))}; choose "
                              f"from {', '.join(p.value for p in Permission)}")
    if not found:
        raise ValidationError("give at least one permission")
    return frozenset(found)


def check_role_name(name: str) -> str:
    """A custom role's name: lower case, digits and underscores, 2–32 characters."""
    if not _ROLE_NAME.match(name):
        raise ValidationError(f"{name!r} cannot name a role: use 2–32 lower-case letters, "
                              "digits or underscores, starting with a letter")
    return name


# -- scopes ---------------------------------------------------------------------------


class ScopeKind(StrEnum):
    ALL = "all"
    REGION = "region"  # a GB/T 2260 prefix (44, 4403, 440305) or an ISO country (US)
    INDUSTRY = "industry"  # a GB/T 4754 section letter (C) or division prefix (39)
    TEAM = "team"  # customers owned by members of a team
    OWN = "own"  # customers the user owns


_EXAMPLES = {ScopeKind.REGION: "region:44", ScopeKind.INDUSTRY: "industry:C",
             ScopeKind.TEAM: "team:south"}


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What a scope looks at: where a customer is, its industry and who owns it."""

    region: str | None = None
    country: str | None = None
    industry: str | None = None
    industry_section: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Which customers a grant covers."""

    kind: ScopeKind
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``all``, ``own``, ``region:44``, ``region:US``, ``industry:C``, ``industry:39``,
        ``team:south``.

        >>> Scope.parse("region:440000")
        Scope(kind=<ScopeKind.REGION: 'region'>, value='44')
        >>> str(Scope.parse("Industry:c"))
        'industry:C'
        """
        kind_text, _, value = text.strip().partition(":")
        try:
            kind = ScopeKind(kind_text.strip().lower())
        except ValueError:
            raise ValidationError(
                f"{text!r} is not a scope: write all, own, region:CODE, industry:CODE or "
                "team:NAME") from None
        value = value.strip()
        if kind in (ScopeKind.ALL, ScopeKind.OWN):
            if value:
                raise ValidationError(f"scope {kind.value} takes no value")
            return cls(kind)
        if not value:
            raise ValidationError(f"scope {kind.value} needs a value, e.g. "
                                  f"{_EXAMPLES[kind]}")
        if kind is ScopeKind.REGION:
            return cls(kind, _region_prefix(value))
        if kind is ScopeKind.INDUSTRY:
            return cls(kind, _industry(value))
        return cls(kind, value)

    def __str__(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"

    def covers(self, facts: CustomerFacts, user: str, team_members: frozenset[str]) -> bool:
        """Whether this scope covers a customer (``team_members``: the users of the
        scope's team)."""
        match self.kind:
            case ScopeKind.ALL:
                return True
            case ScopeKind.OWN:
                return facts.owner == user
            case ScopeKind.TEAM:
                return facts.owner is not None and facts.owner in team_members
            case ScopeKind.REGION:
                assert self.value is not None
                if self.value.isdigit():
                    return (facts.region or "").startswith(self.value)
                return facts.country == self.value
            case ScopeKind.INDUSTRY:
                assert self.value is not None
                if self.value.isalpha():
                    return facts.industry_section == self.value
                return (facts.industry or "").startswith(self.value)


def _region_prefix(value: str) -> str:
    """A region scope's value: GB/T 2260 digits without trailing zero pairs, or a country."""
    value = value.upper()
    if value.isdigit():
        if len(value) not in (2, 4, 6):
            raise ValidationError(f"region {value!r}: give 2, 4 or 6 GB/T 2260 digits")
        get_region(value)  # an UnknownReference with suggestions if there is none
        while len(value) > 2 and value.endswith("00"):
            value = value[:-2]
        return value
    if len(value) != 2:
        raise ValidationError(f"region {value!r}: give GB/T 2260 digits or an ISO 3166 "
                              "alpha-2 country code")
    return get_country(value).alpha2


def _industry(value: str) -> str:
    value = value.upper()
    if not (len(value) == 1 and value.isalpha()) and not (value.isdigit() and
                                                           2 <= len(value) <= 4):
        raise ValidationError(f"industry {value!r}: give a GB/T 4754 section letter (C) or "
                              "division digits (39)")
    return value


# -- grants ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """A role within a scope."""

    role: str
    permissions: frozenset[Permission]
    scope: Scope


@dataclass(frozen=True)
class Authorization:
    """What one user may do: their grants, and the members of the teams they name."""

    user: str
    team: str | None
    grants: tuple[Grant, ...]
    team_members: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def scopes(self, permission: Permission) -> list[Scope]:
        """The scopes in which the user has ``permission``."""
        return [g.scope for g in self.grants if permission in g.permissions]

    def allows(self, permission: Permission, facts: CustomerFacts | None = None) -> bool:
        """Whether the user may do this (to the customer ``facts`` describes)."""
        for scope in self.scopes(permission):
            if scope.kind is ScopeKind.ALL:
                return True
            if (facts is not None and permission not in REGISTER_WIDE and scope.covers(
                    facts, self.user, self.team_members.get(scope.value or "", frozenset()))):
                return True
        return False

    def require(self, permission: Permission, facts: CustomerFacts | None = None,
                what: str | None = None) -> None:
        """Raise :class:`PermissionDenied`, saying what is missing, unless allowed."""
        if self.allows(permission, facts):
            return
        held = ", ".join(f"{g.role} in {g.scope}" for g in self.grants) or "no grants"
        target = f" {what}" if what else ""
        if facts is None or permission in REGISTER_WIDE:
            need = f"'{permission.value}' on the whole register (a grant with scope all)"
        else:
            need = f"'{permission.value}' in a scope covering{target or ' this customer'}"
        raise PermissionDenied(f"{self.user} may not do this: it needs {need}; "
                               f"{self.user} has {held}")
