"""Sealing a run (SPEC 3, 10): the closeout document, signed, stored, served and re-verified.

``seal_closeout`` is the last stage of a run. It locks the run, refuses while any exception has
no recorded outcome (``CloseoutBlocked`` lists each one), then in one transaction: the run goes
to ``closing``; the evidence is gathered in bulk and built into a document
(:mod:`zentra.evidence.closeout`) that holds the audit chain head; the document is signed with
the tenant's Ed25519 key and stored as the exact canonical bytes it is served as; the run goes
to ``closed``; an audit record naming the Merkle root and an outbox event follow. If anything
fails the transaction rolls back and the run is still in ``review``.

The CSV and HTML views are rendered from the stored document, never from live rows, so every
view of a closeout shows the sealed evidence and nothing that changed after it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import CLOSEOUT_COMPLETED
from zentra.evidence.closeout import (
    SigningMaterial,
    build_closeout_document,
    compute_merkle_root,
    serialize_closeout_document,
    sign_closeout_document,
    verify_closeout_document,
)
from zentra.evidence.signing import key_fingerprint, signing_payload, verify_signature
from zentra.kit.context import ActorContext
from zentra.kit.errors import (
    CloseoutBlocked,
    Conflict,
    InvalidTransition,
    NotFound,
    UnknownCurrency,
)
from zentra.kit.ids import new_id
from zentra.kit.money import format_major
from zentra.kit.time import isoformat, utcnow
from zentra.models import Closeout, Match, ReconciliationException, ReconciliationRun
from zentra.reconciliation import closeout_repository as repository
from zentra.reconciliation.closeout_repository import LinkRow
from zentra.reconciliation.states import SETTLED_EXCEPTION_STATUSES, advance_run

RESOURCE_TYPE = "closeout"
CSV_COLUMNS = (
    "record",
    "id",
    "rule",
    "kind",
    "type",
    "status",
    "decision",
    "note",
    "owner",
    "assignee",
    "provider_reference",
    "external_row_ids",
    "external_content_hashes",
    "movement_ids",
    "amount_minor",
    "currency",
)
# Spreadsheet programs run cells starting with these as formulas (CSV injection): text from
# operators (notes, decisions) gets a leading apostrophe. Amounts are integers and never text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def seal_closeout(session: Session, ctx: ActorContext, run_id: str) -> Closeout:
    """Seal the run: build, sign and store its closeout; the run ends ``closed``.

    Raises :class:`PermissionDenied` without ``approver``; :class:`NotFound` for another
    tenant's or no run; :class:`InvalidTransition` unless the run is in ``review``;
    :class:`CloseoutBlocked` (with ``unmet_requirements``) for a dry run, or while an
    exception is neither resolved, written off nor carried forward; :class:`Conflict` when the
    tenant has no key.
    """
    ctx.require_role("approver")
    run = repository.lock_run(session, ctx.tenant_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    if run.status != "review":
        raise InvalidTransition(
            f"run {run.id} is {run.status}: only a run in review can be sealed",
            current_status=run.status,
            requested_status="closed",
        )
    if run.dry_run:
        raise CloseoutBlocked(
            f"run {run.id} is a dry run: it kept no matches or exceptions to seal",
            run_id=run.id,
            unmet_requirements=[{"requirement": "not_a_dry_run"}],
        )
    exceptions = repository.list_run_exceptions(session, ctx.tenant_id, run.id)
    unmet = [
        _unmet_requirement(e) for e in exceptions if e.status not in SETTLED_EXCEPTION_STATUSES
    ]
    if unmet:
        raise CloseoutBlocked(
            f"run {run.id} has {len(unmet)} exception(s) without an outcome: each must be "
            "resolved, written off or carried forward before the closeout",
            run_id=run.id,
            unmet_requirements=unmet,
        )
    key = repository.get_signing_key(session, ctx.tenant_id)
    if key is None:
        raise Conflict(f"tenant {ctx.tenant_id} has no closeout signing key")

    advance_run(session, run, "closing", ctx)
    now = utcnow()
    closeout_id = new_id("clo")
    unsigned = _build_document(session, ctx, run, exceptions, closeout_id, isoformat(now))
    signed = sign_closeout_document(
        unsigned, SigningMaterial(key.id, key.public_key, key.private_key)
    )
    raw = serialize_closeout_document(signed)
    closeout = Closeout(
        id=closeout_id,
        tenant_id=ctx.tenant_id,
        run_id=run.id,
        document=raw.decode("utf-8"),
        merkle_root=signed["merkle_root"],
        signature=signed["signature"]["value"],
        signing_key_id=key.id,
        sealed_by=ctx.actor,
        created_at=now,
    )
    repository.insert_closeout(session, closeout)
    advance_run(session, run, "closed", ctx)
    fingerprint = signed["signature"]["key_fingerprint"]
    # The chain records the root, and the document records the chain head before this record:
    # each anchors the other.
    record_audit(
        session,
        ctx,
        "reconciliation.closeout.sealed",
        RESOURCE_TYPE,
        closeout.id,
        details={
            "run_id": run.id,
            "merkle_root": closeout.merkle_root,
            "key_id": key.id,
            "key_fingerprint": fingerprint,
            "audit_chain_head": signed["audit_chain_head"],
        },
    )
    emit_event(
        session,
        ctx.tenant_id,
        CLOSEOUT_COMPLETED,
        {
            "closeout_id": closeout.id,
            "run_id": run.id,
            "merkle_root": closeout.merkle_root,
            "key_id": key.id,
            "key_fingerprint": fingerprint,
            "roll_forward": signed["roll_forward"],
            "sealed_by": ctx.actor,
        },
        resource_id=run.id,
    )
    return closeout


def get_run_closeout(session: Session, ctx: ActorContext, run_id: str) -> Closeout:
    """The sealed closeout of the run. Raises :class:`NotFound` when there is none."""
    if repository.get_run(session, ctx.tenant_id, run_id) is None:
        raise NotFound(f"run {run_id} not found")
    closeout = repository.get_closeout_of_run(session, ctx.tenant_id, run_id)
    if closeout is None:
        raise NotFound(f"run {run_id} has no closeout yet")
    return closeout


@dataclass(frozen=True, slots=True)
class StoredCloseoutVerification:
    """A server-side check of a stored closeout against the tenant's own key."""

    closeout_id: str
    run_id: str
    valid: bool
    canonical: bool
    merkle_root_valid: bool
    signature_valid: bool
    embedded_key_is_tenant_key: bool
    key_id: str
    key_fingerprint: str | None
    merkle_root: str
    checked_at: str
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The answer of ``GET /reconciliation/closeouts/{id}/verify``."""
        return {
            "closeout_id": self.closeout_id,
            "run_id": self.run_id,
            "valid": self.valid,
            "merkle_root_valid": self.merkle_root_valid,
            "signature_valid": self.signature_valid,
            "embedded_key_is_tenant_key": self.embedded_key_is_tenant_key,
            "canonical": self.canonical,
            "key_id": self.key_id,
            "key_fingerprint": self.key_fingerprint,
            "merkle_root": self.merkle_root,
            "checked_at": self.checked_at,
            "problems": list(self.problems),
        }


def verify_closeout(
    session: Session, ctx: ActorContext, closeout_id: str
) -> StoredCloseoutVerification:
    """Re-verify a stored closeout with the tenant's stored key, not the embedded one.

    Checks the bytes are canonical, the Merkle root recomputed from the content equals both the
    document's and the stored one, and the signature verifies with the signing key on record;
    also reports whether the document's embedded public key is that key.
    Raises :class:`NotFound` for another tenant's or no closeout.
    """
    closeout = repository.get_closeout(session, ctx.tenant_id, closeout_id)
    if closeout is None:
        raise NotFound(f"closeout {closeout_id} not found")
    key = repository.get_signing_key(session, ctx.tenant_id, closeout.signing_key_id)
    raw = closeout.document.encode("utf-8")
    offline = verify_closeout_document(raw)
    problems = list(offline.problems)
    root_valid = signature_valid = key_matches = False
    if offline.well_formed:
        document = json.loads(raw)
        root_valid = (
            compute_merkle_root(document) == document.get("merkle_root") == (closeout.merkle_root)
        )
        signature = document["signature"]
        value = signature.get("value")
        signature_valid = (
            key is not None
            and isinstance(value, str)
            and verify_signature(key.public_key, signing_payload(document), value)
        )
        key_matches = key is not None and signature.get("public_key") == key.public_key
    if not root_valid and offline.merkle_root_valid:
        problems.append("merkle_root differs from the root stored with the closeout")
    if not signature_valid:
        problems.append("the signature does not verify with the tenant's signing key")
    if not key_matches:
        problems.append("the embedded public key is not the tenant's signing key")
    return StoredCloseoutVerification(
        closeout_id=closeout.id,
        run_id=closeout.run_id,
        valid=offline.canonical and root_valid and signature_valid and key_matches,
        canonical=offline.canonical,
        merkle_root_valid=root_valid,
        signature_valid=signature_valid,
        embedded_key_is_tenant_key=key_matches,
        key_id=closeout.signing_key_id,
        key_fingerprint=key_fingerprint(key.public_key) if key is not None else None,
        merkle_root=closeout.merkle_root,
        checked_at=isoformat(utcnow()),
        problems=tuple(dict.fromkeys(problems)),
    )


def closeout_csv(document: dict[str, Any]) -> str:
    """One CSV row per match and per exception of a sealed document (ids joined by ``;``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for match in document.get("matches", []):
        externals = match.get("external_records", [])
        writer.writerow(
            _safe_row(
                {
                    "record": "match",
                    "id": match.get("match_id"),
                    "rule": match.get("rule"),
                    "kind": match.get("kind"),
                    "provider_reference": ";".join(
                        sorted({str(e.get("provider_reference") or "") for e in externals})
                    ),
                    "external_row_ids": ";".join(str(e.get("row_id") or "") for e in externals),
                    "external_content_hashes": ";".join(
                        str(e.get("content_hash") or "") for e in externals
                    ),
                    "movement_ids": ";".join(match.get("movement_ids", [])),
                }
            )
        )
    for exception in document.get("exceptions", []):
        amount = exception.get("amount") or {}
        writer.writerow(
            _safe_row(
                {
                    "record": "exception",
                    "id": exception.get("exception_id"),
                    "type": exception.get("type"),
                    "status": exception.get("status"),
                    "decision": exception.get("decision"),
                    "note": exception.get("note"),
                    "owner": exception.get("owner"),
                    "assignee": exception.get("assignee"),
                    "provider_reference": exception.get("provider_reference"),
                    "external_row_ids": exception.get("external_row_id"),
                    "external_content_hashes": exception.get("external_content_hash"),
                    "movement_ids": exception.get("movement_id"),
                    "amount_minor": amount.get("amount"),
                    "currency": amount.get("currency"),
                }
            )
        )
    return buffer.getvalue()


def closeout_html(document: dict[str, Any], verification: StoredCloseoutVerification) -> str:
    """The printable report of a sealed document with its verification (autoescaped)."""
    template = _templates().get_template("closeout.html")
    return template.render(
        document=document,
        verification=verification,
        totals=[_display_total(t) for t in document.get("totals", [])],
        exceptions=[_display_exception(e) for e in document.get("exceptions", [])],
    )


# --- gathering the evidence --------------------------------------------------------------------


def _unmet_requirement(exception: ReconciliationException) -> dict[str, Any]:
    return {
        "requirement": "exception_settled",
        "id": exception.id,
        "type": exception.type,
        "status": exception.status,
        "owner": exception.owner,
        "assignee": exception.assignee,
        "allowed_outcomes": sorted(SETTLED_EXCEPTION_STATUSES),
    }


def _build_document(
    session: Session,
    ctx: ActorContext,
    run: ReconciliationRun,
    exceptions: list[ReconciliationException],
    closeout_id: str,
    sealed_at: str,
) -> dict[str, Any]:
    tenant_id = ctx.tenant_id
    matches = repository.list_run_matches(session, tenant_id, run.id)
    links = repository.list_run_links(session, tenant_id, run.id)
    records = repository.external_records_by_id(
        session, tenant_id, {e.external_record_id for e in exceptions if e.external_record_id}
    )
    movement_ids = {link.movement_id for link in links if link.movement_id}
    movement_ids |= {e.movement_id for e in exceptions if e.movement_id}
    file = repository.get_settlement_file(session, tenant_id, run.settlement_file_id)
    if file is None:  # the foreign key makes this impossible short of a broken database
        raise NotFound(f"settlement file {run.settlement_file_id} of run {run.id} not found")
    head = repository.get_audit_head(session, tenant_id)
    inputs: dict[str, Any] = {
        "settlement_file": {
            "id": file.id,
            "file_id": file.file_id,
            "filename": file.filename,
            "sha256": file.sha256,
            "format": file.format,
            "rows": file.rows,
        },
        "callback_ids": sorted(str(c) for c in run.inputs.get("callback_ids", [])),
        "movement_ids": sorted(movement_ids),
        "ledger_entry_ids": repository.ledger_entry_ids(session, tenant_id, movement_ids),
    }
    if "internal_manifest" in run.inputs:
        inputs["internal_manifest"] = run.inputs["internal_manifest"]
    return build_closeout_document(
        closeout_id=closeout_id,
        tenant=tenant_id,
        run={
            "id": run.id,
            "provider": run.provider,
            "ledger_window": {
                "from": run.window_from.isoformat(),
                "to": run.window_to.isoformat(),
            },
            "owner": run.owner,
            "ruleset": run.ruleset,
            "ruleset_version": run.ruleset_version,
            "dry_run": run.dry_run,
            "state_path": run.state_path,
            "result_fingerprint": run.result_fingerprint,
        },
        inputs=inputs,
        totals=run.totals,
        matches=_match_entries(matches, links),
        exceptions=[_exception_entry(e, records) for e in exceptions],
        audit_chain_head={"seq": head.seq, "hash": head.hash} if head else {"seq": 0, "hash": ""},
        sealed_at=sealed_at,
        sealed_by=ctx.actor,
    )


def _match_entries(matches: list[Match], links: list[LinkRow]) -> list[dict[str, Any]]:
    by_match: dict[str, list[LinkRow]] = defaultdict(list)
    for link in links:
        by_match[link.match_id].append(link)
    entries = []
    for match in matches:
        members = by_match.get(match.id, [])
        externals = sorted(
            (
                {
                    "external_record_id": link.external_record_id,
                    "provider_reference": link.provider_reference,
                    "content_hash": link.content_hash,
                    "row_id": link.row_id,
                }
                for link in members
                if link.external_record_id is not None
            ),
            key=lambda e: (str(e["content_hash"]), str(e["external_record_id"])),
        )
        entries.append(
            {
                "match_id": match.id,
                "rule": match.rule,
                "kind": match.kind,
                "deltas": match.deltas,
                "created_by": match.created_by,
                "reason": match.reason,
                "external_records": externals,
                "movement_ids": sorted(link.movement_id for link in members if link.movement_id),
            }
        )
    return entries


def _exception_entry(exception: ReconciliationException, records: dict[str, Any]) -> dict[str, Any]:
    record = records.get(exception.external_record_id or "")
    amount = None
    if exception.amount_minor is not None and exception.currency is not None:
        amount = {"amount": exception.amount_minor, "currency": exception.currency}
    return {
        "exception_id": exception.id,
        "type": exception.type,
        "status": exception.status,
        "decision": exception.decision,
        "note": exception.note,
        "owner": exception.owner,
        "assignee": exception.assignee,
        "provider_reference": exception.provider_reference,
        "external_record_id": exception.external_record_id,
        "external_content_hash": record.content_hash if record is not None else None,
        "external_row_id": record.row_id if record is not None else None,
        "movement_id": exception.movement_id,
        "amount": amount,
        "resolved_at": isoformat(exception.resolved_at) if exception.resolved_at else None,
    }


# --- rendering ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("zentra.reconciliation", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    )


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _safe_row(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _safe_cell(value) for name, value in row.items()}


def _major(amount: Any, currency: Any) -> str:
    """Minor units shown in major units for people; falls back to the integer for odd codes."""
    if isinstance(amount, int) and isinstance(currency, str):
        try:
            return f"{format_major(amount, currency)} {currency}"
        except UnknownCurrency:
            pass
    return f"{amount} {currency}"


def _display_total(total: dict[str, Any]) -> dict[str, Any]:
    currency = total.get("currency")
    return {
        "currency": currency,
        "provider_total": _major(total.get("provider_total"), currency),
        "ledger_total": _major(total.get("ledger_total"), currency),
        "difference": _major(total.get("difference"), currency),
    }


def _display_exception(exception: dict[str, Any]) -> dict[str, Any]:
    amount = exception.get("amount") or {}
    shown = _major(amount.get("amount"), amount.get("currency")) if amount else ""
    return {**exception, "amount_display": shown}
