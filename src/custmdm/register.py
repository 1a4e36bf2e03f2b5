"""The library's front door: ``custmdm.open_register(url)`` and its methods.

Each method is one use case from :mod:`custmdm.core`, run for the register's actor;
the CLI, and later the API and web UI, call exactly these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

from custmdm.core import (
    access,
    audit,
    backup,
    batch,
    bulk,
    classification,
    coding,
    dedup,
    erasure,
    idempotency,
    identifiers,
    integrity,
    keys,
    merge,
    names,
    naming,
    overview,
    registry,
    requests,
    search,
    xref,
)
from custmdm.core.approval import ApprovalPolicy
from custmdm.core.audit import AuditEntry, AuditFilter
from custmdm.core.backup import RestoreResult
from custmdm.core.bulk import BulkResult
from custmdm.core.coding import RuleSummary
from custmdm.core.context import Actor, Context
from custmdm.core.customers import CustomerDraft, CustomerRecord, ValidCustomer
from custmdm.core.integrity import CodeCheckReport
from custmdm.core.names import NameRecord
from custmdm.core.overview import Overview
from custmdm.core.registry import CustomerFilter, Resolution
from custmdm.core.requests import ChangeRequest
from custmdm.core.search import SearchHit
from custmdm.core.xref import ImportResult, KeyMapping, XrefMatch
from custmdm.domain.matching import MatchRule
from custmdm.domain.naming import NamingRule
from custmdm.domain.rules import CodingRule, CounterScope
from custmdm.domain.survivorship import FieldRule
from custmdm.errors import ValidationError
from custmdm.io.backup import BackupInfo
from custmdm.security.audit_chain import ChainReport
from custmdm.security.keys import Keyring
from custmdm.store import schema
from custmdm.store.database import Store


class Register:
    """A customer register (one database) used by one actor."""

    def __init__(
        self, store: Store, actor: Actor | None = None,
        approvals: ApprovalPolicy | None = None, keyring: Keyring | None = None,
    ) -> None:
        self.store = store
        if keyring is not None:
            store.use_keyring(keyring)
        self.ctx = Context(store, actor or Actor.local_user(),
                           approvals or requests.RegisterApprovals())

    @property
    def user(self) -> str:
        """The name of the user this register acts as."""
        return self.ctx.actor.name

    # -- set-up ----------------------------------------------------------------------

    def init(self) -> str | None:
        """Create or upgrade the schema; returns the revision the database is now at.
        Creates the key file (security.keys) where none is configured yet, and makes the
        acting user an administrator when the register has no users yet."""
        if not self.store.has_keyring:
            self.store.use_keyring(Keyring.load(create=True))
        schema.upgrade(self.store)
        access.ensure_first_administrator(self.ctx)
        return schema.current_revision(self.store)

    def require_schema(self) -> None:
        """Fail clearly when ``init`` was never run on this database."""
        if not self.store.has_schema():
            raise ValidationError(
                f"the database {self.store.engine.url.render_as_string(hide_password=True)} "
                "has no register yet; run `custmdm init` first"
            )

    def close(self) -> None:
        """Void codes reserved but not used, and release the database connections."""
        try:
            self.ctx.reservations.release(self.ctx, "reserved but unused when the register "
                                          "was closed")
        finally:
            self.store.dispose()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- duplicates ----------------------------------------------------------------------

    def check_duplicates(self, draft: CustomerDraft, limit: int = 10) -> dedup.CheckResult:
        """The existing customers a draft may duplicate, with scores and reasons."""
        return dedup.check_draft(self.ctx, draft, limit)

    def match_rules(self) -> list[MatchRule]:
        """What the duplicate check does per customer kind."""
        return dedup.match_rules(self.ctx)

    def set_match_rule(self, kind: str, action: str, threshold: float | None) -> None:
        """Set a kind's threshold for block, warn or link; None removes that rule."""
        dedup.set_match_rule(self.ctx, kind, action, threshold)

    def dedup_run(self, *, train: bool = False, threshold: float = batch.THRESHOLD,
                  labels: Path | str | None = None) -> batch.RunResult:
        """Deduplicate the whole register with Splink; clusters go to the review queue.
        Trains the model first when there is none (or ``train``, or ``labels``: a CSV
        of code pairs known to be one customer, to estimate m from)."""
        return batch.run_batch(self.ctx, train=train, threshold=threshold, labels=labels)

    def dedup_file(self, path: Path | str, threshold: float = batch.THRESHOLD
                   ) -> list[batch.FileMatch]:
        """The registered customers the records of an incoming CSV file likely are."""
        return batch.link_file(self.ctx, path, threshold)

    def review_queue(self, status: str = "open", limit: int = 50) -> list[batch.ReviewCluster]:
        """Clusters from batch runs waiting for a decision."""
        return batch.review_queue(self.ctx, status, limit)

    def decide(self, cluster_id: int, decision: str, survivor: str | None = None,
               expected_versions: Mapping[str, int] | None = None) -> batch.ReviewCluster:
        """Accept (merge), reject (never proposed again) or defer a review cluster;
        ``expected_versions``: code → version reviewed (an accept is refused with
        StaleVersion if one changed since)."""
        return batch.decide(self.ctx, cluster_id, decision, survivor=survivor,
                            expected_versions=expected_versions)

    def merge(self, survivor: str, losers: Sequence[str],
              picks: Mapping[str, str] | None = None, reason: str = "duplicates",
              trusted: Sequence[str] = (),
              expected_versions: Mapping[str, int] | None = None) -> merge.MergeResult:
        """Merge customers (by code) into the survivor; ``picks``: field → code;
        ``trusted``: systems whose customers' values win, most trusted first;
        ``expected_versions``: code → version read (a customer changed since is
        StaleVersion)."""
        return merge.merge_customers(self.ctx, survivor, losers, picks, reason,
                                     trusted=trusted, expected_versions=expected_versions)

    def survivorship_rules(self) -> list[FieldRule]:
        """How a merge chooses each field's value (a steward's rule, else the default)."""
        return merge.survivorship_rules(self.ctx)

    def set_survivorship_rule(self, field: str, rule: str | None,
                              systems: Sequence[str] = ()) -> FieldRule:
        """Set a field's survivorship rule (``trusted`` needs ``systems``, most trusted
        first); None puts the default back."""
        return merge.set_survivorship_rule(self.ctx, field, rule, systems)

    def undo_merge(self, merge_id: int, reason: str = "undo") -> CustomerRecord:
        """Put back exactly what a merge changed; refused if those rows changed since."""
        return merge.undo_merge(self.ctx, merge_id, reason)

    # -- coding rules ------------------------------------------------------------------

    def add_rule(
        self, name: str, pattern: str, *, kind: str | None = None,
        region_prefix: str | None = None, industry: str | None = None,
        grade: str | None = None, priority: int = 100, gapless: bool = False,
        counter_scope: CounterScope = "prefix", kind_letters: Mapping[str, str] | None = None,
        grade_letters: Mapping[str, str] | None = None,
    ) -> CodingRule:
        """Add a coding rule; refused if it could collide with another rule or a code."""
        return coding.save_rule(
            self.ctx, name, pattern, kind=kind, region_prefix=region_prefix,
            industry=industry, grade=grade, priority=priority, gapless=gapless,
            counter_scope=counter_scope, kind_letters=kind_letters,
            grade_letters=grade_letters,
        )

    def rule_version(self, name: str) -> int:
        """The current version of a coding rule; 0 if there is none."""
        return coding.current_version(self.ctx, name)

    def retire_rule(self, name: str, reason: str) -> CodingRule:
        """Stop a rule giving codes; its codes and its name stay."""
        return coding.retire_rule(self.ctx, name, reason)

    def update_rule(
        self, name: str, pattern: str, *, kind: str | None = None,
        region_prefix: str | None = None, industry: str | None = None,
        grade: str | None = None, priority: int | None = None, gapless: bool | None = None,
        counter_scope: CounterScope | None = None,
        kind_letters: Mapping[str, str] | None = None,
        grade_letters: Mapping[str, str] | None = None,
    ) -> CodingRule:
        """Save a new version of a rule; options not given are kept from the current
        version. Refused if it could collide with codes already recorded."""
        return coding.save_rule(
            self.ctx, name, pattern, kind=kind, region_prefix=region_prefix,
            industry=industry, grade=grade, priority=priority, gapless=gapless,
            counter_scope=counter_scope, kind_letters=kind_letters,
            grade_letters=grade_letters, new_version=True,
        )

    def rules(self) -> list[RuleSummary]:
        """Current rules in the order they are tried."""
        return coding.list_rules(self.ctx)

    def preview(
        self, name: str, *, kind: str | None = None, region: str | None = None,
        industry: str | None = None, grade: str | None = None, count: int = 5,
    ) -> list[str]:
        """The next codes the rule would give; consumes nothing."""
        return coding.preview_codes(self.ctx, name, kind=kind, region=region,
                                    industry=industry, grade=grade, count=count)

    # -- customers ---------------------------------------------------------------------

    def register(self, draft: CustomerDraft, override_reason: str | None = None
                 ) -> CustomerRecord:
        """Register one customer and give it its code, after the duplicate check (a
        warning is passed only with ``override_reason``)."""
        return registry.register_customer(self.ctx, draft, override_reason=override_reason)

    def register_once(self, draft: CustomerDraft, key: str,
                      override_reason: str | None = None) -> idempotency.Registered:
        """Register a customer once for a client's idempotency key: a retry with the
        same key returns the customer the first request registered."""
        return idempotency.register_idempotently(self.ctx, draft, key,
                                                 override_reason=override_reason)

    def register_many(
        self, drafts: Iterable[CustomerDraft], batch_size: int = 5000,
        validators: int = 0,
    ) -> BulkResult:
        """Register many customers; each batch of ``batch_size`` is one transaction.
        ``validators`` helper processes may validate the next batches meanwhile."""
        return bulk.register_customers(self.ctx, drafts, batch_size, validators)

    def register_validated(self, customers: Sequence[ValidCustomer]) -> BulkResult:
        """Register one batch of already validated customers in one transaction."""
        codes = bulk.register_valid_batch(self.ctx, customers)
        return BulkResult(len(codes), codes[0] if codes else None,
                          codes[-1] if codes else None)

    def unmask(self, code: str, reason: str) -> Resolution:
        """The customer with its personal data unmasked (see_sensitive; audited)."""
        return registry.unmask(self.ctx, code, reason)

    def erase(self, code: str, reason: str) -> erasure.Erasure:
        """Erase an individual's personal data (PIPL); the code and audit trail stay."""
        return erasure.erase_person(self.ctx, code, reason)

    def find(self, code: str) -> Resolution:
        """The customer holding (or having held) ``code``."""
        return registry.find_by_code(self.ctx, code)

    def customers(self, filters: CustomerFilter | None = None) -> list[CustomerRecord]:
        """A page of customers matching the filters."""
        return registry.list_customers(self.ctx, filters or CustomerFilter())

    def change_code(
        self, code: str, reason: str, *, rule: str | None = None, to: str | None = None,
        expected_version: int | None = None,
    ) -> Resolution:
        """Give a customer a new code; the old one keeps resolving as superseded."""
        return registry.change_code(self.ctx, code, reason, rule_name=rule, new_value=to,
                                    expected_version=expected_version)

    def retire(self, code: str, reason: str, *,
               expected_version: int | None = None) -> CustomerRecord:
        """Retire a customer; its code is never freed. ``expected_version``: refuse
        (StaleVersion) if the customer is no longer at that version."""
        return registry.retire_customer(self.ctx, code, reason,
                                        expected_version=expected_version)

    def update(self, code: str, *, expected_version: int | None = None,
               **changes: str | None) -> CustomerRecord:
        """Change a customer's industry, size, grade or owner (None clears one)."""
        return classification.update_customer(
            self.ctx, code, classification.CustomerChanges(changes),
            expected_version=expected_version)

    # -- names ---------------------------------------------------------------------------

    def add_identifier(self, code: str, scheme: str, value: str, *,
                       override_reason: str | None = None) -> CustomerRecord:
        """Give a customer an identifier of a scheme it has none of (checked for
        duplicates like a registration)."""
        return identifiers.add_identifier(self.ctx, code, scheme, value,
                                          override_reason=override_reason)

    def remove_identifier(self, code: str, scheme: str, reason: str, *,
                          value: str | None = None,
                          expected_version: int | None = None) -> CustomerRecord:
        """Remove a customer's identifier of ``scheme`` (``value``: which, when it has
        two after a merge), given in error."""
        return identifiers.remove_identifier(self.ctx, code, scheme, reason, value=value,
                                             expected_version=expected_version)

    def add_name(
        self, code: str, kind: str, text: str, *, valid_from: date | None = None,
        source: str | None = None, override_reason: str | None = None,
    ) -> NameRecord:
        """Give a customer a short name, alias, English name or code name."""
        return names.add_name(self.ctx, code, kind, text, valid_from=valid_from,
                              source=source, override_reason=override_reason)

    def names(self, code: str, at: date | None = None) -> list[NameRecord]:
        """A customer's names: all, history included, or those valid on ``at``."""
        return names.names_of(self.ctx, code, at)

    def legal_name_on(self, code: str, day: date) -> str:
        """What the customer was legally called on ``day``."""
        return names.legal_name_on(self.ctx, code, day)

    def rename(
        self, code: str, new_legal_name: str, reason: str, *, on: date | None = None,
        override_reason: str | None = None, expected_version: int | None = None,
    ) -> CustomerRecord:
        """Change the legal name; the old one becomes a former name until ``on``."""
        return names.rename(self.ctx, code, new_legal_name, reason, on=on,
                            override_reason=override_reason,
                            expected_version=expected_version)

    def add_naming_rule(self, rule: NamingRule) -> NamingRule:
        """Save a naming rule; names given from now on must follow it."""
        return naming.add_naming_rule(self.ctx, rule)

    def naming_rules(self) -> list[NamingRule]:
        """Every naming rule."""
        return naming.naming_rules(self.ctx)

    def remove_naming_rule(self, name: str) -> None:
        """Remove a naming rule."""
        naming.remove_naming_rule(self.ctx, name)

    # -- key mapping -----------------------------------------------------------------------

    def add_system(self, name: str, description: str | None = None) -> str:
        """Register another system (ERP, CRM, billing …)."""
        return xref.add_system(self.ctx, name, description)

    def systems(self) -> list[tuple[str, str | None]]:
        """Every registered system: (name, description)."""
        return xref.list_systems(self.ctx)

    def add_xref(
        self, code: str, system: str, external_id: str, external_name: str | None = None,
        *, valid_from: date | None = None,
    ) -> KeyMapping:
        """Map a system's id (and name) to a customer."""
        return xref.add_xref(self.ctx, code, system, external_id, external_name,
                             valid_from=valid_from)

    def find_xref(self, system: str, external_id: str) -> XrefMatch:
        """Which customer the system means by ``external_id``."""
        return xref.find_xref(self.ctx, system, external_id)

    def xrefs(self, code: str, system: str | None = None) -> list[KeyMapping]:
        """What other systems call this customer."""
        return xref.xrefs_of(self.ctx, code, system)

    def move_xref(
        self, system: str, external_id: str, to: str, reason: str, *, on: date | None = None
    ) -> KeyMapping:
        """Move a mapping to another customer, explicitly and audited."""
        return xref.move_xref(self.ctx, system, external_id, to, reason, on=on)

    def import_xrefs(self, path: str | Path, system: str) -> ImportResult:
        """Add or refresh a system's mappings from a CSV file, all or nothing."""
        return xref.import_xrefs(self.ctx, path, system)

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Customers matching a code, identifier, external id, name, pinyin or initials,
        typos tolerated; best first, each with why it matched."""
        return search.search(self.ctx, query, limit)

    # -- users, roles, grants, tokens -----------------------------------------------------

    def add_user(self, name: str, *, display_name: str | None = None,
                 team: str | None = None, kind: str = "person",
                 password: str | None = None) -> access.UserRecord:
        """Add a user: a person, or (``kind="system"``) another system using tokens."""
        return access.add_user(self.ctx, name, display_name=display_name, team=team,
                               kind=kind, password=password)

    def users(self) -> list[access.UserRecord]:
        """Every user with their grants."""
        return access.list_users(self.ctx)

    def disable_user(self, name: str, reason: str) -> access.UserRecord:
        """Disable a user: no grant or token of theirs works any more."""
        return access.set_user_active(self.ctx, name, False, reason)

    def enable_user(self, name: str) -> access.UserRecord:
        """Enable a disabled user again."""
        return access.set_user_active(self.ctx, name, True)

    def set_password(self, name: str, password: str) -> None:
        """Set a user's password (stored as an argon2id hash)."""
        access.set_password(self.ctx, name, password)

    def check_password(self, name: str, password: str) -> str:
        """The user's name if the password is right (PermissionDenied otherwise)."""
        return access.check_password(self.ctx, name, password)

    def roles(self) -> list[access.RoleRecord]:
        """Built-in and custom roles with their permissions."""
        return access.list_roles(self.ctx)

    def add_role(self, name: str, permissions: Sequence[str],
                 description: str | None = None) -> access.RoleRecord:
        """Define a custom role."""
        return access.add_role(self.ctx, name, permissions, description)

    def remove_role(self, name: str) -> None:
        """Remove a custom role that no grant uses."""
        access.remove_role(self.ctx, name)

    def grant(self, user: str, role: str, scope: str = "all") -> access.GrantRecord:
        """Give ``user`` the ``role`` within ``scope`` (all, own, region:44, industry:C,
        team:NAME)."""
        return access.grant_role(self.ctx, user, role, scope)

    def revoke(self, user: str, role: str, scope: str = "all") -> None:
        """Take a grant back."""
        access.revoke_grant(self.ctx, user, role, scope)

    def grants(self, user: str | None = None) -> list[access.GrantRecord]:
        """Every grant, or one user's."""
        return access.list_grants(self.ctx, user)

    def create_token(self, user: str, name: str,
                     days: int | None = access.DEFAULT_TOKEN_DAYS,
                     value: str | None = None) -> access.NewToken:
        """A new API token (returned this once; stored as a hash only); ``value``: one
        the operator chose instead of a random one."""
        return access.create_token(self.ctx, user, name, days, value)

    def tokens(self, user: str | None = None) -> list[access.TokenRecord]:
        """Tokens, newest first (never their values)."""
        return access.list_tokens(self.ctx, user)

    def revoke_token(self, token_id: int) -> None:
        """Revoke a token at once."""
        access.revoke_token(self.ctx, token_id)

    def open_session(self, name: str, password: str,
                     hours: int = access.SESSION_HOURS) -> access.NewToken:
        """Log a user in with their password: a session token lasting ``hours``."""
        return access.open_session(self.ctx, name, password, hours)

    def close_session(self, token: str) -> bool:
        """Log out: revoke the acting user's session token (False if already closed)."""
        return access.close_session(self.ctx, token)

    def authenticate_token(self, token: str) -> str:
        """The user a bearer token belongs to (PermissionDenied if it is not valid)."""
        return access.authenticate_token(self.ctx, token)

    # -- change requests (maker–checker) --------------------------------------------------

    def approval_rules(self) -> list[str]:
        """The actions that need a second user's approval."""
        return requests.approval_rules(self.ctx)

    def set_approval_rule(self, action: str, required: bool = True) -> None:
        """Make an action (customer.change_code, customer.merge, customer.rename,
        customer.retire, xref.move, rule.change) need approval, or not any more."""
        requests.set_approval_rule(self.ctx, action, required)

    def requests(self, status: str | None = "pending", *, mine: bool = False,
                 limit: int = 50) -> list[ChangeRequest]:
        """Change requests: one's own and those one may approve, newest first."""
        return requests.list_requests(self.ctx, status, mine=mine, limit=limit)

    def request(self, request_id: int) -> ChangeRequest:
        """One change request."""
        return requests.get_request(self.ctx, request_id)

    def approve(self, request_id: int, reason: str | None = None) -> ChangeRequest:
        """Apply another user's pending change request (a conflict if its target changed)."""
        return requests.approve_request(self.ctx, request_id, reason)

    def reject(self, request_id: int, reason: str) -> ChangeRequest:
        """Refuse a pending change request."""
        return requests.reject_request(self.ctx, request_id, reason)

    def withdraw(self, request_id: int) -> ChangeRequest:
        """Take back one's own pending change request."""
        return requests.withdraw_request(self.ctx, request_id)

    def rotate_key(self, purpose: str = "audit", *, resume: bool = False,
                   batch_size: int = keys.RESEAL_BATCH,
                   progress: Callable[[int], None] | None = None) -> keys.Rotation:
        """A new current key for ``purpose`` in the key file; old ones stay. A new data
        key re-encrypts every sealed value in batches (``resume``: finish that, under
        the current key)."""
        return keys.rotate_key(self.ctx, purpose, resume=resume, batch_size=batch_size,
                               progress=progress)

    # -- backup and restore ------------------------------------------------------------

    def backup(self, path: Path | str) -> BackupInfo:
        """Back the whole register up into one verified file (manifest + checksum)."""
        return backup.backup(self.ctx, path)

    def restore(self, path: Path | str) -> RestoreResult:
        """Replace the register with a backup, after checking the backup through; other
        processes using the register must be stopped first."""
        return backup.restore(self.ctx, path)

    # -- audit -------------------------------------------------------------------------

    def audit_log(self, filters: AuditFilter | None = None) -> list[AuditEntry]:
        """Audit entries matching the filters, newest first."""
        return audit.audit_log(self.ctx, filters or AuditFilter())

    def verify_audit(self, anchor: str | None = None) -> ChainReport:
        """Walk the audit chain; the report names the first broken link, if any.
        ``anchor``: ``SEQ:MAC`` from an earlier verify, which the chain must contain."""
        return audit.verify_audit(self.ctx, anchor)

    # -- checks ------------------------------------------------------------------------

    def overview(self, top_provinces: int = 10) -> Overview:
        """Counts of the customers the actor may read: by kind, status, province; codes
        by rule."""
        return overview.overview(self.ctx, top_provinces)

    def check_codes(self) -> CodeCheckReport:
        """Verify every code invariant."""
        return integrity.check_codes(self.ctx)



def open_register(
    url: str | None = None, *, actor: str | Actor | None = None,
    approvals: ApprovalPolicy | None = None, keyring: Keyring | None = None,
) -> Register:
    """Open the register at ``url`` (default ``$CUSTMDM_DATABASE_URL`` or a local SQLite
    file) for ``actor``, with ``keyring`` (default: the configured key file)."""
    who = Actor(actor) if isinstance(actor, str) else actor
    return Register(Store(url), who, approvals, keyring)
