"""``custmdm dedup …``: the duplicate check (查重) and the match rules it follows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from custmdm.cli.common import (
    AddressOption,
    EmailOption,
    EnglishOption,
    IdsOption,
    IndustryOption,
    JsonOption,
    LegalRepOption,
    PhoneOption,
    RegionOption,
    ShortOption,
    build_draft,
    emit_json,
    fail,
    out,
    register,
)
from custmdm.core.customers import CustomerDraft
from custmdm.core.dedup import CheckResult

dedup_app: typer.Typer = typer.Typer(
    help="Duplicates (查重): check a record, run the batch, review, set the rules.",
    no_args_is_help=True)
rule_app: typer.Typer = typer.Typer(
    help="Match rules: what the check does per customer kind (block, warn, link).",
    no_args_is_help=True)
dedup_app.add_typer(rule_app, name="rule")
survivorship_app: typer.Typer = typer.Typer(
    help="Survivorship rules (字段保留规则): which value a merge keeps, field by field.",
    no_args_is_help=True)
dedup_app.add_typer(survivorship_app, name="survivorship")

#: Fields of a JSON record, as CustomerDraft names them.
_JSON_FIELDS = ("kind", "legal_name", "identifiers", "region", "industry", "size", "grade",
                "owner", "names", "phones", "emails", "address", "legal_representative")


@dedup_app.command("check")
def dedup_check(
    kind: Annotated[str | None, typer.Option(
        help="enterprise, individual, government or other.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Legal name, as written.")] = None,
    ids: IdsOption = None,
    region: RegionOption = None,
    industry: IndustryOption = None,
    short: ShortOption = None,
    english: EnglishOption = None,
    phone: PhoneOption = None,
    email: EmailOption = None,
    address: AddressOption = None,
    legal_rep: LegalRepOption = None,
    record: Annotated[Path | None, typer.Option(
        "--record", metavar="FILE",
        help="The record as a JSON object (- for stdin) instead of the options: kind, "
             "legal_name, identifiers ([\"cn.uscc=…\"] or [{scheme, value}]), region, "
             "names ([{kind, text}]), phones, emails, address, legal_representative.")
    ] = None,
    limit: Annotated[int, typer.Option(
        min=1, max=100, help="Show at most this many candidates.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Check one record against the register without registering it: the existing
    customers it may duplicate, with score, why, code and owner. Exit 0 either way."""
    with register() as reg:
        if record is not None:
            draft = _draft_from_json(record)
        else:
            if not kind or not name:
                fail("give --kind and --name (or the whole record with --record FILE)", 2)
            draft = build_draft(kind, name, ids, region=region, industry=industry,
                                short=short, english=english, phone=phone, email=email,
                                address=address, legal_rep=legal_rep)
        result = reg.check_duplicates(draft, limit=limit)
    if as_json:
        emit_json(result.to_dict())
    else:
        print_candidates(result)


def print_candidates(result: CheckResult) -> None:
    if not result.candidates:
        out.print("no likely duplicates")
        return
    table = Table("score", "action", "why", "code", "legal name", "owner", "status")
    table.columns[3].no_wrap = True
    for c in result.candidates:
        table.add_row(f"{c.probability:.1%}", c.action.value if c.action else "",
                      "; ".join(c.explanation), c.code, c.legal_name or "(not in your scope)",
                      c.owner or "", c.status)
    out.print(table)
    if result.action:
        out.print(f"registering it would be: {result.action.value}", highlight=False)


def _draft_from_json(path: Path) -> CustomerDraft:
    text = sys.stdin.read() if str(path) == "-" else _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"{path}: not JSON ({error})", 2)
    if not isinstance(data, dict):
        fail(f"{path}: expected one JSON object (a record), got {type(data).__name__}", 2)
    unknown = sorted(set(data) - set(_JSON_FIELDS))
    if unknown:
        fail(f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(_JSON_FIELDS)}",
             2)
    for needed in ("kind", "legal_name"):
        if not isinstance(data.get(needed), str):
            fail(f"{path}: {needed} is required (text)", 2)
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:
            continue
        if name in _JSON_TEXT and not isinstance(value, str):
            fail(f"{path}: {name} must be text, not {json.dumps(value, ensure_ascii=False)}",
                 2)
        if name in _JSON_TEXT_LISTS and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            fail(f"{path}: {name} must be a list of texts, e.g. [\"138 0013 8000\"]", 2)
        fields[name] = value
    fields["identifiers"] = [_identifier(i) for i in _listed(data, "identifiers", path)]
    fields["names"] = [_other_name(n, path) for n in _listed(data, "names", path)]
    return CustomerDraft(**fields)


_JSON_TEXT = ("kind", "legal_name", "region", "industry", "size", "grade", "owner",
              "address", "legal_representative")
_JSON_TEXT_LISTS = ("phones", "emails")


def _listed(data: dict[str, Any], name: str, path: Path) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list):
        fail(f"{path}: {name} must be a list", 2)
    return value


def _other_name(item: Any, path: Path) -> tuple[str, str]:
    if isinstance(item, dict) and isinstance(item.get("kind"), str) \
            and isinstance(item.get("text"), str):
        return item["kind"], item["text"]
    fail(f"{path}: each of names must be {{\"kind\": \"short\", \"text\": \"…\"}}, "
         f"not {json.dumps(item, ensure_ascii=False)}", 2)


def _identifier(item: Any) -> tuple[str, str]:
    if isinstance(item, dict) and "scheme" in item and "value" in item:
        return str(item["scheme"]), str(item["value"])
    if isinstance(item, str) and "=" in item:
        scheme, _, value = item.partition("=")
        return scheme, value
    fail(f"identifier {item!r}: give \"SCHEME=VALUE\" or {{\"scheme\": …, \"value\": …}}", 2)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}", 2)


@rule_app.command("list")
def rule_list(as_json: JsonOption = False) -> None:
    """The match rules in force."""
    with register() as reg:
        rules = reg.match_rules()
    if as_json:
        emit_json([r.to_dict() for r in rules])
        return
    table = Table("kind", "action", "from score")
    for r in rules:
        table.add_row(r.kind, r.action.value, f"{r.threshold:g}")
    out.print(table)


@rule_app.command("set")
def rule_set(
    kind: Annotated[str, typer.Argument(help="enterprise, individual, government or other.")],
    action: Annotated[str, typer.Argument(help="block, warn or link.")],
    threshold: Annotated[float, typer.Argument(
        help="Match probability from which the action applies, e.g. 0.95.")],
) -> None:
    """Set what the duplicate check does for a kind from a score on."""
    with register() as reg:
        reg.set_match_rule(kind, action, threshold)
    out.print(f"{kind}: {action} from {threshold:g}", highlight=False)


@rule_app.command("remove")
def rule_remove(
    kind: Annotated[str, typer.Argument(help="enterprise, individual, government or other.")],
    action: Annotated[str, typer.Argument(help="block, warn or link.")],
) -> None:
    """Stop the duplicate check from taking this action for this kind."""
    with register() as reg:
        reg.set_match_rule(kind, action, None)
    out.print(f"{kind}: no {action}", highlight=False)


@survivorship_app.command("list")
def survivorship_list(as_json: JsonOption = False) -> None:
    """The survivorship rule in force for every field a merge decides."""
    with register() as reg:
        rules = reg.survivorship_rules()
    if as_json:
        emit_json([r.to_dict() for r in rules])
        return
    table = Table("field", "rule", "trusted systems", "set by")
    for r in rules:
        table.add_row(r.field, r.rule.value, ", ".join(r.systems),
                      "default" if r.default else "steward")
    out.print(table)


@survivorship_app.command("set")
def survivorship_set(
    field_name: Annotated[str, typer.Argument(
        metavar="FIELD", help="legal_name, owner, region, industry, size or grade.")],
    rule: Annotated[str, typer.Argument(
        help="survivor (the survivor's value), most_complete (the survivor's, else the "
             "first other that has one), most_recent (from the customer changed last) or "
             "trusted (from the customer mapped in the most trusted system; give --trust).")],
    trust: Annotated[list[str] | None, typer.Option(
        "--trust", metavar="SYSTEM",
        help="For `trusted`: a system to trust. Repeatable, most trusted first.")] = None,
) -> None:
    """Set how a merge chooses a field's value."""
    with register() as reg:
        chosen = reg.set_survivorship_rule(field_name, rule, trust or ())
    systems = f" ({', '.join(chosen.systems)})" if chosen.systems else ""
    out.print(f"{chosen.field}: {chosen.rule.value}{systems}", highlight=False)


@survivorship_app.command("remove")
def survivorship_remove(
    field_name: Annotated[str, typer.Argument(
        metavar="FIELD", help="legal_name, owner, region, industry, size or grade.")],
) -> None:
    """Put a field's built-in survivorship rule back."""
    with register() as reg:
        chosen = reg.set_survivorship_rule(field_name, None)
    out.print(f"{chosen.field}: {chosen.rule.value} (default)", highlight=False)


def merge_command(
    codes: Annotated[list[str], typer.Argument(
        metavar="SURVIVOR LOSER... | undo MERGE_ID",
        help="The survivor's code, then the codes to merge into it; or `undo` and a "
             "merge id.")],
    pick: Annotated[list[str] | None, typer.Option(
        "--pick", metavar="FIELD=CODE",
        help="Take FIELD (legal_name, owner, region, industry, size, grade) from the "
             "customer with CODE, whatever its survivorship rule. Repeatable.")] = None,
    trust: Annotated[list[str] | None, typer.Option(
        "--trust", metavar="SYSTEM",
        help="Trusted source order for this merge: fields not picked come from the "
             "customer mapped in the first of these systems that has a value, before "
             "their survivorship rules. Repeatable, most trusted first.")] = None,
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit trail.")
                      ] = "duplicates",
    as_json: JsonOption = False,
) -> None:
    """Merge duplicates into one survivor (`merge SURVIVOR LOSER...`), or undo a merge
    (`merge undo MERGE_ID`). The losers' codes keep resolving to the survivor; their
    names, identifiers, contacts and key mappings move to it."""
    if codes[0] == "undo":
        if len(codes) != 2 or not codes[1].isdigit():
            fail("usage: custmdm merge undo MERGE_ID (the number a merge printed)", 2)
        with register() as reg:
            record = reg.undo_merge(int(codes[1]), reason)
        if as_json:
            emit_json(record.to_dict())
        else:
            out.print(f"merge {codes[1]} undone; {record.code} is as it was before",
                      highlight=False)
        return
    if len(codes) < 2:
        fail("give the survivor's code and at least one code to merge into it", 2)
    picks = {}
    for item in pick or []:
        field_name, separator, code = item.partition("=")
        if not separator or not field_name or not code:
            fail(f"--pick {item!r}: write FIELD=CODE, e.g. --pick legal_name=CE000002", 2)
        picks[field_name.strip()] = code.strip()
    with register() as reg:
        result = reg.merge(codes[0], codes[1:], picks, reason, trusted=trust or ())
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(f"merge {result.merge_id}: {', '.join(result.merged)} merged into "
              f"{result.survivor.code} ({result.survivor.legal_name}); undo with "
              f"`custmdm merge undo {result.merge_id}`", highlight=False, markup=False)
    for name, code in result.fields.items():
        if code != result.survivor.code:
            out.print(f"  {name} from {code} ({result.by[name]})", highlight=False,
                      markup=False)


@dedup_app.command("run")
def dedup_run(
    train: Annotated[bool, typer.Option(
        "--train", help="Train the model again (the first run always does).")] = False,
    threshold: Annotated[float, typer.Option(
        help="Link pairs from this match probability on.")] = 0.9,
    labels: Annotated[Path | None, typer.Option(
        "--labels", metavar="L",
        help="Train, estimating m from this CSV of pairs of codes known to be one "
             "customer (header: left,right), as from a clerical review of a sample; "
             "without it m is estimated by expectation maximisation.")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", metavar="F",
        help="Link this CSV file to the register instead (header: kind, legal_name, ids "
             "(SCHEME=VALUE;…), region, industry, phones, emails, address, "
             "legal_representative, short); nothing is written.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Deduplicate the whole register with Splink (DuckDB): predict with the saved model
    (training it first when there is none) and put the clusters in the review queue.
    With --file, say which registered customers the file's records likely are."""
    if file is not None and (labels is not None or train):
        fail("--file links a file with the saved model (else the match model's own m "
             "and u) and trains nothing; train with `custmdm dedup run --train` (or "
             "--labels) first, then link the file", 2)
    if file is not None:
        with register() as reg:
            matches = reg.dedup_file(file, threshold)
        if as_json:
            emit_json([m.to_dict() for m in matches])
            return
        table = Table("line", "record", "score", "code", "registered as", "why")
        for m in matches:
            table.add_row(str(m.line), m.legal_name, f"{m.probability:.1%}", m.code,
                          m.registered_name, "; ".join(m.why))
        out.print(table if matches else "no record of the file is likely registered")
        return
    with register() as reg:
        result = reg.dedup_run(train=train, threshold=threshold, labels=labels)
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(f"{result.customers} customers, {result.pairs} likely duplicate pairs, "
              f"{result.clusters} new cluster(s) in the review queue"
              f"{' (model trained)' if result.trained else ''}; see `custmdm dedup queue`",
              highlight=False)


queue_app: typer.Typer = typer.Typer(
    help="The review queue (待复核队列): clusters from batch runs to accept, reject or defer.",
    invoke_without_command=True)
dedup_app.add_typer(queue_app, name="queue")


@queue_app.callback()
def queue_list(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(
        help="open, deferred, accepted, rejected.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List the clusters waiting for a decision (or with --status)."""
    if ctx.invoked_subcommand is not None:
        return
    with register() as reg:
        clusters = reg.review_queue(status, limit)
    if as_json:
        emit_json([c.to_dict() for c in clusters])
        return
    if not clusters:
        out.print(f"no {status} clusters")
        return
    table = Table("id", "customers", "best pair", "score", "why")
    for c in clusters:
        left, right, probability, why = c.pairs[0] if c.pairs else ("", "", 0.0, ())
        table.add_row(str(c.id), "\n".join(f"{code} {name}" for code, name in
                                           zip(c.codes, c.names, strict=True)),
                      f"{left} ~ {right}", f"{probability:.1%}", "; ".join(why))
    out.print(table)


ClusterArgument = Annotated[int, typer.Argument(help="The cluster's id (from the queue).")]


@queue_app.command("accept")
def queue_accept(
    cluster: ClusterArgument,
    survivor: Annotated[str | None, typer.Option(
        help="The code that survives (default: the cluster's first).")] = None,
) -> None:
    """Merge the cluster's customers into one (see `custmdm merge`)."""
    with register() as reg:
        decided = reg.decide(cluster, "accept", survivor)
    out.print(f"cluster {decided.id} accepted: merged", highlight=False)


@queue_app.command("reject")
def queue_reject(cluster: ClusterArgument) -> None:
    """Not duplicates: its pairs are remembered and never proposed again."""
    with register() as reg:
        decided = reg.decide(cluster, "reject")
    out.print(f"cluster {decided.id} rejected: {', '.join(decided.codes)} are different "
              "customers", highlight=False)


@queue_app.command("defer")
def queue_defer(cluster: ClusterArgument) -> None:
    """Decide later; the cluster stays in `dedup queue --status deferred`."""
    with register() as reg:
        decided = reg.decide(cluster, "defer")
    out.print(f"cluster {decided.id} deferred", highlight=False)
