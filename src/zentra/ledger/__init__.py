"""The ledger domain: Zentra's double-entry ledger.

Accounts (``code``, currency, type, normal side, optionally ``non_negative``) keep running sums
of their postings. An entry is a balanced set of postings (per currency, debits = credits),
addressed by the client's ``entry_id``, recorded ``posted`` or ``pending`` (two-phase: later
posted or voided); corrections are reversal entries, never edits. Invariants are enforced
twice: as pure checks (``invariants``) and by the database itself (ADR 0007).

``entries`` and ``invariants`` are pure; ``service`` runs the operations (single entries and
batches of up to 8,000), ``repository`` the queries, ``endpoints`` the HTTP API.
"""
