"""The sealed closeout document (pure): build it, compute its Merkle root, sign it, verify it.

A closeout is one JSON document. Its members, in canonical (RFC 8785) order once serialized::

    closeout_id, tenant, sealed_at, sealed_by
    run            {id, provider, ledger_window {from, to}, owner, ruleset, ruleset_version,
                    dry_run, state_path, result_fingerprint}
    inputs         {settlement_file {id, sha256, format, rows, ...}, callback_ids, movement_ids,
                    ledger_entry_ids}
    totals         the run's totals per currency, as the run computed them
    roll_forward   {opening_open_items, new, resolved, written_off, carried_forward}
    matches        one entry per match, sorted by natural keys
    exceptions     one entry per exception with its decision, sorted by natural keys
    audit_chain_head {seq, hash}: the tenant's audit chain when the seal was made
    merkle_root    over the leaves below
    signature      {algorithm, key_id, public_key, key_fingerprint, value}

Merkle leaves: one *header* leaf (everything but matches, exceptions, the root and the
signature), one leaf per match and one per exception. Leaves are sorted by (kind, canonical
bytes), so the root depends on the content only, never on the order the caller listed it in.

The signature is Ed25519 over the canonical JSON of the whole document without the signature's
``value`` (``merkle_root`` and the signature's algorithm, key id, public key and fingerprint
included: leaving the key id out would let it be changed unnoticed).

The document is stored and served as the canonical JSON of the whole document, so verification
also demands that the bytes *are* that canonical form: any change to any byte (even one that
would parse to the same values, such as ``\\u001f`` -> ``\\u001F``) makes the document
invalid. Verification uses only the document's embedded public key; whether
that key is the tenant's is for the server (or the reader) to confirm separately.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zentra.evidence.merkle import merkle_root
from zentra.evidence.signing import sign_document, signature_verifies, signing_payload
from zentra.kit.canonical import canonical_json

# Exception statuses counted in the roll-forward; anything else is still open (never sealed).
ROLL_FORWARD_OUTCOMES = ("resolved", "written_off", "carried_forward")
_HEADER_MEMBERS = (
    "closeout_id",
    "tenant",
    "run",
    "inputs",
    "totals",
    "roll_forward",
    "audit_chain_head",
    "sealed_at",
    "sealed_by",
)
_LEAF_ORDER = {"header": 0, "match": 1, "exception": 2}


@dataclass(frozen=True, slots=True)
class SigningMaterial:
    """The tenant key a closeout is signed with (the private half never enters the document)."""

    key_id: str
    public_key: str
    private_key: str


def _match_sort_key(match: Mapping[str, Any]) -> tuple[Any, ...]:
    externals = match.get("external_records") or []
    return (
        sorted(str(e.get("content_hash") or "") for e in externals),
        sorted(str(m) for m in match.get("movement_ids") or []),
        str(match.get("rule") or ""),
        canonical_json(match),
    )


def _exception_sort_key(exception: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        str(exception.get("type") or ""),
        str(exception.get("provider_reference") or ""),
        str(exception.get("external_content_hash") or ""),
        str(exception.get("movement_id") or ""),
        canonical_json(exception),
    )


def sort_matches(matches: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Matches in natural-key order: external content hashes, movement ids, rule."""
    return [dict(m) for m in sorted(matches, key=_match_sort_key)]


def sort_exceptions(exceptions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Exceptions in natural-key order: type, provider reference, content hash, movement id."""
    return [dict(e) for e in sorted(exceptions, key=_exception_sort_key)]


def roll_forward(exceptions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts of the run's exceptions: all are new (no opening items yet), then by outcome."""
    items = list(exceptions)
    by_status = Counter(str(e.get("status")) for e in items)
    counts = {"opening_open_items": 0, "new": len(items)}
    for outcome in ROLL_FORWARD_OUTCOMES:
        counts[outcome] = by_status.get(outcome, 0)
    return counts


def closeout_leaves(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Merkle leaves of ``document``, in their canonical order.

    Raises ``KeyError``/``TypeError`` when the document lacks the members a closeout has.
    """
    header = {name: document[name] for name in _HEADER_MEMBERS}
    leaves: list[dict[str, Any]] = [{"kind": "header", "value": header}]
    leaves += [{"kind": "match", "value": m} for m in document["matches"]]
    leaves += [{"kind": "exception", "value": e} for e in document["exceptions"]]
    return sorted(leaves, key=lambda leaf: (_LEAF_ORDER[leaf["kind"]], canonical_json(leaf)))


def compute_merkle_root(document: Mapping[str, Any]) -> str:
    """The Merkle root over :func:`closeout_leaves` of ``document``."""
    return merkle_root(closeout_leaves(document))


def build_closeout_document(
    *,
    closeout_id: str,
    tenant: str,
    run: Mapping[str, Any],
    inputs: Mapping[str, Any],
    totals: list[Any],
    matches: Iterable[Mapping[str, Any]],
    exceptions: Iterable[Mapping[str, Any]],
    audit_chain_head: Mapping[str, Any],
    sealed_at: str,
    sealed_by: str,
) -> dict[str, Any]:
    """The unsigned document with its ``merkle_root``; matches and exceptions get sorted.

    Every value must be JSON (no floats: money is integer minor units); the roll-forward is
    derived from the exceptions' statuses.
    """
    exception_list = sort_exceptions(exceptions)
    document: dict[str, Any] = {
        "closeout_id": closeout_id,
        "tenant": tenant,
        "run": dict(run),
        "inputs": dict(inputs),
        "totals": list(totals),
        "roll_forward": roll_forward(exception_list),
        "matches": sort_matches(matches),
        "exceptions": exception_list,
        "audit_chain_head": dict(audit_chain_head),
        "sealed_at": sealed_at,
        "sealed_by": sealed_by,
    }
    document["merkle_root"] = compute_merkle_root(document)
    return document


def sign_closeout_document(document: Mapping[str, Any], key: SigningMaterial) -> dict[str, Any]:
    """``document`` with its ``signature`` member: Ed25519 over :func:`signing_payload`."""
    return sign_document(
        document, key_id=key.key_id, public_key=key.public_key, private_key=key.private_key
    )


def serialize_closeout_document(document: Mapping[str, Any]) -> bytes:
    """The exact bytes a closeout is stored and served as (canonical JSON, no trailing newline)."""
    return canonical_json(document)


@dataclass(frozen=True, slots=True)
class CloseoutVerification:
    """The outcome of checking one closeout document. ``valid`` only when every check holds.

    - ``well_formed``: UTF-8 JSON with the members of a closeout;
    - ``canonical``: the bytes are exactly the canonical serialization (no byte was changed);
    - ``merkle_root_valid``: the root recomputed from the content equals ``merkle_root``;
    - ``signature_valid``: the signature verifies with the embedded public key, whose
      fingerprint is the embedded one.
    """

    valid: bool
    well_formed: bool
    canonical: bool
    merkle_root_valid: bool
    signature_valid: bool
    closeout_id: str | None = None
    merkle_root: str | None = None
    key_id: str | None = None
    public_key: str | None = None
    key_fingerprint: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view (what ``zentra verify`` prints)."""
        return {
            "valid": self.valid,
            "well_formed": self.well_formed,
            "canonical": self.canonical,
            "merkle_root_valid": self.merkle_root_valid,
            "signature_valid": self.signature_valid,
            "closeout_id": self.closeout_id,
            "merkle_root": self.merkle_root,
            "key_id": self.key_id,
            "key_fingerprint": self.key_fingerprint,
            "problems": list(self.problems),
        }

    def describe(self) -> list[str]:
        """Human-readable lines, one per check, then each problem (what ``zentra verify``
        prints)."""

        def mark(ok: bool) -> str:
            return "ok" if ok else "FAILED"

        lines = [
            f"closeout: {self.closeout_id or '(unknown)'}",
            f"well-formed JSON closeout: {mark(self.well_formed)}",
            f"canonical bytes (unchanged): {mark(self.canonical)}",
            f"merkle root {self.merkle_root or '(none)'}: {mark(self.merkle_root_valid)}",
            f"signature by {self.key_fingerprint or '(no key)'}: {mark(self.signature_valid)}",
        ]
        return lines + [f"problem: {problem}" for problem in self.problems]


def _malformed(reason: str) -> CloseoutVerification:
    return CloseoutVerification(
        valid=False,
        well_formed=False,
        canonical=False,
        merkle_root_valid=False,
        signature_valid=False,
        problems=(reason,),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def verify_closeout_document(raw: bytes) -> CloseoutVerification:
    """Check a closeout document offline, with nothing but its bytes.

    Never raises: malformed input (not UTF-8, not JSON, not a closeout, values canonical JSON
    cannot represent) is reported as an invalid document.
    """
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _malformed("the document is not UTF-8 JSON")
    if not isinstance(document, dict):
        return _malformed("the document is not a JSON object")
    signature = document.get("signature")
    if not isinstance(signature, dict):
        return _malformed("the document has no signature object")
    try:
        canonical = serialize_closeout_document(document) == raw
        recomputed_root = compute_merkle_root(document)
        payload = signing_payload(document)
    # Any failure to rebuild the leaves (a missing member, a float JCS refuses, nesting too deep)
    # means the bytes are not a closeout: an answer, never a crash.
    except Exception:
        return _malformed("the document lacks the members of a closeout or has unusable values")
    problems: list[str] = []
    if not canonical:
        problems.append("the bytes are not the canonical serialization of the document")
    stated_root = _text(document.get("merkle_root"))
    root_valid = stated_root is not None and stated_root == recomputed_root
    if not root_valid:
        problems.append("merkle_root does not match the document's content")
    signature_valid = signature_verifies(signature, payload)
    if not signature_valid:
        problems.append("the signature does not verify with the embedded public key")
    return CloseoutVerification(
        valid=canonical and root_valid and signature_valid,
        well_formed=True,
        canonical=canonical,
        merkle_root_valid=root_valid,
        signature_valid=signature_valid,
        closeout_id=_text(document.get("closeout_id")),
        merkle_root=stated_root,
        key_id=_text(signature.get("key_id")),
        public_key=_text(signature.get("public_key")),
        key_fingerprint=_text(signature.get("key_fingerprint")),
        problems=tuple(problems),
    )
