"""The ``custmdm`` command: a thin skin over :class:`custmdm.Register`.

Each command parses its options, calls one library method, and prints the result as a
Rich table or, with ``--json``, as one JSON document. Library errors become one line on
stderr and a non-zero exit code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from custmdm.cli import access, audit, dedup, identifiers, names, requests, xref
from custmdm.cli.common import (
    AddressOption,
    AliasOption,
    CodeArgument,
    CodenameOption,
    EmailOption,
    EnglishOption,
    IdsOption,
    IndustryOption,
    JsonOption,
    KindOption,
    LegalRepOption,
    NameOption,
    OverrideOption,
    PhoneOption,
    ReasonOption,
    RegionOption,
    ShortOption,
    State,
    build_draft,
    customer_app,
    duplicates_as_json,
    emit_json,
    err,
    fail,
    out,
    print_customer,
    print_resolution,
    register,
)
from custmdm.core.customers import CustomerRecord
from custmdm.core.registry import CustomerFilter
from custmdm.errors import CustMDMError, PermissionDenied
from custmdm.register import Register
from custmdm.store.database import DEFAULT_DATABASE_ENV

app = typer.Typer(
    name="custmdm",
    help="CustMDM: register each customer once, with a code that is unique for ever.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
rule_app = typer.Typer(help="Coding rules (编码规则): the patterns codes are made from.",
                       no_args_is_help=True)
check_app = typer.Typer(help="Integrity checks.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")
app.add_typer(customer_app, name="customer")
app.add_typer(check_app, name="check")
app.add_typer(names.name_app, name="name")
app.add_typer(identifiers.identifier_app, name="identifier")
app.add_typer(xref.system_app, name="system")
app.add_typer(xref.xref_app, name="xref")
app.command("search")(names.search_command)
app.add_typer(names.naming_app, name="naming-rule")
app.add_typer(dedup.dedup_app, name="dedup")
app.command("merge")(dedup.merge_command)
app.add_typer(audit.audit_app, name="audit")
app.add_typer(audit.key_app, name="key")
app.add_typer(access.user_app, name="user")
app.add_typer(access.role_app, name="role")
app.add_typer(access.grant_app, name="grant")
app.add_typer(access.token_app, name="token")
app.add_typer(requests.request_app, name="request")
app.add_typer(requests.approval_app, name="approval")

@app.callback()
def main(
    db: Annotated[str | None, typer.Option(
        "--db", envvar="CUSTMDM_DATABASE_URL",
        help="Database URL: sqlite:///FILE (default: a file in ~/.local/share/custmdm) "
             "or postgresql://USER@HOST/DB.")] = None,
    actor: Annotated[str | None, typer.Option(
        "--actor", envvar="CUSTMDM_ACTOR",
        help="The user you act as: their grants apply and the audit trail names them "
             "(default: your login name; `init` makes the first user an "
             "administrator).")] = None,
) -> None:
    """Customer master data and customer coding."""
    State.db = db
    State.actor = actor


# -- set-up -------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create the register's tables in the database (safe to run again)."""
    with register(needs_schema=False) as reg:
        revision = reg.init()
        url = reg.store.engine.url.render_as_string(hide_password=True)
        out.print(f"register ready at {url} (schema {revision})")
        keyring = reg.store.keyring
        if keyring.created:
            out.print(f"created the key file {keyring.source}: keep a copy somewhere safe. "
                      "Without it the audit trail cannot be verified and encrypted fields "
                      "cannot be read.", highlight=False, soft_wrap=True)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for every "
                                           "interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes (uvicorn workers); one per core serves "
                            "the most requests.")] = 1,
    admin_token: Annotated[bool, typer.Option(
        "--admin-token", help="Give the acting user (the administrator `init` made) an API "
                              "token first: $CUSTMDM_ADMIN_TOKEN if set, else a new one "
                              "valid for a day, printed once.")] = False,
    admin_password: Annotated[bool, typer.Option(
        "--admin-password", help="Give the acting user a password for the browser login "
                                 "(POST /session): $CUSTMDM_ADMIN_PASSWORD if set, else a "
                                 "new one printed once, unless they have one already.")
    ] = False,
) -> None:
    """Serve the REST API (uvicorn); its interactive OpenAPI docs are at /docs. Clients
    authenticate with an API token (`custmdm token create`), browsers by logging in
    (POST /session)."""
    import uvicorn

    from custmdm.api import create_app

    with register() as reg:  # the register must exist: say so here, not per request
        url = reg.store.url
        if admin_token:
            _token_for_serving(reg, f"http://{host}:{port}")
        if admin_password:
            _password_for_serving(reg)
    out.print(f"serving http://{host}:{port}/ (API docs: /docs)", highlight=False)
    if workers == 1:
        uvicorn.run(create_app(url), host=host, port=port, log_level="info")
        return
    os.environ[DEFAULT_DATABASE_ENV] = url  # each worker process builds its own app
    uvicorn.run("custmdm.api.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="info")


def _token_for_serving(reg: Register, base: str) -> None:
    """An API token for the acting user: $CUSTMDM_ADMIN_TOKEN (registered the first
    time, valid until revoked), else a new one valid for a day, printed once."""
    actor = reg.ctx.actor.name
    given = os.environ.get("CUSTMDM_ADMIN_TOKEN")
    if given:
        try:
            owner = reg.authenticate_token(given)
        except PermissionDenied:
            if any(t.prefix == given[:12] for t in reg.tokens(actor)):
                fail("the token in $CUSTMDM_ADMIN_TOKEN was revoked or has expired: unset "
                     "it, or choose a new one", 2)
            reg.create_token(actor, "custmdm serve", days=None, value=given)
            owner = actor
        out.print(f"API token of {owner}: the one in $CUSTMDM_ADMIN_TOKEN", highlight=False)
        return
    made = reg.create_token(actor, "custmdm serve", days=1)
    out.print(f"API token of {actor}, valid for a day (shown this once):\n  {made.token}\n"
              f"  e.g. curl -H 'Authorization: Bearer <token>' {base}/customers",
              highlight=False, soft_wrap=True)


def _password_for_serving(reg: Register) -> None:
    """A login password for the acting user: $CUSTMDM_ADMIN_PASSWORD (set each time),
    else, if they have none yet, a new one printed once."""
    actor = reg.ctx.actor.name
    given = os.environ.get("CUSTMDM_ADMIN_PASSWORD")
    if given:
        reg.set_password(actor, given)
        out.print(f"browser login: {actor}, with the password in $CUSTMDM_ADMIN_PASSWORD",
                  highlight=False)
        return
    if any(u.name == actor and u.has_password for u in reg.users()):
        out.print(f"browser login: {actor}, with the password set before "
                  f"(`custmdm user password {actor}` changes it)", highlight=False)
        return
    password = secrets.token_urlsafe(12)
    reg.set_password(actor, password)
    out.print(f"browser login: {actor} / {password} (shown this once)", highlight=False)


@app.command("erase")
def erase_command(
    code: Annotated[str, typer.Argument(help="Any code the individual has or had.")],
    reason: Annotated[str, typer.Option(help="Why (the person's request, say); goes into "
                                             "the audit trail.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase an individual's personal data (PIPL): contacts, identifiers, names (the
    legal name becomes a placeholder), what other systems call them, and the same of
    customers merged into them. The code stays and still resolves; the audit trail
    stays intact. Cannot be undone; needs the erase permission."""
    if not yes:
        typer.confirm(f"erase the personal data of {code}? this cannot be undone",
                      abort=True)
    with register() as reg:
        done = reg.erase(code, reason)
    if as_json:
        emit_json(done.to_dict())
        return
    removed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in done.removed.items())
    out.print(f"erased the personal data of {done.customer.code} (codes "
              f"{', '.join(done.codes)}): removed {removed}", highlight=False, soft_wrap=True)
    if not done.log_emptied:
        out.print("the SQLite write-ahead log could not be emptied now (other processes are "
                  "reading); it is overwritten as writes go on", highlight=False)


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="The backup file to write.")],
    as_json: JsonOption = False,
) -> None:
    """Back the whole register up into one file: the data (SQLite online backup, or
    pg_dump) with a manifest of its checksum, counts and audit-chain head."""
    with register() as reg:
        info = reg.backup(file)
    if as_json:
        emit_json(info.to_dict())
        return
    counts = info.manifest["counts"]
    out.print(f"backed up {counts['customers']} customers, {counts['codes']} codes and "
              f"{counts['audit_entries']} audit entries to {info.path} (sha256 "
              f"{info.manifest['data']['sha256'][:16]}…)", highlight=False, soft_wrap=True)


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file `custmdm backup` wrote.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace the register with a backup. The backup is checked through first (checksum,
    dialect, schema, integrity, counts, audit chain); a damaged or mismatched one is
    refused and nothing changes. Stop other processes using the register first."""
    if not yes:
        typer.confirm(f"replace the register with {file}?", abort=True)
    with register(needs_schema=False) as reg:
        result = reg.restore(file)
    if as_json:
        emit_json(result.to_dict())
        return
    counts = result.manifest["counts"]
    kept = f"; the replaced database is kept as {result.previous}" if result.previous else ""
    out.print(f"restored {counts['customers']} customers, {counts['codes']} codes and "
              f"{counts['audit_entries']} audit entries from {file} (made "
              f"{result.manifest['created_at']}){kept}", highlight=False, soft_wrap=True)


# -- rules ----------------------------------------------------------------------------


def _letters(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        fail("letters are written as value=LETTER pairs, e.g. enterprise=E,individual=P", 2)
    return {k.strip().lower(): v.strip() for k, v in pairs}


RulePattern = Annotated[str, typer.Option(
    "--pattern", "-p", help="e.g. 'C{kind}{region:4}{seq:6}{check:mod37-2}'.")]
RuleKind = Annotated[str | None, typer.Option(help="Apply only to this customer kind.")]
RuleRegion = Annotated[str | None, typer.Option(
    "--region-prefix", help="Apply only to regions starting with these GB/T 2260 digits "
                            "(or to this ISO country).")]
RuleIndustry = Annotated[str | None, typer.Option(
    help="Apply only to this GB/T 4754 section letter or division.")]
RuleGrade = Annotated[str | None, typer.Option(help="Apply only to this grade.")]
RulePriority = Annotated[int, typer.Option(help="Lower numbers are tried first.")]
RuleGapless = Annotated[bool, typer.Option(
    "--gapless", help="Numbers without holes (counter taken inside the registration).")]
RuleScope = Annotated[str, typer.Option(
    "--counter-scope", help="'prefix': one counter per rendered prefix; 'rule': one counter.")]
RuleKindLetters = Annotated[str | None, typer.Option(
    "--kind-letters", help="e.g. enterprise=E,individual=P,government=G,other=O")]
RuleGradeLetters = Annotated[str | None, typer.Option(
    "--grade-letters", help="e.g. vip=A,important=B,ordinary=C,potential=D")]


@rule_app.command("add")
def rule_add(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    pattern: RulePattern,
    kind: RuleKind = None,
    region_prefix: RuleRegion = None,
    industry: RuleIndustry = None,
    grade: RuleGrade = None,
    priority: RulePriority = 100,
    gapless: RuleGapless = False,
    counter_scope: RuleScope = "prefix",
    kind_letters: RuleKindLetters = None,
    grade_letters: RuleGradeLetters = None,
    as_json: JsonOption = False,
) -> None:
    """Add a coding rule; refused if it could render a code another rule could."""
    with register() as reg:
        rule = reg.add_rule(
            name, pattern, kind=kind, region_prefix=region_prefix, industry=industry,
            grade=grade, priority=priority, gapless=gapless,
            counter_scope=_scope(counter_scope), kind_letters=_letters(kind_letters),
            grade_letters=_letters(grade_letters),
        )
        _print_saved_rule(reg, rule.name, as_json)


@rule_app.command("update")
def rule_update(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    pattern: RulePattern,
    kind: RuleKind = None,
    region_prefix: RuleRegion = None,
    industry: RuleIndustry = None,
    grade: RuleGrade = None,
    priority: Annotated[int | None, typer.Option(
        help="Lower numbers are tried first (default: keep).")] = None,
    gapless: Annotated[bool | None, typer.Option(
        "--gapless/--gaps-allowed", help="Numbers without holes (default: keep).")] = None,
    counter_scope: Annotated[str | None, typer.Option(
        "--counter-scope", help="'prefix' or 'rule' (default: keep).")] = None,
    kind_letters: RuleKindLetters = None,
    grade_letters: RuleGradeLetters = None,
    as_json: JsonOption = False,
) -> None:
    """Save a new version of a rule; options not given are kept. Refused if it could
    collide with codes already recorded."""
    with register() as reg:
        rule = reg.update_rule(
            name, pattern, kind=kind, region_prefix=region_prefix, industry=industry,
            grade=grade, priority=priority, gapless=gapless,
            counter_scope=_scope(counter_scope) if counter_scope else None,
            kind_letters=_letters(kind_letters), grade_letters=_letters(grade_letters),
        )
        _print_saved_rule(reg, rule.name, as_json)


@rule_app.command("retire")
def rule_retire(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    reason: ReasonOption,
    as_json: JsonOption = False,
) -> None:
    """Stop a rule giving codes; the next fitting rule applies. Its codes stay, unique
    for ever, and its name is not reused."""
    with register() as reg:
        rule = reg.retire_rule(name, reason)
    if as_json:
        emit_json({"name": rule.name, "version": rule.version, "status": "retired"})
        return
    out.print(f"rule {rule.name} (version {rule.version}) retired; its codes stay",
              highlight=False)


def _scope(value: str) -> Any:
    if value not in ("prefix", "rule"):
        fail("--counter-scope must be 'prefix' or 'rule'", 2)
    return value


def _print_saved_rule(reg: Register, name: str, as_json: bool) -> None:
    summary = next(s for s in reg.rules() if s.rule.name == name)
    if as_json:
        emit_json(summary.to_dict())
        return
    out.print(f"rule {name} version {summary.rule.version}: {summary.rule.pattern.text} "
              f"({summary.rule.conditions.describe()})")


@rule_app.command("list")
def rule_list(as_json: JsonOption = False) -> None:
    """List current coding rules in the order they are tried."""
    with register() as reg:
        summaries = reg.rules()
    if as_json:
        emit_json([s.to_dict() for s in summaries])
        return
    table = Table(title="Coding rules 编码规则")
    table.add_column("rule", no_wrap=True)
    table.add_column("pattern", overflow="fold")
    table.add_column("applies to", min_width=14)
    table.add_column("prio", justify="right", min_width=4)
    table.add_column("numbering", min_width=12)
    table.add_column("issued", justify="right", min_width=6)
    for s in summaries:
        r = s.rule
        numbering = ("gapless" if r.gapless else "gaps allowed") + (
            ", one counter" if r.counter_scope == "rule" else "")
        table.add_row(f"{r.name} v{r.version}", r.pattern.text, r.conditions.describe(),
                      str(r.priority), numbering, str(s.codes_issued))
    out.print(table)


@rule_app.command("preview")
def rule_preview(
    name: Annotated[str, typer.Argument(help="Rule name.")],
    kind: Annotated[str | None, typer.Option(help="Customer kind to preview for.")] = None,
    region: Annotated[str | None, typer.Option(help="GB/T 2260 code or country.")] = None,
    industry: Annotated[str | None, typer.Option(help="GB/T 4754 code.")] = None,
    grade: Annotated[str | None, typer.Option(help="Grade.")] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="How many codes.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Show the next codes a rule would give, without consuming any."""
    with register() as reg:
        codes = reg.preview(name, kind=kind, region=region, industry=industry, grade=grade,
                            count=count)
    if as_json:
        emit_json(codes)
    else:
        for code in codes:
            out.print(code, markup=False, highlight=False)


# -- customers ------------------------------------------------------------------------


@customer_app.command("add")
def customer_add(
    kind: KindOption,
    name: NameOption,
    ids: IdsOption = None,
    region: RegionOption = None,
    industry: IndustryOption = None,
    size: Annotated[str | None, typer.Option(help="large, medium, small or micro.")] = None,
    grade: Annotated[str | None, typer.Option(
        help="vip, important, ordinary or potential.")] = None,
    owner: Annotated[str | None, typer.Option(help="Responsible user.")] = None,
    status: Annotated[str, typer.Option(help="Lifecycle status.")] = "active",
    short: ShortOption = None,
    alias: AliasOption = None,
    english: EnglishOption = None,
    codename: CodenameOption = None,
    phone: PhoneOption = None,
    email: EmailOption = None,
    address: AddressOption = None,
    legal_rep: LegalRepOption = None,
    override: OverrideOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a customer and give it its code (and its other names, if given).

    The duplicate check runs first: a likely duplicate is refused (exit 4) with the
    existing customers' codes, owners and why; a possible one needs --override."""
    with register() as reg:
        draft = build_draft(
            kind, name, ids, region=region, industry=industry, size=size, grade=grade,
            owner=owner, status=status, short=short, alias=alias, english=english,
            codename=codename, phone=phone, email=email, address=address,
            legal_rep=legal_rep)
        with duplicates_as_json(as_json):
            record = reg.register(draft, override_reason=override)
    if record.linked and not as_json:
        out.print(f"not registered: the match rules link it to the existing customer "
                  f"{record.code}", highlight=False)
    print_customer(record, as_json)


@customer_app.command("show")
def customer_show(
    code: Annotated[str, typer.Argument(help="Any code the customer has or had.")],
    unmask: Annotated[str | None, typer.Option(
        "--unmask", metavar="REASON",
        help="Show personal data (contacts, an individual's identifiers) unmasked: needs "
             "the see_sensitive permission; the reason goes into the audit trail.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a customer by any of its codes, current or superseded. Contacts and an
    individual's identifiers are masked unless --unmask."""
    with register() as reg:
        found = reg.find(code) if unmask is None else reg.unmask(code, unmask)
    print_resolution(found, as_json)


@customer_app.command("change-code")
def customer_change_code(
    code: CodeArgument,
    reason: ReasonOption,
    rule: Annotated[str | None, typer.Option(help="Take the next code of this rule.")] = None,
    to: Annotated[str | None, typer.Option(help="An explicit code that fits a rule.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Give a customer a new code; the old one keeps resolving as superseded."""
    with register() as reg:
        found = reg.change_code(code, reason, rule=rule, to=to)
    print_resolution(found, as_json)


@customer_app.command("retire")
def customer_retire(
    code: CodeArgument,
    reason: ReasonOption,
    as_json: JsonOption = False,
) -> None:
    """Retire a customer. Its code is never freed and still resolves."""
    with register() as reg:
        record = reg.retire(code, reason)
    print_customer(record, as_json)


@customer_app.command("list")
def customer_list(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    region: Annotated[str | None, typer.Option(
        help="GB/T 2260 prefix (e.g. 44, 4403) or ISO country.")] = None,
    industry: Annotated[str | None, typer.Option(help="Section letter or division.")] = None,
    status: Annotated[str | None, typer.Option(help="Lifecycle status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Responsible user.")] = None,
    limit: Annotated[int, typer.Option(help="Page size.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List customers, oldest first."""
    with register() as reg:
        records = reg.customers(CustomerFilter(kind=kind, region=region, industry=industry,
                                               status=status, owner=owner, limit=limit,
                                               offset=offset))
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    out.print(customer_table(records))


def customer_table(records: list[CustomerRecord], title: str = "Customers 客户") -> Table:
    """A compact table of customers."""
    table = Table("code", "kind", "legal name", "region", "industry", "status", title=title)
    for r in records:
        table.add_row(r.code, r.kind, r.legal_name, r.region or r.country, r.industry or "",
                      r.status)
    return table


# -- demo and overview ----------------------------------------------------------------


@app.command()
def demo(
    customers: Annotated[int, typer.Option("--customers", "-n",
                                           help="How many customers to generate.")] = 1000,
    if_empty: Annotated[bool, typer.Option("--if-empty",
                                           help="Do nothing if customers exist.")] = False,
    seed: Annotated[int, typer.Option(help="Generator seed (same seed, same data).")] = 2026,
) -> None:
    """Load a realistic generated register (installs demo coding rules if none exist)."""
    from rich.progress import Progress

    from custmdm.demo.loader import load_demo

    with register() as reg, Progress(console=err, transient=True) as bar:
        task = bar.add_task("registering", total=customers)
        loaded = load_demo(reg, customers, seed=seed, if_empty=if_empty,
                           progress=lambda n: bar.advance(task, n))
    if loaded.skipped_because_not_empty:
        out.print("the register already has customers; demo data not loaded")
        return
    if loaded.rules_added:
        out.print(f"added demo coding rules: {', '.join(loaded.rules_added)}")
    if loaded.result:
        out.print(f"registered {loaded.result.registered} customers "
                  f"({loaded.result.first_code} … {loaded.result.last_code})")


@app.command()
def overview(as_json: JsonOption = False) -> None:
    """A short summary of the register and a few customers."""
    from custmdm.standards.regions import get_region

    with register() as reg:
        summary = reg.overview()
        sample = reg.customers(CustomerFilter(limit=5))
    if as_json:
        emit_json(summary.to_dict())
        return
    out.print(f"[bold]{summary.customers}[/bold] customers")
    table = Table("by kind", "n", "by status", "n", "by province", "n", "codes by rule", "n",
                  title="Register overview 概览")
    columns = [list(summary.by_kind.items()), list(summary.by_status.items()),
               [(_province_name(get_region, k), n) for k, n in summary.by_province.items()],
               list(summary.codes_by_rule.items())]
    for i in range(max((len(c) for c in columns), default=0)):
        cells: list[str] = []
        for column in columns:
            key, n = column[i] if i < len(column) else ("", "")
            cells += [str(key), str(n)]
        table.add_row(*cells)
    out.print(table)
    out.print(customer_table(sample, title="A few customers"))


def _province_name(lookup: Any, prefix: str) -> str:
    if prefix in ("", "None"):
        return "abroad"
    try:
        return f"{prefix} {lookup(prefix).name}"
    except CustMDMError:
        return prefix


# -- checks ---------------------------------------------------------------------------


@check_app.command("codes")
def check_codes(as_json: JsonOption = False) -> None:
    """Verify codes: no duplicates, counters above issued numbers, gapless rules without
    holes, every issued code resolvable."""
    with register() as reg:
        report = reg.check_codes()
    if as_json:
        emit_json(report.to_dict())
    else:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())) or "no codes"
        out.print(f"codes: {counts}", highlight=False)
        for note in report.notes:
            out.print(f"note: {note}", highlight=False)
        for problem in report.problems:
            err.print(f"problem: {problem}", markup=False)
        out.print("[green]all code checks passed[/green]" if report.ok
                  else f"[red]{len(report.problems)} problem(s)[/red]")
    if not report.ok:
        raise typer.Exit(1)




def run() -> None:  # pragma: no cover - console entry point
    app()
