"""The sealed evidence of an intent (pure): build the document, sign it, verify it offline.

When an intent reaches ``evidenced`` (or is ``rejected``) its evidence document is sealed::

    intent_id, tenant, actor, scope, timestamp, status, reason
    intent     {amount, currency, source, destination, money_model, primitives}
    policy     the policy result: {result, reason, checks, evidence}
    route      {"rail": ...} or null
    ledger_entries, movement {movement_id, provider, provider_reference} or null
    trace      every step [{state, at, detail}] up to and including the sealing one
    signature  {algorithm, key_id, public_key, key_fingerprint, value}

The signature is Ed25519 by the tenant's signing key over the canonical JSON (RFC 8785) of the
document without the signature's ``value`` (key id and public key included, so neither can be
swapped unnoticed). Verification needs only the document: whether its key is the tenant's is
for the reader to confirm (``GET /runtime/intents/{id}/evidence`` answers the tenant's key).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rfc8785 import CanonicalizationError

from zentra.evidence.signing import sign_document, signature_verifies, signing_payload
from zentra.kit.canonical import sha256_hex


@dataclass(frozen=True, slots=True)
class IntentKey:
    """The tenant key evidence is signed with (the private half never enters a document)."""

    key_id: str
    public_key: str
    private_key: str


def seal_intent_evidence(document: Mapping[str, Any], key: IntentKey) -> dict[str, Any]:
    """``document`` with its ``signature`` (see the module docstring). The document is copied
    deeply: the sealed one shares no value with the intent's own attributes."""
    return sign_document(
        copy.deepcopy(dict(document)),
        key_id=key.key_id,
        public_key=key.public_key,
        private_key=key.private_key,
    )


def evidence_digest(document: Mapping[str, Any]) -> str:
    """sha256 of the signed bytes: a short handle on one sealed document."""
    return sha256_hex(signing_payload(document))


def verify_intent_evidence(document: Mapping[str, Any]) -> bool:
    """True when the document's signature verifies under its own public key, whose fingerprint
    is the embedded one. A malformed document is invalid, never an error."""
    signature = document.get("signature")
    if not isinstance(signature, Mapping):
        return False
    try:
        payload = signing_payload(document)
    except CanonicalizationError:  # a value canonical JSON cannot represent: never signed
        return False
    return signature_verifies(signature, payload)
