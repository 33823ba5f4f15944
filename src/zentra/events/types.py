"""Every event type Zentra emits (SPEC 9)."""

from __future__ import annotations

from typing import Final

RUN_CREATED: Final = "reconciliation.run.created"
RUN_STATUS_CHANGED: Final = "reconciliation.run.status_changed"
MATCH_CREATED: Final = "reconciliation.match.created"
EXCEPTION_OPENED: Final = "reconciliation.exception.opened"
EXCEPTION_ASSIGNED: Final = "reconciliation.exception.assigned"
EXCEPTION_RESOLVED: Final = "reconciliation.exception.resolved"
CALLBACK_CORRELATED: Final = "reconciliation.callback.correlated"
CLOSEOUT_COMPLETED: Final = "reconciliation.closeout.completed"
INTENT_STATE_CHANGED: Final = "runtime.intent.state_changed"
LEDGER_ENTRY_POSTED: Final = "ledger.entry.posted"

ALL_EVENT_TYPES: Final = (
    RUN_CREATED,
    RUN_STATUS_CHANGED,
    MATCH_CREATED,
    EXCEPTION_OPENED,
    EXCEPTION_ASSIGNED,
    EXCEPTION_RESOLVED,
    CALLBACK_CORRELATED,
    CLOSEOUT_COMPLETED,
    INTENT_STATE_CHANGED,
    LEDGER_ENTRY_POSTED,
)
