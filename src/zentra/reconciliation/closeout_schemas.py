"""JSON views of closeouts (SPEC 3, 10). The sealed document itself is served as stored bytes."""

from __future__ import annotations

from typing import Any, Literal

from zentra.kit.time import isoformat
from zentra.models import Closeout

CloseoutFormat = Literal["json", "csv", "html"]


def closeout_summary_json(closeout: Closeout, document: dict[str, Any]) -> dict[str, Any]:
    """The answer of ``POST /reconciliation/runs/{id}/closeout``: what was sealed, and where."""
    signature = document["signature"]
    return {
        "id": closeout.id,
        "run_id": closeout.run_id,
        "status": "closed",
        "event": "reconciliation.closeout.completed",
        "merkle_root": closeout.merkle_root,
        "roll_forward": document["roll_forward"],
        "audit_chain_head": document["audit_chain_head"],
        "signature": {
            "algorithm": signature["algorithm"],
            "key_id": signature["key_id"],
            "key_fingerprint": signature["key_fingerprint"],
        },
        "sealed_at": isoformat(closeout.created_at),
        "sealed_by": closeout.sealed_by,
        "links": {
            "document": f"/reconciliation/runs/{closeout.run_id}/closeout",
            "csv": f"/reconciliation/runs/{closeout.run_id}/closeout?format=csv",
            "html": f"/reconciliation/runs/{closeout.run_id}/closeout?format=html",
            "verify": f"/reconciliation/closeouts/{closeout.id}/verify",
        },
    }
