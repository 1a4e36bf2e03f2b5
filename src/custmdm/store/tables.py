"""The tables. Integrity lives here as constraints, not only in Python.

Alembic migrations in ``store/migrations`` must build exactly this schema; a test
compares the two on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    text,
)

# Named constraints so migrations are stable and errors can be mapped by name.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys.
Id = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True)

customer = Table(
    "customer",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("legal_name", String(500), nullable=False, comment="exactly as entered"),
    Column("country", String(2), nullable=False, comment="ISO 3166-1 alpha-2"),
    Column("region", String(6), comment="GB/T 2260 code (Chinese customers)"),
    Column("industry", String(4), comment="GB/T 4754 code: section letter or digits"),
    Column("industry_section", String(1), comment="GB/T 4754 section letter"),
    Column("size", String(8)),
    Column("grade", String(16)),
    Column("lifecycle", String(16), nullable=False),
    Column("owner", String(100)),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("review_due", Date),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    CheckConstraint(
        "kind IN ('enterprise', 'individual', 'government', 'other')", name="kind"
    ),
    CheckConstraint(
        "lifecycle IN ('prospect', 'active', 'dormant', 'churned', 'merged', 'retired')",
        name="lifecycle",
    ),
    comment="One row per customer; its codes, names and identifiers hang off it.",
)
Index(None, customer.c.region)
Index(None, customer.c.lifecycle)

coding_rule = Table(
    "coding_rule",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Column("pattern", String(200), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("gapless", Boolean, nullable=False),
    Column("counter_scope", String(8), nullable=False),
    Column("cond_kind", String(16)),
    Column("cond_region_prefix", String(6)),
    Column("cond_industry", String(4)),
    Column("cond_grade", String(16)),
    Column("kind_letters", JSON, nullable=False),
    Column("grade_letters", JSON, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    UniqueConstraint("name", "version"),
    CheckConstraint("counter_scope IN ('prefix', 'rule')", name="counter_scope"),
    comment="Every version of every coding rule; one current version per name.",
)
Index(
    "uq_coding_rule_current_name",
    coding_rule.c.name,
    unique=True,
    sqlite_where=coding_rule.c.is_current,
    postgresql_where=coding_rule.c.is_current,
)

code_counter = Table(
    "code_counter",
    metadata,
    Column("rule_name", String(64), primary_key=True),
    Column("scope_key", String(64), primary_key=True, comment="'' for one counter per rule"),
    Column("next_value", BigInteger, nullable=False),
    CheckConstraint("next_value >= 1", name="positive"),
    comment="The next sequence number per rule and scope; only ever goes up.",
)

customer_code = Table(
    "customer_code",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("value", String(64), nullable=False, unique=True),
    Column("customer_id", ForeignKey("customer.id")),
    Column("rule_id", ForeignKey("coding_rule.id")),
    Column("scope_key", String(64)),
    Column("seq", BigInteger),
    Column("status", String(16), nullable=False),
    Column("issued_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp),
    Column("reason", Text),
    CheckConstraint(
        "status IN ('reserved', 'active', 'superseded', 'retired', 'void')", name="status"
    ),
    CheckConstraint(
        "customer_id IS NOT NULL OR status IN ('reserved', 'void')", name="owned"
    ),
    comment="Append-only: every code value ever reserved or issued, unique for all time.",
)
Index(None, customer_code.c.customer_id)
Index(None, customer_code.c.rule_id, customer_code.c.scope_key, customer_code.c.seq)
# At most one current code per customer, enforced by the database.
Index(
    "uq_customer_code_active_customer",
    customer_code.c.customer_id,
    unique=True,
    sqlite_where=customer_code.c.status == "active",
    postgresql_where=customer_code.c.status == "active",
)

identifier = Table(
    "identifier",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", ForeignKey("customer.id"), nullable=False),
    Column("scheme", String(32), nullable=False, comment="cn.uscc, cn.ric, vat.<cc>"),
    Column("value", String(64), nullable=False,
           comment="compact canonical form; for a person's number (security.fields."
                   "PERSONAL_SCHEMES) its blind index"),
    Column("active", Boolean, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("sealed", Text, comment="a person's number, encrypted (security.fields)"),
    comment="Official numbers; each belongs to at most one active customer.",
)
Index(None, identifier.c.customer_id)
Index(None, identifier.c.value)
Index(
    "uq_identifier_active_scheme_value",
    identifier.c.scheme,
    identifier.c.value,
    unique=True,
    sqlite_where=identifier.c.active,
    postgresql_where=identifier.c.active,
)

customer_name = Table(
    "customer_name",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", ForeignKey("customer.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", String(500), nullable=False, comment="exactly as entered"),
    Column("normalised", String(500), nullable=False, comment="domain.names.normalise"),
    Column("core", String(500), nullable=False, comment="trade name + industry, for matching"),
    Column("pinyin", String(2000), nullable=False),
    Column("initials", String(500), nullable=False),
    Column("core_pinyin", String(2000), nullable=False,
           comment="pinyin of the core: what people type, what homophones share"),
    Column("core_initials", String(500), nullable=False),
    Column("valid_from", Date, comment="NULL: since the customer was registered"),
    Column("valid_to", Date, comment="NULL: still valid; else valid until this day"),
    Column("source", String(100), comment="who or what gave the name"),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint(
        "kind IN ('legal', 'short', 'alias', 'english', 'codename', 'former')", name="kind"
    ),
    CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to",
                    name="valid_dates"),
    comment="Every name of every customer, with its kind and validity; history is kept.",
)
Index(None, customer_name.c.customer_id)
Index(None, customer_name.c.normalised)
Index(None, customer_name.c.core)
Index(None, customer_name.c.pinyin)
Index(None, customer_name.c.initials)
Index(None, customer_name.c.core_pinyin)
Index(None, customer_name.c.core_initials)
# Trigram indexes for substring and fuzzy search are dialect-specific (an FTS5 table on
# SQLite, pg_trgm on PostgreSQL): migration 0005 and store/search.py, not modelled here.
# Exactly one current legal name per customer, enforced by the database.
Index(
    "uq_customer_name_current_legal",
    customer_name.c.customer_id,
    unique=True,
    sqlite_where=and_(customer_name.c.kind == "legal", customer_name.c.valid_to.is_(None)),
    postgresql_where=and_(customer_name.c.kind == "legal", customer_name.c.valid_to.is_(None)),
)

system = Table(
    "system",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", String(500)),
    Column("created_at", Timestamp, nullable=False),
    comment="Other systems that know customers under their own ids (ERP, CRM, billing).",
)

xref = Table(
    "xref",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("system_id", ForeignKey("system.id"), nullable=False),
    Column("external_id", String(200), nullable=False, comment="the system's own id"),
    Column("external_name", String(500), comment="what the system calls the customer"),
    Column("external_normalised", String(500),
           comment="domain.names.normalise of external_name, for search"),
    Column("customer_id", ForeignKey("customer.id"), nullable=False),
    Column("valid_from", Date),
    Column("valid_to", Date, comment="NULL: the mapping holds; else it ended that day"),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to",
                    name="valid_dates"),
    comment="Key mapping (客户对应关系): a system's id and name for a customer.",
)
Index(None, xref.c.customer_id)
Index(None, xref.c.external_id)
Index(None, xref.c.external_normalised)
# A system's id belongs to one customer among the mappings that hold.
Index(
    "uq_xref_current_system_external_id",
    xref.c.system_id,
    xref.c.external_id,
    unique=True,
    sqlite_where=xref.c.valid_to.is_(None),
    postgresql_where=xref.c.valid_to.is_(None),
)

contact = Table(
    "contact",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", ForeignKey("customer.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("value", Text, nullable=False, comment="as entered, encrypted (security.fields)"),
    Column("canonical", Text, nullable=False,
           comment="what matching compares (E.164 phone, lower-case e-mail, normalised "
                   "text), encrypted"),
    Column("created_at", Timestamp, nullable=False),
    Column("blind", String(32), nullable=False,
           comment="blind index (keyed HMAC) of the canonical form, for equality search"),
    CheckConstraint("kind IN ('phone', 'email', 'address', 'legal_representative')",
                    name="kind"),
    comment="Phones, e-mails, addresses and the legal representative (domain.contacts).",
)
Index(None, contact.c.customer_id)
Index(None, contact.c.blind)

match_key = Table(
    "match_key",
    metadata,
    Column("key", String(100), primary_key=True,
           comment="domain.matching.blocking_keys: i: identifier, n: name core, p: pinyin…"),
    Column("customer_id", ForeignKey("customer.id"), primary_key=True),
    sqlite_with_rowid=False,
    comment="The blocking index: where the duplicate check finds its candidates. Written "
            "with the data it is made from, in the same transaction.",
)
Index(None, match_key.c.customer_id)

match_rule = Table(
    "match_rule",
    metadata,
    Column("kind", String(16), primary_key=True, comment="customer kind"),
    Column("action", String(8), primary_key=True),
    Column("threshold", Float, nullable=False, comment="match probability"),
    Column("updated_at", Timestamp, nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint("action IN ('block', 'warn', 'link')", name="action"),
    CheckConstraint("threshold > 0 AND threshold <= 1", name="threshold"),
    comment="What the duplicate check does per customer kind above a threshold; a kind "
            "with no rows is not checked.",
)

survivorship_rule = Table(
    "survivorship_rule",
    metadata,
    Column("field", String(16), primary_key=True, comment="a field a merge decides"),
    Column("rule", String(16), nullable=False),
    Column("systems", JSON, nullable=False, comment="for 'trusted': systems, most trusted "
                                                   "first"),
    Column("updated_at", Timestamp, nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint("rule IN ('survivor', 'most_complete', 'most_recent', 'trusted')",
                    name="rule"),
    comment="Survivorship rules (字段保留规则) a steward set; a field without a row keeps "
            "the built-in rule (domain.survivorship).",
)

merge = Table(
    "merge",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("survivor_id", ForeignKey("customer.id"), nullable=False),
    Column("loser_ids", JSON, nullable=False),
    Column("fields", JSON, nullable=False, comment="field -> code its value came from"),
    Column("reason", Text, nullable=False),
    Column("before", JSON, nullable=False,
           comment="every row the merge changed, as it was (per table), for undo"),
    Column("added_keys", JSON, nullable=False, comment="match keys the survivor gained"),
    Column("versions", JSON, nullable=False, comment="customer id -> version after merge"),
    Column("merged_at", Timestamp, nullable=False),
    Column("merged_by", String(100), nullable=False),
    Column("undone_at", Timestamp),
    Column("undone_by", String(100)),
    comment="Merges of duplicates into a survivor, with what undo needs.",
)
Index(None, merge.c.survivor_id)

match_model = Table(
    "match_model",
    metadata,
    Column("name", String(32), primary_key=True,
           comment="which customers it links: 'organisations' or 'individuals'"),
    Column("model", JSON, nullable=False, comment="the trained Splink model (its JSON)"),
    Column("trained_at", Timestamp, nullable=False),
    Column("trained_by", String(100), nullable=False),
    Column("records", Integer, nullable=False, comment="customers it was trained on"),
    comment="Trained batch linkage models, reused by routine runs (core.batch).",
)

review_cluster = Table(
    "review_cluster",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_at", Timestamp, nullable=False),
    Column("status", String(10), nullable=False),
    Column("customer_ids", JSON, nullable=False),
    Column("decided_at", Timestamp),
    Column("decided_by", String(100)),
    Column("merge_id", ForeignKey("merge.id")),
    CheckConstraint("status IN ('open', 'deferred', 'accepted', 'rejected', 'stale')",
                    name="status"),
    comment="Review queue (待复核队列): clusters of likely duplicates from a batch run.",
)
Index(None, review_cluster.c.status)

review_pair = Table(
    "review_pair",
    metadata,
    Column("cluster_id", ForeignKey("review_cluster.id"), primary_key=True),
    Column("left_id", ForeignKey("customer.id"), primary_key=True),
    Column("right_id", ForeignKey("customer.id"), primary_key=True),
    Column("probability", Float, nullable=False),
    Column("why", JSON, nullable=False, comment="explanations, strongest first"),
    comment="The scored pairs of a review cluster.",
)

not_duplicate = Table(
    "not_duplicate",
    metadata,
    Column("left_id", ForeignKey("customer.id"), primary_key=True),
    Column("right_id", ForeignKey("customer.id"), primary_key=True),
    Column("decided_at", Timestamp, nullable=False),
    Column("decided_by", String(100), nullable=False),
    CheckConstraint("left_id < right_id", name="ordered"),
    comment="Pairs a steward said are different customers: never proposed again.",
)

naming_rule = Table(
    "naming_rule",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), comment="customer kind; NULL for every kind"),
    Column("name_kinds", JSON, nullable=False, comment="name kinds it applies to"),
    Column("required_parts", JSON, nullable=False),
    Column("forbidden_words", JSON, nullable=False),
    Column("min_length", Integer),
    Column("max_length", Integer),
    Column("allowed_characters", JSON, nullable=False, comment="classes; empty: any"),
    Column("extra_characters", String(200), nullable=False),
    Column("description", String(500), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    comment="Rules names must follow, set by data stewards (domain.naming).",
)

audit_entry = Table(
    "audit_entry",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True,
           comment="place in the hash chain: 1, 2, 3 … in the order of commit"),
    Column("mac", String(64), nullable=False,
           comment="HMAC-SHA256 over the previous entry's mac and this entry "
                   "(security.audit_chain)"),
    Column("key_id", String(32), nullable=False, comment="the audit key of the mac"),
    comment="Who changed what, when; written in the same transaction as the change. "
            "Append-only: triggers refuse UPDATE and DELETE (migration 0013).",
)
# The audit log of one customer (`custmdm audit log --customer`) reads this index
# (dropped by migration 0002 while no query needed it, back in 0013).
Index(None, audit_entry.c.entity, audit_entry.c.entity_id)

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("mac", String(64), nullable=False),
    CheckConstraint("id = 1", name="one_row"),
    comment="The head of the audit chain: the last entry's seq and mac. Writers lock "
            "this row to append, which puts every entry in one order.",
)

register_key = Table(
    "register_key",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("purpose", String(8), nullable=False),
    Column("check_value", String(32), nullable=False,
           comment="HMAC of a fixed text under the key: recognises it, reveals nothing"),
    Column("first_used_at", Timestamp, nullable=False),
    CheckConstraint("purpose IN ('audit', 'data', 'index')", name="purpose"),
    comment="The keys (kept outside the database, security.keys) this register has "
            "used, so that the wrong key file is refused rather than used.",
)

# -- users and permissions (security.access, core.access) ----------------------------------

app_user = Table(
    "app_user",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True, comment="the login name"),
    Column("display_name", String(200)),
    Column("kind", String(8), nullable=False, comment="person, or system (another system)"),
    Column("team", String(64), comment="for grants with scope team:NAME"),
    Column("password_hash", String(200), comment="argon2id; none: token or local use only"),
    Column("active", Boolean, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("disabled_at", Timestamp),
    Column("disabled_reason", String(500)),
    CheckConstraint("kind IN ('person', 'system')", name="kind"),
    comment="Users (people and other systems); audit entries name them. Never deleted: "
            "disabled.",
)

custom_role = Table(
    "custom_role",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("permissions", JSON, nullable=False, comment="permission names"),
    Column("description", String(200)),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    comment="Roles a register defines beside the built-in ones (security.access.ROLES).",
)

access_grant = Table(
    "access_grant",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("app_user.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scope", String(80), nullable=False, comment="all, own, region:44, industry:C, "
                                                        "team:NAME"),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    UniqueConstraint("user_id", "role", "scope"),
    comment="A role within a scope, given to a user.",
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", ForeignKey("app_user.id"), nullable=False),
    Column("name", String(100), nullable=False, comment="what it is for"),
    Column("token_hash", String(64), nullable=False, unique=True,
           comment="SHA-256 of the token; the token itself is shown once and never stored"),
    Column("prefix", String(16), nullable=False, comment="its first characters, to tell "
                                                         "tokens apart"),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("expires_at", Timestamp),
    Column("revoked_at", Timestamp),
    Column("last_used_at", Timestamp),
    comment="API tokens (bearer) of users and systems.",
)
Index(None, access_grant.c.user_id)
Index(None, api_token.c.user_id)

# -- change requests (maker–checker, core.requests) ----------------------------------------

approval_rule = Table(
    "approval_rule",
    metadata,
    Column("action", String(32), primary_key=True,
           comment="customer.change_code, customer.merge, customer.rename, customer.retire, "
                   "xref.move, rule.change"),
    Column("updated_at", Timestamp, nullable=False),
    Column("updated_by", String(100), nullable=False),
    comment="Actions that need a second user's approval (变更申请 / 审批).",
)

change_request = Table(
    "change_request",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("action", String(32), nullable=False),
    Column("payload", JSON, nullable=False, comment="the intended change: the use case's "
                                                    "arguments"),
    Column("customer_id", ForeignKey("customer.id"),
           comment="the customer it is about, for scopes (the first of a merge)"),
    Column("target", String(200), nullable=False, comment="what it is about, as people "
                                                          "read it"),
    Column("versions", JSON, nullable=False,
           comment="what it was made against: customer id → version (rule → version); "
                   "a change since makes applying it a conflict"),
    Column("status", String(12), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", Timestamp, nullable=False),
    Column("reason", String(500), comment="the requester's"),
    Column("decided_by", String(100)),
    Column("decided_at", Timestamp),
    Column("decision_reason", String(500)),
    CheckConstraint("status IN ('pending', 'applied', 'rejected', 'conflict', 'withdrawn')",
                    name="status"),
    comment="Change requests: a governed change waiting for, or decided by, a second user.",
)
Index(None, change_request.c.status)

idempotency_key = Table(
    "idempotency_key",
    metadata,
    Column("actor", String(100), primary_key=True),
    Column("key", String(200), primary_key=True, comment="the client's Idempotency-Key"),
    Column("fingerprint", String(64), nullable=False,
           comment="SHA-256 of the request: the same key with another request is an error"),
    Column("customer_id", ForeignKey("customer.id"),
           comment="the customer registered; NULL while the first request runs"),
    Column("after_seq", BigInteger, nullable=False,
           comment="the audit chain's length when the key was taken: where to look for "
                   "a registration that committed without this row being finished"),
    Column("created_at", Timestamp, nullable=False),
    Column("claim", String(32), nullable=False,
           comment="which request holds the key: only it may finish or give it back"),
    comment="Idempotent creates (core.idempotency): a retried request returns the first "
            "result instead of registering twice.",
)
# Keys expire (core.idempotency.KEEP_FOR): the sweep deletes by age.
Index(None, idempotency_key.c.created_at)


#: Column orders used by bulk and single-statement inserts.
CUSTOMER_COLUMNS = ("kind", "legal_name", "country", "region", "industry", "industry_section",
                    "size", "grade", "lifecycle", "owner", "version", "created_at",
                    "updated_at")
IDENTIFIER_COLUMNS = ("customer_id", "scheme", "value", "active", "created_at", "sealed")
CODE_COLUMNS = ("value", "customer_id", "rule_id", "scope_key", "seq", "status", "issued_at")
AUDIT_COLUMNS = ("at", "actor", "action", "entity", "entity_id", "detail")
#: An audit entry's columns as written, with its place in the chain.
AUDIT_CHAIN_COLUMNS = (*AUDIT_COLUMNS, "seq", "mac", "key_id")
#: The forms derived from a name's text (domain.names.NameForms, in its order).
NAME_FORM_COLUMNS = ("normalised", "core", "pinyin", "initials", "core_pinyin",
                     "core_initials")
#: A name as the use cases build it: its kind, its text and its forms.
NAME_ROW_COLUMNS = ("kind", "text", *NAME_FORM_COLUMNS)
NAME_COLUMNS = ("customer_id", *NAME_ROW_COLUMNS, "valid_from", "valid_to", "source",
                "created_at")
CONTACT_COLUMNS = ("customer_id", "kind", "value", "canonical", "blind", "created_at")
