"""What every ``custmdm`` command shares: the global options, opening the register
with errors turned into one line on stderr, JSON output, and printing customers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from custmdm.core.customers import CustomerDraft, CustomerRecord
from custmdm.core.dedup import DuplicateSuspected
from custmdm.core.registry import Resolution
from custmdm.domain.identifiers import parse_identifier_arg
from custmdm.errors import ApprovalRequired, CustMDMError
from custmdm.register import Register, open_register

customer_app = typer.Typer(help="Customers (客户): register, find, re-code, retire.",
                           no_args_is_help=True)

out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CodeArgument = Annotated[str, typer.Argument(help="The customer's code.")]
ReasonOption = Annotated[str, typer.Option(help="Why; recorded in the audit trail.")]

# What a customer is registered (or checked for duplicates) with.
KindOption = Annotated[str, typer.Option(help="enterprise, individual, government or other.")]
NameOption = Annotated[str, typer.Option("--name", help="Legal (registered) name, as written.")]
IdsOption = Annotated[list[str] | None, typer.Option(
    "--id", help="Identifier SCHEME=VALUE: cn.uscc, cn.ric, vat.<cc>. Repeatable.")]
RegionOption = Annotated[str | None, typer.Option(
    help="GB/T 2260 code (e.g. 440305) or ISO 3166 country (e.g. DE).")]
IndustryOption = Annotated[str | None, typer.Option(help="GB/T 4754 section or division.")]
ShortOption = Annotated[list[str] | None, typer.Option(
    "--short", help="A short name (简称). Repeatable.")]
AliasOption = Annotated[list[str] | None, typer.Option(
    "--alias", help="An alias or nickname. Repeatable.")]
EnglishOption = Annotated[list[str] | None, typer.Option(
    "--english", help="An English name. Repeatable.")]
CodenameOption = Annotated[list[str] | None, typer.Option(
    "--codename", help="A code name. Repeatable.")]
PhoneOption = Annotated[list[str] | None, typer.Option(
    "--phone", help="A phone number, written any usual way. Repeatable.")]
EmailOption = Annotated[list[str] | None, typer.Option(
    "--email", help="An e-mail address. Repeatable.")]
AddressOption = Annotated[str | None, typer.Option(help="The address.")]
OverrideOption = Annotated[str | None, typer.Option(
    "--override", metavar="REASON",
    help="Go ahead although the duplicate check warns; the reason is audited.")]
LegalRepOption = Annotated[str | None, typer.Option(
    "--legal-rep", help="The legal representative (法定代表人).")]


def build_draft(
    kind: str, name: str, ids: list[str] | None, *, region: str | None = None,
    industry: str | None = None, size: str | None = None, grade: str | None = None,
    owner: str | None = None, status: str = "active", short: list[str] | None = None,
    alias: list[str] | None = None, english: list[str] | None = None,
    codename: list[str] | None = None, phone: list[str] | None = None,
    email: list[str] | None = None, address: str | None = None,
    legal_rep: str | None = None,
) -> CustomerDraft:
    """A draft from the command line's options."""
    other_names = [(kind_, text) for kind_, texts in (
        ("short", short), ("alias", alias), ("english", english), ("codename", codename))
        for text in texts or []]
    return CustomerDraft(
        kind=kind, legal_name=name, identifiers=[parse_identifier_arg(i) for i in ids or []],
        region=region, industry=industry, size=size, grade=grade, owner=owner,
        lifecycle=status, names=other_names, phones=phone or [], emails=email or [],
        address=address, legal_representative=legal_rep)


@contextmanager
def duplicates_as_json(as_json: bool) -> Iterator[None]:
    """With --json, a refusal by the duplicate check prints its candidates as JSON
    on stdout (scripts need them) before the one-line error."""
    try:
        yield
    except DuplicateSuspected as refused:
        if as_json:
            emit_json({"error": refused.message, **refused.result.to_dict()})
        raise


def day_of(value: datetime | None) -> date | None:
    """The day of a ``--date``-style option (typer parses dates as datetimes)."""
    return None if value is None else value.date()


class State:
    """Global options, set by the callback."""

    db: str | None = None
    actor: str | None = None


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, then exit non-zero."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


@contextmanager
def register(*, needs_schema: bool = True) -> Iterator[Register]:
    """Open the register and translate library errors into CLI errors."""
    try:
        reg = open_register(State.db, actor=State.actor)
    except CustMDMError as error:
        fail(error.message, error.exit_code)
    try:
        if needs_schema:
            reg.require_schema()
        yield reg
    except ApprovalRequired as held:  # not an error: the change waits for a second user
        err.print(f"pending approval: {held.message}", markup=False)
        raise typer.Exit(held.exit_code) from None
    except CustMDMError as error:
        fail(error.message, error.exit_code)
    except OperationalError as error:
        fail(f"database error: {str(error.orig).strip().splitlines()[0]}", 7)
    except SQLAlchemyError as error:  # a last resort: still one line, never a traceback
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        fail(f"database error: {detail}", 7)
    finally:
        reg.close()


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def emit_list(items: Sequence[Any]) -> None:
    """A list as JSON in the shape every list command prints: ``{data, count}``."""
    emit_json({"data": [i.to_dict() if hasattr(i, "to_dict") else i for i in items],
               "count": len(items)})


def print_customer(record: CustomerRecord, as_json: bool) -> None:
    if as_json:
        emit_json(record.to_dict())
        return
    out.print(f"[bold]{record.code}[/bold]  {record.legal_name}", highlight=False)
    out.print(f"  kind {record.kind} · status {record.status} · region "
              f"{record.region or record.country} · industry {record.industry or '-'} · "
              f"owner {record.owner or '-'} · version {record.version}", highlight=False)
    for ident in record.shown_identifiers():
        out.print(f"  {ident.scheme} {ident.value}", highlight=False)
    for shown in record.shown_contacts():
        out.print(f"  {shown['kind'].replace('_', ' ')} {shown['value']}", highlight=False,
                  markup=False)
    for code in record.codes:
        out.print(f"  code {code.value} {code.status} ({code.rule or 'explicit'}) "
                  f"{code.reason or ''}", highlight=False, markup=False)


def print_resolution(found: Resolution, as_json: bool) -> None:
    if as_json:
        emit_json(found.to_dict())
        return
    if not found.is_current:
        out.print(f"[yellow]{found.requested_code} is {found.requested_status}; the current "
                  f"code is {found.customer.code}[/yellow]")
    print_customer(found.customer, as_json=False)
