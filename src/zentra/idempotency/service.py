"""Claim, complete and release Idempotency-Keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zentra.config import get_settings
from zentra.idempotency import repository
from zentra.kit.db import Database
from zentra.kit.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidInput
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response recorded for a key, replayed verbatim."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of presenting a key: either a fresh claim (``record_id``) or a replay."""

    record_id: str | None
    replay: StoredResponse | None


def validate_key(key: str) -> str:
    """Refuse keys that are empty, too long or not printable ASCII."""
    stripped = key.strip()
    if not stripped or len(stripped) > MAX_KEY_LENGTH or not stripped.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    if not stripped.isascii():
        raise InvalidInput("Idempotency-Key must be ASCII", field="Idempotency-Key")
    return stripped


def claim_key(
    database: Database, tenant_id: str, key: str, method: str, path: str, fingerprint: str
) -> Claim:
    """Present ``key`` for a request, in a transaction of its own.

    Returns a fresh claim (an in-flight marker now exists) or the stored response to replay.
    Raises :class:`IdempotencyKeyReused` when the key was used for another request, and
    :class:`IdempotencyKeyInFlight` while the first request is still running.
    """
    for _attempt in range(2):
        try:
            with database.unit_of_work(tenant_id) as session:
                return _claim_in(session, tenant_id, key, method, path, fingerprint)
        except IntegrityError:
            # A concurrent first request inserted the marker between our read and insert:
            # read again, and it will answer 409 (in flight) or a replay.
            continue
    raise IdempotencyKeyInFlight("a request with this Idempotency-Key is in flight")


def _claim_in(
    session: Session,
    tenant_id: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
) -> Claim:
    settings = get_settings()
    now = utcnow()
    lock = timedelta(seconds=settings.idempotency_lock_seconds)
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    record = repository.lock_record(session, tenant_id, key)
    if record is not None and record.state == "completed" and record.created_at + ttl < now:
        session.delete(record)
        session.flush()
        record = None
    if record is None:
        record = IdempotencyRecord(
            id=new_id("idk"),
            tenant_id=tenant_id,
            key=key,
            request_method=method,
            request_path=path,
            request_fingerprint=fingerprint,
            state="in_flight",
            locked_until=now + lock,
            response_status=None,
            response_headers=None,
            response_body=None,
            created_at=now,
            completed_at=None,
        )
        session.add(record)
        session.flush()
        return Claim(record.id, None)
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different request",
            original_method=record.request_method,
            original_path=record.request_path,
        )
    if record.state == "completed":
        return Claim(
            None,
            StoredResponse(
                record.response_status or 200,
                dict(record.response_headers or {}),
                record.response_body or b"",
            ),
        )
    if record.locked_until > now:
        raise IdempotencyKeyInFlight(
            "the first request with this Idempotency-Key has not finished; retry later",
            retry_after_seconds=max(1, int((record.locked_until - now).total_seconds())),
        )
    # The first request died without a result (its work rolled back): take the key over.
    record.locked_until = now + lock
    return Claim(record.id, None)


def complete_key(
    session: Session, tenant_id: str, record_id: str, response: StoredResponse
) -> None:
    """Store the response in the request's own transaction (commits with its work)."""
    record = repository.get_record(session, tenant_id, record_id)
    if record is None:
        return
    record.state = "completed"
    record.response_status = response.status
    record.response_headers = response.headers
    record.response_body = response.body
    record.completed_at = utcnow()


def release_key(database: Database, tenant_id: str, record_id: str) -> None:
    """Drop the in-flight marker of a request that failed, so the client may retry."""
    with database.unit_of_work(tenant_id) as session:
        repository.delete_in_flight(session, tenant_id, record_id)
