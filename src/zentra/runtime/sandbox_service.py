"""The sandbox rail at work: settle a day, deliver late callbacks. Nothing here commits.

:func:`settle_sandbox_rail` plays the provider for one day of a ``sandbox`` connection:

1. it plans the day (runtime/sandbox.py) over the intents routed to the rail that day;
2. it keeps each planned callback (``sandbox_callbacks``: event id and exact body) and delivers
   those that are not late through the real callback path — :func:`zentra.providers.service.
   receive_callback`, the code behind ``POST /callbacks/{connection_id}`` — signed with the
   connection's secret by the Standard Webhooks scheme and verified there like any provider's;
   a duplicate is delivered twice with the same event id (the second finds it stored);
3. each callback that is new to the callback store settles its intent (runtime/settlement.py);
4. it uploads the day's settlement file through the real settlement-file service.

Late callbacks wait until :func:`deliver_late_callbacks` (the provider finally sends them): by
then a reconciliation of the day may be in review, and the callback path correlates them into
it. Settling the same day again with the same seed plans the same bytes: callbacks already
received are duplicates, the same file is the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from zentra.ingest.service import UploadResult, upload_settlement_file
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import ProviderConnection
from zentra.models.runtime import SandboxCallback
from zentra.providers.service import Delivery, receive_callback
from zentra.runtime import repository
from zentra.runtime.sandbox import SettlingIntent, plan_settlement
from zentra.runtime.schemas import SandboxSettleIn
from zentra.runtime.settlement import SettlementNotice, SettlementOutcome, settle_intent

USER_AGENT = "zentra-sandbox-rail/1"


@dataclass(slots=True)
class DeliveryReport:
    """Counts of one batch of deliveries and what the runtime did with each new callback."""

    delivered: int = 0
    duplicates: int = 0
    held: int = 0
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    callback_ids: list[str] = field(default_factory=list)

    def record(self, reference: str, outcome: SettlementOutcome) -> None:
        self.outcomes.setdefault(outcome.outcome, []).append(reference)

    def as_json(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "held_late": self.held,
            "outcomes": {name: sorted(refs) for name, refs in sorted(self.outcomes.items())},
        }


@dataclass(frozen=True, slots=True)
class SettleResult:
    """What one settle call did."""

    rail: str
    day: str
    intents: int
    file: UploadResult
    callbacks: DeliveryReport
    noise: dict[str, list[str]]

    def as_json(self) -> dict[str, Any]:
        file = self.file.file
        return {
            "rail": self.rail,
            "date": self.day,
            "intents": self.intents,
            "settlement_file": {
                "id": file.id,
                "sha256": file.sha256,
                "format": file.format,
                "rows": file.rows,
                "rejected_rows": file.rejected_rows,
                "created": self.file.created,
            },
            "callbacks": self.callbacks.as_json(),
            "noise": self.noise,
        }


def sandbox_connection(session: Session, ctx: ActorContext, rail: str) -> ProviderConnection:
    """The tenant's ``sandbox`` connection named ``rail``; :class:`NotFound` when there is no
    such rail, :class:`InvalidInput` when it is a real provider's."""
    connection = repository.connections_by_name(session, ctx.tenant_id, [rail]).get(rail)
    if connection is None:
        raise NotFound(f"no rail {rail}")
    if connection.kind != "sandbox":
        raise InvalidInput(f"rail {rail} is a {connection.kind} connection, not a sandbox")
    return connection


def read_notice(body: bytes) -> SettlementNotice:
    """The settlement a sandbox callback reports (its own bytes, so well-formed)."""
    data = json.loads(body)["data"]
    return SettlementNotice(
        provider_reference=str(data["reference"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]),
        fee=int(data.get("fee", 0)),
    )


def _signed_headers(secret: str, event_id: str, body: bytes, at: datetime) -> dict[str, str]:
    # Each attempt is signed anew with its own timestamp, as a provider retrying does.
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body.decode()),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _deliver(
    session: Session,
    ctx: ActorContext,
    connection: ProviderConnection,
    callback: SandboxCallback,
    report: DeliveryReport,
) -> None:
    """Deliver ``callback`` (``copies`` times) through the callback path; settle when new."""
    for _copy in range(callback.copies):
        now = utcnow()
        received = receive_callback(
            session,
            ctx.tenant_id,
            connection.id,
            Delivery(
                body=callback.body,
                headers=_signed_headers(
                    connection.signing_secret, callback.event_id, callback.body, now
                ),
                remote_address=None,
                request_id=ctx.request_id,
            ),
        )
        callback.deliveries += 1
        callback.delivered_at = callback.delivered_at or now
        if received.duplicate:
            report.duplicates += 1
            continue
        report.delivered += 1
        report.callback_ids.append(received.callback_id)
        outcome = settle_intent(
            session, ctx, rail=connection.name, notice=read_notice(callback.body), at=now
        )
        report.record(callback.provider_reference, outcome)
    session.flush()


def settle_sandbox_rail(
    session: Session, ctx: ActorContext, rail: str, request: SandboxSettleIn
) -> SettleResult:
    """Settle ``request.date`` on the sandbox rail ``rail`` (see the module docstring).

    Requires ``service``. Raises :class:`NotFound` / :class:`InvalidInput` for a rail that is
    not a sandbox connection of the tenant.
    """
    ctx.require_role("service")
    connection = sandbox_connection(session, ctx, rail)
    intents = repository.intents_routed_on(session, ctx.tenant_id, rail, request.date)
    plan = plan_settlement(
        rail,
        request.date,
        [
            SettlingIntent(
                intent.intent_id,
                intent.provider_reference or "",
                intent.amount_minor,
                intent.currency,
            )
            for intent in intents
        ],
        request.noise,
        request.seed,
    )
    stored = repository.sandbox_callbacks(
        session, ctx.tenant_id, connection.id, [planned.event_id for planned in plan.callbacks]
    )
    report = DeliveryReport()
    now = utcnow()
    for planned in plan.callbacks:
        callback = stored.get(planned.event_id)
        if callback is None:
            callback = SandboxCallback(
                id=new_id("sbx"),
                tenant_id=ctx.tenant_id,
                connection_id=connection.id,
                event_id=planned.event_id,
                provider_reference=planned.provider_reference,
                body=planned.body,
                late=planned.late,
                copies=planned.copies,
                settlement_date=request.date,
                deliveries=0,
                delivered_at=None,
                created_at=now,
            )
            session.add(callback)
            session.flush()
        if planned.late and callback.delivered_at is None:
            report.held += 1
            continue
        _deliver(session, ctx, connection, callback, report)
    uploaded = upload_settlement_file(
        session,
        ctx,
        content=plan.file_content,
        provider=rail,
        filename=f"{rail}_{request.date.isoformat()}.csv",
        format="csv",
        file_id=request.file_id,
    )
    return SettleResult(rail, request.date.isoformat(), len(intents), uploaded, report, plan.noise)


def deliver_late_callbacks(session: Session, ctx: ActorContext, rail: str) -> DeliveryReport:
    """Deliver every callback the sandbox rail ``rail`` held back, oldest first. Requires
    ``service``."""
    ctx.require_role("service")
    connection = sandbox_connection(session, ctx, rail)
    report = DeliveryReport()
    for callback in repository.held_sandbox_callbacks(session, ctx.tenant_id, connection.id):
        _deliver(session, ctx, connection, callback, report)
    return report
