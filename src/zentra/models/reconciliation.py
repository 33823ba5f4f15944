"""Runs, matches (with at-most-once links), exceptions with their activity, and closeouts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, JSONType, TenantScoped


class ReconciliationRun(TenantScoped, Base):
    """One reconciliation of a provider's external records against internal movements."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(100))
    settlement_file_id: Mapped[str] = mapped_column(ForeignKey("settlement_files.id"))
    window_from: Mapped[date] = mapped_column(Date)
    window_to: Mapped[date] = mapped_column(Date)
    owner: Mapped[str] = mapped_column(String(100))
    ruleset: Mapped[str] = mapped_column(String(100))
    ruleset_version: Mapped[int]
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), index=True)
    state_path: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    totals: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stage_seconds: Mapped[dict[str, Any]] = mapped_column(JSONType)
    result_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Ruleset(TenantScoped, Base):
    """One immutable version of a tenant's named matching ruleset (SPEC 8)."""

    __tablename__ = "reconciliation_rulesets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    definition_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Match(TenantScoped, Base):
    """A link between external and internal records, with the rule and per-field deltas."""

    __tablename__ = "matches"
    __table_args__ = (Index("ix_matches_run", "tenant_id", "run_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id"))
    rule: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    deltas: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class MatchLink(TenantScoped, Base):
    """One record's membership in a match. The unique indexes make every external record and
    every movement part of at most one match per run, whatever the code above does (indexes,
    not table constraints, so that a bulk load can build them once: ``zentra.kit.bulk``)."""

    __tablename__ = "match_links"
    __table_args__ = (
        Index(
            "uq_match_links_run_id_external_record_id", "run_id", "external_record_id", unique=True
        ),
        Index("uq_match_links_run_id_movement_id", "run_id", "movement_id", unique=True),
        CheckConstraint("(external_record_id IS NULL) <> (movement_id IS NULL)", name="one_side"),
        Index("ix_match_links_match", "match_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id"))
    match_id: Mapped[str] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    external_record_id: Mapped[str | None] = mapped_column(ForeignKey("external_records.id"))
    movement_id: Mapped[str | None] = mapped_column(String(200))


class ReconciliationException(TenantScoped, Base):
    """A mismatch made visible: type, owner lane, assignee, status and evidence.

    Most exceptions belong to a run. A few belong to a provider instead and have no run: a
    ``missing_settlement_file`` (a file that did not arrive), or a post-close adjustment
    (``late_callback``, ``restatement``) waiting for the next run of its provider; the
    provider is named by ``connection_id`` or, for a file-only provider, by the settlement row
    (``external_record_id``). ``business_date`` is the day such an exception is about;
    ``natural_key`` names what it is about so that it is opened once, never twice (unique per
    tenant; NULL for exceptions a run opens in bulk).
    """

    __tablename__ = "reconciliation_exceptions"
    __table_args__ = (
        Index("ix_exceptions_run", "tenant_id", "run_id"),
        Index("ix_exceptions_queue", "tenant_id", "status", "owner"),
        UniqueConstraint("tenant_id", "natural_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("reconciliation_runs.id"))
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("provider_connections.id"))
    business_date: Mapped[date | None] = mapped_column(Date)
    natural_key: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(200))
    provider_reference: Mapped[str | None] = mapped_column(String(200))
    external_record_id: Mapped[str | None] = mapped_column(ForeignKey("external_records.id"))
    movement_id: Mapped[str | None] = mapped_column(String(200))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    decision: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class ExceptionActivity(TenantScoped, Base):
    """Every change to an exception (opened, assigned, transition, comment) with actor and time."""

    __tablename__ = "exception_activities"
    __table_args__ = (Index("ix_exception_activities_exception", "exception_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exception_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_exceptions.id"))
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    decision: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    at: Mapped[datetime]


class Closeout(TenantScoped, Base):
    """The sealed evidence of a closed run: canonical document, Merkle root, Ed25519 signature."""

    __tablename__ = "closeouts"
    __table_args__ = (UniqueConstraint("run_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("reconciliation_runs.id"))
    document: Mapped[str] = mapped_column(Text)
    merkle_root: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    signing_key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.id"))
    sealed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
