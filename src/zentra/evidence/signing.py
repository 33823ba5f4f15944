"""Ed25519 keys and signatures, as base64 text, and the signature of a signed document: what it
covers, how it is sealed and when it verifies (closeouts and intent evidence alike)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from zentra.kit.canonical import canonical_json

SIGNATURE_ALGORITHM: Final = "ed25519"


def generate_signing_key() -> tuple[str, str]:
    """A new Ed25519 key pair as ``(public_b64, private_b64)`` of the raw 32-byte keys."""
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private_raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(public_raw).decode(), base64.b64encode(private_raw).decode()


def sign(private_b64: str, message: bytes) -> str:
    """Sign ``message``; return the base64 signature."""
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
    return base64.b64encode(private.sign(message)).decode()


def verify_signature(public_b64: str, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid signature of ``message`` by ``public_b64``.

    Malformed keys or signatures are invalid, never an error.
    """
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def key_fingerprint(public_b64: str) -> str:
    """A short, comparable fingerprint of a public key: ``ed25519:<sha256 hex, 16 chars>``."""
    return "ed25519:" + hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def signing_payload(document: Mapping[str, Any]) -> bytes:
    """What a signed document's signature covers: canonical JSON of the whole document but the
    signature's ``value``.

    The signature's own metadata (algorithm, key id, public key, fingerprint) is covered too, so
    not one byte of the document can change without breaking the signature. Raises
    ``rfc8785.CanonicalizationError`` for a value canonical JSON cannot represent.
    """
    signature = document.get("signature")
    covered = {k: v for k, v in document.items() if k != "signature"}
    if isinstance(signature, Mapping):
        covered["signature"] = {k: v for k, v in signature.items() if k != "value"}
    return canonical_json(covered)


def sign_document(
    document: Mapping[str, Any], *, key_id: str, public_key: str, private_key: str
) -> dict[str, Any]:
    """A shallow copy of ``document`` with its ``signature`` member (any former one replaced):
    ``{algorithm, key_id, public_key, key_fingerprint, value}``, the value an Ed25519 signature
    over :func:`signing_payload`."""
    signed: dict[str, Any] = {k: v for k, v in document.items() if k != "signature"}
    signed["signature"] = {
        "algorithm": SIGNATURE_ALGORITHM,
        "key_id": key_id,
        "public_key": public_key,
        "key_fingerprint": key_fingerprint(public_key),
    }
    signed["signature"]["value"] = sign(private_key, signing_payload(signed))
    return signed


def signature_verifies(signature: Mapping[str, Any], payload: bytes) -> bool:
    """True when ``signature`` (a document's ``signature`` member) is an Ed25519 signature of
    ``payload`` (its :func:`signing_payload`) by its own public key, and its fingerprint is that
    key's: the fingerprint is what a reader compares with the tenant's published key, so it
    must name the key that actually signed. A malformed member is invalid, never an error."""
    public_key, value = signature.get("public_key"), signature.get("value")
    return (
        signature.get("algorithm") == SIGNATURE_ALGORITHM
        and isinstance(public_key, str)
        and isinstance(value, str)
        and verify_signature(public_key, payload, value)
        and signature.get("key_fingerprint") == key_fingerprint(public_key)
    )
