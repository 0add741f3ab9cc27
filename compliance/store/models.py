"""SQLAlchemy models. The schema itself comes only from the Alembic migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RESULT_STATUSES = ("pass", "fail", "partial", "not_applicable")
RELATIONSHIPS = ("equal", "subset", "superset", "intersects", "mitigates")
NATURES = ("requirement", "threat")
MEMORY = ("none", "session", "persistent")
CATALOG_KINDS = ("framework", "checks", "mappings", "policy")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Catalog(Base):
    """One data file as loaded: a framework catalog, the checks, a mapping file or a policy."""

    __tablename__ = "catalogs"
    __table_args__ = (
        UniqueConstraint("kind", "key", "sha256"),
        CheckConstraint(_in("kind", CATALOG_KINDS), name="kind"),
        CheckConstraint(_in("origin", ("builtin", "organisation")), name="origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64), comment="framework id, checks id, mapping set id")
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(64), comment="published version of the content")
    sha256: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the exact data file")
    file_name: Mapped[str] = mapped_column(String(500))
    content: Mapped[bytes] = mapped_column(LargeBinary, comment="the data file, byte for byte")
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Control(Base):
    __tablename__ = "controls"
    __table_args__ = (
        UniqueConstraint("catalog_id", "ref"),
        Index(None, "catalog_id", "assessable", "position"),
        CheckConstraint(_in("nature", NATURES), name="nature"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"))
    ref: Mapped[str] = mapped_column(String(128), comment="official identifier")
    kind: Mapped[str] = mapped_column(String(32))
    parent_ref: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text, comment="official text")
    assessable: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    nature: Mapped[str] = mapped_column(
        String(16),
        server_default="requirement",
        comment="requirement (checks cover it) or threat (checks mitigate it)",
    )


class Check(Base):
    __tablename__ = "checks"
    __table_args__ = (UniqueConstraint("catalog_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"))
    key: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str | None] = mapped_column(String(64))
    objective: Mapped[str] = mapped_column(Text)
    evidence_guidance: Mapped[str] = mapped_column(Text)
    remediation: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="test procedure: method, steps, criteria, thresholds"
    )


class Mapping(Base):
    """A check provides evidence for a framework control; declared in a checks or mapping file."""

    __tablename__ = "mappings"
    __table_args__ = (
        UniqueConstraint("catalog_id", "check_id", "control_id"),
        CheckConstraint(_in("relationship", RELATIONSHIPS), name="relationship"),
        Index(None, "control_id"),
        Index(None, "check_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"), comment="file declaring it")
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"))
    control_id: Mapped[int] = mapped_column(ForeignKey("controls.id"))
    relationship: Mapped[str] = mapped_column(String(16))
    rationale: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(300))


class SufficientSet(Base):
    """A declaration that some `subset`/`intersects` checks of a control together cover it."""

    __tablename__ = "sufficient_sets"
    __table_args__ = (Index(None, "control_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"), comment="file declaring it")
    control_id: Mapped[int] = mapped_column(ForeignKey("controls.id"))
    rationale: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)


class SufficientSetCheck(Base):
    __tablename__ = "sufficient_set_checks"

    set_id: Mapped[int] = mapped_column(ForeignKey("sufficient_sets.id"), primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), primary_key=True)


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True, comment="stable id from the file")
    name: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(300), comment="accountable owner")
    environment: Mapped[str | None] = mapped_column(String(64))
    business_process: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assessment(Base):
    """One assessment of a deployment, with the profile it was made against."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("deployment_id", "key"),
        CheckConstraint(_in("state", ("draft", "final")), name="state"),
        CheckConstraint(
            "credentials IS NULL OR " + _in("credentials", ("standing", "short_lived", "per_task")),
            name="credentials",
        ),
        CheckConstraint(
            "autonomy IS NULL OR "
            + _in("autonomy", ("human_in_loop", "human_on_loop", "autonomous")),
            name="autonomy",
        ),
        CheckConstraint("memory IS NULL OR " + _in("memory", MEMORY), name="memory"),
        Index(None, "deployment_id", "assessed_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    key: Mapped[str] = mapped_column(String(128), comment="assessment id, unique per deployment")
    assessed_on: Mapped[date] = mapped_column(Date, comment="as-of date of the decision")
    assessor: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(8), default="draft")
    source_name: Mapped[str] = mapped_column(String(1000), comment="file it was imported from")
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SHA-256 of content + evidence")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_by: Mapped[str | None] = mapped_column(String(300))
    # Profile snapshot. NULL lists mean "undefined", an empty list means "none".
    model_name: Mapped[str | None] = mapped_column(String(300))
    model_version: Mapped[str | None] = mapped_column(String(100))
    workload_identity: Mapped[str | None] = mapped_column(String(500))
    credentials: Mapped[str | None] = mapped_column(String(16))
    tools: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    data_classes: Mapped[list[str] | None] = mapped_column(JSON)
    authority: Mapped[list[str] | None] = mapped_column(JSON)
    autonomy: Mapped[str | None] = mapped_column(String(16))
    customer_facing: Mapped[bool | None] = mapped_column(Boolean)
    audit_logging: Mapped[str | None] = mapped_column(String(1000))
    memory: Mapped[str | None] = mapped_column(String(16), comment="NULL: not stated")
    agents: Mapped[list[str] | None] = mapped_column(JSON, comment="NULL: not stated")
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, comment="deployment block as imported")


class AssessmentDocument(Base):
    """The assessment file as imported, byte for byte (YAML, JSON or OSCAL), for audit packs.

    One per assessment imported from revision 0005 on; a changed draft re-imported replaces it.
    Part of the assessment's state (`store.integrity`): altering it is detected like any row.
    """

    __tablename__ = "assessment_documents"

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(1000), comment="the file's path as given to import")
    sha256: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the exact bytes")
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, comment="the document, byte for byte")


class AssessmentCatalog(Base):
    """The exact catalog, checks and mapping versions an assessment was made against."""

    __tablename__ = "assessment_catalogs"

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id"), primary_key=True)


class SafetyScore(Base):
    __tablename__ = "safety_scores"
    __table_args__ = (CheckConstraint("score >= 0 AND score <= 1", name="score_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    benchmark: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)


class Result(Base):
    """A status recorded on a check, or directly on a framework control."""

    __tablename__ = "results"
    __table_args__ = (
        CheckConstraint(_in("status", RESULT_STATUSES), name="status"),
        CheckConstraint("(check_id IS NULL) <> (control_id IS NULL)", name="one_target"),
        UniqueConstraint("assessment_id", "check_id"),
        UniqueConstraint("assessment_id", "control_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"))
    control_id: Mapped[int | None] = mapped_column(ForeignKey("controls.id"))
    status: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(
        Text, comment="assessor's notes; for not_applicable, the justification"
    )
    position: Mapped[int] = mapped_column(Integer)
    # How it was tested (all optional, as in the assessment file).
    method: Mapped[list[str] | None] = mapped_column(JSON, comment="examine, interview, test")
    tested_by: Mapped[str | None] = mapped_column(String(300))
    tested_on: Mapped[date | None] = mapped_column(Date)
    population: Mapped[str | None] = mapped_column(Text, comment="what was tested from")
    sample_size: Mapped[int | None] = mapped_column(Integer)
    sample_selection: Mapped[str | None] = mapped_column(Text)
    exceptions: Mapped[str | None] = mapped_column(Text, comment="what failed in the sample")
    remediation_owner: Mapped[str | None] = mapped_column(String(300))
    remediation_due: Mapped[date | None] = mapped_column(Date)


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint(_in("kind", ("file", "url")), name="kind"),
        CheckConstraint(
            "(kind = 'file' AND sha256 IS NOT NULL AND size IS NOT NULL) OR (kind = 'url' AND url IS NOT NULL)",
            name="kind_fields",
        ),
        CheckConstraint(
            "snapshot_sha256 IS NULL OR (kind = 'url' AND snapshot_size IS NOT NULL)",
            name="snapshot",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    file_name: Mapped[str | None] = mapped_column(String(1000), comment="path as given in the file")
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000), comment="reference only, never fetched")
    description: Mapped[str | None] = mapped_column(Text)
    collected_on: Mapped[date | None] = mapped_column(
        Date, comment="when the evidence was produced, as stated; NULL: not stated"
    )
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), comment="when the tool received the file naming it"
    )
    # A copy of what a link showed when collected, kept like a file.
    snapshot_name: Mapped[str | None] = mapped_column(String(1000))
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    snapshot_size: Mapped[int | None] = mapped_column(BigInteger)
    snapshot_media_type: Mapped[str | None] = mapped_column(String(200))


class RiskAcceptance(Base):
    __tablename__ = "risk_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"))
    approved_by: Mapped[str] = mapped_column(String(300))
    justification: Mapped[str] = mapped_column(Text)
    expires: Mapped[date] = mapped_column(Date, comment="covers nothing after this date")
    position: Mapped[int] = mapped_column(Integer)
    approved_on: Mapped[date | None] = mapped_column(
        Date, comment="covers nothing before this date; NULL: the assessment's date"
    )
    approver_role: Mapped[str | None] = mapped_column(String(300))
    compensating_controls: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only history; each event carries the hash of the one before it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, comment="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class StoreIdentity(Base):
    """The evidence store this database's evidence files are in (one row).

    The random id is also written to a marker file in the store on first use; a command run
    against a store with another id, or none, is refused (see `store.identity`).
    """

    __tablename__ = "store_identity"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    store_id: Mapped[str] = mapped_column(String(64), comment="the id in the store's marker file")
    path: Mapped[str] = mapped_column(String(1000), comment="absolute folder, at first use")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The portal's accounts (`compliance users`, `compliance serve`): who may read what. None of it is
# assessment data: changing it changes no decision, report or pack.
ROLES = ("viewer", "auditor", "admin")


class User(Base):
    """A portal account; a disabled one can neither sign in nor use its tokens."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    role: Mapped[str] = mapped_column(String(16), comment="viewer, auditor or admin")
    password_hash: Mapped[str] = mapped_column(String(300), comment="Argon2id, PHC string")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """An API token, kept only as the SHA-256 of its random value (shown once, at issue)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser: the SHA-256 of its cookie's random value, and its CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
