"""``custmdm user|role|grant|token …``: who may do what.

The command line acts as the user ``--actor`` names (default: your login name;
``custmdm init`` makes the first user an administrator). Whoever can open the database
and its key file can name any user, so on one machine this is accountability, not a
lock; the API (bearer tokens, passwords) is where users prove who they are.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from custmdm.cli.common import JsonOption, emit_json, emit_list, fail, out, register
from custmdm.core.access import DEFAULT_TOKEN_DAYS, UserRecord
from custmdm.security.access import Permission

user_app: typer.Typer = typer.Typer(help="Users (people and other systems).",
                                    no_args_is_help=True)
role_app: typer.Typer = typer.Typer(help="Roles: sets of permissions.", no_args_is_help=True)
grant_app: typer.Typer = typer.Typer(
    help="Grants: a role within a scope (all, own, region:44, industry:C, team:NAME).",
    no_args_is_help=True)
token_app: typer.Typer = typer.Typer(help="API tokens (shown once, stored hashed).",
                                     no_args_is_help=True)

PasswordOption = Annotated[bool, typer.Option(
    "--password", help="Ask for a password (for the API and web login).")]
PasswordStdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin (scripts).")]
ScopeOption = Annotated[str, typer.Option(
    help="all, own, region:CODE (GB/T 2260 prefix or ISO country), industry:CODE "
         "(section letter or division), team:NAME.")]


def _password(ask: bool, from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("--password-stdin: stdin has no password on its first line", 2)
        return line
    if ask:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return None


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    team: Annotated[str | None, typer.Option(help="Team, for grants with scope team:NAME.")
                    ] = None,
    system: Annotated[bool, typer.Option(
        "--system", help="Another system (ERP, CRM …) that will use API tokens.")] = False,
    role: Annotated[str | None, typer.Option(help="Grant this role at once.")] = None,
    scope: ScopeOption = "all",
    password: PasswordOption = False,
    password_stdin: PasswordStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add a user (and, with --role, grant them a role within --scope)."""
    secret = _password(password, password_stdin)
    with register() as reg:
        user = reg.add_user(name, display_name=display_name, team=team,
                            kind="system" if system else "person", password=secret)
        if role:
            reg.grant(name, role, scope)
            user = next(u for u in reg.users() if u.name == name)
    _print_users([user], as_json)


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """Every user with their grants."""
    with register() as reg:
        users = reg.users()
    _print_users(users, as_json)


def _print_users(users: list[UserRecord], as_json: bool) -> None:
    if as_json:
        emit_list(users)
        return
    table = Table("user", "kind", "team", "status", "password", "grants")
    for u in users:
        table.add_row(u.name + (f" ({u.display_name})" if u.display_name else ""), u.kind,
                      u.team or "", "active" if u.active else f"disabled: {u.disabled_reason}",
                      "yes" if u.has_password else "no", "; ".join(u.grants))
    out.print(table)


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="Login name.")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit trail.")],
) -> None:
    """Disable a user: their grants and tokens stop working; nothing is deleted."""
    with register() as reg:
        reg.disable_user(name, reason)
    out.print(f"disabled {name}", highlight=False)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Enable a disabled user again."""
    with register() as reg:
        reg.enable_user(name)
    out.print(f"enabled {name}", highlight=False)


@user_app.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Set a user's password (asked for, or read from stdin)."""
    secret = _password(True, password_stdin)
    assert secret is not None
    with register() as reg:
        reg.set_password(name, secret)
    out.print(f"password set for {name}", highlight=False)


@role_app.command("list")
def role_list(as_json: JsonOption = False) -> None:
    """Built-in and custom roles with their permissions."""
    with register() as reg:
        roles = reg.roles()
    if as_json:
        emit_list(roles)
        return
    table = Table("role", "built in", "permissions", "what for")
    for r in roles:
        table.add_row(r.name, "yes" if r.builtin else "", ", ".join(r.permissions),
                      r.description or "")
    out.print(table)


@role_app.command("add")
def role_add(
    name: Annotated[str, typer.Argument(help="Role name (lower case).")],
    permission: Annotated[list[str], typer.Option(
        "--permission", "-p",
        help=f"A permission (repeat): {', '.join(p.value for p in Permission)}.")],
    description: Annotated[str | None, typer.Option(help="What the role is for.")] = None,
) -> None:
    """Define a custom role."""
    with register() as reg:
        role = reg.add_role(name, permission, description)
    out.print(f"role {role.name}: {', '.join(role.permissions)}", highlight=False)


@role_app.command("remove")
def role_remove(name: Annotated[str, typer.Argument(help="Role name.")]) -> None:
    """Remove a custom role that no grant uses."""
    with register() as reg:
        reg.remove_role(name)
    out.print(f"removed role {name}", highlight=False)


@grant_app.command("add")
def grant_add(
    user: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help="Role name (see `custmdm role list`).")],
    scope: ScopeOption = "all",
) -> None:
    """Give a user a role within a scope."""
    with register() as reg:
        granted = reg.grant(user, role, scope)
    out.print(f"{granted.user} has {granted.role} in {granted.scope}", highlight=False)


@grant_app.command("revoke")
def grant_revoke(
    user: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help="Role name.")],
    scope: ScopeOption = "all",
) -> None:
    """Take a grant back."""
    with register() as reg:
        reg.revoke(user, role, scope)
    out.print(f"revoked {role} in {scope} from {user}", highlight=False)


@grant_app.command("list")
def grant_list(
    user: Annotated[str | None, typer.Argument(help="Only this user's grants.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every grant, or one user's."""
    with register() as reg:
        grants = reg.grants(user)
    if as_json:
        emit_list(grants)
        return
    table = Table("user", "role", "scope", "granted", "by")
    for g in grants:
        table.add_row(g.user, g.role, g.scope, g.created_at.strftime("%Y-%m-%d"),
                      g.created_by)
    out.print(table)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="Login name of the token's user.")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'ERP sync'.")],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = DEFAULT_TOKEN_DAYS,
    no_expiry: Annotated[bool, typer.Option(
        "--no-expiry", help="Valid until revoked.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an API token. It is printed this once: CustMDM keeps only its hash."""
    with register() as reg:
        made = reg.create_token(user, name, None if no_expiry else days)
    if as_json:
        emit_json({"token": made.token, **made.record.to_dict()})
        return
    expires = made.record.expires_at.strftime("%Y-%m-%d") if made.record.expires_at \
        else "never"
    out.print(made.token, highlight=False, markup=False)
    out.print(f"token {made.record.id} for {user} ({name}), expires {expires}. Copy it now: "
              "it is not shown again.", highlight=False)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens (never their values), newest first."""
    with register() as reg:
        tokens = reg.tokens(user)
        now = reg.ctx.now()
    if as_json:
        emit_json({"data": [{**t.to_dict(), "status": t.status(now)} for t in tokens],
                   "count": len(tokens)})
        return
    table = Table("id", "user", "name", "starts", "status", "expires", "last used")
    for t in tokens:
        table.add_row(str(t.id), t.user, t.name, t.prefix + "…", t.status(now),
                      t.expires_at.strftime("%Y-%m-%d") if t.expires_at else "never",
                      t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token at once."""
    with register() as reg:
        reg.revoke_token(token_id)
    out.print(f"revoked token {token_id}", highlight=False)
