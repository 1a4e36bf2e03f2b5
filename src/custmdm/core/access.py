"""Users, roles, grants and API tokens; what the acting user may do; scopes as SQL.

Every use case asks its :class:`~custmdm.core.context.Context` (``ctx.require``) before
it acts, and lists and search add :func:`customer_scope_filter` to their SQL, so the
CLI, the API and the web UI enforce the same rules (security.access says what the
rules are).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Connection, delete, false, func, or_, select, update

from custmdm.core.audit import audit_row, write_audit
from custmdm.errors import Conflict, NotFound, PermissionDenied, ValidationError
from custmdm.security.access import (
    ROLE_DESCRIPTIONS,
    ROLES,
    Authorization,
    CustomerFacts,
    Grant,
    Permission,
    Scope,
    ScopeKind,
    check_role_name,
    parse_permissions,
)
from custmdm.store.audit import utc
from custmdm.store.tables import access_grant, api_token, app_user, custom_role, customer

if TYPE_CHECKING:
    from custmdm.core.context import Context
    from custmdm.core.customers import CustomerRecord, ValidCustomer

#: argon2id with the library's defaults (RFC 9106's second recommended setting).
_HASHER = PasswordHasher()
#: Verified against when the user does not exist, so that both take as long.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cmdm_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
#: A browser session lasts this long from login, however busy it is.
SESSION_HOURS = 12
MAX_SESSION_HOURS = 7 * 24
#: The name a session's token is listed under (``custmdm token list``).
SESSION_TOKEN_NAME = "browser session"
_USER_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,64}$")


# -- records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as the edges show it (never the password hash)."""

    name: str
    display_name: str | None
    kind: str
    team: str | None
    active: bool
    has_password: bool
    created_at: datetime
    disabled_reason: str | None
    grants: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "display_name": self.display_name, "kind": self.kind,
                "team": self.team, "active": self.active, "has_password": self.has_password,
                "created_at": utc(self.created_at).isoformat(),
                "disabled_reason": self.disabled_reason, "grants": list(self.grants)}


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A role: built in or defined by this register."""

    name: str
    permissions: tuple[str, ...]
    description: str | None
    builtin: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "permissions": list(self.permissions),
                "description": self.description, "builtin": self.builtin}


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One grant: a user's role within a scope."""

    user: str
    role: str
    scope: str
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "role": self.role, "scope": self.scope,
                "created_at": utc(self.created_at).isoformat(), "created_by": self.created_by}


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as listed: never the token itself."""

    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and utc(self.expires_at) <= now:
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return None if at is None else utc(at).isoformat()

        return {"id": self.id, "user": self.user, "name": self.name, "prefix": self.prefix,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at), "last_used_at": iso(self.last_used_at)}


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: ``token`` is shown this once and stored only as a hash."""

    token: str
    record: TokenRecord


# -- authorization ----------------------------------------------------------------------


def load_authorization(conn: Connection, name: str) -> Authorization:
    """The grants of the user ``name`` (none if unknown or disabled)."""
    user = conn.execute(select(app_user.c.id, app_user.c.team, app_user.c.active)
                        .where(app_user.c.name == name)).first()
    if user is None or not user.active:
        return Authorization(name, None, ())
    customs = {r.name: parse_permissions(r.permissions)
               for r in conn.execute(select(custom_role.c.name, custom_role.c.permissions))}
    grants = []
    for role, scope_text in conn.execute(select(access_grant.c.role, access_grant.c.scope)
                                         .where(access_grant.c.user_id == user.id)):
        permissions = ROLES.get(role) or customs.get(role)
        if permissions is not None:
            grants.append(Grant(role, permissions, Scope.parse(scope_text)))
    teams = {g.scope.value for g in grants if g.scope.kind is ScopeKind.TEAM}
    members: dict[str, frozenset[str]] = {}
    for team in teams:
        members[team or ""] = frozenset(conn.execute(
            select(app_user.c.name).where(app_user.c.team == team)).scalars())
    return Authorization(name, user.team, tuple(grants), members)


def explain_missing_user(conn: Connection, name: str) -> str | None:
    """Why ``name`` has no grants at all, when the reason is the user itself."""
    row = conn.execute(select(app_user.c.active, app_user.c.disabled_reason)
                       .where(app_user.c.name == name)).first()
    if row is None:
        has_users = conn.execute(select(func.count()).select_from(app_user)).scalar_one()
        return (f"there is no user {name!r} in this register; an administrator adds one "
                f"with `custmdm user add {name}`" if has_users else
                "this register has no users yet: run `custmdm init`")
    if not row.active:
        return f"the user {name!r} is disabled ({row.disabled_reason or 'no reason given'})"
    return None


def facts_of(target: CustomerRecord | ValidCustomer) -> CustomerFacts:
    """What scopes look at in a customer, registered or about to be."""
    from custmdm.core.customers import resolve_industry

    section = getattr(target, "industry_section", None)
    if section is None and target.industry:
        _, section, _ = resolve_industry(target.industry)
    return CustomerFacts(region=target.region, country=target.country,
                         industry=target.industry, industry_section=section,
                         owner=target.owner)


def customer_scope_filter(auth: Authorization, permission: Permission
                          ) -> ColumnElement[bool] | None:
    """The customers ``auth`` may act on with ``permission``, as a condition on the
    ``customer`` table; None when that is every customer."""
    conditions: list[ColumnElement[bool]] = []
    for scope in auth.scopes(permission):
        match scope.kind:
            case ScopeKind.ALL:
                return None
            case ScopeKind.OWN:
                conditions.append(customer.c.owner == auth.user)
            case ScopeKind.TEAM:
                members = sorted(auth.team_members.get(scope.value or "", frozenset()))
                conditions.append(customer.c.owner.in_(members) if members else false())
            case ScopeKind.REGION:
                value = scope.value or ""
                conditions.append(customer.c.region.startswith(value) if value.isdigit()
                                  else customer.c.country == value)
            case ScopeKind.INDUSTRY:
                value = scope.value or ""
                conditions.append(customer.c.industry_section == value if value.isalpha()
                                  else customer.c.industry.startswith(value))
    return or_(*conditions) if conditions else false()


# -- users --------------------------------------------------------------------------------


def _check_user_name(name: str) -> str:
    name = name.strip()
    if not _USER_NAME.match(name):
        raise ValidationError(f"{name!r} cannot name a user: use 1–64 characters without "
                              "spaces")
    return name


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def _user_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(app_user).where(app_user.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}; see `custmdm user list`")
    return row


def add_user(
    ctx: Context, name: str, *, display_name: str | None = None, team: str | None = None,
    kind: str = "person", password: str | None = None,
) -> UserRecord:
    """Add a user (a person, or another system that will use API tokens)."""
    ctx.require(Permission.MANAGE_USERS)
    name = _check_user_name(name)
    if kind not in ("person", "system"):
        raise ValidationError(f"kind {kind!r}: choose person or system")
    hashed = _hash_password(password) if password is not None else None
    with ctx.store.write() as conn:
        if conn.execute(select(app_user.c.id).where(app_user.c.name == name)).first():
            raise Conflict(f"user {name!r} exists already")
        now = ctx.now()
        conn.execute(app_user.insert().values(
            name=name, display_name=display_name, kind=kind, team=team or None,
            password_hash=hashed, active=True, created_at=now, created_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "user.add", "user", name,
            {"display_name": display_name, "kind": kind, "team": team,
             "password": hashed is not None}, now)])
    return get_user(ctx, name, check=False)


def get_user(ctx: Context, name: str, *, check: bool = True) -> UserRecord:
    """One user with their grants."""
    if check:
        ctx.require(Permission.MANAGE_USERS)
    with ctx.store.read() as conn:
        return _users(conn, [_user_row(conn, name)])[0]


def list_users(ctx: Context) -> list[UserRecord]:
    """Every user, active or not, by name."""
    ctx.require(Permission.MANAGE_USERS)
    with ctx.store.read() as conn:
        return _users(conn, conn.execute(select(app_user).order_by(app_user.c.name)).all())


def _users(conn: Connection, rows: Sequence[Any]) -> list[UserRecord]:
    grants: dict[int, list[str]] = {r.id: [] for r in rows}
    for user_id, role, scope in conn.execute(
            select(access_grant.c.user_id, access_grant.c.role, access_grant.c.scope)
            .where(access_grant.c.user_id.in_(list(grants)))
            .order_by(access_grant.c.id)):
        grants[user_id].append(f"{role} in {scope}")
    return [UserRecord(r.name, r.display_name, r.kind, r.team, r.active,
                       r.password_hash is not None, utc(r.created_at), r.disabled_reason,
                       tuple(grants[r.id])) for r in rows]


def set_user_active(ctx: Context, name: str, active: bool, reason: str | None = None
                    ) -> UserRecord:
    """Disable a user (their tokens stop working; nothing of theirs is deleted) or enable
    them again."""
    ctx.require(Permission.MANAGE_USERS)
    if not active and not (reason or "").strip():
        raise ValidationError("give a reason (--reason); it goes into the audit trail")
    with ctx.store.write() as conn:
        ctx.store.lock_user_changes(conn)
        row = _user_row(conn, name)
        if row.active == active:
            raise Conflict(f"user {name!r} is {'active' if active else 'disabled'} already")
        now = ctx.now()
        conn.execute(update(app_user).where(app_user.c.id == row.id).values(
            active=active, disabled_at=None if active else now,
            disabled_reason=None if active else reason))
        if not active:
            _keep_an_administrator(conn, f"disabling {name!r}")
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "user.enable" if active else "user.disable", "user", name,
            {} if active else {"reason": reason}, now)])
    ctx.forget_authorization()
    return get_user(ctx, name, check=False)


def set_password(ctx: Context, name: str, password: str) -> None:
    """Set a user's password (their own, or anyone's for those who manage users). Their
    browser sessions end: whoever knew the old password is logged out."""
    if name != ctx.actor.name:
        ctx.require(Permission.MANAGE_USERS)
    hashed = _hash_password(password)
    with ctx.store.write() as conn:
        row = _user_row(conn, name)
        now = ctx.now()
        conn.execute(update(app_user).where(app_user.c.id == row.id)
                     .values(password_hash=hashed))
        conn.execute(update(api_token).where(
            api_token.c.user_id == row.id, api_token.c.name == SESSION_TOKEN_NAME,
            api_token.c.revoked_at.is_(None)).values(revoked_at=now))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "user.password", "user",
                                                name, {}, now)])


def check_password(ctx: Context, name: str, password: str) -> str:
    """The user's name if the password is theirs and they are active; else
    PermissionDenied, with one message whatever was wrong (and the same time taken)."""
    with ctx.store.read() as conn:
        row = conn.execute(select(app_user.c.password_hash, app_user.c.active)
                           .where(app_user.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
        good = row is not None and row.password_hash is not None and row.active
    except (VerificationError, InvalidHashError):
        good = False
    if not good:
        raise PermissionDenied("wrong user name or password, or the user is disabled")
    return name


def _keep_an_administrator(conn: Connection, change: str) -> None:
    """Refuse a change that leaves no active user able to manage users everywhere.
    Callers hold Store.lock_user_changes, so two such changes cannot both pass."""
    admin_roles = [name for name, perms in ROLES.items() if Permission.MANAGE_USERS in perms]
    admin_roles += [r.name for r in conn.execute(select(custom_role.c.name,
                                                        custom_role.c.permissions))
                    if Permission.MANAGE_USERS.value in r.permissions]
    left = conn.execute(
        select(func.count()).select_from(access_grant.join(app_user))
        .where(app_user.c.active, access_grant.c.role.in_(admin_roles),
               access_grant.c.scope == "all")).scalar_one()
    if not left:
        raise Conflict(f"{change} would leave no active user who can manage users; grant "
                       "administrator (scope all) to someone else first")


def ensure_first_administrator(ctx: Context) -> bool:
    """Make the acting user an administrator of a register that has no users yet
    (``custmdm init``); False when it has users."""
    with ctx.store.write() as conn:
        if conn.execute(select(func.count()).select_from(app_user)).scalar_one():
            return False
        now = ctx.now()
        user_id = conn.execute(app_user.insert().values(
            name=ctx.actor.name, kind="person", active=True, created_at=now,
            created_by=ctx.actor.name).returning(app_user.c.id)).scalar_one()
        conn.execute(access_grant.insert().values(
            user_id=user_id, role="administrator", scope="all", created_at=now,
            created_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "user.add", "user", ctx.actor.name,
            {"first_administrator": True, "role": "administrator", "scope": "all"}, now)])
    ctx.forget_authorization()
    return True


# -- roles --------------------------------------------------------------------------------


def list_roles(ctx: Context) -> list[RoleRecord]:
    """The built-in roles, then this register's own."""
    ctx.require_user()
    builtin = [RoleRecord(name, tuple(sorted(p.value for p in perms)),
                          ROLE_DESCRIPTIONS.get(name), True) for name, perms in ROLES.items()]
    with ctx.store.read() as conn:
        own = [RoleRecord(r.name, tuple(sorted(r.permissions)), r.description, False)
               for r in conn.execute(select(custom_role).order_by(custom_role.c.name))]
    return builtin + own


def add_role(ctx: Context, name: str, permissions: Sequence[str],
             description: str | None = None) -> RoleRecord:
    """Define a custom role from permission names."""
    ctx.require(Permission.MANAGE_USERS)
    name = check_role_name(name.strip().lower())
    if name in ROLES:
        raise Conflict(f"{name!r} is a built-in role")
    chosen = sorted(p.value for p in parse_permissions(permissions))
    with ctx.store.write() as conn:
        if conn.execute(select(custom_role.c.name).where(custom_role.c.name == name)).first():
            raise Conflict(f"role {name!r} exists already")
        now = ctx.now()
        conn.execute(custom_role.insert().values(name=name, permissions=chosen,
                                                 description=description, created_at=now,
                                                 created_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "role.add", "role", name,
                                                {"permissions": chosen}, now)])
    return RoleRecord(name, tuple(chosen), description, False)


def remove_role(ctx: Context, name: str) -> None:
    """Remove a custom role no grant uses."""
    ctx.require(Permission.MANAGE_USERS)
    if name in ROLES:
        raise Conflict(f"{name!r} is a built-in role and cannot be removed")
    with ctx.store.write() as conn:
        if not conn.execute(select(custom_role.c.name).where(custom_role.c.name == name)
                            ).first():
            raise NotFound(f"no role {name!r}; see `custmdm role list`")
        users = sorted(conn.execute(select(app_user.c.name).select_from(
            access_grant.join(app_user)).where(access_grant.c.role == name)).scalars())
        if users:
            raise Conflict(f"role {name!r} is granted to {', '.join(users)}; revoke those "
                           "grants first")
        conn.execute(custom_role.delete().where(custom_role.c.name == name))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "role.remove", "role", name,
                                                {}, ctx.now())])


# -- grants -------------------------------------------------------------------------------


def grant_role(ctx: Context, user: str, role: str, scope: str = "all") -> GrantRecord:
    """Give a user a role within a scope."""
    ctx.require(Permission.MANAGE_USERS)
    parsed = str(Scope.parse(scope))
    with ctx.store.write() as conn:
        row = _user_row(conn, user)
        if role not in ROLES and not conn.execute(
                select(custom_role.c.name).where(custom_role.c.name == role)).first():
            raise NotFound(f"no role {role!r}; see `custmdm role list`")
        if conn.execute(select(access_grant.c.id).where(
                access_grant.c.user_id == row.id, access_grant.c.role == role,
                access_grant.c.scope == parsed)).first():
            raise Conflict(f"{user} has {role} in {parsed} already")
        now = ctx.now()
        conn.execute(access_grant.insert().values(user_id=row.id, role=role, scope=parsed,
                                                  created_at=now, created_by=ctx.actor.name))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "grant.add", "user", user,
                                                {"role": role, "scope": parsed}, now)])
    ctx.forget_authorization()
    return GrantRecord(user, role, parsed, now, ctx.actor.name)


def revoke_grant(ctx: Context, user: str, role: str, scope: str = "all") -> None:
    """Take a grant back."""
    ctx.require(Permission.MANAGE_USERS)
    parsed = str(Scope.parse(scope))
    with ctx.store.write() as conn:
        ctx.store.lock_user_changes(conn)
        row = _user_row(conn, user)
        done = conn.execute(access_grant.delete().where(
            access_grant.c.user_id == row.id, access_grant.c.role == role,
            access_grant.c.scope == parsed))
        if not done.rowcount:
            raise NotFound(f"{user} has no grant of {role} in {parsed}; see "
                           f"`custmdm grant list {user}`")
        _keep_an_administrator(conn, f"revoking {role} in {parsed} from {user!r}")
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "grant.revoke", "user", user,
                                                {"role": role, "scope": parsed}, ctx.now())])
    ctx.forget_authorization()


def list_grants(ctx: Context, user: str | None = None) -> list[GrantRecord]:
    """Every grant, or one user's."""
    if user != ctx.actor.name:
        ctx.require(Permission.MANAGE_USERS)
    query = (select(app_user.c.name, access_grant.c.role, access_grant.c.scope,
                    access_grant.c.created_at, access_grant.c.created_by)
             .select_from(access_grant.join(app_user))
             .order_by(app_user.c.name, access_grant.c.id))
    with ctx.store.read() as conn:
        if user is not None:
            _user_row(conn, user)
            query = query.where(app_user.c.name == user)
        return [GrantRecord(r.name, r.role, r.scope, utc(r.created_at), r.created_by)
                for r in conn.execute(query)]


# -- tokens -------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What a token is stored and looked up as."""
    # A token is 256 random bits: a fast hash cannot be brute-forced, and lookups stay
    # one indexed equality (a slow password hash would cost every API call).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(ctx: Context, user: str, name: str, days: int | None = DEFAULT_TOKEN_DAYS,
                 value: str | None = None) -> NewToken:
    """A new API token for ``user`` (one's own, or anyone's for those who manage users),
    valid for ``days`` (None: until revoked). The token is returned this once.
    ``value``: the token itself, chosen by the operator (``$CUSTMDM_ADMIN_TOKEN``)
    rather than drawn at random; it must be as long and start as a drawn one."""
    if user != ctx.actor.name:
        ctx.require(Permission.MANAGE_USERS)
    else:
        ctx.require_user()
    if not name.strip():
        raise ValidationError("give the token a name (--name): what it is for")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(f"a token lasts 1–{MAX_TOKEN_DAYS} days (or give no expiry)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if value is not None:
        if not value.startswith(TOKEN_PREFIX) or len(value) < len(token) or not (
                value.isascii() and value.isprintable() and " " not in value):
            raise ValidationError(f"a chosen token starts with {TOKEN_PREFIX} and has at "
                                  f"least {len(token)} characters, no spaces; draw one with "
                                  "`python3 -c 'import secrets; print(\"cmdm_\" + "
                                  "secrets.token_urlsafe(32))'`")
        token = value
    with ctx.store.write() as conn:
        row = _user_row(conn, user)
        if not row.active:
            raise Conflict(f"user {user!r} is disabled")
        now = ctx.now()
        expires = None if days is None else now + timedelta(days=days)
        return _insert_token(ctx, conn, ctx.actor.name, row.id, user, name.strip(), token,
                             now, expires, "token.create")


def _insert_token(ctx: Context, conn: Connection, actor: str, user_id: int, user: str,
                  name: str, token: str, now: datetime, expires: datetime | None,
                  action: str) -> NewToken:
    token_id = conn.execute(api_token.insert().values(
        user_id=user_id, name=name, token_hash=token_hash(token), prefix=token[:12],
        created_at=now, created_by=actor, expires_at=expires)
        .returning(api_token.c.id)).scalar_one()
    write_audit(ctx.store, conn, [audit_row(
        actor, action, "user", user,
        {"token_id": token_id, "name": name, "prefix": token[:12],
         "expires_at": None if expires is None else expires.isoformat()}, now)])
    return NewToken(token, TokenRecord(int(token_id), user, name, token[:12], now,
                                       expires, None, None))


def open_session(ctx: Context, name: str, password: str, hours: int = SESSION_HOURS
                 ) -> NewToken:
    """Log ``name`` in with their password: a token that lasts ``hours`` (a browser
    keeps it in a cookie), listed with the user's tokens and revocable like them.
    The user is the actor, whoever asks; a wrong name or password is PermissionDenied."""
    if not 1 <= hours <= MAX_SESSION_HOURS:
        raise ValidationError(f"a session lasts 1–{MAX_SESSION_HOURS} hours, not {hours}")
    check_password(ctx, name, password)
    with ctx.store.write() as conn:
        row = _user_row(conn, name)
        now = ctx.now()
        # Every login adds a token: those of sessions over for a week go (the audit
        # trail keeps their opening and closing), so the user's list stays short.
        over = now - timedelta(days=7)
        conn.execute(delete(api_token).where(
            api_token.c.user_id == row.id, api_token.c.name == SESSION_TOKEN_NAME,
            or_(api_token.c.revoked_at < over, api_token.c.expires_at < over)))
        return _insert_token(ctx, conn, name, row.id, name, SESSION_TOKEN_NAME,
                             TOKEN_PREFIX + secrets.token_urlsafe(32), now,
                             now + timedelta(hours=hours), "session.open")


def close_session(ctx: Context, token: str) -> bool:
    """Log out: revoke the acting user's session token. False if it was not theirs or
    not open any more (logging out twice is harmless)."""
    with ctx.store.write() as conn:
        row = conn.execute(select(api_token.c.id, app_user.c.name)
                           .select_from(api_token.join(app_user))
                           .where(api_token.c.token_hash == token_hash(token),
                                  api_token.c.revoked_at.is_(None))).first()
        if row is None or row.name != ctx.actor.name:
            return False
        now = ctx.now()
        conn.execute(update(api_token).where(api_token.c.id == row.id)
                     .values(revoked_at=now))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "session.close", "user",
                                                row.name, {"token_id": row.id}, now)])
    return True


def list_tokens(ctx: Context, user: str | None = None) -> list[TokenRecord]:
    """Tokens (never their values), newest first; one user's or all."""
    if user != ctx.actor.name:
        ctx.require(Permission.MANAGE_USERS)
    query = (select(api_token, app_user.c.name.label("user_name"))
             .select_from(api_token.join(app_user)).order_by(api_token.c.id.desc()))
    if user is not None:
        query = query.where(app_user.c.name == user)
    with ctx.store.read() as conn:
        return [TokenRecord(r.id, r.user_name, r.name, r.prefix, utc(r.created_at),
                            r.expires_at and utc(r.expires_at),
                            r.revoked_at and utc(r.revoked_at),
                            r.last_used_at and utc(r.last_used_at))
                for r in conn.execute(query)]


def revoke_token(ctx: Context, token_id: int) -> None:
    """Revoke a token at once (one's own, or anyone's for those who manage users)."""
    with ctx.store.write() as conn:
        row = conn.execute(select(api_token.c.revoked_at, app_user.c.name)
                           .select_from(api_token.join(app_user))
                           .where(api_token.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token {token_id}; see `custmdm token list`")
        if row.name != ctx.actor.name:
            ctx.require(Permission.MANAGE_USERS)
        if row.revoked_at is not None:
            raise Conflict(f"token {token_id} is revoked already")
        now = ctx.now()
        conn.execute(update(api_token).where(api_token.c.id == token_id)
                     .values(revoked_at=now))
        write_audit(ctx.store, conn, [audit_row(ctx.actor.name, "token.revoke", "user",
                                                row.name, {"token_id": token_id}, now)])


def authenticate_token(ctx: Context, token: str) -> str:
    """The name of the user a bearer token belongs to; PermissionDenied if it is unknown,
    revoked, expired, or its user is disabled."""
    now = ctx.now()
    with ctx.store.read() as conn:
        row = conn.execute(
            select(api_token.c.id, api_token.c.expires_at, api_token.c.revoked_at,
                   api_token.c.last_used_at, app_user.c.name, app_user.c.active)
            .select_from(api_token.join(app_user))
            .where(api_token.c.token_hash == token_hash(token.strip()))).first()
    if row is None or row.revoked_at is not None or not row.active or (
            row.expires_at is not None and utc(row.expires_at) <= now):
        raise PermissionDenied("the token is unknown, revoked or expired, or its user is "
                               "disabled")
    if row.last_used_at is None or now - utc(row.last_used_at) > timedelta(minutes=1):
        # At most once a minute: a busy client must not turn every read into a write.
        with ctx.store.write() as conn:
            conn.execute(update(api_token).where(api_token.c.id == row.id)
                         .values(last_used_at=now))
    return str(row.name)

