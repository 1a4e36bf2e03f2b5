"""``custmdm request …`` and ``custmdm approval …``: maker–checker."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custmdm.cli.common import JsonOption, emit_json, emit_list, out, register
from custmdm.core.requests import APPROVABLE, ChangeRequest

request_app: typer.Typer = typer.Typer(
    help="Change requests (变更申请): governed changes waiting for a second user.",
    no_args_is_help=True)
approval_app: typer.Typer = typer.Typer(
    help="Which actions need approval: " + ", ".join(APPROVABLE) + ".",
    no_args_is_help=True)

RequestId = Annotated[int, typer.Argument(help="The change request's number.")]


@request_app.command("list")
def request_list(
    status: Annotated[str, typer.Option(
        help="pending, applied, rejected, conflict, withdrawn, or all.")] = "pending",
    mine: Annotated[bool, typer.Option("--mine", help="Only requests I made.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """My requests and those I may approve, newest first."""
    with register() as reg:
        found = reg.requests(None if status == "all" else status, mine=mine, limit=limit)
    if as_json:
        emit_list(found)
        return
    table = Table("#", "action", "about", "status", "by", "at (UTC)", "reason", "decided")
    for r in found:
        decided = f"{r.decided_by}: {r.decision_reason or ''}" if r.decided_by else ""
        table.add_row(str(r.id), r.action, r.target, r.status, r.requested_by,
                      r.requested_at.strftime("%Y-%m-%d %H:%M"), r.reason or "", decided)
    out.print(table)


def _print(request: ChangeRequest, as_json: bool) -> None:
    if as_json:
        emit_json(request.to_dict())
        return
    out.print(f"change request {request.id}: {request.action} {request.target} — "
              f"{request.status}" + (f" by {request.decided_by}" if request.decided_by
                                     else ""), highlight=False)


@request_app.command("show")
def request_show(request_id: RequestId, as_json: JsonOption = True) -> None:
    """One change request with the change it holds."""
    with register() as reg:
        _print(reg.request(request_id), as_json)


@request_app.command("approve")
def request_approve(
    request_id: RequestId,
    reason: Annotated[str | None, typer.Option(help="A note for the record.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply another user's request: as they asked it, if nothing changed since."""
    with register() as reg:
        _print(reg.approve(request_id, reason), as_json)


@request_app.command("reject")
def request_reject(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(help="Why; the requester sees it.")],
    as_json: JsonOption = False,
) -> None:
    """Refuse a pending request."""
    with register() as reg:
        _print(reg.reject(request_id, reason), as_json)


@request_app.command("withdraw")
def request_withdraw(request_id: RequestId, as_json: JsonOption = False) -> None:
    """Take back one's own pending request."""
    with register() as reg:
        _print(reg.withdraw(request_id), as_json)


@approval_app.command("add")
def approval_add(action: Annotated[str, typer.Argument(help=", ".join(APPROVABLE))]) -> None:
    """Make an action need a second user's approval."""
    with register() as reg:
        reg.set_approval_rule(action, True)
    out.print(f"{action} now needs approval", highlight=False)


@approval_app.command("remove")
def approval_remove(action: Annotated[str, typer.Argument(help=", ".join(APPROVABLE))]
                    ) -> None:
    """Let an action apply at once again."""
    with register() as reg:
        reg.set_approval_rule(action, False)
    out.print(f"{action} applies at once", highlight=False)


@approval_app.command("list")
def approval_list(as_json: JsonOption = False) -> None:
    """The actions that need approval."""
    with register() as reg:
        actions = reg.approval_rules()
    if as_json:
        emit_list(actions)
        return
    for action in APPROVABLE:
        mark = "needs approval" if action in actions else "applies at once"
        out.print(f"{action:22} {mark:16} {APPROVABLE[action]}", highlight=False)
