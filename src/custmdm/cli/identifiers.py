"""``custmdm identifier …``: a customer's official identifiers after registration."""

from __future__ import annotations

from typing import Annotated

import typer

from custmdm.cli.common import (
    CodeArgument,
    JsonOption,
    OverrideOption,
    ReasonOption,
    duplicates_as_json,
    fail,
    print_customer,
    register,
)

identifier_app: typer.Typer = typer.Typer(
    help="Identifiers (证照号码): add one a customer got later, remove a wrong one.",
    no_args_is_help=True)


@identifier_app.command("add")
def identifier_add(
    code: CodeArgument,
    identifier: Annotated[str, typer.Argument(
        metavar="SCHEME=VALUE", help="cn.uscc, cn.ric or vat.<cc>, e.g. "
                                     "cn.uscc=91440300708461136T.")],
    override: OverrideOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give a customer an identifier of a scheme it has none of. Checked for
    duplicates like a registration; refused if another active customer holds it."""
    scheme, separator, value = identifier.partition("=")
    if not separator or not scheme.strip() or not value.strip():
        fail(f"{identifier!r}: write SCHEME=VALUE, e.g. cn.uscc=91440300708461136T", 2)
    with register() as reg, duplicates_as_json(as_json):
        record = reg.add_identifier(code, scheme, value, override_reason=override)
    print_customer(record, as_json)


@identifier_app.command("remove")
def identifier_remove(
    code: CodeArgument,
    identifier: Annotated[str, typer.Argument(
        metavar="SCHEME[=VALUE]", help="The scheme of the identifier to remove; with the "
                                       "value when the customer has two of it (after a "
                                       "merge).")],
    reason: ReasonOption,
    as_json: JsonOption = False,
) -> None:
    """Remove a customer's identifier given in error (the audit trail keeps it; a
    person's ID number masked)."""
    scheme, separator, value = identifier.partition("=")
    with register() as reg:
        record = reg.remove_identifier(code, scheme, reason,
                                       value=value if separator else None)
    print_customer(record, as_json)
