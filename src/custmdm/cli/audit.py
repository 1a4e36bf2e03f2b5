"""``custmdm audit …``: read the audit trail and prove it intact."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from custmdm.cli.common import JsonOption, emit_json, emit_list, err, out, register
from custmdm.core.audit import AuditFilter
from custmdm.core.context import business_timezone

key_app: typer.Typer = typer.Typer(
    help="The register's keys (kept in the key file, never in the database).",
    no_args_is_help=True)

audit_app: typer.Typer = typer.Typer(
    help="The audit trail (审计记录): every change, chained so that tampering shows.",
    no_args_is_help=True)

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _in_business_zone(value: datetime | None) -> datetime | None:
    """A time typed on the command line, read in $CUSTMDM_TIMEZONE (else the machine's)."""
    if value is None:
        return None
    zone = business_timezone()
    return value.replace(tzinfo=zone) if zone is not None else value.astimezone()


@audit_app.command("log")
def audit_log(
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    action: Annotated[str | None, typer.Option(
        help="Only this action, e.g. customer.rename; end with a dot for a family "
             "(customer.).")] = None,
    customer: Annotated[str | None, typer.Option(
        "--customer", help="Only entries about the customer with this code (any code it "
                           "ever had).")] = None,
    entity: Annotated[str | None, typer.Option(
        help="Only entries about this kind of thing: customer, coding_rule, xref …")] = None,
    entity_id: Annotated[str | None, typer.Option(
        "--id", help="Only entries about the thing with this id (with --entity).")] = None,
    since: Annotated[datetime | None, typer.Option(
        formats=_TIME_FORMATS, help="From this day or time (YYYY-MM-DD[THH:MM:SS]).")] = None,
    until: Annotated[datetime | None, typer.Option(
        formats=_TIME_FORMATS, help="Before this day or time.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Audit entries, newest first."""
    filters = AuditFilter(actor=actor, action=action, code=customer, entity=entity,
                          entity_id=entity_id, since=_in_business_zone(since),
                          until=_in_business_zone(until), limit=limit)
    with register() as reg:
        entries = reg.audit_log(filters)
    if as_json:
        emit_list(entries)
        return
    table = Table("#", "at (UTC)", "actor", "action", "about", "detail")
    for name in ("#", "at (UTC)", "action"):
        column = next(c for c in table.columns if c.header == name)
        column.no_wrap = True
    table.columns[-1].overflow = "fold"
    for e in entries:
        table.add_row(str(e.seq), e.at.strftime("%Y-%m-%d %H:%M"), e.actor, e.action,
                      f"{e.entity} {e.entity_id}", _short(e.detail))
    out.print(table)


def _short(detail: dict[str, object], width: int = 80) -> str:
    text = ", ".join(f"{k}={v}" for k, v in detail.items())
    return text if len(text) <= width else text[:width - 1] + "…"


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[str | None, typer.Option(
        "--anchor", metavar="SEQ:MAC",
        help="An entry an earlier verify printed (kept outside the database): the chain "
             "must still contain it, which shows an end cut off with its head.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the whole chain and report the first broken link: an entry altered,
    deleted or inserted outside CustMDM. Exits 8 when the chain is broken."""
    with register() as reg:
        report = reg.verify_audit(anchor)
    if as_json:
        emit_json({"intact": report.intact, "entries": report.entries,
                   "last_seq": report.last_seq, "last_mac": report.last_mac,
                   "broken_at": report.broken_at, "problem": report.problem})
    elif report.intact:
        out.print(f"[green]audit chain intact[/green]: {report.entries} entries; anchor "
                  f"{report.last_seq}:{report.last_mac}", highlight=False, soft_wrap=True)
    else:
        err.print(f"audit chain broken at entry #{report.broken_at}: {report.problem}",
                  markup=False)
        err.print(f"the {report.entries} entries before it verify", markup=False)
    if not report.intact:
        raise typer.Exit(8)


@key_app.command("rotate")
def key_rotate(
    purpose: Annotated[str, typer.Option(
        help="Which key: audit (signs the audit trail) or data (encrypts personal "
             "data: every value is re-encrypted, in batches, while the register stays "
             "in use).")] = "audit",
    resume: Annotated[bool, typer.Option(
        "--resume", help="Data key: make no new key, finish re-encrypting under the "
                         "current one (after an interrupted rotation).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Make a new current key; the old one stays in the key file for what it protected.
    Other running processes sign with the old audit key until they restart; they read
    the new data key from the key file when they first meet a value sealed under it."""
    with register() as reg:
        rotation = reg.rotate_key(purpose, resume=resume)
    if as_json:
        emit_json(rotation.to_dict())
        return
    was = f" (was {rotation.old_key})" if rotation.old_key else ""
    out.print(f"{rotation.purpose} key {rotation.new_key} is current{was} in "
              f"{rotation.key_file}: back the key file up again", highlight=False,
              soft_wrap=True)
    if rotation.resealed is not None:
        out.print(f"{rotation.resealed} values re-encrypted under {rotation.new_key}",
                  highlight=False)
