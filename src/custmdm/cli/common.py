"""What every ``custmdm`` command shares: the global options, opening the register
with errors turned into one line on stderr, JSON output, and printing customers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from custmdm.core.customers import CustomerRecord
from custmdm.core.registry import Resolution
from custmdm.errors import CustMDMError
from custmdm.register import Register, open_register

customer_app = typer.Typer(help="Customers (客户): register, find, re-code, retire.",
                           no_args_is_help=True)

out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CodeArgument = Annotated[str, typer.Argument(help="The customer's code.")]
ReasonOption = Annotated[str, typer.Option(help="Why; recorded in the audit trail.")]


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


def print_customer(record: CustomerRecord, as_json: bool) -> None:
    if as_json:
        emit_json(record.to_dict())
        return
    out.print(f"[bold]{record.code}[/bold]  {record.legal_name}", highlight=False)
    out.print(f"  kind {record.kind} · status {record.status} · region "
              f"{record.region or record.country} · industry {record.industry or '-'} · "
              f"owner {record.owner or '-'} · version {record.version}", highlight=False)
    for ident in record.identifiers:
        out.print(f"  {ident.scheme} {ident.value}", highlight=False)
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
