"""``custmdm name …``, ``customer rename``, ``naming-rule …`` and ``search``: names, the rules
they follow, and finding customers by them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from custmdm.cli.common import (
    CodeArgument,
    JsonOption,
    OverrideOption,
    ReasonOption,
    customer_app,
    day_of,
    duplicates_as_json,
    emit_json,
    fail,
    out,
    print_customer,
    register,
)
from custmdm.core.customers import iso
from custmdm.core.names import NameRecord
from custmdm.domain.naming import NamingRule

name_app: typer.Typer = typer.Typer(
    help="Names (名称): short names, aliases, English names, code names.",
    no_args_is_help=True)


@name_app.command("add")
def name_add(
    code: CodeArgument,
    name: Annotated[str, typer.Argument(help="The name, exactly as written.")],
    kind: Annotated[str, typer.Option(help="short, alias, english or codename.")],
    valid_from: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Valid from this day (YYYY-MM-DD); default: always.")
    ] = None,
    source: Annotated[str | None, typer.Option(
        help="Who or what gave the name (default: the actor).")] = None,
    override: OverrideOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give a customer another name. To change the legal name, use `customer rename`."""
    with register() as reg, duplicates_as_json(as_json):
        added = reg.add_name(code, kind, name, valid_from=day_of(valid_from), source=source,
                             override_reason=override)
    if as_json:
        emit_json(added.to_dict())
    else:
        out.print(f"{code}: added {added.kind} name {added.text} "
                  f"(pinyin {added.pinyin}, initials {added.initials})",
                  highlight=False, markup=False)


@name_app.command("list")
def name_list(
    code: Annotated[str, typer.Argument(help="Any code the customer has or had.")],
    at: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Only the names valid on this day (YYYY-MM-DD).")] = None,
    as_json: JsonOption = False,
) -> None:
    """A customer's names, former ones included (or those valid on --at)."""
    with register() as reg:
        names = reg.names(code, at=day_of(at))
    if as_json:
        emit_json([n.to_dict() for n in names])
        return
    _print_names(names)


def _print_names(names: list[NameRecord]) -> None:
    table = Table("kind", "name", "valid from", "valid to", "pinyin initials", "source")
    for n in names:
        table.add_row(n.kind, n.text, iso(n.valid_from) or "", iso(n.valid_to) or "", n.initials,
                      n.source or "")
    out.print(table)


@customer_app.command("rename")
def customer_rename(
    code: CodeArgument,
    new_legal_name: Annotated[str, typer.Argument(help="The new legal name, as registered.")],
    reason: ReasonOption,
    on: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="The day the new name takes effect (default: today).")
    ] = None,
    override: OverrideOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the legal name; the old one stays as a former name until --on."""
    if not new_legal_name.strip():
        fail("give the new legal name")
    with register() as reg, duplicates_as_json(as_json):
        record = reg.rename(code, new_legal_name, reason, on=day_of(on),
                            override_reason=override)
    print_customer(record, as_json)


def search_command(
    text: Annotated[str, typer.Argument(help="A code, name or part of it, pinyin or its "
                                             "initials, an identifier or another system's id.")],
    limit: Annotated[int, typer.Option(help="At most this many customers.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Find customers by whatever you have at hand; typos tolerated."""
    with register() as reg:
        hits = reg.search(text, limit=limit)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    table = Table("code", "legal name", "status", "why", "matched")
    for hit in hits:
        table.add_row(hit.customer.code, hit.customer.legal_name, hit.customer.status,
                      f"{hit.match} {hit.field}"
                      + (f" ({hit.score:.0f})" if hit.match == "similar" else ""),
                      hit.matched)
    out.print(table)
    if not hits:
        out.print("no customer matches", highlight=False)


naming_app: typer.Typer = typer.Typer(
    help="Naming rules (命名规则) that names must follow.", no_args_is_help=True)


@naming_app.command("add")
def naming_rule_add(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    kind: Annotated[str | None, typer.Option(
        help="Customer kind it applies to (default: every kind).")] = None,
    name_kind: Annotated[list[str] | None, typer.Option(
        "--name-kind", help="Name kind it applies to (repeatable; default: legal).")] = None,
    require: Annotated[list[str] | None, typer.Option(
        help="A part the name needs: legal_form, region, trade_name, industry. "
             "Repeatable.")] = None,
    forbid: Annotated[list[str] | None, typer.Option(
        help="A word the name must not contain. Repeatable.")] = None,
    min_length: Annotated[int | None, typer.Option(help="At least this many characters.")
                          ] = None,
    max_length: Annotated[int | None, typer.Option(help="At most this many characters.")
                          ] = None,
    allow: Annotated[str | None, typer.Option(
        help="Allowed character classes, comma-separated: han, latin, digit, space, "
             "brackets, punctuation (default: any).")] = None,
    allow_extra: Annotated[str, typer.Option(help="Further allowed characters.")] = "",
    description: Annotated[str, typer.Option(help="What the rule is for.")] = "",
) -> None:
    """Add a naming rule: names given from now on must follow it."""
    with register() as reg:
        rule = NamingRule(
            name, kind, tuple(name_kind or ("legal",)), tuple(require or ()),
            tuple(forbid or ()), min_length, max_length,
            tuple(c.strip() for c in (allow or "").split(",") if c.strip()), allow_extra,
            description)
        reg.add_naming_rule(rule)
    out.print(f"naming rule {name} added", highlight=False, markup=False)


@naming_app.command("list")
def naming_rule_list(as_json: JsonOption = False) -> None:
    """Every naming rule."""
    with register() as reg:
        rules = reg.naming_rules()
    if as_json:
        emit_json([asdict(r) for r in rules])
        return
    table = Table("rule", "kind", "names", "requires", "forbids", "length", "characters")
    for r in rules:
        length = f"{r.min_length or ''}–{r.max_length or ''}" if (
            r.min_length or r.max_length) else ""
        table.add_row(r.name, r.kind or "all", ", ".join(r.name_kinds),
                      ", ".join(r.required_parts), ", ".join(r.forbidden_words), length,
                      ", ".join(r.allowed_characters) + (f" + {r.extra_characters}"
                                                         if r.extra_characters else ""))
    out.print(table)


@naming_app.command("remove")
def naming_rule_remove(name: Annotated[str, typer.Argument(help="Rule name.")]) -> None:
    """Remove a naming rule."""
    with register() as reg:
        reg.remove_naming_rule(name)
    out.print(f"naming rule {name} removed", highlight=False, markup=False)
