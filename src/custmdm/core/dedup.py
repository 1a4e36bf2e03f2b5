"""The duplicate check (查重) on entry, and the match rules stewards set.

A draft's blocking keys (domain.matching) are looked up in ``match_key``, the customers
found are read with their names, identifiers and contacts, and each is scored with the
match model. At most four indexed statements, whatever the register's size. Every
candidate names the existing customer's code and owner, which anyone who tries to
register it may know (two sales people must not chase one customer unknowingly, 撞单);
its legal name and the explanation are the details that permissions will protect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError

from custmdm.core.access import customer_scope_filter
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import (
    CustomerDraft,
    ValidCustomer,
    current_code_of,
    match_record,
    validate_draft,
)
from custmdm.domain.contacts import Contact
from custmdm.domain.customer import Kind, Lifecycle, parse_choice
from custmdm.domain.matching import (
    KEY_PREFIX,
    Action,
    Frequencies,
    MatchRecord,
    MatchRule,
    Score,
    blocking_keys,
    score,
    strongest_action,
)
from custmdm.domain.names import NameForms, legal_form
from custmdm.errors import Conflict, ValidationError
from custmdm.security.access import Permission
from custmdm.security.fields import SensitiveFields
from custmdm.store.database import Store
from custmdm.store.tables import (
    NAME_FORM_COLUMNS,
    contact,
    customer,
    customer_name,
    identifier,
    match_key,
    match_rule,
)

#: Customers read per blocking key: a key shared by more says little on its own.
PER_KEY = 50
#: Candidates scored per check: those sharing the weightiest keys first.
SCORED = 40
#: What sharing a key says, roughly: an identifier, phone or e-mail much more than a
#: name (an exact core counts ten times a one-character deletion of it).
_KEY_WEIGHTS = {"i": 1000, "t": 300, "e": 300, "n": 10, "p": 5, "d": 1}
#: A core shared by more customers than this counts as this many (term frequency).
COUNTED = 1000
#: Blocking keys looked up per check (SQLite allows 500 terms in a compound SELECT).
MAX_KEYS = 256
#: Candidates below this probability are not worth showing.
SHOWN_FROM = 0.1


@dataclass(frozen=True)
class Candidate:
    """An existing customer that may be the one being registered (疑似重复)."""

    customer_id: int
    code: str
    owner: str | None
    status: str
    #: None when the actor may not read the candidate (outside their scopes): they
    #: learn that the customer exists, its code, owner and score, so they can ask; not
    #: its name, nor what matched (which would confirm a phone or an ID number).
    legal_name: str | None
    probability: float
    weight: float  # match weight in bits: orders candidates whose probability is 1.0
    explanation: tuple[str, ...]
    action: Action | None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "owner": self.owner, "status": self.status,
                "legal_name": self.legal_name, "score": round(self.probability, 4),
                "why": list(self.explanation),
                "action": self.action.value if self.action else None}


@dataclass(frozen=True)
class CheckResult:
    """The candidates, best first, and the strongest action they trigger."""

    candidates: tuple[Candidate, ...]
    action: Action | None

    @property
    def deciding(self) -> Candidate | None:
        """The best candidate that triggers the action (a retired customer may score
        higher but only ever warns)."""
        return next((c for c in self.candidates if c.action is self.action), None)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.value if self.action else None,
                "candidates": [c.to_dict() for c in self.candidates]}


class DuplicateSuspected(Conflict):
    """A registration or name change that matches existing customers: refused (block),
    or waiting for an override with a reason (warn)."""

    def __init__(self, message: str, result: CheckResult) -> None:
        super().__init__(message)
        self.result = result


def check_draft(ctx: Context, draft: CustomerDraft, limit: int = 10) -> CheckResult:
    """Score a draft against the register without registering it: a question asked
    before registering, so it needs the right to register such a customer."""
    valid = validate_draft(draft, default_owner=ctx.actor.name)
    ctx.require(Permission.CREATE, valid, "such a customer")
    result = check_record(ctx, valid.match_record(), limit=limit)
    return replace(result, candidates=_within_scope(ctx, result.candidates))


def check_record(ctx: Context, record: MatchRecord, *, exclude: int | None = None,
                 limit: int = 10) -> CheckResult:
    """The candidates for ``record`` (not counting customer ``exclude``), best first.

    The statements run each on its own in autocommit (no BEGIN and COMMIT round trips):
    the check is advisory and runs before the write anyway. A change committed between
    two of them (a merge, say) can hide a candidate from this one check, as a change
    committed just after it would. A new customer that shares no key costs one
    statement; one with candidates, two to four (the rules only when a candidate is
    worth showing, the term-frequency counts only for a core shared by PER_KEY or
    more)."""
    keys = ctx.store.fields.match_keys(blocking_keys(record)[:MAX_KEYS])
    cores = list(dict.fromkeys(f"n:{forms.core[:KEY_PREFIX]}" for forms in record.names
                               if forms.core))[:MAX_KEYS]
    if not keys:
        return CheckResult((), None)
    with ctx.store.autocommit() as conn:
        found, population = _lookup(ctx.store, conn, keys)
        hits: Counter[int] = Counter()
        filed: Counter[str] = Counter()
        for key, cid in found:
            filed[key] += 1
            if cid != exclude:
                hits[cid] += _KEY_WEIGHTS.get(key[0], 1)
        if not hits:
            return CheckResult((), None)
        people = _load(conn, [cid for cid, _ in hits.most_common(SCORED)], ctx.store.fields)
        # A core key that returned fewer than PER_KEY customers was counted in full.
        counts = {key[2:]: filed[key] for key in cores if key in filed}
        counts.update(_core_counts(ctx.store, conn, [
            key for key in cores if key not in keys or filed[key] >= PER_KEY]))
        frequencies = Frequencies(population or 1, counts)
        scored = [(person, result) for person in people.values()
                  if person.status != Lifecycle.MERGED  # it lives on in its survivor
                  for result in (score(record, person.record, frequencies),)
                  if result.probability >= SHOWN_FROM]
        rules = _rules(conn) if scored else []
    candidates = [_candidate(person, result, rules) for person, result in scored]
    candidates.sort(key=lambda c: -c.weight)  # probabilities saturate at 1.0
    shown = tuple(candidates[:limit])
    action = max((c.action for c in candidates if c.action),
                 key=_ACTION_ORDER.index, default=None)
    return CheckResult(shown, action)


def _within_scope(ctx: Context, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The candidates, the names of those the actor may not read left out: applied
    where candidates leave the core (the check's answer, a refusal), not on every
    check. The check itself looks at every customer: a duplicate outside one's scope
    is still one."""
    if not candidates:
        return tuple(candidates)
    scope = customer_scope_filter(ctx.authorization, Permission.READ)
    if scope is None:
        return tuple(candidates)
    with ctx.store.read() as conn:
        readable = set(conn.execute(select(customer.c.id).where(
            customer.c.id.in_([c.customer_id for c in candidates]), scope)).scalars())
    return tuple(c if c.customer_id in readable
                 else replace(c, legal_name=None, explanation=())
                 for c in candidates)


_ACTION_ORDER = [Action.WARN, Action.BLOCK, Action.LINK]


def _candidate(person: _Stored, result: Score, rules: Sequence[MatchRule]) -> Candidate:
    action = strongest_action(rules, person.record.kind, result.probability)
    if action is not None and person.status == Lifecycle.RETIRED:
        action = Action.WARN  # registering a retired customer again is a decision to make
    return Candidate(person.id, person.code, person.owner, person.status,
                     person.legal_name, result.probability, result.weight,
                     tuple(result.explanation), action)


def guard(ctx: Context, valid: ValidCustomer | MatchRecord, override_reason: str | None,
          *, exclude: int | None = None) -> tuple[CheckResult, dict[str, Any] | None]:
    """Run the check before a write. Block: refused. Warn: refused unless overridden
    with a reason. Returns the result and, when overridden, what the audit entry
    records of it."""
    record = valid.match_record() if isinstance(valid, ValidCustomer) else valid
    return _decide(ctx, check_record(ctx, record, exclude=exclude), override_reason,
                   changing=exclude is not None)


def _decide(ctx: Context, result: CheckResult, override_reason: str | None, *,
            changing: bool) -> tuple[CheckResult, dict[str, Any] | None]:
    """What :func:`guard` does with a check's result (``changing``: an existing
    customer, which cannot be linked to another)."""
    if result.action is None or (result.action is Action.LINK and not changing):
        return result, None
    result = replace(result, candidates=_within_scope(ctx, result.candidates))
    best = result.deciding or result.candidates[0]
    listed = "; ".join(f"{c.code} ({c.legal_name or 'not in your scope'}, "
                       f"owner {c.owner or '-'}, "
                       f"{c.probability:.1%}"
                       f"{': ' + ', '.join(c.explanation) if c.explanation else ''})"
                       for c in result.candidates if c.action)
    if result.action in (Action.BLOCK, Action.LINK):  # a name change cannot link
        raise DuplicateSuspected(
            f"this customer is already registered as {best.code}: {listed}. Use that "
            "customer, or ask a data steward to merge or to change the match rules",
            result)
    reason = (override_reason or "").strip()
    if not reason:
        raise DuplicateSuspected(
            f"this may be a customer already registered: {listed}. If it is another "
            "customer, register it again with an override reason (--override REASON)",
            result)
    return result, {"reason": reason,
                    "candidates": [c.code for c in result.candidates if c.action]}


def stored_record(conn: Connection, customer_id: int, fields: SensitiveFields
                  ) -> MatchRecord:
    """A registered customer as matching sees it, read in ``conn``."""
    return _load(conn, [customer_id], fields)[customer_id].record


def guard_new_name(ctx: Context, customer_id: int, forms: NameForms,
                   override_reason: str | None, *, new_legal_name: str | None = None,
                   ) -> dict[str, Any] | None:
    """The check for a customer about to be known by another name: the customer as
    stored, but with only the new name (and, for a rename, its legal form), against
    everyone else."""
    with ctx.store.read() as conn:
        stored = stored_record(conn, customer_id, ctx.store.fields)
    changed = replace(stored, names=(forms,))
    if new_legal_name is not None:
        form = legal_form(new_legal_name)
        changed = replace(changed, legal_form=form.family if form else None)
    return guard(ctx, changed, override_reason, exclude=customer_id)[1]


def guard_new_identifier(ctx: Context, customer_id: int, canonical: str,
                         override_reason: str | None) -> dict[str, Any] | None:
    """The check for a customer about to hold another identifier (``scheme:value``):
    the customer as stored, with it, against the customers that hold or held that
    identifier (retired ones: an active holder is refused before this). A look-alike
    overridden at registration is not asked about again for an unrelated number."""
    scheme, _, value = canonical.partition(":")
    with ctx.store.read() as conn:
        stored = _load(conn, [customer_id], ctx.store.fields)[customer_id]
        holders = set(conn.scalars(select(identifier.c.customer_id).where(
            identifier.c.scheme == scheme,
            identifier.c.value == ctx.store.fields.identifier_value(scheme, value))))
    stored.identifiers.append(canonical)
    found = check_record(ctx, stored.record, exclude=customer_id, limit=SCORED)
    sharing = tuple(c for c in found.candidates if c.customer_id in holders)
    action = max((c.action for c in sharing if c.action), key=_ACTION_ORDER.index,
                 default=None)
    return _decide(ctx, CheckResult(sharing, action), override_reason, changing=True)[1]


# -- match rules --------------------------------------------------------------------------


def match_rules(ctx: Context) -> list[MatchRule]:
    """The rules in force (a new register starts with domain.matching.DEFAULT_RULES)."""
    ctx.require_user()
    with ctx.store.read() as conn:
        return _rules(conn)


def set_match_rule(ctx: Context, kind: str, action: str, threshold: float | None) -> None:
    """Set (or, with ``threshold`` None, remove) a kind's rule for an action."""
    ctx.require(Permission.MANAGE_RULES)
    kind_value = parse_choice(Kind, kind, "kind").value
    action_value = parse_choice(Action, action, "action").value
    if threshold is not None and not 0 < threshold <= 1:
        raise ValidationError(f"threshold {threshold} is not a probability; give a number "
                              "above 0 and at most 1, e.g. 0.95")
    try:
        with ctx.store.write() as conn:
            before = {r.action.value: r.threshold for r in _rules(conn) if r.kind == kind_value}
            now = ctx.now()
            conn.execute(delete(match_rule).where(match_rule.c.kind == kind_value,
                                                  match_rule.c.action == action_value))
            if threshold is not None:
                conn.execute(match_rule.insert().values(
                    kind=kind_value, action=action_value, threshold=threshold, updated_at=now,
                    updated_by=ctx.actor.name))
            write_audit(ctx.store, conn, [audit_row(
                ctx.actor.name, "match_rule.set", "match_rule", f"{kind_value}:{action_value}",
                {"kind": kind_value, "action": action_value,
                 "from": before.get(action_value), "to": threshold}, now)])
    except IntegrityError:
        raise Conflict(f"the {kind_value} {action_value} rule was changed by someone else "
                       "at the same moment; look at `custmdm dedup rule list` and run the "
                       "command again") from None


def _rules(conn: Connection) -> list[MatchRule]:
    return [MatchRule(r.kind, Action(r.action), r.threshold)
            for r in conn.execute(_RULES)]


_RULES = select(match_rule).order_by(match_rule.c.kind, match_rule.c.action)


# -- keeping the blocking index in step ------------------------------------------------------


def add_name_keys(ctx: Context, conn: Connection, customer_id: int, forms: NameForms,
                  region: str | None) -> None:
    """File a customer under a new name's keys. Keys are never removed: a former name
    still identifies the customer."""
    file_keys(ctx, conn, customer_id, MatchRecord("", (forms,), region=region))


def file_keys(ctx: Context, conn: Connection, customer_id: int, record: MatchRecord
              ) -> None:
    """File a customer under ``record``'s blocking keys it is not filed under yet (what
    it gains: a name, an identifier)."""
    have = set(conn.scalars(select(match_key.c.key)
                            .where(match_key.c.customer_id == customer_id)))
    new = [(key, customer_id) for key in ctx.store.fields.match_keys(blocking_keys(record))
           if key not in have]
    ctx.store.insert_many(conn, match_key, ("key", "customer_id"), new)


# -- reading candidates --------------------------------------------------------------------


@dataclass
class _Stored:
    id: int
    code: str
    owner: str | None
    status: str
    legal_name: str
    kind: str
    region: str | None
    names: list[NameForms] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)

    @property
    def record(self) -> MatchRecord:
        return match_record(self.kind, self.names, self.legal_name, self.region,
                            self.identifiers, self.contacts)


def _lookup(store: Store, conn: Connection, keys: Sequence[str]
            ) -> tuple[list[tuple[str, int]], int]:
    """``(key, customer id)`` for every key, at most PER_KEY customers per key; and the
    population (customers ever registered) in the same statement."""
    size = _bucket(len(keys))
    statement = store.statement(f"dedup:lookup:{size}", lambda _: _per_key(size, PER_KEY))
    found: list[tuple[str, int]] = []
    population = 0
    for k, c in conn.execute(statement, _padded(keys, size)):
        if k == _POPULATION_KEY:
            population = int(c or 0)
        else:
            found.append((k, int(c)))
    return found, population


def _core_counts(store: Store, conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    """How many customers are filed under each core key (counted up to COUNTED)."""
    if not keys:
        return {}
    size = _bucket(len(keys))
    statement = store.statement(f"dedup:count:{size}", lambda _: _counts(size))
    return {k[2:]: int(n) for k, n in conn.execute(statement, _padded(keys, size)) if n}


def _bucket(count: int) -> int:
    """Statements are built for 4, 8, 16 … keys (the rest padded), not for every count."""
    return max(4, 1 << (count - 1).bit_length())


def _padded(keys: Sequence[str], size: int) -> dict[str, str]:
    # A key no customer has (keys start with a letter and a colon).
    return {f"k{i}": keys[i] if i < len(keys) else "" for i in range(size)}


def _per_key(count: int, limit: int) -> Any:
    # Customers ever registered: ids are not reused, so the largest is a cheap count.
    population = select(literal(_POPULATION_KEY, String).label("key"),
                        func.max(customer.c.id).label("customer_id"))
    return union_all(population, *(
        select(match_key.c.key, match_key.c.customer_id)
        .where(match_key.c.key == bindparam(f"k{i}")).limit(limit).subquery().select()
        for i in range(count)))


#: The lookup's row that carries the population (no key starts with "#").
_POPULATION_KEY = "#"


def _counts(count: int) -> Any:
    return union_all(*(
        select(bindparam(f"k{i}", type_=String).label("key"),
               select(func.count()).select_from(
                   select(match_key.c.customer_id).where(match_key.c.key == bindparam(f"k{i}"))
                   .limit(COUNTED).subquery()).scalar_subquery().label("n"))
        for i in range(count)))


def _load(conn: Connection, ids: Sequence[int], fields: SensitiveFields,
          ) -> dict[int, _Stored]:
    """The customers with their names, identifiers and contacts (personal data opened),
    in one statement (a round trip per table would cost more than reading the rows)."""
    people: dict[int, _Stored] = {}
    for cid, tag, a, b, c, d, e, f in conn.execute(_CANDIDATES, {"ids": list(ids)}):
        if tag == "customer":
            people[cid] = _Stored(cid, a or "", b, c, d, e, f)
        elif tag == "name":
            people[cid].names.append(NameForms(a, b, c, d, e, f))
        elif tag == "identifier":
            scheme, _, value = a.partition(":")
            people[cid].identifiers.append(f"{scheme}:{fields.identifier_of(scheme, value, b)}")
        else:
            people[cid].contacts.append(fields.contact_of(tag, None, a))
    return people


_IDS: Any = bindparam("ids", expanding=True)
#: Orders a customer's names so the current legal name comes first.
CURRENT_LEGAL_FIRST = case((and_(customer_name.c.kind == "legal",
                                 customer_name.c.valid_to.is_(None)), 0), else_=1)
_NONE = literal(None, String)
#: One row per customer, name, identifier and contact, all of the same shape: the
#: customer first, then its names (current legal name first), identifiers, contacts.
_ROWS = (
    union_all(
        select(customer.c.id.label("customer_id"), literal("customer").label("tag"),
               current_code_of(customer.c.id), customer.c.owner, customer.c.lifecycle,
               customer.c.legal_name, customer.c.kind, customer.c.region,
               literal(0).label("rank"), literal(0).label("row_id"))
        .where(customer.c.id.in_(_IDS)),
        select(customer_name.c.customer_id, literal("name"),
               *(customer_name.c[c] for c in NAME_FORM_COLUMNS),
               literal(1) + CURRENT_LEGAL_FIRST, customer_name.c.id)
        .where(customer_name.c.customer_id.in_(_IDS)),
        select(identifier.c.customer_id, literal("identifier"),
               identifier.c.scheme + ":" + identifier.c.value, identifier.c.sealed,
               *[_NONE] * 4, literal(3), identifier.c.id)
        .where(identifier.c.customer_id.in_(_IDS)),  # a retired customer's too
        select(contact.c.customer_id, contact.c.kind, contact.c.canonical, *[_NONE] * 5,
               literal(4), contact.c.id)
        .where(contact.c.customer_id.in_(_IDS)),
    )
    .subquery())
_CANDIDATES = (select(*list(_ROWS.c)[:8])
               .order_by(_ROWS.c.customer_id, _ROWS.c.rank, _ROWS.c.row_id))
