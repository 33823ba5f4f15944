"""The idempotency domain: ``Idempotency-Key`` on every mutating request (SPEC 7).

A key is scoped to its tenant. The first request stores an in-flight marker in its own short
transaction (so a concurrent retry sees it and gets 409), then does its work and stores its
response in the *same* transaction as that work: either both commit or neither does, so a crash
never leaves a change without its stored response. A replay with the same request answers the
stored response with ``Idempotency-Replayed: true``; the same key with a different request is
refused with 422. A marker left by a crashed request expires after the lock period and may be
taken over.
"""
