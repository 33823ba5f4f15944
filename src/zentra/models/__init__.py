"""Every ORM table, one module per aggregate. Alembic reads ``Base.metadata`` from here."""

from zentra.models.audit import AuditEvent, AuditHead
from zentra.models.base import Base
from zentra.models.events import OutboxEvent
from zentra.models.idempotency import IdempotencyRecord
from zentra.models.ingest import ExternalRecord, Movement, SettlementFile
from zentra.models.jobs import Job
from zentra.models.ledger import LedgerAccount, LedgerEntry, LedgerPosting
from zentra.models.movement_state import MovementStateEvent
from zentra.models.providers import (
    Callback,
    ProviderConnection,
    ProviderConnectionRoute,
    SecurityLogEntry,
)
from zentra.models.reconciliation import (
    Closeout,
    ExceptionActivity,
    Match,
    MatchLink,
    ReconciliationException,
    ReconciliationRun,
    Ruleset,
)
from zentra.models.runtime import Intent, RailHealth, RuntimeSetting, SandboxCallback
from zentra.models.schedules import ProviderFileSchedule
from zentra.models.tenancy import ApiKey, SigningKey, Tenant

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Callback",
    "Closeout",
    "ExceptionActivity",
    "ExternalRecord",
    "IdempotencyRecord",
    "Intent",
    "Job",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerPosting",
    "Match",
    "MatchLink",
    "Movement",
    "MovementStateEvent",
    "OutboxEvent",
    "ProviderConnection",
    "ProviderConnectionRoute",
    "ProviderFileSchedule",
    "RailHealth",
    "ReconciliationException",
    "ReconciliationRun",
    "Ruleset",
    "RuntimeSetting",
    "SandboxCallback",
    "SecurityLogEntry",
    "SettlementFile",
    "SigningKey",
    "Tenant",
]
