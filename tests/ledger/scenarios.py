"""Ledger scenarios over the HTTP API, and the ledger's state read straight from the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.fixtures.api import ApiClient
from zentra.kit.db import Database

DAY = "2026-04-26T10:00:00Z"


def open_account(
    client: ApiClient, code: str, kind: str, currency: str = "EUR", **extra: Any
) -> Any:
    answer = client.post(
        "/ledger/accounts", json={"code": code, "type": kind, "currency": currency, **extra}
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def leg(account: str, direction: str, amount: int, currency: str = "EUR") -> dict[str, Any]:
    return {"account": account, "direction": direction, "amount": amount, "currency": currency}


def transfer(
    entry_id: str, debit: str, credit: str, amount: int, currency: str = "EUR", **extra: Any
) -> dict[str, Any]:
    """An entry body debiting ``debit`` and crediting ``credit`` with ``amount``."""
    return {
        "entry_id": entry_id,
        "description": f"transfer {entry_id}",
        "effective_at": DAY,
        "postings": [
            leg(debit, "debit", amount, currency),
            leg(credit, "credit", amount, currency),
        ],
        **extra,
    }


def balances(client: ApiClient, code: str) -> tuple[int, int, int]:
    """``(posted, pending, available)`` of an account."""
    body = client.get(f"/ledger/accounts/{code}").json()
    return body["posted"], body["pending"], body["available"]


def ledger_state(database: Database, tenant_id: str) -> dict[str, Any]:
    """Everything a ledger operation may change, read in system scope: account sums, entries,
    postings, events and audit records of the tenant."""
    with database.engine.connect() as connection:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in connection.execute(text(sql), {"t": tenant_id})]

        return {
            "accounts": rows(
                "SELECT code, posted_debits, posted_credits, pending_debits, pending_credits "
                "FROM ledger_accounts WHERE tenant_id = :t ORDER BY code"
            ),
            "entries": rows(
                "SELECT entry_id, status, reversed_by_entry_id FROM ledger_entries "
                "WHERE tenant_id = :t ORDER BY entry_id"
            ),
            "postings": rows("SELECT count(*) FROM ledger_postings WHERE tenant_id = :t"),
            "events": rows("SELECT count(*) FROM events WHERE tenant_id = :t"),
            "audit": rows("SELECT count(*) FROM audit_events WHERE tenant_id = :t"),
        }


def sums_recomputed_from_postings(database: Database, tenant_id: str) -> dict[str, list[int]]:
    """Per account code: posted debits, posted credits, pending debits, pending credits, summed
    from its postings by the status of their entries (voided entries count nowhere)."""
    sql = """
        SELECT a.code, e.status, p.direction, sum(p.amount)
        FROM ledger_postings p
        JOIN ledger_entries e ON e.id = p.entry_id
        JOIN ledger_accounts a ON a.id = p.account_id
        WHERE p.tenant_id = :t
        GROUP BY a.code, e.status, p.direction
    """
    slots = {("posted", "debit"): 0, ("posted", "credit"): 1}
    slots |= {("pending", "debit"): 2, ("pending", "credit"): 3}
    found: dict[str, list[int]] = {}
    with database.engine.connect() as connection:
        for code, status, direction, amount in connection.execute(text(sql), {"t": tenant_id}):
            if status == "voided":
                continue
            found.setdefault(code, [0, 0, 0, 0])[slots[status, direction]] += int(amount)
    return found
