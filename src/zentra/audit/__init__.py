"""The audit domain: an append-only record per state change, hash-chained per tenant.

Each record's ``hash`` is sha256 over the previous record's hash and the record's canonical JSON,
so editing, deleting, reordering or truncating records breaks the chain at a named sequence
number. ``audit_heads`` keeps the last sequence and hash of each tenant: appends serialize on it,
and it shows a truncated tail.
"""
