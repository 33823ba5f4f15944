"""Post-close adjustments: news about a run whose evidence is already sealed.

A run in ``closing`` or ``closed`` never changes. What the provider says about it afterwards
becomes a **post-close adjustment**: an exception carrying ``details.post_close_of`` (the sealed
run's id), opened in the *next run* of that run's provider: the first run created after it,
neither sealed nor a dry run, whose window covers or follows the day the news is about. While no
such run exists the adjustment waits with no run (``run_id`` null, ``business_date`` set, and
``connection_id`` when the provider has a connection), listed in the exception queue, until
:func:`attach_post_close_adjustments` attaches it as that run is created. Like any exception of
the run, it must be settled before the run can be sealed.

The kinds (:data:`POST_CLOSE_TYPES`), each opened by its own module and once under its natural
key:

- ``late_callback``: a provider callback dated in the sealed run's window
  (:mod:`zentra.reconciliation.correlation`);
- ``restatement``: a settlement row the sealed run used, re-sent with other content
  (:mod:`zentra.reconciliation.restatements`).

Attaching writes an ``attached`` activity and an audit record; a late callback is also
announced to the run as ``reconciliation.callback.correlated``. Nothing here commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from zentra.kit.context import ActorContext
from zentra.models import ReconciliationException, ReconciliationRun
from zentra.reconciliation import correlation_repository as repository
from zentra.reconciliation.exception_writes import (
    announce_callback_correlated,
    attach_exception,
    correlation_outcome,
    open_exception,
)

SEALED_RUN_STATUSES = ("closing", "closed")
"""Run statuses whose evidence is sealed: news about such a run becomes an adjustment."""
POST_CLOSE_TYPES = ("late_callback", "restatement")
"""Exception types that may wait without a run for the next run of their provider."""


def open_post_close_adjustment(
    session: Session,
    ctx: ActorContext,
    sealed: ReconciliationRun,
    *,
    type: str,
    day: date,
    natural_key: str,
    details: dict[str, Any],
    connection_id: str | None = None,
    provider_reference: str | None = None,
    external_record_id: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> ReconciliationException | None:
    """Open a ``type`` exception about ``day`` as a post-close adjustment of ``sealed``.

    It goes into the next run of the provider when one exists (and is announced there),
    otherwise it waits without a run. Owned by the sealed run's owner; ``details`` gain
    ``post_close_of``. Returns None (and writes nothing) when ``natural_key`` was opened before.
    """
    if type not in POST_CLOSE_TYPES:
        raise ValueError(f"{type!r} is not a post-close adjustment type")
    target = repository.next_run_after(session, ctx.tenant_id, sealed, day)
    exception = open_exception(
        session,
        ctx,
        type=type,
        owner=sealed.owner,
        run_id=None if target is None else target.id,
        natural_key=natural_key,
        connection_id=connection_id,
        business_date=day,
        provider_reference=provider_reference,
        external_record_id=external_record_id,
        amount_minor=amount_minor,
        currency=currency,
        details={**details, "post_close_of": sealed.id},
    )
    if exception is not None and target is not None:
        _announce_attached(session, ctx, exception, target)
    return exception


def attach_post_close_adjustments(
    session: Session, ctx: ActorContext, run: ReconciliationRun
) -> int:
    """Attach to the new ``run`` every post-close adjustment of its provider (of any kind) that
    waits for a run and is dated on or before its window's end; return how many. A dry run
    takes none (it keeps nothing). Each gets an ``attached`` activity and an audit record, and
    is announced when its kind has an announcement. Never commits."""
    if run.dry_run:
        return 0
    waiting = repository.waiting_post_close_adjustments(
        session, ctx.tenant_id, run.provider, run.window_to, POST_CLOSE_TYPES
    )
    for exception in waiting:
        attach_exception(
            session, ctx, exception, run.id, post_close_of=exception.details.get("post_close_of")
        )
        _announce_attached(session, ctx, exception, run)
    session.flush()
    return len(waiting)


def _announce_attached(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    run: ReconciliationRun,
) -> None:
    """A late callback tells the run it was correlated into it (SPEC 9 has an event for that);
    a restatement has no event of its own: its ``reconciliation.exception.opened`` already
    names it, and the run's event list follows its exceptions."""
    if exception.type != "late_callback":
        return
    callbacks = exception.details.get("callbacks", [])
    announce_callback_correlated(
        session,
        ctx,
        run,
        callbacks[0] if callbacks else {},
        [correlation_outcome(exception, "post_close_adjustment")],
        post_close_of=exception.details.get("post_close_of"),
    )
