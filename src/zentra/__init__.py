"""Zentra: a multi-tenant payments reconciliation runtime.

One run takes provider settlement files and internal movements through five stages: ingest,
match, compare, own and close. Everything is tenant-scoped, deterministic and evidenced.
"""

__version__ = "0.1.0"
