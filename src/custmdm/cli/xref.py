"""``custmdm system …`` and ``custmdm xref …``: other systems and their ids."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custmdm.cli.common import (
    CodeArgument,
    JsonOption,
    ReasonOption,
    day_of,
    emit_json,
    out,
    print_customer,
    register,
)
from custmdm.core.xref import KeyMapping

system_app: typer.Typer = typer.Typer(
    help="Systems (外部系统) that know customers under their own ids.", no_args_is_help=True)
xref_app: typer.Typer = typer.Typer(
    help="Key mapping (客户对应关系): a system's id and name for a customer.",
    no_args_is_help=True)

SystemOption = Annotated[str, typer.Option("--system", help="The system's name, e.g. ERP.")]
ExternalIdOption = Annotated[str, typer.Option("--external-id", help="The system's own id.")]


@system_app.command("add")
def system_add(
    name: Annotated[str, typer.Argument(help="Short name without spaces, e.g. ERP.")],
    description: Annotated[str | None, typer.Option(help="What the system is.")] = None,
) -> None:
    """Register a system."""
    with register() as reg:
        added = reg.add_system(name, description)
    out.print(f"system {added} registered", highlight=False, markup=False)


@system_app.command("list")
def system_list(as_json: JsonOption = False) -> None:
    """Every registered system."""
    with register() as reg:
        systems = reg.systems()
    if as_json:
        emit_json([{"name": n, "description": d} for n, d in systems])
        return
    table = Table("system", "description")
    for name, description in systems:
        table.add_row(name, description or "")
    out.print(table)


@xref_app.command("add")
def xref_add(
    code: CodeArgument,
    system: SystemOption,
    external_id: ExternalIdOption,
    external_name: Annotated[str | None, typer.Option(
        "--external-name", help="What the system calls the customer.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Map a system's id (and name) to a customer; never takes it from another one."""
    with register() as reg:
        mapping = reg.add_xref(code, system, external_id, external_name)
    _print_mappings([mapping], as_json, single=True)


@xref_app.command("find")
def xref_find(system: SystemOption, external_id: ExternalIdOption,
              as_json: JsonOption = False) -> None:
    """Which customer a system means by its id."""
    with register() as reg:
        match = reg.find_xref(system, external_id)
    if as_json:
        emit_json(match.to_dict())
        return
    out.print(f"{system} {external_id} → {match.customer.code}", highlight=False,
              markup=False)
    print_customer(match.customer, as_json=False)


@xref_app.command("list")
def xref_list(
    code: Annotated[str, typer.Argument(help="Any code the customer has or had.")],
    system: Annotated[str | None, typer.Option(help="Only this system.")] = None,
    as_json: JsonOption = False,
) -> None:
    """What other systems call a customer (ended mappings included)."""
    with register() as reg:
        mappings = reg.xrefs(code, system)
    _print_mappings(mappings, as_json)


@xref_app.command("move")
def xref_move(
    system: SystemOption,
    external_id: ExternalIdOption,
    to: Annotated[str, typer.Option("--to", help="The customer's code it belongs to.")],
    reason: ReasonOption,
    on: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="The day it moves (default: today).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move a system's id to another customer (the old mapping ends that day)."""
    with register() as reg:
        mapping = reg.move_xref(system, external_id, to, reason,
                                on=day_of(on))
    _print_mappings([mapping], as_json, single=True)


@xref_app.command("import")
def xref_import(
    file: Annotated[Path, typer.Argument(help="CSV with header code,external_id,external_name.")],
    system: SystemOption,
    as_json: JsonOption = False,
) -> None:
    """Add or refresh a system's mappings from a CSV file: all rows or none."""
    with register() as reg:
        result = reg.import_xrefs(file, system)
    if as_json:
        emit_json({"added": result.added, "renamed": result.renamed,
                   "unchanged": result.unchanged})
    else:
        out.print(f"{system}: {result.added} added, {result.renamed} renamed, "
                  f"{result.unchanged} unchanged", highlight=False)


def _print_mappings(mappings: list[KeyMapping], as_json: bool, single: bool = False) -> None:
    if as_json:
        emit_json(mappings[0].to_dict() if single else [m.to_dict() for m in mappings])
        return
    table = Table("system", "external id", "external name", "code", "from", "until")
    for m in mappings:
        table.add_row(m.system, m.external_id, m.external_name or "", m.customer_code,
                      "" if m.valid_from is None else m.valid_from.isoformat(),
                      "" if m.valid_to is None else m.valid_to.isoformat())
    out.print(table)
